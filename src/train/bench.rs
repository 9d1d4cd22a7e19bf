//! Training-step timing for both variants, for `cargo bench` and a future `ctuq bench`.
//!
//! Times full steps (batch cut, forward, ELBO, backward, Adam) on random data after one
//! warm-up step, and reads the process's peak resident memory where the OS reports it.

use std::fmt::Write as _;
use std::time::Instant;

use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Tensor};

use super::loss::bce_with_logits;
use super::{TrainError, checkpoint};
use crate::model::{DecoderMode, ModelConfig, Variant, check_chunk_shape};

/// Timing of one configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTiming {
    /// The variant timed.
    pub variant: Variant,
    /// Chunk shape z, y, x.
    pub chunk: [usize; 3],
    /// Chunks per step.
    pub batch_size: usize,
    /// Steps timed (after one warm-up step).
    pub steps: usize,
    /// Mean seconds per step.
    pub mean_secs: f64,
    /// Fastest step in seconds.
    pub min_secs: f64,
    /// Peak resident memory of the process so far, in MiB (Linux only).
    pub peak_rss_mib: Option<f64>,
}

/// Times `steps` training steps of `config` on random chunks of `chunk` voxels.
pub fn time_training_steps(
    config: &ModelConfig,
    chunk: [usize; 3],
    batch_size: usize,
    steps: usize,
    device: &Device,
) -> Result<StepTiming, TrainError> {
    check_chunk_shape(chunk)?;
    let device = device.clone().autodiff();
    crate::memory::reset_peak_rss();
    let mut network = config.init(&device)?;
    let mut optimizer = checkpoint::adam();
    let shape = [batch_size.max(1), 1, chunk[0], chunk[1], chunk[2]];
    let mut times = Vec::with_capacity(steps);
    for step in 0..=steps.max(1) {
        let started = Instant::now();
        let images = Tensor::<5>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let labels = Tensor::<5>::random(shape, Distribution::Bernoulli(0.3), &device);
        let bce = bce_with_logits(network.forward(images, DecoderMode::Train), labels);
        let loss = match network.kl() {
            Some(kl) => bce + kl / 100.0,
            None => bce,
        };
        let grads = GradientsParams::from_grads(loss.backward(), &network);
        network = optimizer.step(1e-4, network, grads);
        // Reading a value waits for the backend to finish the step.
        let _ = network.decoder.kl().map(|kl| kl.into_scalar::<f64>());
        if step > 0 {
            times.push(started.elapsed().as_secs_f64());
        }
    }
    let mean_secs = times.iter().sum::<f64>() / times.len() as f64;
    let min_secs = times.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(StepTiming {
        variant: config.variant,
        chunk,
        batch_size: shape[0],
        steps: times.len(),
        mean_secs,
        min_secs,
        peak_rss_mib: peak_rss_mib(),
    })
}

pub use crate::memory::peak_rss_mib;

/// Formats timings as a table.
pub fn format_table(device_name: &str, timings: &[StepTiming]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "training step time on {device_name}");
    let _ = writeln!(
        out,
        "{:8} {:>14} {:>6} {:>6} {:>12} {:>12} {:>14}",
        "variant", "chunk", "batch", "steps", "mean ms", "min ms", "peak RSS MiB"
    );
    for t in timings {
        let chunk = format!("{}x{}x{}", t.chunk[0], t.chunk[1], t.chunk[2]);
        let rss = t
            .peak_rss_mib
            .map_or_else(|| "n/a".to_string(), |mib| format!("{mib:.0}"));
        let _ = writeln!(
            out,
            "{:8} {:>14} {:>6} {:>6} {:>12.1} {:>12.1} {:>14}",
            t.variant.name(),
            chunk,
            t.batch_size,
            t.steps,
            t.mean_secs * 1e3,
            t.min_secs * 1e3,
            rss
        );
    }
    out
}
