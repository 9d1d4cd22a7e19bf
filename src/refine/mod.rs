//! Uncertainty-based refinement: fix a segmentation where the network says it is unsure.
//!
//! In the paper's failure case the network over-predicted at material edges, exactly where
//! its uncertainty was highest, so turning uncertain foreground into background repaired it.
//! Users also need the mirror rule and a flag-only mode; the threshold is theirs to choose,
//! and [`sweep`] shows what each choice does against a label.

use crate::metrics::Overlap;

/// What to do with voxels whose uncertainty is above the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefineMode {
    /// Uncertain foreground becomes background (the paper's case: over-prediction).
    Remove,
    /// Uncertain background becomes foreground (under-prediction).
    Add,
    /// Output a mask of the uncertain voxels, changing nothing.
    Flag,
}

impl std::str::FromStr for RefineMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "remove" => Ok(RefineMode::Remove),
            "add" => Ok(RefineMode::Add),
            "flag" => Ok(RefineMode::Flag),
            other => Err(format!(
                "unknown refinement mode {other:?}: use remove, add or flag"
            )),
        }
    }
}

/// The refined value of one voxel.
#[inline]
pub fn refine_voxel(predicted: u8, uncertainty: f32, threshold: f32, mode: RefineMode) -> u8 {
    let uncertain = uncertainty > threshold;
    match mode {
        RefineMode::Remove => u8::from(predicted != 0 && !uncertain),
        RefineMode::Add => u8::from(predicted != 0 || uncertain),
        RefineMode::Flag => u8::from(uncertain),
    }
}

/// Refines a whole segmentation (0/1 per voxel) with its uncertainty map.
pub fn refine(prediction: &[u8], uncertainty: &[f32], threshold: f32, mode: RefineMode) -> Vec<u8> {
    prediction
        .iter()
        .zip(uncertainty)
        .map(|(&predicted, &u)| refine_voxel(predicted, u, threshold, mode))
        .collect()
}

/// One point of a threshold sweep.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweepPoint {
    /// The threshold.
    pub threshold: f32,
    /// The refined segmentation against the label.
    pub overlap: Overlap,
}

/// Refines with every threshold in `thresholds` and compares each result with `label`.
/// Flag mode is not a segmentation and gives an empty sweep.
pub fn sweep(
    prediction: &[u8],
    uncertainty: &[f32],
    label: &[u8],
    thresholds: &[f32],
    mode: RefineMode,
) -> Vec<SweepPoint> {
    if mode == RefineMode::Flag {
        return Vec::new();
    }
    thresholds
        .iter()
        .map(|&threshold| {
            let mut counts = [0usize; 4];
            for ((&predicted, &u), &truth) in prediction.iter().zip(uncertainty).zip(label) {
                let refined = refine_voxel(predicted, u, threshold, mode);
                counts[usize::from(refined) * 2 + usize::from(truth != 0)] += 1;
            }
            SweepPoint {
                threshold,
                overlap: Overlap::from_counts(counts, prediction.len()),
            }
        })
        .collect()
}

/// The sweep point with the highest accuracy (the lowest threshold among ties).
pub fn best_by_accuracy(points: &[SweepPoint]) -> Option<SweepPoint> {
    points
        .iter()
        .copied()
        .fold(None, |best: Option<SweepPoint>, point| match best {
            Some(best) if best.overlap.accuracy >= point.overlap.accuracy => Some(best),
            _ => Some(point),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_by_hand() {
        let prediction = [1, 1, 0, 0];
        let uncertainty = [0.1, 0.5, 0.1, 0.5];
        assert_eq!(
            refine(&prediction, &uncertainty, 0.22, RefineMode::Remove),
            vec![1, 0, 0, 0]
        );
        assert_eq!(
            refine(&prediction, &uncertainty, 0.22, RefineMode::Add),
            vec![1, 1, 0, 1]
        );
        assert_eq!(
            refine(&prediction, &uncertainty, 0.22, RefineMode::Flag),
            vec![0, 1, 0, 1]
        );
    }

    #[test]
    fn sweep_finds_the_threshold_that_removes_the_over_prediction() {
        // Voxels 2 and 3 are over-predicted and the most uncertain.
        let label = [1, 1, 0, 0, 0];
        let prediction = [1, 1, 1, 1, 0];
        let uncertainty = [0.05, 0.3, 0.6, 0.7, 0.0];
        let thresholds: Vec<f32> = (0..=10).map(|i| i as f32 / 10.0).collect();
        let points = sweep(
            &prediction,
            &uncertainty,
            &label,
            &thresholds,
            RefineMode::Remove,
        );
        assert_eq!(points.len(), 11);
        let best = best_by_accuracy(&points).unwrap();
        assert_eq!(best.overlap.accuracy, 1.0);
        assert!(
            (0.3..0.6).contains(&best.threshold),
            "best at {}",
            best.threshold
        );
        assert_eq!(
            points[10].overlap.accuracy, 0.6,
            "threshold 1 removes nothing"
        );
    }
}
