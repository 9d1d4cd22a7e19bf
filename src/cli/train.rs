//! `ctuq train`: train a BCNN or MCDN on labelled volumes, with a progress bar, a checkpoint
//! after every epoch, Ctrl-C to stop cleanly and `--resume` to continue.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::{Context, bail};
use clap::Args;

use super::InputArgs;
use super::input::parse_triple;
use super::progress::{bar, cancel_on_ctrl_c};
use crate::backend::{self, Backend};
use crate::model::{ModelConfig, Variant};
use crate::train::{
    TrainConfig, TrainEvent, TrainJob, TrainStatus, TrainingPair, default_checkpoint_path, train,
};
use crate::volume::{check_same_shape, read_label, read_volume};

/// Arguments of `ctuq train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A training volume; repeat with --label for several pairs.
    #[arg(long, required = true)]
    pub image: Vec<PathBuf>,

    /// The label of each --image, in the same order.
    #[arg(long, required = true)]
    pub label: Vec<PathBuf>,

    /// Foreground value of labels with more than two values.
    #[arg(long)]
    pub class: Option<i64>,

    /// The network variant.
    #[arg(long, default_value = "bcnn")]
    pub variant: Variant,

    /// Channel widths of the four encoder stages (the paper: 16,32,64,128).
    #[arg(long, value_name = "W0,W1,W2,W3", default_value = "16,32,64,128")]
    pub widths: String,

    /// Epochs in all (with --resume, the total to reach).
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,

    /// Chunk size Z,Y,X, each a multiple of 8.
    #[arg(long, value_name = "Z,Y,X", default_value = "32,32,32")]
    pub chunk: String,

    /// Chunks per minibatch.
    #[arg(long, default_value_t = 2)]
    pub batch: usize,

    /// Initial learning rate (SPEC: 1e-3 for small volumes, 1e-4 for large ones).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,

    /// Seed of the chunk order, augmentation and noise.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Turn off the random flips (on by default).
    #[arg(long)]
    pub no_flips: bool,

    /// Also swap y and x at random (off by default).
    #[arg(long)]
    pub swap_yx: bool,

    /// Hold out slices START:END (z) of the first image for validation.
    #[arg(long, value_name = "START:END", conflicts_with = "validate_image")]
    pub validate_z: Option<String>,

    /// A separate validation volume (with --validate-label).
    #[arg(long, requires = "validate_label")]
    pub validate_image: Option<PathBuf>,

    /// The label of --validate-image.
    #[arg(long)]
    pub validate_label: Option<PathBuf>,

    /// Stop early once validation accuracy passes this.
    #[arg(long)]
    pub stop_at_accuracy: Option<f64>,

    /// Where the network runs.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,

    /// The model file to write (a checkpoint goes beside it as FILE.ckpt).
    #[arg(long)]
    pub out: PathBuf,

    /// Continue from the checkpoint beside --out.
    #[arg(long)]
    pub resume: bool,

    #[command(flatten)]
    pub input: InputArgs,
}

/// Runs `ctuq train`.
pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    let job = build_job(args)?;
    let cancel = cancel_on_ctrl_c();
    let (sender, receiver) = std::sync::mpsc::channel();
    let progress = bar(0, "steps");

    let outcome = std::thread::scope(|scope| {
        let cancel_for_worker = std::sync::Arc::clone(&cancel);
        let worker = std::thread::Builder::new()
            .name("ctuq-train".into())
            .spawn_scoped(scope, move || train(job, sender, cancel_for_worker))
            .context("cannot start the training thread")?;
        for event in receiver.iter() {
            show(&progress, &event);
        }
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            .map_err(anyhow::Error::from)
    })?;
    progress.finish_and_clear();

    match outcome.status {
        TrainStatus::Finished => tracing::info!(
            "trained {} epoch{}; model in {}",
            outcome.epochs_done,
            if outcome.epochs_done == 1 { "" } else { "s" },
            outcome.model_path.display()
        ),
        TrainStatus::Cancelled => tracing::info!(
            "stopped at epoch {}; model so far in {}; continue with --resume",
            outcome.epochs_done + 1,
            outcome.model_path.display()
        ),
    }
    if cancel.load(Ordering::Relaxed) && outcome.status == TrainStatus::Finished {
        tracing::debug!("Ctrl-C arrived after the last step");
    }
    Ok(())
}

/// Reads the volumes and checks the settings into a training job, before any work.
fn build_job(args: &TrainArgs) -> anyhow::Result<TrainJob> {
    if args.image.len() != args.label.len() {
        bail!(
            "{} --image but {} --label: give one label per image, in the same order",
            args.image.len(),
            args.label.len()
        );
    }
    let widths = parse_widths(&args.widths)?;
    let chunk = parse_triple::<usize>(&args.chunk).context("--chunk")?;
    let mut config = TrainConfig::new(ModelConfig::new(args.variant).with_widths(widths))
        .with_chunk(chunk)
        .with_batch_size(args.batch)
        .with_epochs(args.epochs)
        .with_lr0(args.lr)
        .with_seed(args.seed)
        .with_flips(!args.no_flips)
        .with_swap_yx(args.swap_yx);
    config.stop_at_accuracy = args.stop_at_accuracy;
    config.validate()?;
    if let Some(target) = args.stop_at_accuracy {
        if !(0.0..=1.0).contains(&target) {
            bail!("--stop-at-accuracy {target} is outside [0, 1]");
        }
        if args.validate_z.is_none() && args.validate_image.is_none() {
            bail!(
                "--stop-at-accuracy needs validation data to read the accuracy from: add \
                 --validate-z START:END or --validate-image with --validate-label"
            );
        }
    }

    let options = args.input.read_options()?;
    let mut pairs = Vec::new();
    for (image_path, label_path) in args.image.iter().zip(&args.label) {
        pairs.push(read_pair(image_path, label_path, &options, args.class)?);
    }

    let mut validation = Vec::new();
    if let Some(range) = &args.validate_z {
        let [start, end] = parse_z_range(range)?;
        let first = pairs.remove(0);
        let (rest, held_out) = first.split_z(start..end)?;
        pairs.insert(0, rest);
        validation.push(held_out);
    } else if let (Some(image), Some(label)) = (&args.validate_image, &args.validate_label) {
        validation.push(read_pair(image, label, &options, args.class)?);
    }

    let device = backend::open(args.backend)?;
    Ok(TrainJob {
        config,
        train: pairs,
        validation,
        output: args.out.clone(),
        checkpoint: default_checkpoint_path(&args.out),
        resume: args.resume,
        device,
    })
}

fn read_pair(
    image_path: &std::path::Path,
    label_path: &std::path::Path,
    options: &crate::volume::ReadOptions,
    class: Option<i64>,
) -> anyhow::Result<TrainingPair> {
    let volume = read_volume(image_path, options)?;
    let label = read_label(label_path, options, class)?;
    check_same_shape(image_path, volume.shape, label_path, label.shape)?;
    let name = image_path.display().to_string();
    Ok(TrainingPair::from_volume(name, &volume, &label)?)
}

pub(super) fn parse_widths(text: &str) -> anyhow::Result<[usize; 4]> {
    let widths: Vec<usize> = text
        .split(',')
        .map(|w| {
            w.trim()
                .parse::<usize>()
                .with_context(|| format!("--widths: {w:?} is not a number"))
        })
        .collect::<anyhow::Result<_>>()?;
    widths
        .try_into()
        .map_err(|_| anyhow::anyhow!("--widths needs four numbers, e.g. 16,32,64,128"))
}

fn parse_z_range(text: &str) -> anyhow::Result<[usize; 2]> {
    let Some((start, end)) = text.split_once(':') else {
        bail!("--validate-z {text:?}: expected START:END, e.g. 96:128");
    };
    let parse = |part: &str| {
        part.trim()
            .parse::<usize>()
            .with_context(|| format!("--validate-z {text:?}"))
    };
    Ok([parse(start)?, parse(end)?])
}

/// Shows one training event: the bar follows the steps, epochs are logged.
fn show(progress: &indicatif::ProgressBar, event: &TrainEvent) {
    match event {
        TrainEvent::Started {
            variant,
            first_epoch,
            epochs,
            steps_per_epoch,
            chunks,
            resumed,
        } => {
            let remaining = (epochs + 1).saturating_sub(*first_epoch) * steps_per_epoch;
            progress.set_length(remaining as u64);
            tracing::info!(
                "{} {}: epochs {first_epoch} to {epochs}, {steps_per_epoch} steps per epoch over \
                 {chunks} chunks",
                if *resumed { "resuming" } else { "training" },
                variant.name()
            );
        }
        TrainEvent::Step(step) => {
            progress.inc(1);
            let kl = step.kl.map_or(String::new(), |kl| format!(" kl {kl:.1}"));
            progress.set_message(format!(
                "epoch {} bce {:.4}{kl} lr {:.2e}",
                step.epoch, step.bce, step.lr
            ));
        }
        TrainEvent::Epoch(epoch) => {
            let kl = epoch
                .mean_kl
                .map_or(String::new(), |kl| format!(", kl {kl:.1}"));
            let validation = epoch.validation.as_ref().map_or(String::new(), |v| {
                format!(
                    ", validation accuracy {:.4}, dice {:.4}",
                    v.accuracy, v.dice
                )
            });
            progress.suspend(|| {
                tracing::info!(
                    "epoch {}: bce {:.4}{kl}{validation}",
                    epoch.epoch,
                    epoch.mean_bce
                )
            });
        }
        TrainEvent::CheckpointSaved { path, .. } => {
            tracing::debug!("checkpoint {}", path.display());
        }
        TrainEvent::Cancelled { epoch, steps_done } => {
            progress
                .suspend(|| tracing::info!("cancelled in epoch {epoch} after {steps_done} steps"));
        }
        TrainEvent::Finished { path } => tracing::debug!("model written to {}", path.display()),
    }
}
