//! Exports: any map or segmentation as TIFF, the refinement numbers and sweep as CSV, and
//! PNG screenshots of the window or of one view.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use eframe::egui;

use super::{MapKind, ViewId, ViewerApp};
use crate::refine::refine;
use crate::volume::{Samples, VolumeError, write_atomically, write_tiff};

impl ViewerApp {
    /// Writes one map as TIFF.
    pub(super) fn export_map(&mut self, kind: MapKind, path: PathBuf) -> anyhow::Result<()> {
        let samples = self.map_samples(kind)?;
        self.write_map(&path, samples)?;
        self.notice = Some(format!("saved {}", path.display()));
        Ok(())
    }

    /// The samples of one map.
    ///
    /// # Errors
    /// No results loaded.
    pub fn map_samples(&self, kind: MapKind) -> anyhow::Result<Samples> {
        let results = self
            .dataset
            .as_ref()
            .and_then(|d| d.results.as_ref())
            .context("no results to export: run Infer or open a results folder")?;
        Ok(match kind {
            MapKind::Mean => Samples::F32(results.mean.clone()),
            MapKind::Lower => Samples::F32(results.lower.clone()),
            MapKind::Upper => Samples::F32(results.upper.clone()),
            MapKind::Uncertainty => Samples::F32(results.uncertainty.clone()),
            MapKind::Prediction => Samples::U8(results.prediction.clone()),
            MapKind::LowerSeg => Samples::U8(results.lower_seg.clone()),
            MapKind::UpperSeg => Samples::U8(results.upper_seg.clone()),
            MapKind::Refined => Samples::U8(refine(
                &results.prediction,
                &results.uncertainty,
                self.state.threshold,
                self.state.mode,
            )),
        })
    }

    /// Writes samples of the volume's shape as a TIFF with its voxel size.
    ///
    /// # Errors
    /// No volume, or the file cannot be written.
    pub fn write_map(&self, path: &Path, samples: Samples) -> anyhow::Result<()> {
        let dataset = self.dataset.as_ref().context("no volume")?;
        write_tiff(path, dataset.shape(), &samples, &dataset.volume.voxel_size)
            .with_context(|| format!("write {}", path.display()))
    }

    /// Writes the numbers at the current threshold and the sweep as CSV.
    pub(super) fn export_metrics(&mut self, path: &Path) -> anyhow::Result<()> {
        let csv = self.metrics_csv();
        write_atomically(path, |writer| {
            writer
                .write_all(csv.as_bytes())
                .map_err(|cause| VolumeError::Io {
                    path: path.to_path_buf(),
                    cause,
                })
        })?;
        self.notice = Some(format!("saved {}", path.display()));
        Ok(())
    }

    /// The CSV text: a row for the current threshold, then one per sweep point.
    pub fn metrics_csv(&self) -> String {
        let mut out = Vec::new();
        let _ = writeln!(
            out,
            "kind,threshold,mode,foreground_fraction,accuracy,dice,iou,pavpu"
        );
        let text = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.6}"));
        if let Some(stats) = &self.stats {
            let _ = writeln!(
                out,
                "current,{},{:?},{:.6},{},{},{},{}",
                stats.request.threshold,
                stats.request.mode,
                stats.foreground_fraction,
                text(stats.overlap.map(|o| o.accuracy)),
                text(stats.overlap.map(|o| o.dice)),
                text(stats.overlap.map(|o| o.iou)),
                text(stats.pavpu),
            );
        }
        if let Some((mode, points)) = &self.sweep {
            for point in points {
                let o = point.overlap;
                let _ = writeln!(
                    out,
                    "sweep,{},{mode:?},{:.6},{:.6},{:.6},{:.6},",
                    point.threshold, o.foreground_fraction, o.accuracy, o.dice, o.iou
                );
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Requests a screenshot of the next frame; the callback crops it to the view and saves
    /// it to `path`, and the result comes back through the screenshot channel.
    pub(super) fn screenshot(&mut self, ctx: &egui::Context, view: Option<ViewId>, path: PathBuf) {
        let region = view.and_then(|v| self.views.rects.get(&v).copied());
        let sender = self.screenshots.0.clone();
        let repaint = self.repaint();
        let pixels_per_point = ctx.pixels_per_point();
        let callback = egui::ScreenshotCallback::new(move |image| {
            let image = match region {
                Some(rect) => image.region(&rect, Some(pixels_per_point)),
                None => (*image).clone(),
            };
            let _ = sender.send(save_png(&path, &image).map(|()| path.clone()));
            repaint();
        });
        ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(callback));
    }
}

/// Writes an egui image as PNG, atomically.
///
/// # Errors
/// The file cannot be written; the message names it.
pub fn save_png(path: &Path, image: &egui::ColorImage) -> Result<(), String> {
    let [width, height] = image.size;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let buffer = image::RgbaImage::from_raw(width as u32, height as u32, bytes)
        .ok_or_else(|| format!("BUG: screenshot of {width} x {height} has the wrong size"))?;
    write_atomically(path, |writer| {
        buffer
            .write_to(writer, image::ImageFormat::Png)
            .map_err(|cause| VolumeError::Io {
                path: path.to_path_buf(),
                cause: std::io::Error::other(cause),
            })
    })
    .map_err(|error| error.to_string())
}
