//! Training data: image/label pairs, chunk positions (from `volume::ChunkGrid`), and the
//! batcher that cuts (and optionally flips) chunks into minibatch tensors.

use std::ops::Range;

use burn::tensor::{Device, Tensor, TensorData};

use super::TrainError;
use super::rng::SplitMix64;
use crate::model::file::VolumeSummary;
use crate::volume::{ChunkGrid, Label, Volume, ZScore};

/// One training (or validation) volume: a z-scored image and its binary label.
///
/// Both are stored z, y, x with x fastest: voxel (z, y, x) is at `(z * ny + y) * nx + x`.
#[derive(Debug, Clone)]
pub struct TrainingPair {
    /// File name or other label, for logs and the model header.
    pub name: String,
    /// Image intensities, already z-scored over the whole volume.
    pub image: Vec<f32>,
    /// Label, 0 (background) or 1 (foreground) per voxel.
    pub label: Vec<u8>,
    /// Shape z, y, x.
    pub shape: [usize; 3],
    /// Raw mean used for the z-score, if known (recorded in the model header).
    pub mean: Option<f64>,
    /// Raw standard deviation used for the z-score, if known (recorded in the model header).
    pub std: Option<f64>,
}

impl TrainingPair {
    /// Checks and wraps one pair: sizes must match the shape, labels must be 0 or 1, and the
    /// image must be finite.
    pub fn new(
        name: impl Into<String>,
        image: Vec<f32>,
        label: Vec<u8>,
        shape: [usize; 3],
    ) -> Result<Self, TrainError> {
        let name = name.into();
        let voxels = shape.iter().product::<usize>();
        if voxels == 0 || image.len() != voxels || label.len() != voxels {
            return Err(TrainError::BadPair {
                name,
                detail: format!(
                    "shape {shape:?} holds {voxels} voxels, image has {}, label has {}",
                    image.len(),
                    label.len()
                ),
            });
        }
        if let Some(bad) = label.iter().find(|&&value| value > 1) {
            return Err(TrainError::BadPair {
                name,
                detail: format!("label value {bad} found; labels must be 0 or 1"),
            });
        }
        if image.iter().any(|value| !value.is_finite()) {
            return Err(TrainError::BadPair {
                name,
                detail: "image holds NaN or infinite values".to_string(),
            });
        }
        Ok(Self {
            name,
            image,
            label,
            shape,
            mean: None,
            std: None,
        })
    }

    /// Z-scores a volume over all its voxels and pairs it with its label.
    pub fn from_volume(
        name: impl Into<String>,
        volume: &Volume,
        label: &Label,
    ) -> Result<Self, TrainError> {
        let name = name.into();
        if volume.shape != label.shape {
            return Err(TrainError::BadPair {
                name,
                detail: format!(
                    "image shape {:?} and label shape {:?} differ",
                    volume.shape, label.shape
                ),
            });
        }
        let z_score = ZScore::fit(&volume.voxels);
        let image = z_score.apply(&volume.voxels);
        Ok(Self::new(name, image, label.voxels.clone(), volume.shape)?
            .with_normalization(z_score.mean, z_score.std))
    }

    /// Records the raw mean and standard deviation the image was z-scored with.
    pub fn with_normalization(mut self, mean: f64, std: f64) -> Self {
        self.mean = Some(mean);
        self.std = Some(std);
        self
    }

    /// Splits off the slices `z_range` as a held-out part: returns (rest, held out). The rest is
    /// what lies before and after the range, joined; use a range at either end of the volume so
    /// that the rest stays contiguous.
    pub fn split_z(self, z_range: Range<usize>) -> Result<(Self, Self), TrainError> {
        let [nz, ny, nx] = self.shape;
        if z_range.start >= z_range.end || z_range.end > nz || z_range.len() == nz {
            return Err(TrainError::BadPair {
                name: self.name,
                detail: format!("cannot hold out z {z_range:?} of {nz} slices"),
            });
        }
        let slice = ny * nx;
        let cut = |range: Range<usize>| (range.start * slice)..(range.end * slice);
        let held = cut(z_range.clone());
        let held_out = Self {
            name: format!("{} z{}..{}", self.name, z_range.start, z_range.end),
            image: self.image[held.clone()].to_vec(),
            label: self.label[held.clone()].to_vec(),
            shape: [z_range.len(), ny, nx],
            mean: self.mean,
            std: self.std,
        };
        let mut image = self.image;
        let mut label = self.label;
        image.drain(held.clone());
        label.drain(held);
        let rest = Self {
            name: format!("{} without z{}..{}", self.name, z_range.start, z_range.end),
            image,
            label,
            shape: [nz - z_range.len(), ny, nx],
            mean: self.mean,
            std: self.std,
        };
        Ok((rest, held_out))
    }

    /// Cuts out the box of `shape` voxels at `origin` (z, y, x) as a pair of its own, keeping
    /// the z-score of the whole volume (SPEC normalizes over the whole volume, never a part).
    pub fn crop(&self, origin: [usize; 3], shape: [usize; 3]) -> Result<Self, TrainError> {
        let [_, ny, nx] = self.shape;
        let inside = (0..3).all(|axis| {
            shape[axis] > 0
                && origin[axis]
                    .checked_add(shape[axis])
                    .is_some_and(|end| end <= self.shape[axis])
        });
        if !inside {
            return Err(TrainError::BadPair {
                name: self.name.clone(),
                detail: format!(
                    "cannot crop {shape:?} at {origin:?} from a volume of {:?}",
                    self.shape
                ),
            });
        }
        let [cz, cy, cx] = shape;
        let voxels = cz * cy * cx;
        let mut image = Vec::with_capacity(voxels);
        let mut label = Vec::with_capacity(voxels);
        for z in origin[0]..origin[0] + cz {
            for y in origin[1]..origin[1] + cy {
                let row = (z * ny + y) * nx + origin[2];
                image.extend_from_slice(&self.image[row..row + cx]);
                label.extend_from_slice(&self.label[row..row + cx]);
            }
        }
        let [z, y, x] = origin;
        Ok(Self {
            name: format!(
                "{} z{z}..{} y{y}..{} x{x}..{}",
                self.name,
                z + cz,
                y + cy,
                x + cx
            ),
            image,
            label,
            shape,
            mean: self.mean,
            std: self.std,
        })
    }

    /// Fraction of voxels labelled foreground.
    pub fn foreground_fraction(&self) -> f64 {
        let foreground = self.label.iter().filter(|&&value| value == 1).count();
        foreground as f64 / self.label.len().max(1) as f64
    }

    /// What the model header records about this pair.
    pub fn summary(&self) -> VolumeSummary {
        VolumeSummary {
            name: self.name.clone(),
            shape: self.shape,
            mean: self.mean,
            std: self.std,
            foreground_fraction: self.foreground_fraction(),
        }
    }
}

/// Where one chunk comes from: a pair and a corner (z, y, x).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkRef {
    /// Index of the pair.
    pub pair: usize,
    /// Corner of the chunk in the volume, z, y, x.
    pub origin: [usize; 3],
}

/// All chunks of a set of pairs, in a fixed order: a [`ChunkGrid`] per pair with `overlap`
/// as a fraction of the chunk side.
///
/// N.B. the grid clamps a chunk to a volume smaller than it; the batcher still cuts the full
/// chunk from the same corner and fills the voxels past the edge by replicating the edge.
pub(crate) fn all_chunks(pairs: &[TrainingPair], chunk: [usize; 3], overlap: f64) -> Vec<ChunkRef> {
    let mut chunks = Vec::new();
    for (index, pair) in pairs.iter().enumerate() {
        // Only a zero chunk side fails, and the training config refuses those first.
        let Ok(grid) = ChunkGrid::with_overlap_fraction(pair.shape, chunk, overlap) else {
            panic!("BUG: chunk {chunk:?} reached the chunk grid unchecked");
        };
        chunks.extend(grid.chunks().map(|c| ChunkRef {
            pair: index,
            origin: c.origin,
        }));
    }
    chunks
}

/// A random flip along each axis and an optional swap of y and x, applied to one chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Augment {
    /// Flip along z, y, x.
    pub flip: [bool; 3],
    /// Swap the y and x axes (only for chunks with equal y and x sides).
    pub swap_yx: bool,
}

impl Augment {
    /// Draws an augmentation: each enabled flip with probability 1/2, likewise the swap.
    pub fn draw(rng: &mut SplitMix64, flips: bool, swap_yx: bool) -> Self {
        let mut coin = || rng.next_u64() & 1 == 1;
        Self {
            flip: [coin() && flips, coin() && flips, coin() && flips],
            swap_yx: coin() && swap_yx,
        }
    }
}

/// Copies one chunk of a pair into `image_out` and `label_out` (each `chunk` voxels, z, y, x
/// order), applying `augment`. Voxels past the volume's edge replicate the edge.
pub(crate) fn cut_chunk(
    pair: &TrainingPair,
    origin: [usize; 3],
    chunk: [usize; 3],
    augment: Augment,
    image_out: &mut [f32],
    label_out: &mut [f32],
) {
    let [nz, ny, nx] = pair.shape;
    let [cz, cy, cx] = chunk;
    debug_assert_eq!(image_out.len(), cz * cy * cx, "BUG: chunk buffer size");
    debug_assert!(
        !augment.swap_yx || cy == cx,
        "BUG: y/x swap of a non-square chunk"
    );
    let source = |i: usize, side: usize, flip: bool| if flip { side - 1 - i } else { i };
    let mut out = 0;
    for z in 0..cz {
        let sz = (origin[0] + source(z, cz, augment.flip[0])).min(nz - 1);
        for y in 0..cy {
            for x in 0..cx {
                let (a, b) = if augment.swap_yx { (x, y) } else { (y, x) };
                let sy = (origin[1] + source(a, cy, augment.flip[1])).min(ny - 1);
                let sx = (origin[2] + source(b, cx, augment.flip[2])).min(nx - 1);
                let index = (sz * ny + sy) * nx + sx;
                image_out[out] = pair.image[index];
                label_out[out] = f32::from(pair.label[index]);
                out += 1;
            }
        }
    }
}

/// A minibatch ready for the network.
pub(crate) struct Batch {
    /// Images, `[batch, 1, cz, cy, cx]`.
    pub images: Tensor<5>,
    /// Labels as 0.0 / 1.0, `[batch, 1, cz, cy, cx]`.
    pub labels: Tensor<5>,
}

/// Cuts the given chunks into one batch on `device`.
pub(crate) fn make_batch(
    pairs: &[TrainingPair],
    chunks: &[(ChunkRef, Augment)],
    chunk: [usize; 3],
    device: &Device,
) -> Batch {
    let voxels = chunk.iter().product::<usize>();
    let mut images = vec![0.0f32; chunks.len() * voxels];
    let mut labels = vec![0.0f32; chunks.len() * voxels];
    let outputs = images.chunks_mut(voxels).zip(labels.chunks_mut(voxels));
    for ((chunk_ref, augment), (image, label)) in chunks.iter().zip(outputs) {
        let pair = &pairs[chunk_ref.pair];
        cut_chunk(pair, chunk_ref.origin, chunk, *augment, image, label);
    }
    let shape = [chunks.len(), 1, chunk[0], chunk[1], chunk[2]];
    Batch {
        images: Tensor::from_data(TensorData::new(images, shape), device),
        labels: Tensor::from_data(TensorData::new(labels, shape), device),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(shape: [usize; 3]) -> TrainingPair {
        let n = shape.iter().product::<usize>();
        let image = (0..n).map(|i| i as f32).collect();
        let label = (0..n).map(|i| (i % 3 == 0) as u8).collect();
        TrainingPair::new("ramp", image, label, shape).expect("valid pair")
    }

    #[test]
    fn pairs_are_checked() {
        assert!(TrainingPair::new("a", vec![0.0; 8], vec![0; 7], [2, 2, 2]).is_err());
        assert!(TrainingPair::new("a", vec![0.0; 8], vec![2; 8], [2, 2, 2]).is_err());
        assert!(TrainingPair::new("a", vec![f32::NAN; 8], vec![0; 8], [2, 2, 2]).is_err());
        assert!(TrainingPair::new("a", vec![0.0; 8], vec![1; 8], [2, 2, 2]).is_ok());
    }

    #[test]
    fn split_z_holds_out_the_given_slices() {
        let whole = pair([5, 2, 3]);
        let (rest, held) = whole.clone().split_z(3..5).expect("valid split");
        assert_eq!(rest.shape, [3, 2, 3]);
        assert_eq!(held.shape, [2, 2, 3]);
        assert_eq!(rest.image[..], whole.image[..18]);
        assert_eq!(held.image[..], whole.image[18..]);
        assert!(whole.clone().split_z(0..5).is_err());
        assert!(whole.split_z(4..6).is_err());
    }

    #[test]
    fn crop_cuts_a_box_and_keeps_the_normalization() {
        let whole = pair([4, 5, 6]).with_normalization(2.0, 3.0);
        let part = whole.crop([1, 2, 3], [2, 3, 2]).expect("inside");
        assert_eq!(part.shape, [2, 3, 2]);
        let at = |z: usize, y: usize, x: usize| ((z * 5 + y) * 6 + x) as f32;
        assert_eq!(part.image[0], at(1, 2, 3));
        assert_eq!(part.image[1], at(1, 2, 4));
        assert_eq!(part.image[2], at(1, 3, 3));
        assert_eq!(part.image[11], at(2, 4, 4));
        let labels: Vec<u8> = part
            .image
            .iter()
            .map(|&v| u8::from((v as usize).is_multiple_of(3)))
            .collect();
        assert_eq!(part.label, labels);
        assert_eq!((part.mean, part.std), (Some(2.0), Some(3.0)));
        assert!(whole.crop([0, 0, 0], [4, 5, 6]).is_ok());
        assert!(whole.crop([3, 0, 0], [2, 1, 1]).is_err());
        assert!(whole.crop([0, 0, 0], [1, 0, 1]).is_err());
        assert!(whole.crop([0, usize::MAX, 0], [1, 2, 1]).is_err());
    }

    #[test]
    fn cut_chunk_copies_flips_and_swaps() {
        let p = pair([4, 4, 4]);
        let at = |z: usize, y: usize, x: usize| ((z * 4 + y) * 4 + x) as f32;
        let mut image = vec![0.0; 8];
        let mut label = vec![0.0; 8];
        cut_chunk(
            &p,
            [1, 2, 0],
            [2, 2, 2],
            Augment::default(),
            &mut image,
            &mut label,
        );
        assert_eq!(
            image,
            vec![
                at(1, 2, 0),
                at(1, 2, 1),
                at(1, 3, 0),
                at(1, 3, 1),
                at(2, 2, 0),
                at(2, 2, 1),
                at(2, 3, 0),
                at(2, 3, 1)
            ]
        );
        assert_eq!(
            label[0],
            if (at(1, 2, 0) as usize).is_multiple_of(3) {
                1.0
            } else {
                0.0
            }
        );

        let flip_x = Augment {
            flip: [false, false, true],
            swap_yx: false,
        };
        cut_chunk(&p, [0, 0, 0], [2, 2, 2], flip_x, &mut image, &mut label);
        assert_eq!(image[..2], [at(0, 0, 1), at(0, 0, 0)]);

        let swap = Augment {
            flip: [false; 3],
            swap_yx: true,
        };
        cut_chunk(&p, [0, 0, 0], [2, 2, 2], swap, &mut image, &mut label);
        assert_eq!(
            image[..4],
            [at(0, 0, 0), at(0, 1, 0), at(0, 0, 1), at(0, 1, 1)]
        );
    }

    #[test]
    fn chunks_past_the_edge_replicate_it() {
        let p = pair([2, 2, 2]);
        let mut image = vec![0.0; 27];
        let mut label = vec![0.0; 27];
        cut_chunk(
            &p,
            [0, 0, 0],
            [3, 3, 3],
            Augment::default(),
            &mut image,
            &mut label,
        );
        assert_eq!(image[26], 7.0);
        assert_eq!(image[2], 1.0);
    }

    #[test]
    fn all_chunks_cover_every_pair() {
        let pairs = vec![pair([16, 16, 16]), pair([8, 16, 24])];
        let chunks = all_chunks(&pairs, [8, 8, 8], 0.5);
        assert_eq!(chunks.iter().filter(|c| c.pair == 0).count(), 27);
        assert_eq!(chunks.iter().filter(|c| c.pair == 1).count(), 3 * 5);
    }
}
