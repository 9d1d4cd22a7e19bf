//! `ctuq view`: open the viewer on given files (with no subcommand, on the built-in sample).

use std::path::PathBuf;

use clap::Args;

use crate::app::{OpenRequest, run};

/// Arguments of `ctuq view`.
#[derive(Debug, Args)]
pub struct ViewArgs {
    /// The image (TIFF, NIfTI or raw).
    pub image: PathBuf,
    /// Its label (0 background, non-zero foreground).
    #[arg(long)]
    pub label: Option<PathBuf>,
    /// A results folder written by `ctuq infer`.
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// A model file (.ctuq) for the Infer panel.
    #[arg(long)]
    pub model: Option<PathBuf>,
}

/// Runs `ctuq view`.
pub fn run_view(args: &ViewArgs) -> anyhow::Result<()> {
    run(OpenRequest {
        image: args.image.clone(),
        label: args.label.clone(),
        results: args.results.clone(),
        model: args.model.clone(),
        start_inference: false,
    })
}

/// Runs the viewer on the built-in sample.
pub fn run_sample() -> anyhow::Result<()> {
    run(OpenRequest::sample())
}
