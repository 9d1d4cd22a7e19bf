//! PAvPU: patch accuracy versus patch uncertainty (Mukhoti and Gal), as SPEC.md defines it.
//!
//! Every 3x3 window of a slice (stride 1, windows wholly inside the slice) is *accurate* when
//! at least 8 of its 9 voxels are segmented right, and *uncertain* when its mean uncertainty
//! is at least tau, the mean uncertainty of that slice. Counting the four combinations gives
//! P(A|C), P(U|I) and PAvPU. The 3D variant uses 3x3x3 windows, accurate at 24 of 27, with
//! tau the mean uncertainty of the volume.

use crate::volume::Shape;

/// The axis slices are taken across.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Axis {
    /// Axial slices (fixed z).
    Z,
    /// Coronal slices (fixed y).
    Y,
    /// Sagittal slices (fixed x).
    X,
}

impl Axis {
    /// The axis index in (z, y, x) order.
    pub fn index(self) -> usize {
        match self {
            Axis::Z => 0,
            Axis::Y => 1,
            Axis::X => 2,
        }
    }
}

/// Window counts: accurate or inaccurate, certain or uncertain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PavpuCounts {
    /// Accurate and certain.
    pub n_ac: u64,
    /// Accurate and uncertain.
    pub n_au: u64,
    /// Inaccurate and certain.
    pub n_ic: u64,
    /// Inaccurate and uncertain.
    pub n_iu: u64,
}

impl PavpuCounts {
    /// Adds another set of counts (pooling over slices).
    pub fn add(&mut self, other: PavpuCounts) {
        self.n_ac += other.n_ac;
        self.n_au += other.n_au;
        self.n_ic += other.n_ic;
        self.n_iu += other.n_iu;
    }

    /// Number of windows.
    pub fn total(&self) -> u64 {
        self.n_ac + self.n_au + self.n_ic + self.n_iu
    }

    /// P(accurate | certain) = n_ac / (n_ac + n_ic); `None` when no window is certain.
    pub fn p_accurate_given_certain(&self) -> Option<f64> {
        ratio(self.n_ac, self.n_ac + self.n_ic)
    }

    /// P(uncertain | inaccurate) = n_iu / (n_ic + n_iu); `None` when no window is inaccurate.
    pub fn p_uncertain_given_inaccurate(&self) -> Option<f64> {
        ratio(self.n_iu, self.n_ic + self.n_iu)
    }

    /// PAvPU = (n_ac + n_iu) / all windows; `None` when there are no windows.
    pub fn pavpu(&self) -> Option<f64> {
        ratio(self.n_ac + self.n_iu, self.total())
    }
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// PAvPU counts of one 2D slice: `correct` is 1 where the segmentation is right, `uncertainty`
/// the uncertainty map, both `height x width`, row-major.
pub fn pavpu_slice(
    correct: &[u8],
    uncertainty: &[f32],
    height: usize,
    width: usize,
) -> PavpuCounts {
    let mut counts = PavpuCounts::default();
    if height < 3 || width < 3 {
        return counts;
    }
    let tau = uncertainty.iter().map(|&u| f64::from(u)).sum::<f64>() / uncertainty.len() as f64;

    // Sums over three consecutive columns of each row, then over three rows.
    let mut correct_rows = vec![0u32; height * (width - 2)];
    let mut uncertainty_rows = vec![0f64; height * (width - 2)];
    for y in 0..height {
        for x in 0..width - 2 {
            let i = y * width + x;
            correct_rows[y * (width - 2) + x] =
                u32::from(correct[i]) + u32::from(correct[i + 1]) + u32::from(correct[i + 2]);
            uncertainty_rows[y * (width - 2) + x] = f64::from(uncertainty[i])
                + f64::from(uncertainty[i + 1])
                + f64::from(uncertainty[i + 2]);
        }
    }
    let row = width - 2;
    for y in 0..height - 2 {
        for x in 0..row {
            let i = y * row + x;
            let right = correct_rows[i] + correct_rows[i + row] + correct_rows[i + 2 * row];
            let uncertainty_sum =
                uncertainty_rows[i] + uncertainty_rows[i + row] + uncertainty_rows[i + 2 * row];
            classify(&mut counts, right >= 8, uncertainty_sum / 9.0 >= tau);
        }
    }
    counts
}

fn classify(counts: &mut PavpuCounts, accurate: bool, uncertain: bool) {
    match (accurate, uncertain) {
        (true, false) => counts.n_ac += 1,
        (true, true) => counts.n_au += 1,
        (false, false) => counts.n_ic += 1,
        (false, true) => counts.n_iu += 1,
    }
}

/// PAvPU counts of every slice across `axis`. `segmentation` and `label` are 0/1 volumes.
pub fn pavpu_slices(
    segmentation: &[u8],
    label: &[u8],
    uncertainty: &[f32],
    shape: Shape,
    axis: Axis,
) -> Vec<PavpuCounts> {
    let (slice_shape, count) = slice_geometry(shape, axis);
    let mut correct = vec![0u8; slice_shape[0] * slice_shape[1]];
    let mut slice_uncertainty = vec![0f32; correct.len()];
    (0..count)
        .map(|index| {
            for a in 0..slice_shape[0] {
                for b in 0..slice_shape[1] {
                    let voxel = voxel_index(shape, axis, index, a, b);
                    correct[a * slice_shape[1] + b] =
                        u8::from((segmentation[voxel] != 0) == (label[voxel] != 0));
                    slice_uncertainty[a * slice_shape[1] + b] = uncertainty[voxel];
                }
            }
            pavpu_slice(&correct, &slice_uncertainty, slice_shape[0], slice_shape[1])
        })
        .collect()
}

/// Counts pooled over all slices across `axis`.
pub fn pavpu_pooled(per_slice: &[PavpuCounts]) -> PavpuCounts {
    let mut pooled = PavpuCounts::default();
    per_slice.iter().for_each(|counts| pooled.add(*counts));
    pooled
}

/// The 3D variant: 3x3x3 windows, accurate at 24 of 27 right, tau the volume's mean
/// uncertainty.
pub fn pavpu_3d(
    segmentation: &[u8],
    label: &[u8],
    uncertainty: &[f32],
    shape: Shape,
) -> PavpuCounts {
    let [depth, height, width] = shape;
    let mut counts = PavpuCounts::default();
    if depth < 3 || height < 3 || width < 3 {
        return counts;
    }
    let tau = uncertainty.iter().map(|&u| f64::from(u)).sum::<f64>() / uncertainty.len() as f64;
    let at = |z: usize, y: usize, x: usize| (z * height + y) * width + x;
    for z in 0..depth - 2 {
        for y in 0..height - 2 {
            for x in 0..width - 2 {
                let mut right = 0;
                let mut uncertainty_sum = 0.0;
                for dz in 0..3 {
                    for dy in 0..3 {
                        for dx in 0..3 {
                            let i = at(z + dz, y + dy, x + dx);
                            right += u32::from((segmentation[i] != 0) == (label[i] != 0));
                            uncertainty_sum += f64::from(uncertainty[i]);
                        }
                    }
                }
                classify(&mut counts, right >= 24, uncertainty_sum / 27.0 >= tau);
            }
        }
    }
    counts
}

/// (rows, columns) of a slice across `axis`, and the number of such slices.
fn slice_geometry(shape: Shape, axis: Axis) -> ([usize; 2], usize) {
    let [depth, height, width] = shape;
    match axis {
        Axis::Z => ([height, width], depth),
        Axis::Y => ([depth, width], height),
        Axis::X => ([depth, height], width),
    }
}

/// Voxel index of (row a, column b) of slice `index` across `axis`.
fn voxel_index(shape: Shape, axis: Axis, index: usize, a: usize, b: usize) -> usize {
    let [_, height, width] = shape;
    let (z, y, x) = match axis {
        Axis::Z => (index, a, b),
        Axis::Y => (a, index, b),
        Axis::X => (a, b, index),
    };
    (z * height + y) * width + x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x4 slice has two windows: columns 0-2 and 1-3.
    #[test]
    fn two_windows_by_hand() {
        // Column 3 wrong twice: window 1 (cols 1-3) has 7 of 9 right, window 0 all right.
        let correct = [1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0];
        // Uncertainty high in column 3 only: tau = 3 * 0.9 / 12 = 0.225; window 0 mean 0,
        // window 1 mean 0.3.
        let uncertainty = [0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 0.9];
        let counts = pavpu_slice(&correct, &uncertainty, 3, 4);
        assert_eq!(
            counts,
            PavpuCounts {
                n_ac: 1,
                n_au: 0,
                n_ic: 0,
                n_iu: 1
            }
        );
        assert_eq!(counts.pavpu(), Some(1.0));
        assert_eq!(counts.p_accurate_given_certain(), Some(1.0));
        assert_eq!(counts.p_uncertain_given_inaccurate(), Some(1.0));
    }

    #[test]
    fn eight_of_nine_is_accurate_and_uncertainty_in_the_wrong_place_counts_against() {
        // One wrong voxel in the middle: both windows have 8 of 9 right -> accurate.
        let correct = [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1];
        // Uncertainty in column 0 only: window 0 mean 0.3 >= tau 0.225 -> uncertain.
        let uncertainty = [0.9, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0];
        let counts = pavpu_slice(&correct, &uncertainty, 3, 4);
        assert_eq!(
            counts,
            PavpuCounts {
                n_ac: 1,
                n_au: 1,
                n_ic: 0,
                n_iu: 0
            }
        );
        assert_eq!(counts.pavpu(), Some(0.5));
        assert_eq!(counts.p_uncertain_given_inaccurate(), None);
    }

    #[test]
    fn slices_along_each_axis_see_the_same_volume() {
        let shape = [3, 3, 3];
        let label = vec![0u8; 27];
        let mut segmentation = vec![0u8; 27];
        segmentation[13] = 1; // the centre is wrong: 26 of 27 right
        segmentation[0] = 1; // a corner too: 25 of 27
        let uncertainty: Vec<f32> = (0..27).map(|i| if i == 13 { 1.0 } else { 0.0 }).collect();
        for axis in [Axis::Z, Axis::Y, Axis::X] {
            let per_slice = pavpu_slices(&segmentation, &label, &uncertainty, shape, axis);
            assert_eq!(per_slice.len(), 3);
            // Middle slice: the centre wrong (8 of 9, accurate) and uncertain.
            assert_eq!(
                per_slice[1],
                PavpuCounts {
                    n_ac: 0,
                    n_au: 1,
                    n_ic: 0,
                    n_iu: 0
                }
            );
            // First slice: the corner wrong (8 of 9), no uncertainty there (tau 0, mean 0 >= 0).
            assert_eq!(
                per_slice[0],
                PavpuCounts {
                    n_ac: 0,
                    n_au: 1,
                    n_ic: 0,
                    n_iu: 0
                }
            );
        }
        let whole = pavpu_3d(&segmentation, &label, &uncertainty, shape);
        assert_eq!(
            whole,
            PavpuCounts {
                n_ac: 0,
                n_au: 1,
                n_ic: 0,
                n_iu: 0
            }
        );
    }
}
