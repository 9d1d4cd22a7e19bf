//! The data on screen, on the CPU side: the volume, its label and result maps, the
//! histogram, and what the GPU textures are made of.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::infer::ResultMaps;
use crate::render::textures::{FLAG_LABEL, FLAG_LOWER, FLAG_PREDICTION, FLAG_UPPER};
use crate::volume::{Label, ReadOptions, Shape, Volume, read_label, read_volume};

/// Bins of the intensity histogram.
pub const HISTOGRAM_BINS: usize = 128;

/// A loaded volume with whatever goes with it.
pub struct Dataset {
    /// Where the image came from.
    pub image_path: PathBuf,
    /// The image.
    pub volume: Volume,
    /// The label, if one was loaded.
    pub label: Option<Label>,
    /// Inference results, if loaded or computed.
    pub results: Option<ResultMaps>,
    /// Smallest and largest finite intensity.
    pub range: (f32, f32),
    /// 1st and 99th percentile of the intensity.
    pub percentiles: (f32, f32),
    /// Voxel counts per bin, [`HISTOGRAM_BINS`] bins over `range`.
    pub histogram: Vec<u64>,
    /// The largest uncertainty of the results, found once when they arrive (every view
    /// needs it every frame, and a pass over a large volume per frame would stall the UI).
    largest_uncertainty: f32,
}

/// What the cursor points at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Probe {
    /// Voxel (z, y, x).
    pub voxel: [usize; 3],
    /// Raw intensity.
    pub value: f32,
    /// Label, when loaded.
    pub label: Option<u8>,
    /// Mean probability, lower and upper bound, uncertainty, when results are loaded.
    pub maps: Option<[f32; 4]>,
}

impl Dataset {
    /// Reads an image, and a label if given; checks that the shapes agree.
    ///
    /// # Errors
    /// Unreadable files, or a label of another shape.
    pub fn open(image: &Path, label: Option<&Path>) -> anyhow::Result<Dataset> {
        let options = ReadOptions::default();
        let volume =
            read_volume(image, &options).with_context(|| format!("open {}", image.display()))?;
        let mut dataset = Dataset::new(image.to_path_buf(), volume);
        if let Some(label) = label {
            dataset.set_label(
                read_label(label, &options, None)
                    .with_context(|| format!("open label {}", label.display()))?,
            )?;
        }
        Ok(dataset)
    }

    /// Wraps a volume already in memory.
    pub fn new(image_path: PathBuf, volume: Volume) -> Dataset {
        let (range, percentiles, histogram) = intensity_stats(&volume.voxels);
        Dataset {
            image_path,
            volume,
            label: None,
            results: None,
            largest_uncertainty: 1.0,
            range,
            percentiles,
            histogram,
        }
    }

    /// Attaches a label of the same shape.
    ///
    /// # Errors
    /// A label of another shape.
    pub fn set_label(&mut self, label: Label) -> anyhow::Result<()> {
        anyhow::ensure!(
            label.shape == self.volume.shape,
            "the label has shape {} but the image {} has {} (z, y, x); they must match voxel for \
             voxel",
            shape_text(label.shape),
            self.image_path.display(),
            shape_text(self.volume.shape)
        );
        self.label = Some(label);
        Ok(())
    }

    /// Attaches results of the same shape.
    ///
    /// # Errors
    /// Results of another shape.
    pub fn set_results(&mut self, results: ResultMaps) -> anyhow::Result<()> {
        anyhow::ensure!(
            results.shape == self.volume.shape,
            "the results have shape {} but the image {} has {} (z, y, x): they come from \
             another volume",
            shape_text(results.shape),
            self.image_path.display(),
            shape_text(self.volume.shape)
        );
        self.largest_uncertainty = results.uncertainty.iter().copied().fold(0.0f32, f32::max);
        self.results = Some(results);
        Ok(())
    }

    /// The volume's shape z, y, x.
    pub fn shape(&self) -> Shape {
        self.volume.shape
    }

    /// Voxel spacing z, y, x for display: the known sizes, 1 for unknown ones.
    pub fn spacing(&self) -> [f32; 3] {
        self.volume
            .voxel_size
            .zyx
            .map(|size| size.filter(|s| *s > 0.0 && s.is_finite()).unwrap_or(1.0) as f32)
    }

    /// A raw intensity mapped to the normalised scale of the textures.
    pub fn normalise(&self, value: f32) -> f32 {
        let (low, high) = self.range;
        if high > low {
            (value - low) / (high - low)
        } else {
            0.0
        }
    }

    /// The largest uncertainty, for the top of the colour bar (at least a small positive
    /// number).
    pub fn uncertainty_max(&self) -> f32 {
        self.largest_uncertainty.max(1e-3)
    }

    /// Everything at voxel (z, y, x), or `None` outside.
    pub fn probe(&self, voxel: [usize; 3]) -> Option<Probe> {
        let [d, h, w] = self.shape();
        let [z, y, x] = voxel;
        if z >= d || y >= h || x >= w {
            return None;
        }
        let index = (z * h + y) * w + x;
        Some(Probe {
            voxel,
            value: self.volume.voxels[index],
            label: self.label.as_ref().map(|l| l.voxels[index]),
            maps: self.results.as_ref().map(|r| {
                [
                    r.mean[index],
                    r.lower[index],
                    r.upper[index],
                    r.uncertainty[index],
                ]
            }),
        })
    }

    /// The intensity texture's texels: normalised, as f16 bits.
    pub fn intensity_texels(&self) -> Vec<u16> {
        self.volume
            .voxels
            .iter()
            .map(|&v| {
                let n = if v.is_finite() {
                    self.normalise(v)
                } else {
                    0.0
                };
                half::f16::from_f32(n).to_bits()
            })
            .collect()
    }

    /// The segmentation bits of every voxel.
    pub fn flag_texels(&self) -> Vec<u8> {
        let mut flags = vec![0u8; self.volume.voxels.len()];
        if let Some(label) = &self.label {
            for (f, &l) in flags.iter_mut().zip(&label.voxels) {
                if l != 0 {
                    *f |= FLAG_LABEL;
                }
            }
        }
        if let Some(results) = &self.results {
            for (i, f) in flags.iter_mut().enumerate() {
                if results.prediction[i] != 0 {
                    *f |= FLAG_PREDICTION;
                }
                if results.lower_seg[i] != 0 {
                    *f |= FLAG_LOWER;
                }
                if results.upper_seg[i] != 0 {
                    *f |= FLAG_UPPER;
                }
            }
        }
        flags
    }

    /// Mean, lower and upper probability as bytes.
    pub fn probability_texels(&self) -> Vec<[u8; 4]> {
        let byte = |p: f32| (p.clamp(0.0, 1.0) * 255.0).round() as u8;
        match &self.results {
            Some(r) => (0..r.mean.len())
                .map(|i| [byte(r.mean[i]), byte(r.lower[i]), byte(r.upper[i]), 0])
                .collect(),
            None => vec![[0; 4]; self.volume.voxels.len()],
        }
    }
}

/// Range, 1st/99th percentile and histogram of the finite intensities.
fn intensity_stats(voxels: &[f32]) -> ((f32, f32), (f32, f32), Vec<u64>) {
    let mut low = f32::INFINITY;
    let mut high = f32::NEG_INFINITY;
    for &v in voxels.iter().filter(|v| v.is_finite()) {
        low = low.min(v);
        high = high.max(v);
    }
    if low > high {
        return ((0.0, 1.0), (0.0, 1.0), vec![0; HISTOGRAM_BINS]);
    }
    // A fine histogram gives the percentiles without sorting the whole volume.
    const FINE: usize = 4096;
    let mut fine = vec![0u64; FINE];
    let scale = if high > low {
        (FINE - 1) as f32 / (high - low)
    } else {
        0.0
    };
    let mut count = 0u64;
    for &v in voxels.iter().filter(|v| v.is_finite()) {
        fine[((v - low) * scale) as usize] += 1;
        count += 1;
    }
    let value_at = |bin: usize| low + (high - low) * bin as f32 / (FINE - 1) as f32;
    let quantile = |q: f64| {
        let target = (q * count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bin, &n) in fine.iter().enumerate() {
            seen += n;
            if seen >= target {
                return value_at(bin);
            }
        }
        high
    };
    let mut histogram = vec![0u64; HISTOGRAM_BINS];
    for (bin, &n) in fine.iter().enumerate() {
        histogram[bin * HISTOGRAM_BINS / FINE] += n;
    }
    ((low, high), (quantile(0.01), quantile(0.99)), histogram)
}

/// A shape as the CLI writes it: "16 x 32 x 31".
fn shape_text([d, h, w]: [usize; 3]) -> String {
    format!("{d} x {h} x {w}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_ramp() {
        let voxels: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let (range, percentiles, histogram) = intensity_stats(&voxels);
        assert_eq!(range, (0.0, 999.0));
        assert!((percentiles.0 - 10.0).abs() < 2.0, "{percentiles:?}");
        assert!((percentiles.1 - 989.0).abs() < 2.0, "{percentiles:?}");
        assert_eq!(histogram.iter().sum::<u64>(), 1000);
    }
}
