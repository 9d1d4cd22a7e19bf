//! `ctuq infer`: Monte Carlo inference of a trained model on a volume, written as maps.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;

use super::InputArgs;
use super::input::parse_triple;
use super::progress::{bar, cancel_on_ctrl_c};
use crate::backend::{self, Backend};
use crate::infer::results::{RunSummary, prepare_folder};
use crate::infer::{InferConfig, InferEvent, NetworkSampler, default_chunking, engine};
use crate::model::file::load_model;
use crate::volume::{VolumeError, read_volume, write_atomically};

/// Arguments of `ctuq infer`.
#[derive(Debug, Args)]
pub struct InferArgs {
    /// The trained model (`.ctuq`).
    #[arg(long)]
    pub model: PathBuf,

    /// The volume to segment.
    #[arg(long)]
    pub image: PathBuf,

    /// Monte Carlo samples per voxel.
    #[arg(long, default_value_t = 48)]
    pub samples: usize,

    /// Lower percentile of the interval (20 = the second decile).
    #[arg(long, default_value_t = 20.0)]
    pub lower: f64,

    /// Upper percentile of the interval (80 = the eighth decile).
    #[arg(long, default_value_t = 80.0)]
    pub upper: f64,

    /// Chunk size Z,Y,X (default: the model's training chunk, at least 64 per side, and one
    /// chunk along any axis of at most twice that).
    #[arg(long, value_name = "Z,Y,X")]
    pub chunk: Option<String>,

    /// Overlap of neighbouring chunks Z,Y,X (default: a quarter of the chunk).
    #[arg(long, value_name = "Z,Y,X")]
    pub overlap: Option<String>,

    /// Seed of the Monte Carlo draws; the same seed gives the same maps.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Where the network runs.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,

    /// Output folder for the maps and summary.json.
    #[arg(long)]
    pub out: PathBuf,

    #[command(flatten)]
    pub input: InputArgs,
}

/// Runs `ctuq infer`.
pub fn run(args: &InferArgs) -> anyhow::Result<()> {
    let device = backend::open(args.backend)?;
    let (header, network) = load_model(&args.model, None, &device)?;
    let volume = read_volume(&args.image, &args.input.read_options()?)?;
    let (default_chunk, default_overlap) = default_chunking(header.chunk, volume.shape);
    let chunk = match &args.chunk {
        Some(text) => parse_triple::<usize>(text).context("--chunk")?,
        None => default_chunk,
    };
    let overlap = match &args.overlap {
        Some(text) => parse_triple::<usize>(text).context("--overlap")?,
        None if args.chunk.is_none() => default_overlap,
        None => chunk.map(|side| side / 4),
    };
    if chunk.contains(&0) {
        bail!("--chunk {chunk:?} has a zero side");
    }

    let config = InferConfig {
        samples: args.samples,
        lower_percentile: args.lower,
        upper_percentile: args.upper,
        chunk,
        overlap,
        seed: args.seed,
    };
    engine::check_config(&config, volume.shape)?;
    if config.samples == 1 {
        tracing::warn!("--samples 1 gives no uncertainty (every interval is empty); use 2 or more");
    }
    prepare_folder(&args.out).context("--out: the results folder cannot be written")?;
    tracing::info!(
        "{} on {} ({} x {} x {}), {} samples, chunks {:?}, backend {}",
        header.model.variant.name(),
        args.image.display(),
        volume.shape[0],
        volume.shape[1],
        volume.shape[2],
        config.samples,
        config.chunk,
        args.backend,
    );

    let cancel = cancel_on_ctrl_c();
    let started = Instant::now();
    let (sender, receiver) = std::sync::mpsc::channel();
    let progress = bar(0, "samples");
    let maps = std::thread::scope(|scope| {
        let (network, device, volume, config, cancel) =
            (&network, &device, &volume, &config, &*cancel);
        // The sender moves into the worker, so the event loop ends when the worker does.
        let worker = scope.spawn(move || {
            let sampler = NetworkSampler::new(network, device, config.samples, config.seed);
            engine::run(&sampler, volume, config, Some(&sender), cancel)
        });
        for event in receiver.iter() {
            match event {
                InferEvent::Started { chunks, samples } => {
                    progress.set_length((chunks * samples) as u64)
                }
                InferEvent::SampleDone {
                    chunk,
                    chunks,
                    sample,
                    samples,
                } => {
                    progress.set_position(((chunk - 1) * samples + sample) as u64);
                    progress.set_message(format!("chunk {chunk} of {chunks}"));
                }
                InferEvent::ChunkDone { .. } => {}
            }
        }
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    progress.finish_and_clear();
    if cancel.load(Ordering::Relaxed) {
        bail!("cancelled; nothing was written");
    }
    let maps = maps?;
    let elapsed_secs = started.elapsed().as_secs_f64();

    maps.write(&args.out)?;
    let summary = RunSummary::new(
        &maps,
        &config,
        args.model.display().to_string(),
        header.model.variant.name().to_string(),
        args.image.display().to_string(),
        args.backend.to_string(),
        elapsed_secs,
    );
    let summary_path = args.out.join("summary.json");
    let json = serde_json::to_vec_pretty(&summary).context("BUG: summary serializes")?;
    write_atomically(&summary_path, |w| {
        w.write_all(&json).map_err(|e| VolumeError::Io {
            path: summary_path.clone(),
            cause: e,
        })
    })?;

    let fraction = &summary.foreground_fraction;
    tracing::info!(
        "done in {elapsed_secs:.1} s: foreground {:.2} % (interval {:.2} to {:.2} %), mean \
         uncertainty {:.4}; maps in {}",
        100.0 * fraction.prediction,
        100.0 * fraction.lower,
        100.0 * fraction.upper,
        summary.mean_uncertainty,
        args.out.display()
    );
    Ok(())
}
