//! The chunk grid: overlapping sub-volumes that cover a volume, and stitching them back.
//!
//! A CT volume is too large for the network in one piece, so training cuts it into chunks
//! and inference runs chunk by chunk. Chunks overlap so that every voxel the network sees
//! near a chunk face has context. Each chunk *owns* its interior: the region left after
//! trimming half of each overlap shared with a neighbour. Owned regions partition the
//! volume, so stitching writes every voxel exactly once and never averages two chunks.

use std::ops::Range;

use super::Shape;

/// What is wrong with a requested chunk grid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkGridError {
    /// A chunk side was zero.
    #[error("chunk size {0:?} has a zero side; every side must be at least 1")]
    ZeroChunk([usize; 3]),

    /// The overlap is not smaller than the chunk along some axis.
    #[error("overlap {overlap:?} must be smaller than the chunk {chunk:?} along every axis")]
    OverlapTooLarge {
        /// The requested overlap.
        overlap: [usize; 3],
        /// The chunk size.
        chunk: [usize; 3],
    },
}

/// One chunk of a [`ChunkGrid`], in voxel coordinates of the whole volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// First voxel of the chunk (z, y, x).
    pub origin: [usize; 3],
    /// Chunk size (z, y, x); the same for every chunk of a grid.
    pub size: [usize; 3],
    /// The region this chunk owns, per axis, in volume coordinates.
    pub owned: [Range<usize>; 3],
}

impl Chunk {
    /// Copies this chunk out of a volume of shape `shape`.
    pub fn extract<T: Copy>(&self, volume: &[T], shape: Shape) -> Vec<T> {
        let [depth, height, width] = self.size;
        let mut chunk = Vec::with_capacity(depth * height * width);
        for z in self.origin[0]..self.origin[0] + depth {
            for y in self.origin[1]..self.origin[1] + height {
                let row_start = (z * shape[1] + y) * shape[2] + self.origin[2];
                chunk.extend_from_slice(&volume[row_start..row_start + width]);
            }
        }
        chunk
    }

    /// Writes the owned region of `chunk` (laid out as this chunk) into `volume`.
    pub fn stitch<T: Copy>(&self, chunk: &[T], volume: &mut [T], shape: Shape) {
        let [_, height, width] = self.size;
        let x_owned = self.owned[2].clone();
        let x_in_chunk = x_owned.start - self.origin[2]..x_owned.end - self.origin[2];
        for z in self.owned[0].clone() {
            for y in self.owned[1].clone() {
                let chunk_row = ((z - self.origin[0]) * height + (y - self.origin[1])) * width;
                let volume_row = (z * shape[1] + y) * shape[2];
                volume[volume_row + x_owned.start..volume_row + x_owned.end].copy_from_slice(
                    &chunk[chunk_row + x_in_chunk.start..chunk_row + x_in_chunk.end],
                );
            }
        }
    }
}

/// Overlapping chunks covering a volume; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkGrid {
    /// Shape of the volume covered.
    pub shape: Shape,
    /// Chunk size actually used: the requested size, clamped to the volume.
    pub chunk: [usize; 3],
    /// Per axis, (start, owned range) of each chunk position.
    axes: [Vec<(usize, Range<usize>)>; 3],
}

impl ChunkGrid {
    /// Builds the grid. A chunk larger than the volume along an axis is clamped to the
    /// volume, so volumes smaller than a chunk give one chunk along that axis. The overlap is
    /// clamped with it.
    pub fn new(
        shape: Shape,
        chunk: [usize; 3],
        overlap: [usize; 3],
    ) -> Result<Self, ChunkGridError> {
        if chunk.contains(&0) {
            return Err(ChunkGridError::ZeroChunk(chunk));
        }
        if (0..3).any(|axis| overlap[axis] >= chunk[axis]) {
            return Err(ChunkGridError::OverlapTooLarge { overlap, chunk });
        }

        let clamped = [0, 1, 2].map(|axis| chunk[axis].min(shape[axis]).max(1));
        let axes = [0, 1, 2].map(|axis| {
            let overlap = overlap[axis].min(clamped[axis] - 1);
            axis_positions(shape[axis], clamped[axis], clamped[axis] - overlap)
        });
        Ok(ChunkGrid {
            shape,
            chunk: clamped,
            axes,
        })
    }

    /// A grid whose chunks overlap by `fraction` (0 <= fraction < 1) of the chunk size, the
    /// 50 % sliding window of training for `fraction = 0.5`.
    pub fn with_overlap_fraction(
        shape: Shape,
        chunk: [usize; 3],
        fraction: f64,
    ) -> Result<Self, ChunkGridError> {
        let fraction = fraction.clamp(0.0, 0.99);
        let overlap = chunk.map(|side| ((side as f64 * fraction) as usize).min(side.max(1) - 1));
        ChunkGrid::new(shape, chunk, overlap)
    }

    /// Number of chunks.
    pub fn len(&self) -> usize {
        self.axes.iter().map(Vec::len).product()
    }

    /// Whether the grid has no chunks (only for an empty volume).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The chunks, z-major.
    pub fn chunks(&self) -> impl Iterator<Item = Chunk> + '_ {
        let [zs, ys, xs] = &self.axes;
        zs.iter().flat_map(move |(z0, z_owned)| {
            ys.iter().flat_map(move |(y0, y_owned)| {
                xs.iter().map(move |(x0, x_owned)| Chunk {
                    origin: [*z0, *y0, *x0],
                    size: self.chunk,
                    owned: [z_owned.clone(), y_owned.clone(), x_owned.clone()],
                })
            })
        })
    }
}

/// Chunk starts along one axis of length `len`, stepping by `stride`, with the last chunk
/// aligned to the far edge; and the range each owns (split at the middle of each overlap).
fn axis_positions(len: usize, chunk: usize, stride: usize) -> Vec<(usize, Range<usize>)> {
    if len == 0 {
        return Vec::new();
    }

    let mut starts = Vec::new();
    let mut start = 0;
    while start + chunk < len {
        starts.push(start);
        start += stride;
    }
    starts.push(len - chunk);
    starts.dedup();

    let mut positions = Vec::with_capacity(starts.len());
    for (i, &start) in starts.iter().enumerate() {
        let owned_start = if i == 0 {
            0
        } else {
            (starts[i - 1] + chunk + start) / 2
        };
        let owned_end = match starts.get(i + 1) {
            Some(&next) => (start + chunk + next) / 2,
            None => len,
        };
        positions.push((start, owned_start..owned_end));
    }
    positions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(shape: Shape) -> Vec<u32> {
        (0..(shape[0] * shape[1] * shape[2]) as u32).collect()
    }

    #[test]
    fn stitching_unchanged_chunks_gives_back_the_volume() {
        let shape = [37, 130, 61];
        let volume = ramp(shape);
        let grid = ChunkGrid::with_overlap_fraction(shape, [32, 64, 64], 0.5).unwrap();
        let mut stitched = vec![u32::MAX; volume.len()];
        let mut writes = vec![0u8; volume.len()];
        for chunk in grid.chunks() {
            let cut = chunk.extract(&volume, shape);
            assert_eq!(cut.len(), 32 * 64 * 61);
            chunk.stitch(&cut, &mut stitched, shape);
            let ones = vec![1u8; cut.len()];
            let mut marks = vec![0u8; volume.len()];
            chunk.stitch(&ones, &mut marks, shape);
            writes.iter_mut().zip(&marks).for_each(|(w, m)| *w += m);
        }
        assert_eq!(stitched, volume);
        assert!(
            writes.iter().all(|&w| w == 1),
            "some voxel was written twice or never"
        );
    }

    #[test]
    fn last_chunk_is_aligned_to_far_edge() {
        let grid = ChunkGrid::new([10, 100, 10], [10, 32, 10], [0, 16, 0]).unwrap();
        let starts: Vec<usize> = grid.chunks().map(|c| c.origin[1]).collect();
        assert_eq!(starts, vec![0, 16, 32, 48, 64, 68]);
        let last = grid.chunks().last().unwrap();
        assert_eq!(last.origin[1] + last.size[1], 100);
    }

    #[test]
    fn volume_smaller_than_chunk_gives_one_clamped_chunk() {
        let shape = [5, 7, 3];
        let grid = ChunkGrid::with_overlap_fraction(shape, [32, 64, 64], 0.5).unwrap();
        assert_eq!(grid.len(), 1);
        assert_eq!(grid.chunk, [5, 7, 3]);
        let volume = ramp(shape);
        let chunk = grid.chunks().next().unwrap();
        let mut stitched = vec![0; volume.len()];
        chunk.stitch(&chunk.extract(&volume, shape), &mut stitched, shape);
        assert_eq!(stitched, volume);
    }

    #[test]
    fn bad_grids_are_refused() {
        assert!(ChunkGrid::new([8, 8, 8], [0, 4, 4], [0, 0, 0]).is_err());
        assert!(ChunkGrid::new([8, 8, 8], [4, 4, 4], [4, 0, 0]).is_err());
    }
}
