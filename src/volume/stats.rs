//! Voxel statistics and the z-score normalization the network expects.
//!
//! Sums run in f64: a 1000^3 volume summed in f32 loses the mean in its third digit.

/// Summary statistics over the finite voxels of a volume, plus a count of the others.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VoxelStats {
    /// Number of finite voxels.
    pub finite: usize,
    /// Number of NaN voxels.
    pub nan: usize,
    /// Number of +Inf or -Inf voxels.
    pub infinite: usize,
    /// Smallest finite value (`+inf` when none is finite).
    pub min: f64,
    /// Largest finite value (`-inf` when none is finite).
    pub max: f64,
    /// Mean of the finite values (0 when none).
    pub mean: f64,
    /// Population standard deviation of the finite values (0 when none).
    pub std: f64,
}

impl VoxelStats {
    /// Computes the statistics of `voxels` in one pass (Welford's update, in f64).
    pub fn of(voxels: &[f32]) -> VoxelStats {
        let mut stats = VoxelStats {
            finite: 0,
            nan: 0,
            infinite: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            mean: 0.0,
            std: 0.0,
        };
        let mut sum_sq_dev = 0.0f64;
        for &voxel in voxels {
            if voxel.is_nan() {
                stats.nan += 1;
                continue;
            }
            if voxel.is_infinite() {
                stats.infinite += 1;
                continue;
            }
            let value = f64::from(voxel);
            stats.finite += 1;
            stats.min = stats.min.min(value);
            stats.max = stats.max.max(value);
            let delta = value - stats.mean;
            stats.mean += delta / stats.finite as f64;
            sum_sq_dev += delta * (value - stats.mean);
        }

        if stats.finite > 0 {
            stats.std = (sum_sq_dev / stats.finite as f64).sqrt();
        }
        stats
    }

    /// Number of voxels that are NaN or infinite.
    pub fn nonfinite(&self) -> usize {
        self.nan + self.infinite
    }

    /// (min, max) of the finite values, `None` when there are none.
    pub fn range(&self) -> Option<(f64, f64)> {
        (self.finite > 0).then_some((self.min, self.max))
    }
}

/// Z-score normalization over a whole volume: `(v - mean) / std`.
///
/// The network is trained on z-scored volumes, so inference must apply the training
/// volume's convention to each new volume: its own mean and std, over the whole volume, not
/// per chunk.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ZScore {
    /// Mean of the finite voxels.
    pub mean: f64,
    /// Standard deviation of the finite voxels; 0 for a constant volume.
    pub std: f64,
    /// Voxels that were NaN or infinite; they are set to 0 (the mean) in the output.
    pub nonfinite: usize,
}

impl ZScore {
    /// Fits the normalization to `voxels`.
    pub fn fit(voxels: &[f32]) -> ZScore {
        let stats = VoxelStats::of(voxels);
        ZScore {
            mean: stats.mean,
            std: stats.std,
            nonfinite: stats.nonfinite(),
        }
    }

    /// Normalizes `voxels`. Non-finite voxels become 0; a constant volume becomes all 0
    /// rather than dividing by zero.
    pub fn apply(&self, voxels: &[f32]) -> Vec<f32> {
        let scale = if self.std > 0.0 { 1.0 / self.std } else { 1.0 };
        voxels
            .iter()
            .map(|&voxel| {
                if voxel.is_finite() {
                    ((f64::from(voxel) - self.mean) * scale) as f32
                } else {
                    0.0
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_skip_nan_and_inf() {
        let stats = VoxelStats::of(&[1.0, f32::NAN, 3.0, f32::INFINITY, f32::NEG_INFINITY]);
        assert_eq!((stats.finite, stats.nan, stats.infinite), (2, 1, 2));
        assert_eq!(
            (stats.min, stats.max, stats.mean, stats.std),
            (1.0, 3.0, 2.0, 1.0)
        );
    }

    #[test]
    fn zscore_has_zero_mean_unit_std() {
        let voxels: Vec<f32> = (0..1000).map(|i| (i % 17) as f32 * 3.0 + 100.0).collect();
        let normalized = ZScore::fit(&voxels).apply(&voxels);
        let stats = VoxelStats::of(&normalized);
        assert!(stats.mean.abs() < 1e-6, "mean {}", stats.mean);
        assert!((stats.std - 1.0).abs() < 1e-5, "std {}", stats.std);
    }

    #[test]
    fn constant_volume_normalizes_to_zero() {
        let voxels = vec![7.5f32; 64];
        let zscore = ZScore::fit(&voxels);
        assert_eq!(zscore.std, 0.0);
        assert!(zscore.apply(&voxels).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn nonfinite_voxels_become_zero_and_are_counted() {
        let voxels = [0.0, 2.0, f32::NAN, f32::NEG_INFINITY];
        let zscore = ZScore::fit(&voxels);
        assert_eq!(zscore.nonfinite, 2);
        assert_eq!(zscore.apply(&voxels), vec![-1.0, 1.0, 0.0, 0.0]);
    }
}
