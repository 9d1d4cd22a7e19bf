//! Binary labels: the ground truth (or best guess) of which voxels are the material.

use std::collections::BTreeMap;
use std::path::Path;

use super::samples::with_samples;
use super::{RawVolume, Samples, Shape, VolumeError, VoxelSize};

/// A binary label: one u8 per voxel, 1 for foreground, 0 for background.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// Shape (z, y, x).
    pub shape: Shape,
    /// 0 or 1 per voxel, z, y, x order, x fastest.
    pub voxels: Vec<u8>,
    /// Voxel size, as far as the file says it.
    pub voxel_size: VoxelSize,
}

impl Label {
    /// Fraction of voxels that are foreground.
    pub fn foreground_fraction(&self) -> f64 {
        if self.voxels.is_empty() {
            return 0.0;
        }
        let foreground = self.voxels.iter().filter(|&&v| v != 0).count();
        foreground as f64 / self.voxels.len() as f64
    }

    /// Makes a binary label from a label file's samples.
    ///
    /// With `class = None` the file must hold at most two distinct values and any nonzero
    /// value is foreground (masks saved as 0/255 are common). With `class = Some(k)` the
    /// voxels equal to `k` are foreground, whatever else the file holds.
    // N.B. The casts are no-ops for the f32 and f64 arms of the sample macro.
    #[allow(clippy::unnecessary_cast)]
    pub fn from_raw(
        path: &Path,
        raw: &RawVolume,
        class: Option<i64>,
    ) -> Result<Label, VolumeError> {
        let values =
            LabelValues::of(&raw.samples).map_err(|reason| VolumeError::invalid(path, reason))?;
        if class.is_none() && values.counts.len() > 2 {
            return Err(VolumeError::invalid(
                path,
                format!(
                    "the label holds {} values ({}); ctuq segments one class at a time: pass \
                     --class K to pick the foreground value",
                    values.counts.len(),
                    values.list(12),
                ),
            ));
        }
        if let Some(class) = class
            && !values.counts.contains_key(&class)
        {
            return Err(VolumeError::invalid(
                path,
                format!(
                    "--class {class} does not occur in the label; it holds {}",
                    values.list(12)
                ),
            ));
        }

        let voxels = with_samples!(&raw.samples, samples => samples
            .iter()
            .map(|&v| match class {
                None => u8::from(v as f64 != 0.0),
                Some(class) => u8::from(v as f64 == class as f64),
            })
            .collect());
        Ok(Label {
            shape: raw.shape,
            voxels,
            voxel_size: raw.voxel_size.clone(),
        })
    }
}

/// The distinct values of a label file and how often each occurs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelValues {
    /// Value to voxel count, sorted by value.
    pub counts: BTreeMap<i64, usize>,
}

impl LabelValues {
    /// Counts the values of `samples`. Fails for non-integer values (a probability map is
    /// not a label).
    // N.B. The casts are no-ops for the f32 and f64 arms of the sample macro.
    #[allow(clippy::unnecessary_cast)]
    pub fn of(samples: &Samples) -> Result<LabelValues, String> {
        let mut counts = BTreeMap::new();
        if let Samples::Bit(values) | Samples::U8(values) = samples {
            let mut histogram = [0usize; 256];
            values.iter().for_each(|&v| histogram[v as usize] += 1);
            for (value, &count) in histogram.iter().enumerate().filter(|(_, c)| **c > 0) {
                counts.insert(value as i64, count);
            }
            return Ok(LabelValues { counts });
        }

        with_samples!(samples, values => {
            for &v in values {
                let value = v as f64;
                if value.fract() != 0.0 || !value.is_finite() {
                    return Err(format!(
                        "a label must hold whole numbers, but it holds {value}; threshold the \
                         map into a mask first"
                    ));
                }
                *counts.entry(value as i64).or_insert(0) += 1;
            }
        });
        Ok(LabelValues { counts })
    }

    /// The values as a short comma-separated list, at most `max` of them.
    pub fn list(&self, max: usize) -> String {
        let mut shown: Vec<String> = self
            .counts
            .keys()
            .take(max)
            .map(|v| v.to_string())
            .collect();
        if self.counts.len() > max {
            shown.push(format!("... {} more", self.counts.len() - max));
        }
        shown.join(", ")
    }
}

/// Checks that an image and its label have the same shape, naming both files and shapes if
/// not.
pub fn check_same_shape(
    image_path: &Path,
    image_shape: Shape,
    label_path: &Path,
    label_shape: Shape,
) -> Result<(), VolumeError> {
    if image_shape == label_shape {
        return Ok(());
    }
    Err(VolumeError::ShapeMismatch {
        image: image_path.to_path_buf(),
        image_shape,
        label: label_path.to_path_buf(),
        label_shape,
    })
}
