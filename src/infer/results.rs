//! The results folder: every map of a Monte Carlo run as a TIFF with the input's voxel size.
//!
//! `ctuq infer` writes it; `ctuq eval`, `ctuq refine` and the viewer read it. Keeping it as
//! plain TIFFs lets users open any map in Fiji or Python.

use std::path::{Path, PathBuf};

use super::VoxelSummary;
use crate::volume::{
    ReadOptions, Samples, Shape, VolumeError, VoxelSize, read_raw_volume, voxel_count, write_tiff,
};

/// Probability maps are thresholded here to segment.
pub const SEGMENTATION_THRESHOLD: f32 = 0.5;

/// What can go wrong reading a results folder.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// A map is missing.
    #[error("{} has no {name}; it is not a complete results folder: run `ctuq infer` to make one",
        folder.display())]
    Missing {
        /// The folder.
        folder: PathBuf,
        /// The missing file name.
        name: &'static str,
    },

    /// A map has another shape than the rest.
    #[error("{} has shape {got:?} but the other maps have {expected:?}", path.display())]
    Shape {
        /// The map.
        path: PathBuf,
        /// Its shape.
        got: Shape,
        /// The shape of the first map.
        expected: Shape,
    },

    /// A map has the wrong sample type.
    #[error("{} should be {expected} but holds {got}", path.display())]
    Type {
        /// The map.
        path: PathBuf,
        /// The type found.
        got: String,
        /// The type expected.
        expected: &'static str,
    },

    /// A file could not be read or written.
    #[error(transparent)]
    Volume(#[from] VolumeError),
}

/// Every map of a Monte Carlo run, for one volume.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultMaps {
    /// Shape (z, y, x).
    pub shape: Shape,
    /// Voxel size of the input.
    pub voxel_size: VoxelSize,
    /// Mean probability over the samples.
    pub mean: Vec<f32>,
    /// Lower percentile of the samples.
    pub lower: Vec<f32>,
    /// Upper percentile of the samples.
    pub upper: Vec<f32>,
    /// upper - lower.
    pub uncertainty: Vec<f32>,
    /// Standard deviation of the samples.
    pub std: Vec<f32>,
    /// mean > 0.5.
    pub prediction: Vec<u8>,
    /// lower > 0.5: the smallest segmentation the interval allows.
    pub lower_seg: Vec<u8>,
    /// upper > 0.5: the largest segmentation the interval allows.
    pub upper_seg: Vec<u8>,
}

const F32_MAPS: [&str; 5] = [
    "mean.tif",
    "lower.tif",
    "upper.tif",
    "uncertainty.tif",
    "std.tif",
];
const U8_MAPS: [&str; 3] = ["prediction.tif", "lower_seg.tif", "upper_seg.tif"];

/// Files that `ctuq refine` and `ctuq eval` derive from a folder's maps; new maps make them
/// stale.
pub const DERIVED_FILES: [&str; 5] = [
    "refined.tif",
    "flagged.tif",
    "metrics.json",
    "metrics.slices.csv",
    "sweep.csv",
];

/// Makes `folder` ready for results before a long run, so that a folder that cannot be
/// written fails at once rather than after the inference: creates it if needed and writes
/// and removes a probe file in it.
pub fn prepare_folder(folder: &Path) -> Result<(), VolumeError> {
    if folder.exists() && !folder.is_dir() {
        return Err(VolumeError::invalid(
            folder,
            "is a file, not a folder: give --out a folder for the maps",
        ));
    }
    std::fs::create_dir_all(folder).map_err(|cause| VolumeError::Io {
        path: folder.into(),
        cause,
    })?;
    tempfile::Builder::new()
        .prefix(".ctuq-probe-")
        .tempfile_in(folder)
        .map(drop)
        .map_err(|cause| VolumeError::Io {
            path: folder.into(),
            cause,
        })
}

impl ResultMaps {
    /// Maps of zeros for a volume of `shape`.
    pub fn zeros(shape: Shape, voxel_size: VoxelSize) -> ResultMaps {
        let len = voxel_count(shape);
        ResultMaps {
            shape,
            voxel_size,
            mean: vec![0.0; len],
            lower: vec![0.0; len],
            upper: vec![0.0; len],
            uncertainty: vec![0.0; len],
            std: vec![0.0; len],
            prediction: vec![0; len],
            lower_seg: vec![0; len],
            upper_seg: vec![0; len],
        }
    }

    /// The maps of slices `z` only, e.g. the held-out part of a volume; `None` if the range
    /// is empty or outside the volume.
    pub fn crop_z(&self, z: std::ops::Range<usize>) -> Option<ResultMaps> {
        if z.start >= z.end || z.end > self.shape[0] {
            return None;
        }
        let page = self.shape[1] * self.shape[2];
        let range = z.start * page..z.end * page;
        let f32s = |map: &Vec<f32>| map[range.clone()].to_vec();
        let u8s = |map: &Vec<u8>| map[range.clone()].to_vec();
        Some(ResultMaps {
            shape: [z.len(), self.shape[1], self.shape[2]],
            voxel_size: self.voxel_size.clone(),
            mean: f32s(&self.mean),
            lower: f32s(&self.lower),
            upper: f32s(&self.upper),
            uncertainty: f32s(&self.uncertainty),
            std: f32s(&self.std),
            prediction: u8s(&self.prediction),
            lower_seg: u8s(&self.lower_seg),
            upper_seg: u8s(&self.upper_seg),
        })
    }

    /// Stores the summary of voxel `index`, with the segmentations it implies.
    pub fn set(&mut self, index: usize, summary: VoxelSummary) {
        self.mean[index] = summary.mean;
        self.lower[index] = summary.lower;
        self.upper[index] = summary.upper;
        self.uncertainty[index] = summary.uncertainty();
        self.std[index] = summary.std;
        self.prediction[index] = u8::from(summary.mean > SEGMENTATION_THRESHOLD);
        self.lower_seg[index] = u8::from(summary.lower > SEGMENTATION_THRESHOLD);
        self.upper_seg[index] = u8::from(summary.upper > SEGMENTATION_THRESHOLD);
    }

    /// Writes every map into `folder` (created if needed), each atomically, then removes the
    /// files that earlier commands derived from the maps it replaces ([`DERIVED_FILES`]), so
    /// that `ctuq eval` never scores an old refinement against new maps.
    pub fn write(&self, folder: &Path) -> Result<(), ResultsError> {
        prepare_folder(folder)?;
        let f32_maps = [
            &self.mean,
            &self.lower,
            &self.upper,
            &self.uncertainty,
            &self.std,
        ];
        for (name, map) in F32_MAPS.iter().zip(f32_maps) {
            write_tiff(
                &folder.join(name),
                self.shape,
                &Samples::F32(map.clone()),
                &self.voxel_size,
            )?;
        }
        let u8_maps = [&self.prediction, &self.lower_seg, &self.upper_seg];
        for (name, map) in U8_MAPS.iter().zip(u8_maps) {
            write_tiff(
                &folder.join(name),
                self.shape,
                &Samples::U8(map.clone()),
                &self.voxel_size,
            )?;
        }
        for name in DERIVED_FILES {
            let path = folder.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => tracing::info!("removed {name}: it came from the maps just replaced"),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(cause) => return Err(VolumeError::Io { path, cause }.into()),
            }
        }
        Ok(())
    }

    /// Reads every map from `folder`, checking that all are there with one shape.
    pub fn load(folder: &Path) -> Result<ResultMaps, ResultsError> {
        if !folder.is_dir() {
            let reason = if folder.exists() {
                "is a file, not a results folder: give the folder `ctuq infer --out` wrote"
            } else {
                "does not exist: give the folder `ctuq infer --out` wrote"
            };
            return Err(VolumeError::invalid(folder, reason).into());
        }
        let mut shape = None;
        let mut voxel_size = VoxelSize::unknown();
        let mut f32_maps = Vec::new();
        for name in F32_MAPS {
            let (map_shape, samples, size) = read_map(folder, name, &mut shape)?;
            voxel_size = size;
            match samples {
                Samples::F32(values) => f32_maps.push(values),
                other => return Err(type_error(folder, name, &other, "float32")),
            }
            debug_assert_eq!(Some(map_shape), shape);
        }
        let mut u8_maps = Vec::new();
        for name in U8_MAPS {
            let (_, samples, _) = read_map(folder, name, &mut shape)?;
            match samples {
                Samples::U8(values) | Samples::Bit(values) => u8_maps.push(values),
                other => return Err(type_error(folder, name, &other, "uint8")),
            }
        }
        let shape = shape.unwrap_or([0, 0, 0]);
        let [mean, lower, upper, uncertainty, std] = take_array(f32_maps);
        let [prediction, lower_seg, upper_seg] = take_array(u8_maps);
        Ok(ResultMaps {
            shape,
            voxel_size,
            mean,
            lower,
            upper,
            uncertainty,
            std,
            prediction,
            lower_seg,
            upper_seg,
        })
    }
}

/// Reads one segmentation (0/1 or 0/255) of a results folder, e.g. `refined.tif`.
pub fn read_segmentation(path: &Path, shape: Shape) -> Result<Vec<u8>, ResultsError> {
    let raw = read_raw_volume(path, &ReadOptions::default())?;
    if raw.shape != shape {
        return Err(ResultsError::Shape {
            path: path.into(),
            got: raw.shape,
            expected: shape,
        });
    }
    let label = crate::volume::Label::from_raw(path, &raw, None)?;
    Ok(label.voxels)
}

fn read_map(
    folder: &Path,
    name: &'static str,
    shape: &mut Option<Shape>,
) -> Result<(Shape, Samples, VoxelSize), ResultsError> {
    let path = folder.join(name);
    if !path.is_file() {
        return Err(ResultsError::Missing {
            folder: folder.into(),
            name,
        });
    }
    let raw = read_raw_volume(&path, &ReadOptions::default())?;
    match shape {
        Some(expected) if *expected != raw.shape => {
            return Err(ResultsError::Shape {
                path,
                got: raw.shape,
                expected: *expected,
            });
        }
        _ => *shape = Some(raw.shape),
    }
    Ok((raw.shape, raw.samples, raw.voxel_size))
}

fn type_error(
    folder: &Path,
    name: &str,
    samples: &Samples,
    expected: &'static str,
) -> ResultsError {
    ResultsError::Type {
        path: folder.join(name),
        got: samples.sample_type().to_string(),
        expected,
    }
}

fn take_array<T, const N: usize>(items: Vec<T>) -> [T; N] {
    match items.try_into() {
        Ok(array) => array,
        Err(_) => unreachable!("BUG: one vector per map name"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_round_trip_and_missing_maps_are_named() {
        let folder = tempfile::tempdir().unwrap();
        let mut maps = ResultMaps::zeros([2, 3, 4], VoxelSize::new([1.0, 0.5, 0.5], "um"));
        for i in 0..24 {
            let p = i as f32 / 24.0;
            maps.set(
                i,
                VoxelSummary {
                    mean: p,
                    lower: p * 0.5,
                    upper: (p * 1.5).min(1.0),
                    std: 0.1,
                },
            );
        }
        maps.write(folder.path()).unwrap();
        assert_eq!(ResultMaps::load(folder.path()).unwrap(), maps);

        let missing = ResultMaps::load(&folder.path().join("elsewhere")).unwrap_err();
        assert!(missing.to_string().contains("does not exist"), "{missing}");

        std::fs::remove_file(folder.path().join("uncertainty.tif")).unwrap();
        let error = ResultMaps::load(folder.path()).unwrap_err().to_string();
        assert!(
            error.contains("uncertainty.tif") && error.contains("ctuq infer"),
            "{error}"
        );
    }

    #[test]
    fn new_maps_remove_what_was_derived_from_the_old_ones() {
        let folder = tempfile::tempdir().unwrap();
        let maps = ResultMaps::zeros([2, 3, 4], VoxelSize::unknown());
        for name in DERIVED_FILES {
            std::fs::write(folder.path().join(name), b"from an older run").unwrap();
        }
        std::fs::write(folder.path().join("notes.txt"), b"the user's").unwrap();

        maps.write(folder.path()).unwrap();
        for name in DERIVED_FILES {
            assert!(!folder.path().join(name).exists(), "{name} is stale");
        }
        assert!(
            folder.path().join("notes.txt").exists(),
            "other files are left alone"
        );
    }

    #[test]
    fn a_results_folder_that_is_a_file_is_refused_before_any_work() {
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("results");
        std::fs::write(&file, b"").unwrap();
        let error = prepare_folder(&file).unwrap_err().to_string();
        assert!(error.contains("not a folder"), "{error}");

        let nested = folder.path().join("a").join("b");
        prepare_folder(&nested).unwrap();
        assert!(nested.is_dir());
        assert_eq!(
            std::fs::read_dir(&nested).unwrap().count(),
            0,
            "no probe left behind"
        );
    }
}

/// `summary.json` of a run: what was run, how long it took, and the headline numbers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunSummary {
    /// ctuq version that wrote the run.
    pub ctuq_version: String,
    /// The model file.
    pub model: String,
    /// Its variant (`bcnn` or `mcdn`).
    pub variant: String,
    /// The input volume.
    pub image: String,
    /// Its shape (z, y, x).
    pub shape: Shape,
    /// Its voxel size.
    pub voxel_size: VoxelSize,
    /// Samples, percentiles, chunking and seed.
    pub settings: super::InferConfig,
    /// The backend.
    pub backend: String,
    /// Wall time of the Monte Carlo loop, seconds.
    pub elapsed_secs: f64,
    /// Voxels per second over the whole run.
    pub voxels_per_sec: f64,
    /// Foreground volume fraction of the prediction and of the two bound segmentations.
    pub foreground_fraction: FractionInterval,
    /// Mean of the uncertainty map.
    pub mean_uncertainty: f64,
}

/// A foreground fraction with its interval from the bound segmentations.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FractionInterval {
    /// Of `mean > 0.5`.
    pub prediction: f64,
    /// Of `lower > 0.5`: the smallest the interval allows.
    pub lower: f64,
    /// Of `upper > 0.5`: the largest the interval allows.
    pub upper: f64,
}

impl RunSummary {
    /// Summarizes a finished run.
    pub fn new(
        maps: &ResultMaps,
        settings: &super::InferConfig,
        model: String,
        variant: String,
        image: String,
        backend: String,
        elapsed_secs: f64,
    ) -> RunSummary {
        let fraction =
            |map: &[u8]| map.iter().filter(|&&v| v != 0).count() as f64 / map.len().max(1) as f64;
        RunSummary {
            ctuq_version: env!("CARGO_PKG_VERSION").to_string(),
            model,
            variant,
            image,
            shape: maps.shape,
            voxel_size: maps.voxel_size.clone(),
            settings: settings.clone(),
            backend,
            elapsed_secs,
            voxels_per_sec: maps.mean.len() as f64 / elapsed_secs.max(1e-9),
            foreground_fraction: FractionInterval {
                prediction: fraction(&maps.prediction),
                lower: fraction(&maps.lower_seg),
                upper: fraction(&maps.upper_seg),
            },
            mean_uncertainty: crate::metrics::mean(&maps.uncertainty),
        }
    }
}
