//! `ctuq convert`: any readable volume to a plain multi-page TIFF that every tool reads.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use super::InputArgs;
use crate::volume;

/// Arguments of `ctuq convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The input: a TIFF stack, a folder of TIFF slices, a NIfTI file, or raw binary.
    pub input: PathBuf,

    /// The output TIFF file.
    pub output: PathBuf,

    #[command(flatten)]
    pub options: InputArgs,
}

/// Runs `ctuq convert`.
pub fn run(args: &ConvertArgs) -> anyhow::Result<()> {
    let is_tiff = args
        .output
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("tif") || ext.eq_ignore_ascii_case("tiff"));
    if !is_tiff {
        bail!(
            "{}: ctuq convert writes multi-page TIFF only; name the output .tif or .tiff",
            args.output.display()
        );
    }
    let options = args.options.read_options()?;
    let raw = volume::read_raw_volume(&args.input, &options)?;
    volume::write_tiff(&args.output, raw.shape, &raw.samples, &raw.voxel_size)?;
    tracing::info!(
        "wrote {} ({} x {} x {} {}, voxel size {})",
        args.output.display(),
        raw.shape[0],
        raw.shape[1],
        raw.shape[2],
        raw.samples.sample_type(),
        raw.voxel_size
    );
    Ok(())
}
