//! Validation after each epoch: the deterministic (mean) network over whole held-out volumes,
//! scored by voxel accuracy and Dice (counted as in [`crate::metrics::Overlap`]).

use burn::tensor::Device;
use burn::tensor::activation::sigmoid;
use serde::{Deserialize, Serialize};

use super::data::{Augment, ChunkRef, TrainingPair, make_batch};
use crate::metrics::Overlap;
use crate::model::{DecoderMode, Network};
use crate::volume::ChunkGrid;

/// Scores of one validation pass.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValMetrics {
    /// Fraction of voxels predicted right (prediction = probability > 0.5).
    pub accuracy: f64,
    /// Dice of the foreground, `2 TP / (2 TP + FP + FN)`; 1 when both are empty.
    pub dice: f64,
}

/// Voxel counts of a confusion matrix, indexed `predicted * 2 + actual` as
/// [`Overlap::from_counts`] expects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Confusion([usize; 4]);

impl Confusion {
    /// Adds one voxel.
    pub fn add(&mut self, predicted: bool, actual: bool) {
        self.0[usize::from(predicted) * 2 + usize::from(actual)] += 1;
    }

    /// Accuracy and Dice.
    pub fn metrics(&self) -> ValMetrics {
        let overlap = Overlap::from_counts(self.0, self.0.iter().sum());
        ValMetrics {
            accuracy: overlap.accuracy,
            dice: overlap.dice,
        }
    }
}

/// Overlap of validation chunks. Each voxel is taken from the chunk whose centre is nearest
/// along each axis, so about 12 % of the chunk side is trimmed from faces with a neighbour
/// (the authors trimmed 10 %): chunk borders, where the zero padding shows, are not scored.
const VALIDATION_OVERLAP: f64 = 0.25;

/// Predicts every voxel of `pair` with the mean network (a [`ChunkGrid`] at
/// [`VALIDATION_OVERLAP`], each voxel taken from the chunk that owns it) and returns
/// foreground probabilities in z, y, x order.
pub(crate) fn predict_mean(
    network: &Network,
    pair: &TrainingPair,
    chunk: [usize; 3],
    batch_size: usize,
    device: &Device,
) -> Vec<f32> {
    let [nz, ny, nx] = pair.shape;
    let Ok(grid) = ChunkGrid::with_overlap_fraction(pair.shape, chunk, VALIDATION_OVERLAP) else {
        panic!("BUG: chunk {chunk:?} reached the chunk grid unchecked");
    };
    let refs: Vec<(ChunkRef, [(usize, usize); 3])> = grid
        .chunks()
        .map(|c| {
            let chunk_ref = ChunkRef {
                pair: 0,
                origin: c.origin,
            };
            (chunk_ref, c.owned.map(|range| (range.start, range.end)))
        })
        .collect();
    let pairs = std::slice::from_ref(pair);
    let mut probabilities = vec![0.0f32; nz * ny * nx];
    let [cz, cy, cx] = chunk;
    for group in refs.chunks(batch_size.max(1)) {
        let batch_refs: Vec<_> = group
            .iter()
            .map(|(r, _)| (*r, Augment::default()))
            .collect();
        let batch = make_batch(pairs, &batch_refs, chunk, device);
        let output = sigmoid(network.forward(batch.images, DecoderMode::Mean));
        let values: Vec<f32> = output
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_else(|error| panic!("BUG: network output is not f32: {error:?}"));
        for ((chunk_ref, owned), chunk_values) in group.iter().zip(values.chunks(cz * cy * cx)) {
            let [z0, y0, x0] = chunk_ref.origin;
            let [(z_start, z_end), (y_start, y_end), (x_start, x_end)] = *owned;
            let width = x_end - x_start;
            for z in z_start..z_end {
                for y in y_start..y_end {
                    let row_out = (z * ny + y) * nx + x_start;
                    let row_in = ((z - z0) * cy + (y - y0)) * cx + (x_start - x0);
                    probabilities[row_out..row_out + width]
                        .copy_from_slice(&chunk_values[row_in..row_in + width]);
                }
            }
        }
    }
    probabilities
}

/// Validates on every pair with the mean network; `None` when there is nothing to validate on.
pub fn validate(
    network: &Network,
    pairs: &[TrainingPair],
    chunk: [usize; 3],
    batch_size: usize,
    device: &Device,
) -> Option<ValMetrics> {
    if pairs.is_empty() {
        return None;
    }
    let mut confusion = Confusion::default();
    for pair in pairs {
        let probabilities = predict_mean(network, pair, chunk, batch_size, device);
        for (&p, &label) in probabilities.iter().zip(&pair.label) {
            confusion.add(p > 0.5, label == 1);
        }
    }
    Some(confusion.metrics())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_and_dice_count_voxels() {
        let mut c = Confusion::default();
        for (p, a) in [
            (true, true),
            (true, true),
            (true, false),
            (false, true),
            (false, false),
        ] {
            c.add(p, a);
        }
        let m = c.metrics();
        assert!((m.accuracy - 0.6).abs() < 1e-12);
        assert!((m.dice - 4.0 / 6.0).abs() < 1e-12);
        let mut empty = Confusion::default();
        (0..3).for_each(|_| empty.add(false, false));
        assert_eq!(empty.metrics().dice, 1.0);
        assert_eq!(empty.metrics().accuracy, 1.0);
    }
}
