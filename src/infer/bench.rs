//! Inference speed: voxels per second and achieved GFLOP/s of a full Monte Carlo run, with
//! peak memory, for `ctuq bench`.
//!
//! The work per voxel is fixed by the network: the encoder once, the decoder once per sample.
//! [`macs_per_voxel`] counts it from the widths, so the achieved rate can be compared with
//! what the hardware offers.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use burn::tensor::Device;

use super::{InferConfig, NetworkSampler, engine};
use crate::model::{ModelConfig, Variant};
use crate::volume::{ChunkGrid, SampleType, Volume, VoxelSize};

/// Multiply-accumulates per input voxel of the (encoder, decoder + head) for `widths`.
///
/// A 3D convolution from `c_in` to `c_out` channels with a `k^3` kernel costs
/// `c_in * c_out * k^3` per output voxel; stage `i` works at `1 / 8^i` of the voxels.
pub fn macs_per_voxel(widths: [usize; 4]) -> (f64, f64) {
    let conv = |c_in: usize, c_out: usize, k: usize| (c_in * c_out * k * k * k) as f64;
    let mut encoder = 0.0;
    for (stage, &width) in widths.iter().enumerate() {
        let input = if stage == 0 { 1 } else { widths[stage - 1] };
        encoder += (conv(input, width, 3) + conv(width, width, 3)) / 8f64.powi(stage as i32);
    }
    let mut decoder = 0.0;
    for stage in 0..3 {
        let level = 2 - stage;
        let channels = widths[level];
        let below = widths[level + 1];
        let work = conv(below, channels, 2)
            + conv(2 * channels, channels, 3)
            + conv(channels, channels, 3);
        decoder += work / 8f64.powi(level as i32);
    }
    decoder += conv(widths[0], 1, 3) + conv(1, 1, 1);
    (encoder, decoder)
}

/// One row of the inference benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct InferTiming {
    /// The variant.
    pub variant: Variant,
    /// Side of the cubic volume.
    pub side: usize,
    /// Monte Carlo samples.
    pub samples: usize,
    /// Chunk side used.
    pub chunk: usize,
    /// Wall time of the whole run, seconds.
    pub secs: f64,
    /// Volume voxels per second.
    pub voxels_per_sec: f64,
    /// Achieved GFLOP/s, counting the voxels of every chunk (overlaps included).
    pub gflops: f64,
    /// Peak resident memory during the run, MiB (Linux).
    pub peak_rss_mib: Option<f64>,
}

/// Times a `samples`-sample run of a fresh network of `config` on a random `side^3` volume.
pub fn time_inference(
    config: &ModelConfig,
    side: usize,
    samples: usize,
    chunk: usize,
    device: &Device,
) -> Result<InferTiming, engine::InferError> {
    let shape = [side; 3];
    let voxels: Vec<f32> = (0..side * side * side)
        .map(|i| ((i * 7919) % 251) as f32)
        .collect();
    let volume = Volume {
        shape,
        voxels,
        voxel_size: VoxelSize::unknown(),
        source_type: SampleType::F32,
        value_range: None,
    };
    let network = config
        .init(device)
        .map_err(|e| engine::InferError::Config(e.to_string()))?;
    let infer_config = InferConfig {
        samples,
        chunk: [chunk; 3],
        overlap: [chunk / 4; 3],
        ..InferConfig::default()
    };
    let grid = ChunkGrid::new(shape, infer_config.chunk, infer_config.overlap)
        .map_err(|e| engine::InferError::Config(e.to_string()))?;
    let processed: usize = grid
        .chunks()
        .map(|c| c.size.iter().product::<usize>())
        .sum();

    crate::memory::reset_peak_rss();
    let started = Instant::now();
    let sampler = NetworkSampler::new(&network, device, samples, 0);
    engine::run(
        &sampler,
        &volume,
        &infer_config,
        None,
        &AtomicBool::new(false),
    )?;
    let secs = started.elapsed().as_secs_f64();

    let (encoder, decoder) = macs_per_voxel(config.widths);
    let flops = 2.0 * processed as f64 * (encoder + samples as f64 * decoder);
    Ok(InferTiming {
        variant: config.variant,
        side,
        samples,
        chunk: grid.chunk[0],
        secs,
        voxels_per_sec: (side * side * side) as f64 / secs,
        gflops: flops / secs / 1e9,
        peak_rss_mib: crate::memory::peak_rss_mib(),
    })
}

/// Formats inference timings as a table.
pub fn format_table(device_name: &str, timings: &[InferTiming]) -> String {
    let mut out = format!("Monte Carlo inference on {device_name}\n");
    out.push_str(&format!(
        "{:8} {:>8} {:>7} {:>6} {:>9} {:>12} {:>8} {:>13}\n",
        "variant", "volume", "samples", "chunk", "seconds", "voxels/s", "GFLOP/s", "peak RSS MiB"
    ));
    for t in timings {
        let rss = t
            .peak_rss_mib
            .map_or_else(|| "n/a".to_string(), |mib| format!("{mib:.0}"));
        out.push_str(&format!(
            "{:8} {:>8} {:>7} {:>6} {:>9.1} {:>12.0} {:>8.2} {:>13}\n",
            t.variant.name(),
            format!("{}^3", t.side),
            t.samples,
            t.chunk,
            t.secs,
            t.voxels_per_sec,
            t.gflops,
            rss
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_per_voxel_matches_the_hand_count() {
        // Worked out in the issue: about 16 kMAC for the encoder, 44 kMAC for the decoder.
        let (encoder, decoder) = macs_per_voxel([16, 32, 64, 128]);
        assert_eq!(encoder, 7344.0 + 5184.0 + 2592.0 + 1296.0);
        assert_eq!(decoder, 24832.0 + 12416.0 + 6208.0 + 433.0);
    }
}
