//! The work of each job kind, as closures for [`super::Job::spawn`]: they call the same library
//! engines as the command line.

use std::path::PathBuf;
use std::sync::mpsc::channel;
use std::time::Instant;

use anyhow::Context as _;

use super::{JobEvent, JobOutput, Reporter};
use crate::backend::{self, Backend};
use crate::infer::engine::Preview;
use crate::infer::{InferConfig, InferError, InferEvent, NetworkSampler, default_chunking, engine};
use crate::model::file::load_model;
use crate::model::{ModelConfig, Variant};
use crate::refine::{RefineMode, sweep};
use crate::train::{TrainConfig, TrainError, TrainEvent, TrainJob, TrainingPair, train};
use crate::volume::{Label, Volume};

/// Settings of an inference run from the Infer panel.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InferSettings {
    /// The model file.
    pub model: Option<PathBuf>,
    /// Monte Carlo samples.
    pub samples: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// The backend.
    pub backend: Backend,
}

impl Default for InferSettings {
    fn default() -> Self {
        InferSettings {
            model: None,
            samples: 16,
            seed: 0,
            backend: Backend::Cpu,
        }
    }
}

/// Settings of a training run from the Train panel.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainSettings {
    /// BCNN or MCDN.
    pub variant: Variant,
    /// Epochs.
    pub epochs: usize,
    /// Encoder widths.
    pub widths: [usize; 4],
    /// Chunk side (cubic chunks; a multiple of 8).
    pub chunk: usize,
    /// Initial learning rate.
    pub lr0: f64,
    /// The model file to write.
    pub output: PathBuf,
    /// The backend.
    pub backend: Backend,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            variant: Variant::Bcnn,
            epochs: 2,
            widths: [4, 8, 16, 32],
            chunk: 32,
            lr0: 1e-3,
            output: std::env::temp_dir().join("ctuq-viewer-model.ctuq"),
            backend: Backend::Cpu,
        }
    }
}

/// Monte Carlo inference of `volume` with the model in `settings`.
pub fn infer_work(
    settings: InferSettings,
    volume: Volume,
) -> impl FnOnce(&Reporter) -> anyhow::Result<Option<JobOutput>> + Send + 'static {
    move |reporter| {
        let model = settings
            .model
            .context("no model file: train one or choose one with Browse")?;
        reporter.progress(0.0, format!("loading {}", model.display()));
        let device = backend::open(settings.backend)?;
        let (header, network) = load_model(&model, None, &device)?;
        let (chunk, overlap) = default_chunking(header.chunk, volume.shape);
        let config = InferConfig {
            samples: settings.samples.max(1),
            chunk,
            overlap,
            seed: settings.seed,
            ..InferConfig::default()
        };
        let sampler = NetworkSampler::new(&network, &device, config.samples, config.seed);
        let (sender, events) = channel();
        let forward = reporter.clone();
        // Forwards the engine's events while it runs; ends when the engine drops its sender.
        let forwarder = std::thread::Builder::new()
            .name("ctuq-infer-progress".into())
            .spawn(move || {
                for event in events {
                    if let InferEvent::SampleDone {
                        chunk,
                        chunks,
                        sample,
                        samples,
                    } = event
                    {
                        let done = (chunk - 1) * samples + sample;
                        let fraction = done as f32 / (chunks * samples).max(1) as f32;
                        let message = if chunks == 1 {
                            format!("sample {sample} of {samples}")
                        } else {
                            format!("chunk {chunk} of {chunks}, sample {sample} of {samples}")
                        };
                        forward.progress(fraction, message);
                    }
                }
            })?;
        let cancel = reporter.cancel_flag();
        let mut previews = PreviewPacer::default();
        let mut send_preview = |preview: Preview<'_>| previews.offer(reporter, preview);
        let result = engine::run_with_previews(
            &sampler,
            &volume,
            &config,
            Some(&sender),
            &cancel,
            Some(&mut send_preview),
        );
        drop(sender);
        let _ = forwarder.join();
        match result {
            Ok(maps) => Ok(Some(JobOutput::Results(Box::new(maps)))),
            Err(InferError::Cancelled) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

/// Decides which of the engine's previews reach the viewer: each one copies every map, so
/// they are spaced by at least [`PreviewPacer::MIN_GAP_SECS`] and by many times what the last
/// copy took, which keeps a large volume from spending its run on copies.
#[derive(Default)]
struct PreviewPacer {
    last_sent: Option<Instant>,
    last_cost_secs: f64,
}

impl PreviewPacer {
    /// Seconds between two previews at least.
    const MIN_GAP_SECS: f64 = 4.0;

    /// Sends `preview` to the viewer unless the last one was too recent.
    fn offer(&mut self, reporter: &Reporter, preview: Preview<'_>) {
        let gap_secs = Self::MIN_GAP_SECS.max(20.0 * self.last_cost_secs);
        if self
            .last_sent
            .is_some_and(|sent| sent.elapsed().as_secs_f64() < gap_secs)
        {
            return;
        }
        let started = Instant::now();
        let (chunk, chunks) = (preview.chunk, preview.chunks);
        let (samples, samples_per_chunk) = (preview.samples, preview.samples_per_chunk);
        let message = if chunks == 1 {
            format!("{samples} of {samples_per_chunk} samples")
        } else if samples == samples_per_chunk {
            format!("{chunk} of {chunks} chunks done")
        } else {
            format!("chunk {chunk} of {chunks} at {samples} of {samples_per_chunk} samples")
        };
        reporter.send(JobEvent::Preview {
            maps: Box::new(preview.maps.clone()),
            message,
        });
        self.last_cost_secs = started.elapsed().as_secs_f64();
        self.last_sent = Some(Instant::now());
    }
}

/// Trains a network on `volume` and `label`, writing the model file of `settings`.
pub fn train_work(
    settings: TrainSettings,
    volume: Volume,
    label: Label,
) -> impl FnOnce(&Reporter) -> anyhow::Result<Option<JobOutput>> + Send + 'static {
    move |reporter| {
        let config =
            TrainConfig::new(ModelConfig::new(settings.variant).with_widths(settings.widths))
                .with_chunk([settings.chunk; 3])
                .with_epochs(settings.epochs)
                .with_lr0(settings.lr0);
        config.validate()?;
        let pair = TrainingPair::from_volume("viewer volume", &volume, &label)?;
        let device = backend::open(settings.backend)?;
        let job = TrainJob {
            config,
            train: vec![pair],
            validation: Vec::new(),
            checkpoint: crate::train::default_checkpoint_path(&settings.output),
            output: settings.output.clone(),
            resume: false,
            device,
        };
        let (sender, events) = channel();
        let forward = reporter.clone();
        let forwarder = std::thread::Builder::new()
            .name("ctuq-train-progress".into())
            .spawn(move || {
                let mut epochs = 1;
                for event in events {
                    match event {
                        TrainEvent::Started { epochs: total, .. } => epochs = total.max(1),
                        TrainEvent::Step(step) => {
                            let done = (step.epoch - 1) as f32
                                + step.step as f32 / step.steps_per_epoch.max(1) as f32;
                            forward.send(JobEvent::Loss {
                                step: step.global_step,
                                bce: step.bce,
                                kl: step.kl,
                            });
                            forward.progress(
                                done / epochs as f32,
                                format!(
                                    "epoch {} step {}/{}: loss {:.4}",
                                    step.epoch, step.step, step.steps_per_epoch, step.loss
                                ),
                            );
                        }
                        TrainEvent::Epoch(summary) => tracing::info!(
                            "epoch {}: mean bce {:.4}",
                            summary.epoch,
                            summary.mean_bce
                        ),
                        _ => {}
                    }
                }
            })?;
        let outcome = train(job, sender, reporter.cancel_flag());
        let _ = forwarder.join();
        match outcome {
            Ok(outcome) if outcome.status == crate::train::TrainStatus::Cancelled => Ok(None),
            Ok(outcome) => Ok(Some(JobOutput::Model(outcome.model_path))),
            Err(TrainError::Config(message)) => anyhow::bail!("training settings: {message}"),
            Err(error) => Err(error.into()),
        }
    }
}

/// Accuracy and foreground fraction of the refined segmentation at 51 thresholds.
pub fn sweep_work(
    prediction: Vec<u8>,
    uncertainty: Vec<f32>,
    label: Vec<u8>,
    mode: RefineMode,
) -> impl FnOnce(&Reporter) -> anyhow::Result<Option<JobOutput>> + Send + 'static {
    move |reporter| {
        let thresholds: Vec<f32> = (0..=50).map(|i| i as f32 / 50.0).collect();
        let mut points = Vec::with_capacity(thresholds.len());
        for (i, chunk) in thresholds.chunks(5).enumerate() {
            if reporter.is_cancelled() {
                return Ok(None);
            }
            points.extend(sweep(&prediction, &uncertainty, &label, chunk, mode));
            reporter.progress((i + 1) as f32 * 5.0 / thresholds.len() as f32, "sweeping");
        }
        Ok(Some(JobOutput::Sweep(points)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use burn::tensor::Device;

    use super::*;
    use crate::infer::ResultMaps;
    use crate::model::file::{ModelHeader, TrainingSummary, save_model};
    use crate::volume::{SampleType, VoxelSize};

    #[test]
    fn inference_sends_a_preview_before_its_result() {
        let folder = tempfile::tempdir().expect("temp dir");
        let model = folder.path().join("tiny.ctuq");
        let config = ModelConfig::new(Variant::Bcnn).with_widths([4, 4, 8, 8]);
        let network = config.init(&Device::flex()).expect("valid config");
        let header = ModelHeader::new(config, [8, 8, 8], TrainingSummary::default());
        save_model(&model, &header, &network).expect("save");
        let shape = [8, 16, 16];
        let volume = Volume {
            shape,
            voxels: (0..8 * 16 * 16).map(|i| (i % 37) as f32).collect(),
            voxel_size: VoxelSize::unknown(),
            source_type: SampleType::F32,
            value_range: None,
        };
        let settings = InferSettings {
            model: Some(model),
            samples: 8,
            ..InferSettings::default()
        };
        let (sender, events) = channel();
        let reporter = Reporter {
            sender,
            cancel: Arc::new(AtomicBool::new(false)),
            repaint: Arc::new(|| {}),
        };

        let output = infer_work(settings, volume)(&reporter).expect("inference runs");
        let Some(JobOutput::Results(results)) = output else {
            panic!("no results");
        };
        let previews: Vec<(Box<ResultMaps>, String)> = events
            .try_iter()
            .filter_map(|event| match event {
                JobEvent::Preview { maps, message } => Some((maps, message)),
                _ => None,
            })
            .collect();
        // The first preview always goes out; later ones wait for the pacer's gap.
        let (first, message) = previews.first().expect("a preview arrived");
        assert_eq!(message, "2 of 8 samples");
        assert_eq!(first.shape, shape);
        assert!(
            first.mean != results.mean,
            "2 samples give other means than 8"
        );
    }
}
