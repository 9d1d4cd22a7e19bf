//! ctuq: segment X-ray CT volumes with a Bayesian 3D CNN and say how far to trust each voxel.
//!
//! The library holds everything the `ctuq` binary does, so that the command line and the
//! viewer call the same job functions.

pub mod app;
pub mod assets;
pub mod backend;
pub mod cli;
pub mod infer;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod refine;
pub mod render;
pub mod report;
pub mod train;
pub mod volume;
pub mod worker;
