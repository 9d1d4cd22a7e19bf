//! Issue 3's acceptance test: the narrow twin of each variant, trained on a crop of the
//! built-in cement sample, passes 0.95 voxel accuracy on that crop.
//!
//! N.B. This is its own test binary with a single test on purpose. burn draws weight
//! initializations and Flipout noise from one process-wide generator, so tests running beside
//! it in the same process would change its draws and make the outcome depend on scheduling.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;

use burn::tensor::Device;
use ctuq::model::file::load_model;
use ctuq::model::{ModelConfig, Variant};
use ctuq::train::validate::validate;
use ctuq::train::{
    TrainConfig, TrainEvent, TrainJob, TrainingPair, default_checkpoint_path, train,
};
use ctuq::volume::{ReadOptions, read_label, read_volume};

/// Where the crop lies (z, y, x) and how large: 32 x 64 x 64 voxels with 14.6 % voids,
/// against 8.5 % in the whole sample.
const CEMENT_CROP: ([usize; 3], [usize; 3]) = ([16, 32, 32], [32, 64, 64]);

/// The narrow widths. [4, 8, 16, 32] is too narrow here: spatial dropout of whole channels
/// out of four makes the MCDN's training signal mostly noise, and the BCNN's four-channel
/// Flipout layers train to "all background" (see `cement_job`).
const CEMENT_WIDTHS: [usize; 4] = [8, 16, 32, 64];

/// The crop, z-scored over the whole volume as the CLI does.
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

/// A training job on the crop, validated on the crop itself.
///
/// N.B. With SPEC's loss (mean BCE + KL / M) the KL term is about 4000 against a BCE below 1
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

/// Trains `variant` on the crop until the mean network passes 0.95 voxel accuracy on it, then
/// checks that the model file scores the same.
fn learns_the_cement_voids(variant: Variant) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let pair = cement_crop();
    let all_background = 1.0 - pair.foreground_fraction();
    let job = cement_job(variant, dir.path(), &pair);
    let max_epochs = job.config.epochs;
    let chunk = job.config.chunk;

    let (sender, receiver) = mpsc::channel();
    let outcome = train(job, sender, Arc::new(AtomicBool::new(false))).expect("training runs");
    let steps_per_epoch = receiver
        .try_iter()
        .find_map(|event| match event {
            TrainEvent::Started {
                steps_per_epoch, ..
            } => Some(steps_per_epoch),
            _ => None,
        })
        .expect("a start event");
    for epoch in &outcome.history {
        let kl = epoch.mean_kl.unwrap_or(0.0);
        let scores = epoch.validation.expect("validated");
        println!(
            "{variant} epoch {}: bce {:.4}, kl {kl:.0} (kl / M {:.1}), accuracy {:.4}, dice {:.3}",
            epoch.epoch,
            epoch.mean_bce,
            kl / steps_per_epoch as f64,
            scores.accuracy,
            scores.dice
        );
    }

    assert!(outcome.epochs_done < max_epochs, "{variant}: no early stop");
    let (_, network) =
        load_model(&outcome.model_path, Some(variant), &Device::flex()).expect("model file");
    let scores = validate(
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
}

#[test]
fn narrow_twins_learn_the_cement_voids() {
    learns_the_cement_voids(Variant::Bcnn);
    learns_the_cement_voids(Variant::Mcdn);
}
