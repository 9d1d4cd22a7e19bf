//! Monte Carlo inference: many samples of the network per chunk, summarized per voxel into
//! a mean, percentile bounds and an uncertainty map.

pub mod bench;
pub mod engine;
pub mod results;
pub mod statistics;

pub use engine::{
    ChunkSampler, InferConfig, InferError, InferEvent, MeanSampler, NetworkSampler,
    default_chunking, run,
};
pub use results::{ResultMaps, ResultsError};
pub use statistics::{VoxelSummary, percentile_sorted, summarize};
