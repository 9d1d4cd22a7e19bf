//! Per-voxel statistics of Monte Carlo samples: mean, percentile bounds, spread.
//!
//! Percentiles interpolate linearly between order statistics, as numpy's default does: the
//! q-th percentile of T sorted values sits at position q / 100 x (T - 1).

/// What T samples of one voxel say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoxelSummary {
    /// Mean probability.
    pub mean: f32,
    /// Lower percentile (default the 20th).
    pub lower: f32,
    /// Upper percentile (default the 80th).
    pub upper: f32,
    /// Population standard deviation.
    pub std: f32,
}

impl VoxelSummary {
    /// The uncertainty: the width of the interval, upper - lower.
    pub fn uncertainty(&self) -> f32 {
        self.upper - self.lower
    }
}

/// The `q`-th percentile (0..=100) of sorted values, numpy's linear method.
pub fn percentile_sorted(sorted: &[f32], q: f64) -> f32 {
    match sorted.len() {
        0 => f32::NAN,
        1 => sorted[0],
        len => {
            let position = q.clamp(0.0, 100.0) / 100.0 * (len - 1) as f64;
            let below = position.floor() as usize;
            let above = (below + 1).min(len - 1);
            let fraction = position - below as f64;
            let low = f64::from(sorted[below]);
            (low + (f64::from(sorted[above]) - low) * fraction) as f32
        }
    }
}

/// Summarizes the samples of one voxel; sorts `samples` in place.
pub fn summarize(samples: &mut [f32], lower_q: f64, upper_q: f64) -> VoxelSummary {
    let count = samples.len().max(1) as f64;
    let mean = samples.iter().map(|&s| f64::from(s)).sum::<f64>() / count;
    let variance = samples
        .iter()
        .map(|&s| (f64::from(s) - mean).powi(2))
        .sum::<f64>()
        / count;
    samples.sort_unstable_by(f32::total_cmp);
    VoxelSummary {
        mean: mean as f32,
        lower: percentile_sorted(samples, lower_q),
        upper: percentile_sorted(samples, upper_q),
        std: variance.sqrt() as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_numpy_linear() {
        // numpy.percentile([0.1, 0.2, 0.4, 0.8, 0.9], [20, 80]) = [0.18, 0.82]
        let sorted = [0.1, 0.2, 0.4, 0.8, 0.9];
        assert!((percentile_sorted(&sorted, 20.0) - 0.18).abs() < 1e-6);
        assert!((percentile_sorted(&sorted, 80.0) - 0.82).abs() < 1e-6);
        assert_eq!(percentile_sorted(&sorted, 0.0), 0.1);
        assert_eq!(percentile_sorted(&sorted, 100.0), 0.9);
        assert_eq!(percentile_sorted(&sorted, 50.0), 0.4);
    }

    #[test]
    fn summary_by_hand() {
        // Four samples 0, 0, 1, 1: mean 0.5, std 0.5; positions 0.6 and 2.4 give 0 and 1.
        let mut samples = [1.0, 0.0, 1.0, 0.0];
        let summary = summarize(&mut samples, 20.0, 80.0);
        assert_eq!(summary.mean, 0.5);
        assert_eq!(summary.std, 0.5);
        assert_eq!((summary.lower, summary.upper), (0.0, 1.0));
        assert_eq!(summary.uncertainty(), 1.0);
        // 10 samples 0.0 .. 0.9: 20th at 1.8 -> 0.18, 80th at 7.2 -> 0.72.
        let mut ramp: Vec<f32> = (0..10).rev().map(|i| i as f32 / 10.0).collect();
        let summary = summarize(&mut ramp, 20.0, 80.0);
        assert!((summary.lower - 0.18).abs() < 1e-6 && (summary.upper - 0.72).abs() < 1e-6);
        assert!((summary.mean - 0.45).abs() < 1e-6);
    }

    #[test]
    fn identical_samples_have_no_uncertainty() {
        let mut samples = [0.7; 48];
        let summary = summarize(&mut samples, 20.0, 80.0);
        assert_eq!(summary.uncertainty(), 0.0);
        assert_eq!(summary.std, 0.0);
    }
}
