//! ctuq: segment X-ray CT volumes with a Bayesian 3D CNN and say how far to trust each voxel.

pub mod model;
pub mod train;
