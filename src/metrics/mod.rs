//! How good a segmentation is, and how good its uncertainty is at saying where it is wrong.
//!
//! Voxel accuracy, Dice and IoU compare a binary segmentation with a label. PAvPU (Mukhoti
//! and Gal) asks more: are the uncertain regions the inaccurate ones? See [`pavpu`].

mod pavpu;
mod report;

pub use pavpu::{Axis, PavpuCounts, pavpu_3d, pavpu_pooled, pavpu_slice, pavpu_slices};
pub use report::{EvalReport, SegmentationReport, SliceReport, evaluate};

/// Agreement of a binary segmentation with a binary label.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Overlap {
    /// Fraction of voxels where both agree.
    pub accuracy: f64,
    /// 2|A and B| / (|A| + |B|); 1 when both are empty.
    pub dice: f64,
    /// |A and B| / |A or B|; 1 when both are empty.
    pub iou: f64,
    /// Fraction of voxels the segmentation calls foreground.
    pub foreground_fraction: f64,
}

impl Overlap {
    /// Compares `segmentation` with `label` (both 0/1 per voxel, same length).
    pub fn of(segmentation: &[u8], label: &[u8]) -> Overlap {
        let mut counts = [0usize; 4];
        for (&predicted, &truth) in segmentation.iter().zip(label) {
            counts[usize::from(predicted != 0) * 2 + usize::from(truth != 0)] += 1;
        }
        Overlap::from_counts(counts, segmentation.len())
    }

    /// From counts indexed by `predicted * 2 + truth` (true negatives, false negatives,
    /// false positives, true positives).
    pub fn from_counts(counts: [usize; 4], total: usize) -> Overlap {
        let [true_negative, false_negative, false_positive, true_positive] =
            counts.map(|c| c as f64);
        let total = total.max(1) as f64;
        let union = true_positive + false_positive + false_negative;
        let sizes = 2.0 * true_positive + false_positive + false_negative;
        Overlap {
            accuracy: (true_positive + true_negative) / total,
            dice: if sizes > 0.0 {
                2.0 * true_positive / sizes
            } else {
                1.0
            },
            iou: if union > 0.0 {
                true_positive / union
            } else {
                1.0
            },
            foreground_fraction: (true_positive + false_positive) / total,
        }
    }
}

/// Mean of a map (f64 accumulation), 0 for an empty one.
pub fn mean(values: &[f32]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_by_hand() {
        // truth:      1 1 0 0 0
        // predicted:  1 0 1 0 0  -> TP 1, FN 1, FP 1, TN 2
        let overlap = Overlap::of(&[1, 0, 1, 0, 0], &[1, 1, 0, 0, 0]);
        assert_eq!(overlap.accuracy, 0.6);
        assert_eq!(overlap.dice, 0.5);
        assert!((overlap.iou - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(overlap.foreground_fraction, 0.4);
    }

    #[test]
    fn empty_segmentations_agree_perfectly() {
        let overlap = Overlap::of(&[0, 0], &[0, 0]);
        assert_eq!(
            (overlap.accuracy, overlap.dice, overlap.iou),
            (1.0, 1.0, 1.0)
        );
    }
}
