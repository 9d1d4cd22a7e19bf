//! Volumes and labels: the voxels of a CT scan, their size in space, and the files they come
//! from and go to.
//!
//! Readers first produce a [`RawVolume`] that keeps the samples in their source type, so that
//! `ctuq convert` writes them back without loss. Everything that computes on voxels uses a
//! [`Volume`] (f32) or a [`Label`] (u8, binary) made from it.

mod chunk;
mod error;
mod label;
mod nifti;
mod raw;
mod read;
mod samples;
mod slices;
mod stats;
mod tiff_read;
mod tiff_write;
mod voxel_size;
mod write;

pub use chunk::{Chunk, ChunkGrid};
pub use error::VolumeError;
pub use label::{Label, LabelValues, check_same_shape};
pub use raw::{ByteOrder, RawSpec};
pub use read::{ReadOptions, read_label, read_raw_volume, read_volume};
pub use samples::{SampleType, Samples};
pub use stats::{VoxelStats, ZScore};
pub use voxel_size::VoxelSize;
pub use write::{write_atomically, write_tiff};

/// Shape of a volume in voxels, axes (z, y, x); x varies fastest in memory.
pub type Shape = [usize; 3];

/// Number of voxels in a volume of this shape.
pub fn voxel_count(shape: Shape) -> usize {
    shape[0] * shape[1] * shape[2]
}

/// A volume as read from a file, samples still in their source type.
#[derive(Debug, Clone, PartialEq)]
pub struct RawVolume {
    /// Shape (z, y, x).
    pub shape: Shape,
    /// The samples in z, y, x order, x fastest.
    pub samples: Samples,
    /// Voxel size, as far as the file says it.
    pub voxel_size: VoxelSize,
}

/// A volume for computing: voxels as f32 in one contiguous buffer, axes (z, y, x).
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// Shape (z, y, x).
    pub shape: Shape,
    /// The voxels in z, y, x order, x fastest. May hold NaN or infinite values from float
    /// sources; [`ZScore`] keeps those out of the statistics.
    pub voxels: Vec<f32>,
    /// Voxel size, as far as the source file says it.
    pub voxel_size: VoxelSize,
    /// The sample type of the source file, kept for display and export.
    pub source_type: SampleType,
    /// Smallest and largest finite value of the source, or `None` when no value is finite.
    pub value_range: Option<(f64, f64)>,
}

impl Volume {
    /// Converts a raw volume to f32 voxels, remembering its source type and range.
    pub fn from_raw(raw: &RawVolume) -> Volume {
        let voxels = raw.samples.to_f32();
        let value_range = VoxelStats::of(&voxels).range();
        Volume {
            shape: raw.shape,
            voxels,
            voxel_size: raw.voxel_size.clone(),
            source_type: raw.samples.sample_type(),
            value_range,
        }
    }

    /// Voxel at (z, y, x).
    pub fn at(&self, z: usize, y: usize, x: usize) -> f32 {
        self.voxels[(z * self.shape[1] + y) * self.shape[2] + x]
    }
}
