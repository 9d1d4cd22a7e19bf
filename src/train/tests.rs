//! End-to-end training tests on small synthetic volumes and a crop of the built-in cement
//! sample: learning, checkpoints, resume, cancellation and a NaN stop.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use burn::tensor::{Distribution, Tensor};

use super::rng::SplitMix64;
use super::*;
use crate::model::file::load_model;

/// Narrow widths that train in seconds on a laptop CPU.
const NARROW: [usize; 4] = [4, 8, 16, 32];

/// A z-scored volume of noisy blobs and its label: the label is where a smooth random field
/// is positive (about half the voxels, in blobs some 5 to 10 voxels across), the image is +1
/// there and -1 elsewhere, plus Gaussian noise of std `noise`.
pub(crate) fn blobs(seed: u64, shape: [usize; 3], noise: f32) -> TrainingPair {
    let mut rng = SplitMix64::new(seed);
    let mut uniform = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let tau = 2.0 * std::f64::consts::PI;
    // Four plane waves with random directions, wavelengths of 10 to 16 voxels, random phases.
    let waves: Vec<([f64; 3], f64)> = (0..4)
        .map(|_| {
            let direction = [uniform() - 0.5, uniform() - 0.5, uniform() - 0.5];
            let norm = direction
                .iter()
                .map(|v| v * v)
                .sum::<f64>()
                .sqrt()
                .max(1e-6);
            let k = tau / (10.0 + 6.0 * uniform()) / norm;
            (direction.map(|v| v * k), tau * uniform())
        })
        .collect();
    let [nz, ny, nx] = shape;
    let mut image = Vec::with_capacity(nz * ny * nx);
    let mut label = Vec::with_capacity(nz * ny * nx);
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let p = [z as f64, y as f64, x as f64];
                let field: f64 = waves
                    .iter()
                    .map(|(k, phase)| (k[0] * p[0] + k[1] * p[1] + k[2] * p[2] + phase).sin())
                    .sum();
                let inside = field > 0.0;
                // Box-Muller for the noise.
                let gauss = (-2.0 * uniform().max(1e-12).ln()).sqrt() * (tau * uniform()).cos();
                image.push(if inside { 1.0 } else { -1.0 } + noise * gauss as f32);
                label.push(u8::from(inside));
            }
        }
    }
    let mean = image.iter().map(|&v| v as f64).sum::<f64>() / image.len() as f64;
    let var = image
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / image.len() as f64;
    let std = var.sqrt();
    for v in &mut image {
        *v = ((*v as f64 - mean) / std) as f32;
    }
    TrainingPair::new(format!("blobs-{seed}"), image, label, shape)
        .expect("valid synthetic pair")
        .with_normalization(mean, std)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ctuq-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn job(variant: Variant, dir: &Path, epochs: usize) -> TrainJob {
    let config = TrainConfig::new(ModelConfig::new(variant).with_widths(NARROW))
        .with_chunk([16, 16, 16])
        .with_batch_size(2)
        .with_epochs(epochs)
        .with_lr0(5e-3);
    let output = dir.join(format!("{variant}.ctuq"));
    TrainJob {
        config,
        train: vec![blobs(1, [32, 32, 32], 0.3)],
        validation: vec![blobs(2, [24, 32, 32], 0.3)],
        checkpoint: default_checkpoint_path(&output),
        output,
        resume: false,
        device: Device::flex(),
    }
}

/// Runs a job on this thread and collects its events.
fn run(job: TrainJob) -> (Result<TrainOutcome, TrainError>, Vec<TrainEvent>) {
    let (sender, receiver) = mpsc::channel();
    let result = train(job, sender, Arc::new(AtomicBool::new(false)));
    (result, receiver.try_iter().collect())
}

fn steps(events: &[TrainEvent]) -> Vec<StepReport> {
    events
        .iter()
        .filter_map(|event| match event {
            TrainEvent::Step(report) => Some(report.clone()),
            _ => None,
        })
        .collect()
}

fn trains_past_95_percent(variant: Variant) {
    const MAX_EPOCHS: usize = 12;
    let dir = temp_dir(&format!("learn-{variant}"));
    let mut job = job(variant, &dir, MAX_EPOCHS);
    job.config.stop_at_accuracy = Some(0.95);
    let (result, events) = run(job);
    let outcome = result.expect("training runs");
    assert_eq!(outcome.status, TrainStatus::Finished);
    let first = outcome
        .history
        .first()
        .and_then(|e| e.validation)
        .expect("validated");
    let last = outcome
        .history
        .last()
        .and_then(|e| e.validation)
        .expect("validated");
    assert!(
        last.accuracy > 0.95,
        "{variant}: validation accuracy {:.4} after {MAX_EPOCHS} epochs; history {:?}",
        last.accuracy,
        outcome.history
    );
    assert!(
        first.accuracy < 0.95,
        "{variant}: the task is too easy to prove learning"
    );
    assert!(last.dice > 0.9, "{variant}: dice {:.3}", last.dice);
    let epochs = outcome.epochs_done;
    assert!(epochs < MAX_EPOCHS, "early stop expected");

    let steps = steps(&events);
    let m = steps[0].steps_per_epoch;
    assert_eq!(steps.len(), epochs * m);
    assert!(steps.iter().all(|s| s.bce.is_finite()));
    assert_eq!(
        steps.iter().all(|s| s.kl.is_some()),
        variant == Variant::Bcnn
    );
    for s in &steps {
        let expected = s.bce + s.kl.unwrap_or(0.0) / m as f64;
        assert!((s.loss - expected).abs() < 1e-9 * expected.max(1.0));
    }
    assert!(matches!(
        events.first(),
        Some(TrainEvent::Started { resumed: false, .. })
    ));
    assert!(matches!(events.last(), Some(TrainEvent::Finished { .. })));

    // The model file works on its own and says what it holds.
    let (header, network) =
        load_model(&outcome.model_path, Some(variant), &Device::flex()).expect("model file");
    assert_eq!(header.training.epochs, epochs);
    assert_eq!(header.training.val_accuracy, Some(last.accuracy));
    assert_eq!(header.chunk, [16, 16, 16]);
    assert_eq!(header.training.train[0].shape, [32, 32, 32]);
    let pair = blobs(2, [24, 32, 32], 0.3);
    let metrics = validate::validate(&network, &[pair], [16, 16, 16], 4, &Device::flex());
    assert_eq!(
        metrics,
        Some(last),
        "the saved model must score as the trained one"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn narrow_bcnn_learns_synthetic_blobs() {
    trains_past_95_percent(Variant::Bcnn);
}

#[test]
fn narrow_mcdn_learns_synthetic_blobs() {
    trains_past_95_percent(Variant::Mcdn);
}

#[test]
fn checkpoint_round_trip_keeps_weights_and_adam_state() {
    let dir = temp_dir("checkpoint");
    let device = Device::flex().autodiff();
    let config = TrainConfig::new(ModelConfig::new(Variant::Bcnn).with_widths(NARROW));
    let mut network = config.model.init(&device).expect("valid");
    let mut optimizer = checkpoint::adam();
    let x = Tensor::<5>::random([2, 1, 16, 16, 16], Distribution::Normal(0.0, 1.0), &device);
    let y = Tensor::<5>::random([2, 1, 16, 16, 16], Distribution::Bernoulli(0.3), &device);
    let step = |network: Network, optimizer: &mut ModuleOptimizer| {
        let loss = bce_with_logits(network.forward(x.clone(), DecoderMode::Mean), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &network);
        optimizer.step(1e-2, network, grads)
    };
    network = step(network, &mut optimizer);
    network = step(network, &mut optimizer);

    let header = CheckpointHeader {
        format_version: checkpoint::CHECKPOINT_FORMAT_VERSION,
        ctuq_version: "test".into(),
        config: config.clone(),
        progress: Progress {
            epochs_done: 2,
            steps_into_epoch: 0,
            global_step: 2,
            partial_bce_sum: 0.0,
            partial_kl_sum: 0.0,
        },
        history: Vec::new(),
        data: TrainingSummary::default(),
    };
    let path = dir.join("run.ckpt");
    checkpoint::save_checkpoint(&path, &header, &network, &optimizer).expect("save");
    let loaded = checkpoint::load_checkpoint(&path, &device).expect("load");
    assert_eq!(loaded.header, header);

    let mean = |network: &Network| network.forward(x.clone(), DecoderMode::Mean).into_data();
    assert_eq!(mean(&network), mean(&loaded.network));

    // One more step from each: identical only if Adam's moments came back too.
    let mut restored_optimizer = loaded.optimizer;
    let continued = step(network, &mut optimizer);
    let resumed = step(loaded.network, &mut restored_optimizer);
    let fresh = step(
        checkpoint::load_checkpoint(&path, &device)
            .expect("load")
            .network,
        &mut checkpoint::adam(),
    );
    assert_eq!(mean(&continued), mean(&resumed));
    assert_ne!(
        mean(&continued),
        mean(&fresh),
        "a fresh Adam should step differently"
    );

    // A model file is not a checkpoint, and garbage is neither.
    let model_path = dir.join("model.ctuq");
    std::fs::write(&model_path, b"CTUQ\0MDL\x01\0\0\0\0\0\0\0").expect("write");
    assert!(matches!(
        checkpoint::load_checkpoint(&model_path, &device),
        Err(ModelFileError::NotCtuqFile { .. })
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn resume_continues_the_epoch_count_and_the_step_count() {
    let dir = temp_dir("resume");
    let (first, _) = run(job(Variant::Mcdn, &dir, 2));
    let first = first.expect("first run");
    assert_eq!(first.epochs_done, 2);

    let mut again = job(Variant::Mcdn, &dir, 4);
    again.resume = true;
    let (second, events) = run(again);
    let second = second.expect("resumed run");
    assert_eq!(second.status, TrainStatus::Finished);
    assert_eq!(second.epochs_done, 4);
    let epochs: Vec<usize> = second.history.iter().map(|e| e.epoch).collect();
    assert_eq!(epochs, vec![1, 2, 3, 4]);
    assert!(matches!(
        events.first(),
        Some(TrainEvent::Started {
            first_epoch: 3,
            resumed: true,
            ..
        })
    ));
    let steps = steps(&events);
    let m = steps[0].steps_per_epoch;
    assert_eq!(steps[0].epoch, 3);
    assert_eq!(steps[0].global_step, first.global_step + 1);
    assert_eq!(second.global_step, 4 * m);

    // Other settings than the epoch count refuse to resume.
    let mut other = job(Variant::Mcdn, &dir, 5);
    other.resume = true;
    other.config.batch_size = 4;
    assert!(matches!(
        run(other).0,
        Err(TrainError::ResumeMismatch { .. })
    ));
    let mut missing = job(Variant::Mcdn, &dir, 5);
    missing.resume = true;
    missing.checkpoint = dir.join("none.ckpt");
    assert!(matches!(run(missing).0, Err(TrainError::NoCheckpoint(_))));
    let mut fewer = job(Variant::Mcdn, &dir, 3);
    fewer.resume = true;
    assert!(matches!(
        run(fewer).0,
        Err(TrainError::AlreadyTrained {
            done: 4,
            asked: 3,
            ..
        })
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cancel_mid_epoch_then_resume_finishes_the_run() {
    let dir = temp_dir("cancel");
    let cancel = Arc::new(AtomicBool::new(false));
    let (sender, receiver) = mpsc::channel();
    let worker = {
        let job = job(Variant::Bcnn, &dir, 2);
        let cancel = cancel.clone();
        thread::Builder::new()
            .name("train".into())
            .spawn(move || train(job, sender, cancel))
            .expect("spawn")
    };
    for event in receiver.iter() {
        if let TrainEvent::Step(report) = event
            && report.global_step == 3
        {
            cancel.store(true, Ordering::Relaxed);
        }
    }
    let cancelled = worker.join().expect("no panic").expect("cancelled cleanly");
    assert_eq!(cancelled.status, TrainStatus::Cancelled);
    assert_eq!(cancelled.epochs_done, 0);
    assert!(
        (3..=4).contains(&cancelled.global_step),
        "{}",
        cancelled.global_step
    );
    assert!(
        cancelled.model_path.exists(),
        "a cancelled run still writes its model"
    );

    let mut again = job(Variant::Bcnn, &dir, 2);
    again.resume = true;
    let (resumed, events) = run(again);
    let resumed = resumed.expect("resumed run");
    let steps = steps(&events);
    let m = steps[0].steps_per_epoch;
    assert_eq!(steps[0].epoch, 1);
    assert_eq!(steps[0].step, cancelled.global_step + 1);
    assert_eq!(steps[0].global_step, cancelled.global_step + 1);
    assert_eq!(resumed.epochs_done, 2);
    assert_eq!(resumed.global_step, 2 * m, "every batch runs exactly once");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_non_finite_loss_stops_with_a_clear_error_and_keeps_the_checkpoint() {
    let dir = temp_dir("nan");
    let mut first = job(Variant::Mcdn, &dir, 1);
    first.train = vec![blobs(1, [16, 16, 16], 0.5)];
    first.validation.clear();
    run(first.clone()).0.expect("first epoch");
    let good = std::fs::read(&first.checkpoint).expect("checkpoint");

    // Poison the data instead of hoping an LR diverges: an infinite voxel makes the loss NaN.
    let mut poisoned = first.clone();
    poisoned.resume = true;
    poisoned.config.epochs = 2;
    poisoned.train[0].image[0] = f32::INFINITY;
    let error = run(poisoned).0.expect_err("non-finite loss");
    assert!(
        matches!(error, TrainError::NonFiniteLoss { epoch: 2, .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("last good checkpoint"),
        "{error}"
    );
    assert_eq!(std::fs::read(&first.checkpoint).expect("checkpoint"), good);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_jobs_are_refused_before_any_work() {
    let dir = temp_dir("bad");
    let mut no_data = job(Variant::Mcdn, &dir, 1);
    no_data.train.clear();
    assert!(matches!(run(no_data).0, Err(TrainError::NoData)));
    let mut bad_chunk = job(Variant::Mcdn, &dir, 1);
    bad_chunk.config.chunk = [12, 16, 16];
    assert!(matches!(
        run(bad_chunk).0,
        Err(TrainError::Model(ModelError::BadChunk { .. }))
    ));
    let mut bad_lr = job(Variant::Mcdn, &dir, 1);
    bad_lr.config.lr0 = 0.0;
    assert!(matches!(run(bad_lr).0, Err(TrainError::Config(_))));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_divergence_before_any_checkpoint_says_there_is_none() {
    let error = TrainError::NonFiniteLoss {
        epoch: 1,
        step: 4,
        bce: 5.0e22,
        kl: Some(f64::INFINITY),
        checkpoint: None,
    };
    let message = error.to_string();
    assert!(message.contains("no checkpoint"), "{message}");
    assert!(
        message.contains("kl inf") && !message.contains("Some("),
        "{message}"
    );
}
