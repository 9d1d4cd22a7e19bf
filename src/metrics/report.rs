//! The evaluation of a results folder against a label: one report for the table, the JSON
//! and the per-slice CSV, shared by `ctuq eval` and the viewer.

use super::{Axis, Overlap, PavpuCounts, mean, pavpu_3d, pavpu_pooled, pavpu_slices};
use crate::volume::Shape;

/// Metrics of one segmentation against the label, with the run's uncertainty map.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentationReport {
    /// Which segmentation: `prediction`, `lower_seg`, `upper_seg`, `refined`, ...
    pub name: String,
    /// Voxel accuracy, Dice, IoU, foreground fraction.
    pub overlap: Overlap,
    /// PAvPU counts pooled over all slices across the axis.
    pub pavpu_slices: PavpuCounts,
    /// PAvPU counts of the 3D variant.
    pub pavpu_3d: PavpuCounts,
    /// Per-slice accuracy, Dice and PAvPU counts.
    pub per_slice: Vec<SliceReport>,
}

/// Metrics of one slice.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SliceReport {
    /// Slice index along the axis.
    pub index: usize,
    /// Accuracy, Dice, IoU of the slice.
    pub overlap: Overlap,
    /// PAvPU counts of the slice.
    pub pavpu: PavpuCounts,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalReport {
    /// Shape of the volume.
    pub shape: Shape,
    /// Axis the slices are taken across.
    pub axis: Axis,
    /// Mean of the uncertainty map.
    pub mean_uncertainty: f64,
    /// One entry per segmentation evaluated.
    pub segmentations: Vec<SegmentationReport>,
}

/// Evaluates each named segmentation against `label` with the `uncertainty` map.
pub fn evaluate(
    segmentations: &[(&str, &[u8])],
    label: &[u8],
    uncertainty: &[f32],
    shape: Shape,
    axis: Axis,
) -> EvalReport {
    let reports = segmentations
        .iter()
        .map(|(name, segmentation)| {
            let slices = pavpu_slices(segmentation, label, uncertainty, shape, axis);
            let per_slice = slices
                .iter()
                .enumerate()
                .map(|(index, pavpu)| SliceReport {
                    index,
                    overlap: slice_overlap(segmentation, label, shape, axis, index),
                    pavpu: *pavpu,
                })
                .collect();
            SegmentationReport {
                name: name.to_string(),
                overlap: Overlap::of(segmentation, label),
                pavpu_slices: pavpu_pooled(&slices),
                pavpu_3d: pavpu_3d(segmentation, label, uncertainty, shape),
                per_slice,
            }
        })
        .collect();
    EvalReport {
        shape,
        axis,
        mean_uncertainty: mean(uncertainty),
        segmentations: reports,
    }
}

fn slice_overlap(
    segmentation: &[u8],
    label: &[u8],
    shape: Shape,
    axis: Axis,
    index: usize,
) -> Overlap {
    let [depth, height, width] = shape;
    let mut counts = [0usize; 4];
    let mut total = 0;
    let mut count = |i: usize| {
        counts[usize::from(segmentation[i] != 0) * 2 + usize::from(label[i] != 0)] += 1;
        total += 1;
    };
    match axis {
        Axis::Z => (0..height * width).for_each(|i| count(index * height * width + i)),
        Axis::Y => {
            for z in 0..depth {
                (0..width).for_each(|x| count((z * height + index) * width + x));
            }
        }
        Axis::X => {
            for z in 0..depth {
                (0..height).for_each(|y| count((z * height + y) * width + index));
            }
        }
    }
    Overlap::from_counts(counts, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_slice_overlap_matches_whole_volume_when_pooled() {
        let shape = [4, 5, 6];
        let label: Vec<u8> = (0..120).map(|i| u8::from(i % 3 == 0)).collect();
        let segmentation: Vec<u8> = (0..120).map(|i| u8::from(i % 4 == 0)).collect();
        let uncertainty: Vec<f32> = (0..120).map(|i| (i % 7) as f32 / 7.0).collect();
        for axis in [Axis::Z, Axis::Y, Axis::X] {
            let report = evaluate(&[("p", &segmentation)], &label, &uncertainty, shape, axis);
            let seg = &report.segmentations[0];
            assert_eq!(seg.per_slice.len(), shape[axis.index()]);
            let right: f64 = seg
                .per_slice
                .iter()
                .map(|s| s.overlap.accuracy * (120 / shape[axis.index()]) as f64)
                .sum();
            assert!((right / 120.0 - seg.overlap.accuracy).abs() < 1e-9);
        }
    }
}
