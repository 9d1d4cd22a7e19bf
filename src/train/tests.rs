//! End-to-end training tests on small synthetic volumes and a crop of the built-in cement
//! sample: learning, checkpoints, resume, cancellation and a NaN stop.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use burn::tensor::{Distribution, Tensor};

use super::rng::SplitMix64;
use super::*;
use crate::model::file::load_model;
use crate::volume::{ReadOptions, read_label, read_volume};

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

/// Where the cement tests crop the built-in sample (z, y, x) and how large: 32 x 64 x 64 voxels
/// with 14.6 % voids, against 8.5 % in the whole sample.
const CEMENT_CROP: ([usize; 3], [usize; 3]) = ([16, 32, 32], [32, 64, 64]);

/// The narrow widths of the cement tests. [`NARROW`] is too narrow here: spatial dropout of
/// whole channels out of four makes the MCDN's training signal mostly noise, and the BCNN's
/// four-channel Flipout layers train to "all background" (see `cement_job`).
const CEMENT_WIDTHS: [usize; 4] = [8, 16, 32, 64];

/// The crop of the built-in sample (`assets/`) the cement tests train and score on, z-scored
/// over the whole volume as the CLI does.
fn cement_crop() -> TrainingPair {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let options = ReadOptions::default();
    let volume = read_volume(&assets.join("cement.tif"), &options).expect("built-in sample");
    let label =
        read_label(&assets.join("cement_voids_label.tif"), &options, None).expect("built-in label");
    let (origin, shape) = CEMENT_CROP;
    TrainingPair::from_volume("cement", &volume, &label)
        .expect("image and label match")
        .crop(origin, shape)
        .expect("crop inside the sample")
}

/// A training job on the cement crop, validated on the crop itself.
///
/// N.B. with SPEC's loss (mean BCE + KL / M) the KL term is about 4000 against a BCE below 1
/// on this crop (M = 74), and its gradient outweighs the data's on every `rho` by two to four
/// orders of magnitude: Adam raises every posterior std by about `lr0` in `rho` per step, and
/// the means of the coarse decoder layers shrink towards 0 within the first epoch. The mean
/// network lags the noisy one, so the recipe is short: a high `lr0`, few epochs, and widths at
/// which the finest decoder stage keeps enough signal. Longer runs drift back down.
fn cement_job(variant: Variant, dir: &Path, pair: &TrainingPair) -> TrainJob {
    let config = TrainConfig::new(ModelConfig::new(variant).with_widths(CEMENT_WIDTHS))
        .with_chunk([16, 16, 16])
        .with_batch_size(2)
        .with_epochs(4)
        .with_lr0(1e-2)
        .with_stop_at_accuracy(Some(0.955));
    let output = dir.join(format!("cement-{variant}.ctuq"));
    TrainJob {
        config,
        train: vec![pair.clone()],
        validation: vec![pair.clone()],
        checkpoint: default_checkpoint_path(&output),
        output,
        resume: false,
        device: Device::flex(),
    }
}

/// Trains `variant` on the cement crop until the mean network's voxel accuracy on the crop
/// passes 0.95 (issue 3), then checks the model file scores the same.
fn learns_the_cement_voids(variant: Variant) {
    let dir = temp_dir(&format!("cement-{variant}"));
    let pair = cement_crop();
    let all_background = 1.0 - pair.foreground_fraction();
    let job = cement_job(variant, &dir, &pair);
    let max_epochs = job.config.epochs;
    let chunk = job.config.chunk;
    let started = std::time::Instant::now();
    let (result, events) = run(job);
    let outcome = result.expect("training runs");
    let m = steps(&events)[0].steps_per_epoch;
    for epoch in &outcome.history {
        let kl = epoch.mean_kl.unwrap_or(0.0);
        let scores = epoch.validation.expect("validated");
        println!(
            "{variant} epoch {}: bce {:.4}, kl {kl:.0} (kl / M {:.1}), accuracy {:.4}, dice {:.3}",
            epoch.epoch,
            epoch.mean_bce,
            kl / m as f64,
            scores.accuracy,
            scores.dice
        );
    }
    println!(
        "{variant}: {} epochs in {:.1} s; all background scores {all_background:.4}",
        outcome.epochs_done,
        started.elapsed().as_secs_f64()
    );

    assert!(outcome.epochs_done < max_epochs, "{variant}: no early stop");
    let (_, network) =
        load_model(&outcome.model_path, Some(variant), &Device::flex()).expect("model file");
    let scores = validate::validate(
        &network,
        std::slice::from_ref(&pair),
        chunk,
        4,
        &Device::flex(),
    )
    .expect("scored");
    assert_eq!(
        Some(scores),
        outcome.history.last().and_then(|e| e.validation),
        "the saved model must score as the trained one"
    );
    assert!(
        scores.accuracy > 0.95,
        "{variant}: accuracy {:.4}",
        scores.accuracy
    );
    // Clearly better than "all background": at most a third of its errors.
    assert!(
        1.0 - scores.accuracy < (1.0 - all_background) / 3.0,
        "{variant}: accuracy {:.4} against {all_background:.4} for all background",
        scores.accuracy
    );
    assert!(scores.dice > 0.8, "{variant}: void dice {:.3}", scores.dice);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn narrow_bcnn_learns_cement_voids() {
    learns_the_cement_voids(Variant::Bcnn);
}

#[test]
fn narrow_mcdn_learns_cement_voids() {
    learns_the_cement_voids(Variant::Mcdn);
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
