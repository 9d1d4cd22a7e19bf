//! Training: minibatches of chunks, the ELBO loss, Adam with SPEC's schedule, validation,
//! checkpoints, resume and cancellation, with progress reported as [`TrainEvent`]s.
//!
//! Inference never imports this module; what both need (the network, the model file) lives in
//! `model`. Entry point: [`train`], which the CLI runs on a worker thread and the viewer will too.
//!
//! A run, epoch by epoch (epochs count from 1):
//! 1. shuffle all chunks with a generator seeded by (seed, epoch), so a resumed run can skip
//!    exactly the batches it already did;
//! 2. per minibatch: forward in training mode (Flipout or fresh dropout masks), loss =
//!    mean BCE + KL / M, one Adam step at `learning_rate(lr0, epoch)`;
//! 3. validate with the deterministic network, checkpoint atomically, report.
//!
//! Cancellation is checked between steps: the run finishes the step it is in, saves a
//! checkpoint that records how far into the epoch it got, writes the model file, and returns.
//! A non-finite loss stops the run before the step is applied; the checkpoint on disk stays the
//! last good one.

pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod loss;
mod rng;
pub mod validate;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::Instant;

use burn::config::Config;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

pub use checkpoint::{CheckpointHeader, Progress, default_checkpoint_path};
pub use data::TrainingPair;
pub use loss::{bce_with_logits, learning_rate};
pub use validate::ValMetrics;

use crate::model::file::{ModelFileError, ModelHeader, TrainingSummary, save_model};
use crate::model::{DecoderMode, ModelConfig, ModelError, Network, Variant, check_chunk_shape};
use data::{Augment, all_chunks, make_batch};
use rng::SplitMix64;

/// Everything that defines a training run; saved in every checkpoint.
#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    /// The network to train.
    pub model: ModelConfig,
    /// Chunk shape z, y, x; each side a multiple of 8.
    #[config(default = "[32, 32, 32]")]
    pub chunk: [usize; 3],
    /// Chunks per minibatch.
    #[config(default = 2)]
    pub batch_size: usize,
    /// Total epochs (a resumed run may raise it).
    #[config(default = 20)]
    pub epochs: usize,
    /// Initial learning rate (SPEC: 1e-4 for large volumes, 1e-3 for small ones).
    #[config(default = 1e-3)]
    pub lr0: f64,
    /// Overlap of neighbouring training chunks, as a fraction of the chunk side.
    #[config(default = 0.5)]
    pub overlap: f64,
    /// Random flips along each axis (on by default: CT has no preferred direction).
    #[config(default = true)]
    pub flips: bool,
    /// Random swaps of the y and x axes, for chunks with equal y and x sides (off by default:
    /// a scan's in-plane axes may differ in resolution or artefacts).
    #[config(default = false)]
    pub swap_yx: bool,
    /// Seed of the chunk order, the augmentation and the network's noise.
    #[config(default = 42)]
    pub seed: u64,
    /// Stop early, as finished, after the first epoch whose validation accuracy exceeds this.
    #[config(default = "None")]
    pub stop_at_accuracy: Option<f64>,
}

impl TrainConfig {
    /// Checks the configuration before any work.
    pub fn validate(&self) -> Result<(), TrainError> {
        self.model.validate()?;
        check_chunk_shape(self.chunk)?;
        if self.batch_size == 0 {
            return Err(TrainError::Config("batch size must be at least 1".into()));
        }
        if self.epochs == 0 {
            return Err(TrainError::Config("epochs must be at least 1".into()));
        }
        if !(self.lr0.is_finite() && self.lr0 > 0.0) {
            return Err(TrainError::Config(format!(
                "learning rate {} must be > 0",
                self.lr0
            )));
        }
        if !(0.0..1.0).contains(&self.overlap) {
            return Err(TrainError::Config(format!(
                "overlap {} must be in [0, 1)",
                self.overlap
            )));
        }
        Ok(())
    }

    /// Whether a checkpoint of `self` may continue as `other`: everything but the epoch count
    /// and the early-stopping target must be the same.
    fn differences_from(&self, other: &TrainConfig) -> Vec<&'static str> {
        let mut differences = Vec::new();
        let mut check = |same: bool, name| {
            if !same {
                differences.push(name);
            }
        };
        check(self.model == other.model, "model");
        check(self.chunk == other.chunk, "chunk");
        check(self.batch_size == other.batch_size, "batch size");
        check(self.lr0 == other.lr0, "learning rate");
        check(self.overlap == other.overlap, "overlap");
        check(self.flips == other.flips, "flips");
        check(self.swap_yx == other.swap_yx, "axis swaps");
        check(self.seed == other.seed, "seed");
        differences
    }
}

/// Errors that stop a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The configuration is invalid.
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// The model configuration or chunk shape is invalid.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A training or validation pair is malformed.
    #[error("{name}: {detail}")]
    BadPair {
        /// The pair's name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// No training pair was given.
    #[error("no training data")]
    NoData,
    /// `resume` was asked for but there is no checkpoint.
    #[error("{0}: no checkpoint to resume from")]
    NoCheckpoint(PathBuf),
    /// `resume` was asked for, but the checkpoint has all the epochs asked for already.
    #[error(
        "{}: {done} epochs are done already and --epochs {asked} asks for no more; pass a \
         larger --epochs to train on",
        path.display()
    )]
    AlreadyTrained {
        /// The checkpoint.
        path: PathBuf,
        /// Epochs it has done.
        done: usize,
        /// Epochs asked for in all.
        asked: usize,
    },
    /// The checkpoint belongs to a run with other settings.
    #[error("{path}: checkpoint was made with another {differences}; start a new run instead")]
    ResumeMismatch {
        /// The checkpoint.
        path: PathBuf,
        /// The settings that differ, comma separated.
        differences: String,
    },
    /// Reading or writing a checkpoint or the model file failed.
    #[error(transparent)]
    File(#[from] ModelFileError),
    /// The loss became NaN or infinite.
    #[error(
        "loss is not finite at epoch {epoch}, step {step} (bce {bce}{}); try a lower learning \
         rate. {}",
        kl.map_or_else(String::new, |kl| format!(", kl {kl}")),
        checkpoint.as_ref().map_or_else(
            || "No epoch finished, so there is no checkpoint to resume from".to_string(),
            |path| format!("The last good checkpoint is kept at {}", path.display())
        )
    )]
    NonFiniteLoss {
        /// The epoch (from 1).
        epoch: usize,
        /// The step within the epoch (from 1).
        step: usize,
        /// The BCE term.
        bce: f64,
        /// The KL divergence, for the BCNN.
        kl: Option<f64>,
        /// The checkpoint left on disk, if an epoch finished before.
        checkpoint: Option<PathBuf>,
    },
}

/// One optimizer step, as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// Epoch, from 1.
    pub epoch: usize,
    /// Step within the epoch, from 1.
    pub step: usize,
    /// Minibatches per epoch (M).
    pub steps_per_epoch: usize,
    /// Steps since the run began, from 1; continues across resumes.
    pub global_step: usize,
    /// Mean binary cross-entropy of the minibatch.
    pub bce: f64,
    /// KL divergence to the prior (BCNN only), before dividing by M.
    pub kl: Option<f64>,
    /// The loss minimized: `bce + kl / M`.
    pub loss: f64,
    /// Learning rate of the step.
    pub lr: f64,
    /// Wall time of the step in seconds.
    pub elapsed_secs: f64,
}

/// The summary of one finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochSummary {
    /// Epoch, from 1.
    pub epoch: usize,
    /// Mean minibatch BCE.
    pub mean_bce: f64,
    /// Mean minibatch KL (BCNN only).
    pub mean_kl: Option<f64>,
    /// Learning rate of the epoch.
    pub lr: f64,
    /// Validation scores, when there is validation data.
    pub validation: Option<ValMetrics>,
}

/// Progress of a run, sent as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainEvent {
    /// The run is about to take its first step.
    Started {
        /// The variant trained.
        variant: Variant,
        /// The epoch the run starts in, from 1 (above 1 when resumed).
        first_epoch: usize,
        /// Total epochs.
        epochs: usize,
        /// Minibatches per epoch (M).
        steps_per_epoch: usize,
        /// Training chunks per epoch.
        chunks: usize,
        /// Whether the run continues from a checkpoint.
        resumed: bool,
    },
    /// One optimizer step is done.
    Step(StepReport),
    /// An epoch is done and validated.
    Epoch(EpochSummary),
    /// A checkpoint was written.
    CheckpointSaved {
        /// Epochs done when it was written.
        epochs_done: usize,
        /// The file.
        path: PathBuf,
    },
    /// The run was cancelled; a checkpoint and the model file were written.
    Cancelled {
        /// Epoch in progress, from 1.
        epoch: usize,
        /// Steps done in that epoch.
        steps_done: usize,
    },
    /// All epochs are done and the model file is written.
    Finished {
        /// The model file.
        path: PathBuf,
    },
}

/// How a run ended (a failure is a [`TrainError`] instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainStatus {
    /// All epochs ran.
    Finished,
    /// Cancelled; resume from the checkpoint to continue.
    Cancelled,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// Finished or cancelled.
    pub status: TrainStatus,
    /// Epochs fully done.
    pub epochs_done: usize,
    /// Steps done since the run began.
    pub global_step: usize,
    /// One entry per finished epoch, over all resumes.
    pub history: Vec<EpochSummary>,
    /// The model file written.
    pub model_path: PathBuf,
}

/// A training job: configuration, data and where to write.
#[derive(Debug, Clone)]
pub struct TrainJob {
    /// The run's configuration.
    pub config: TrainConfig,
    /// Training pairs (z-scored images, 0/1 labels).
    pub train: Vec<TrainingPair>,
    /// Validation pairs; may be empty.
    pub validation: Vec<TrainingPair>,
    /// The model file to write (`.ctuq`).
    pub output: PathBuf,
    /// The checkpoint file; see [`default_checkpoint_path`].
    pub checkpoint: PathBuf,
    /// Continue from the checkpoint instead of starting afresh.
    pub resume: bool,
    /// The device to train on (plain; autodiff is added here).
    pub device: Device,
}

/// Mutable state of a run between steps.
struct RunState {
    network: Network,
    optimizer: ModuleOptimizer,
    progress: Progress,
    history: Vec<EpochSummary>,
}

/// Trains a network, reporting through `events` (a dropped receiver is fine) and stopping
/// cleanly between steps once `cancel` is set.
pub fn train(
    job: TrainJob,
    events: Sender<TrainEvent>,
    cancel: Arc<AtomicBool>,
) -> Result<TrainOutcome, TrainError> {
    let TrainJob {
        config,
        train,
        validation,
        output,
        checkpoint,
        resume,
        device,
    } = job;
    config.validate()?;
    if train.is_empty() {
        return Err(TrainError::NoData);
    }
    let send = |event: TrainEvent| {
        let _ = events.send(event);
    };
    let train_device = device.clone().autodiff();
    let data_summary = TrainingSummary {
        train: train.iter().map(TrainingPair::summary).collect(),
        validation: validation.iter().map(TrainingPair::summary).collect(),
        epochs: 0,
        lr0: config.lr0,
        batch_size: config.batch_size,
        val_accuracy: None,
        val_dice: None,
    };

    let mut state = if resume {
        if !checkpoint.exists() {
            return Err(TrainError::NoCheckpoint(checkpoint));
        }
        let loaded = checkpoint::load_checkpoint(&checkpoint, &train_device)?;
        let differences = loaded.header.config.differences_from(&config);
        if !differences.is_empty() {
            return Err(TrainError::ResumeMismatch {
                path: checkpoint,
                differences: differences.join(", "),
            });
        }
        let done = loaded.header.progress.epochs_done;
        if done >= config.epochs {
            return Err(TrainError::AlreadyTrained {
                path: checkpoint,
                done,
                asked: config.epochs,
            });
        }
        tracing::debug!(
            "resuming from {} after epoch {} (step {} of the next)",
            checkpoint.display(),
            loaded.header.progress.epochs_done,
            loaded.header.progress.steps_into_epoch
        );
        RunState {
            network: loaded.network,
            optimizer: loaded.optimizer,
            progress: loaded.header.progress,
            history: loaded.header.history,
        }
    } else {
        train_device.seed(config.seed);
        RunState {
            network: config.model.init(&train_device)?,
            optimizer: checkpoint::adam(),
            progress: Progress {
                epochs_done: 0,
                steps_into_epoch: 0,
                global_step: 0,
                partial_bce_sum: 0.0,
                partial_kl_sum: 0.0,
            },
            history: Vec::new(),
        }
    };

    let chunks = all_chunks(&train, config.chunk, config.overlap);
    let steps_per_epoch = chunks.len().div_ceil(config.batch_size);
    let swap_yx = config.swap_yx && config.chunk[1] == config.chunk[2];
    send(TrainEvent::Started {
        variant: config.model.variant,
        first_epoch: state.progress.epochs_done + 1,
        epochs: config.epochs,
        steps_per_epoch,
        chunks: chunks.len(),
        resumed: resume,
    });
    tracing::debug!(
        "training {} on {} chunks of {:?}: {} steps per epoch, epochs {}..={}",
        config.model.variant,
        chunks.len(),
        config.chunk,
        steps_per_epoch,
        state.progress.epochs_done + 1,
        config.epochs
    );

    let save = |state: &RunState, data: &TrainingSummary| -> Result<(), TrainError> {
        let header = CheckpointHeader {
            format_version: checkpoint::CHECKPOINT_FORMAT_VERSION,
            ctuq_version: env!("CARGO_PKG_VERSION").to_string(),
            config: config.clone(),
            progress: state.progress.clone(),
            history: state.history.clone(),
            data: data.clone(),
        };
        checkpoint::save_checkpoint(&checkpoint, &header, &state.network, &state.optimizer)?;
        Ok(())
    };
    let write_model = |state: &RunState| -> Result<(), TrainError> {
        let mut training = data_summary.clone();
        training.epochs = state.progress.epochs_done;
        if let Some(metrics) = state.history.last().and_then(|e| e.validation) {
            training.val_accuracy = Some(metrics.accuracy);
            training.val_dice = Some(metrics.dice);
        }
        let header = ModelHeader::new(config.model.clone(), config.chunk, training);
        save_model(&output, &header, &state.network.valid())?;
        Ok(())
    };

    while state.progress.epochs_done < config.epochs {
        let epoch = state.progress.epochs_done + 1;
        let lr = learning_rate(config.lr0, epoch);
        let mut rng = SplitMix64::for_epoch(config.seed, epoch);
        let mut order: Vec<(data::ChunkRef, Augment)> = chunks
            .iter()
            .map(|&chunk| (chunk, Augment::default()))
            .collect();
        rng.shuffle(&mut order);
        for item in &mut order {
            item.1 = Augment::draw(&mut rng, config.flips, swap_yx);
        }
        let skip = state.progress.steps_into_epoch;
        // Fresh network noise per epoch (and per resume point), reproducible from the seed.
        train_device.seed(config.seed ^ ((epoch as u64) << 32) ^ skip as u64);

        for (index, group) in order.chunks(config.batch_size).enumerate().skip(skip) {
            if cancel.load(Ordering::Relaxed) {
                save(&state, &data_summary)?;
                write_model(&state)?;
                send(TrainEvent::Cancelled {
                    epoch,
                    steps_done: index,
                });
                tracing::debug!("cancelled in epoch {epoch} after {index} steps; checkpoint saved");
                return Ok(outcome(TrainStatus::Cancelled, state, output));
            }
            let started = Instant::now();
            let batch = make_batch(&train, group, config.chunk, &train_device);
            let logits = state.network.forward(batch.images, DecoderMode::Train);
            let bce = bce_with_logits(logits, batch.labels);
            let kl = state.network.kl();
            let loss = match &kl {
                Some(kl) => bce.clone() + kl.clone() / steps_per_epoch as f64,
                None => bce.clone(),
            };
            let bce_value = bce.into_scalar::<f64>();
            let kl_value = kl.map(|kl| kl.into_scalar::<f64>());
            let loss_value = bce_value + kl_value.unwrap_or(0.0) / steps_per_epoch as f64;
            if !loss_value.is_finite() {
                return Err(TrainError::NonFiniteLoss {
                    epoch,
                    step: index + 1,
                    bce: bce_value,
                    kl: kl_value,
                    checkpoint: checkpoint.is_file().then(|| checkpoint.clone()),
                });
            }
            let grads = GradientsParams::from_grads(loss.backward(), &state.network);
            state.network = state.optimizer.step(lr, state.network, grads);

            state.progress.steps_into_epoch = index + 1;
            state.progress.global_step += 1;
            state.progress.partial_bce_sum += bce_value;
            state.progress.partial_kl_sum += kl_value.unwrap_or(0.0);
            let report = StepReport {
                epoch,
                step: index + 1,
                steps_per_epoch,
                global_step: state.progress.global_step,
                bce: bce_value,
                kl: kl_value,
                loss: loss_value,
                lr,
                elapsed_secs: started.elapsed().as_secs_f64(),
            };
            tracing::debug!(?report, "step");
            send(TrainEvent::Step(report));
        }

        let valid_network = state.network.valid();
        let validation_metrics = validate::validate(
            &valid_network,
            &validation,
            config.chunk,
            config.batch_size,
            &device,
        );
        let steps = state.progress.steps_into_epoch.max(1) as f64;
        let summary = EpochSummary {
            epoch,
            mean_bce: state.progress.partial_bce_sum / steps,
            mean_kl: (config.model.variant == Variant::Bcnn)
                .then_some(state.progress.partial_kl_sum / steps),
            lr,
            validation: validation_metrics,
        };
        tracing::debug!(
            "epoch {epoch}/{}: bce {:.4}, kl {:?}, validation {:?}",
            config.epochs,
            summary.mean_bce,
            summary.mean_kl,
            summary.validation
        );
        state.history.push(summary.clone());
        state.progress.epochs_done = epoch;
        state.progress.steps_into_epoch = 0;
        state.progress.partial_bce_sum = 0.0;
        state.progress.partial_kl_sum = 0.0;
        send(TrainEvent::Epoch(summary));
        save(&state, &data_summary)?;
        send(TrainEvent::CheckpointSaved {
            epochs_done: epoch,
            path: checkpoint.clone(),
        });
        if let (Some(target), Some(metrics)) = (config.stop_at_accuracy, validation_metrics)
            && metrics.accuracy > target
        {
            tracing::debug!(
                "validation accuracy {:.4} passed {target} after epoch {epoch}; stopping",
                metrics.accuracy
            );
            break;
        }
    }

    write_model(&state)?;
    send(TrainEvent::Finished {
        path: output.clone(),
    });
    Ok(outcome(TrainStatus::Finished, state, output))
}

fn outcome(status: TrainStatus, state: RunState, model_path: PathBuf) -> TrainOutcome {
    TrainOutcome {
        status,
        epochs_done: state.progress.epochs_done,
        global_step: state.progress.global_step,
        history: state.history,
        model_path,
    }
}

#[cfg(test)]
mod tests;
