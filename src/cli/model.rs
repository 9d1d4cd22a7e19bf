//! `ctuq model`: the network's layers, shapes and parameter counts, or a model file's header.

use std::io::Write;
use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use super::input::parse_triple;
use crate::model::file::read_model_header;
use crate::model::{ModelConfig, ModelSummary, Variant};

/// Arguments of `ctuq model`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// A saved model (`.ctuq`) whose header to print; without it, print the network summary.
    pub file: Option<PathBuf>,

    /// The variant to summarize.
    #[arg(long, default_value = "bcnn")]
    pub variant: Variant,

    /// Channel widths of the four encoder stages.
    #[arg(long, value_name = "W0,W1,W2,W3", default_value = "16,32,64,128")]
    pub widths: String,

    /// Input chunk Z,Y,X for the output shapes.
    #[arg(long, value_name = "Z,Y,X", default_value = "32,64,64")]
    pub chunk: String,
}

/// Runs `ctuq model`.
pub fn run(args: &ModelArgs) -> anyhow::Result<()> {
    if let Some(file) = &args.file {
        let header = read_model_header(file)?;
        writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string_pretty(&header)?
        )?;
        return Ok(());
    }
    let widths: Vec<usize> = args
        .widths
        .split(',')
        .filter_map(|w| w.trim().parse().ok())
        .collect();
    let Ok(widths) = <[usize; 4]>::try_from(widths) else {
        bail!("--widths needs four numbers, e.g. 16,32,64,128");
    };
    let chunk = parse_triple::<usize>(&args.chunk)?;
    let summary = ModelSummary::new(&ModelConfig::new(args.variant).with_widths(widths), chunk)?;
    writeln!(std::io::stdout().lock(), "{summary}")?;
    Ok(())
}
