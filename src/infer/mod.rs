//! Monte Carlo inference: many samples of the network per chunk, summarized per voxel into
//! a mean, percentile bounds and an uncertainty map.

pub mod results;
pub mod statistics;

pub use results::{ResultMaps, ResultsError};
pub use statistics::{VoxelSummary, percentile_sorted, summarize};
