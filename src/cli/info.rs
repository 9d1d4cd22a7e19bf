//! `ctuq info`: what a volume file holds, before anyone trains on it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::InputArgs;
use crate::volume::{self, LabelValues, Volume, VoxelStats, check_same_shape};

/// Arguments of `ctuq info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The volume: a TIFF stack, a folder of TIFF slices, a NIfTI file, or raw binary.
    pub file: PathBuf,

    /// A label of the same shape, to report its values and foreground fraction.
    #[arg(long)]
    pub label: Option<PathBuf>,

    /// The label value that is foreground, for labels with more than two values.
    #[arg(long)]
    pub class: Option<i64>,

    #[command(flatten)]
    pub input: InputArgs,
}

/// Runs `ctuq info`.
pub fn run(args: &InfoArgs) -> anyhow::Result<()> {
    let options = args.input.read_options()?;
    let raw = volume::read_raw_volume(&args.file, &options)?;
    let volume = Volume::from_raw(&raw);
    let stats = VoxelStats::of(&volume.voxels);
    let mut out = std::io::stdout().lock();

    writeln!(out, "file:        {}", args.file.display())?;
    writeln!(
        out,
        "shape:       {} x {} x {} (z, y, x)",
        raw.shape[0], raw.shape[1], raw.shape[2]
    )?;
    writeln!(out, "type:        {}", volume.source_type)?;
    writeln!(out, "voxel size:  {}", volume.voxel_size)?;
    match stats.range() {
        Some((min, max)) => writeln!(out, "range:       {min} to {max}"),
        None => writeln!(out, "range:       no finite voxel"),
    }?;
    writeln!(out, "mean:        {:.6}", stats.mean)?;
    writeln!(out, "std:         {:.6}", stats.std)?;
    writeln!(out, "NaN / Inf:   {} / {}", stats.nan, stats.infinite)?;

    if let Some(label_path) = &args.label {
        let label_raw = volume::read_raw_volume(label_path, &options)?;
        check_same_shape(&args.file, raw.shape, label_path, label_raw.shape)?;
        let values = LabelValues::of(&label_raw.samples)
            .map_err(|reason| anyhow::anyhow!(reason))
            .with_context(|| format!("{}", label_path.display()))?;
        let total = label_raw.samples.len() as f64;
        writeln!(out, "label:       {}", label_path.display())?;
        for (value, count) in values.counts.iter().take(20) {
            writeln!(
                out,
                "  value {value:>6}: {count:>12} voxels ({:.3} %)",
                100.0 * *count as f64 / total
            )?;
        }
        if values.counts.len() > 20 {
            writeln!(out, "  ... {} more values", values.counts.len() - 20)?;
        }
        let label = volume::Label::from_raw(label_path, &label_raw, args.class)?;
        writeln!(
            out,
            "foreground:  {:.3} %",
            100.0 * label.foreground_fraction()
        )?;
    }
    Ok(())
}
