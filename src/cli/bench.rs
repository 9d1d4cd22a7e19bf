//! `ctuq bench`: training step time and Monte Carlo inference speed on each backend, as
//! tables. Speed is measured here, never in tests.

use std::io::Write;

use anyhow::Context;
use clap::Args;

use crate::backend::{self, Backend};
use crate::infer::bench::{format_table as infer_table, time_inference};
use crate::model::{ModelConfig, Variant};
use crate::train::bench::{format_table as train_table, time_training_steps};

/// Arguments of `ctuq bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Backends to measure (repeat the flag); default: the CPU.
    #[arg(long, value_enum)]
    pub backend: Vec<Backend>,

    /// Cubic training chunk sides to time.
    #[arg(long, value_delimiter = ',', default_value = "32,64")]
    pub train_chunks: Vec<usize>,

    /// Timed training steps per row (after one warm-up step).
    #[arg(long, default_value_t = 3)]
    pub steps: usize,

    /// Cubic volume sides for inference.
    #[arg(long, value_delimiter = ',', default_value = "64,128")]
    pub infer_sizes: Vec<usize>,

    /// Monte Carlo samples for inference.
    #[arg(long, default_value_t = 48)]
    pub samples: usize,

    /// Inference chunk side.
    #[arg(long, default_value_t = 64)]
    pub chunk: usize,

    /// Skip the training table.
    #[arg(long)]
    pub no_train: bool,

    /// Skip the inference table.
    #[arg(long)]
    pub no_infer: bool,
}

/// Runs `ctuq bench`.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if args.no_train && args.no_infer {
        anyhow::bail!("--no-train and --no-infer together leave nothing to time");
    }
    if args.steps == 0 {
        anyhow::bail!("--steps must be at least 1");
    }
    let backends = if args.backend.is_empty() {
        vec![Backend::Cpu]
    } else {
        args.backend.clone()
    };
    let mut out = std::io::stdout().lock();
    for backend in backends {
        let device = backend::open(backend)?;
        let name = format!("{backend} ({})", machine_name());
        if !args.no_train {
            let mut timings = Vec::new();
            for &side in &args.train_chunks {
                for variant in Variant::ALL {
                    tracing::info!(
                        "timing {} training steps at {side}^3 on {backend}",
                        variant.name()
                    );
                    let config = ModelConfig::new(variant);
                    timings.push(
                        time_training_steps(&config, [side; 3], 1, args.steps, &device)
                            .context("training benchmark")?,
                    );
                }
            }
            writeln!(out, "{}", train_table(&name, &timings))?;
        }
        if !args.no_infer {
            let mut timings = Vec::new();
            for &side in &args.infer_sizes {
                for variant in Variant::ALL {
                    tracing::info!(
                        "timing {} inference on {side}^3 on {backend}",
                        variant.name()
                    );
                    let config = ModelConfig::new(variant);
                    timings.push(
                        time_inference(&config, side, args.samples, args.chunk, &device)
                            .context("inference benchmark")?,
                    );
                }
            }
            writeln!(out, "{}", infer_table(&name, &timings))?;
        }
    }
    Ok(())
}

/// The CPU model and core count, for the table title.
fn machine_name() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cpu}, {cores} cores")
}
