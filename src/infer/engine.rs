//! The Monte Carlo loop: chunk by chunk, the encoder once, the decoder once per sample, and
//! the per-voxel statistics of the chunk's owned region written into the result maps.
//!
//! Sample t is one draw of the decoder (weights for the BCNN, channel masks for the MCDN)
//! used for *every* chunk, so the chunks of one sample stitch into one consistent volume and
//! the spread across samples is never shrunk at seams. Memory grows with the chunk size times
//! the number of samples, not with the volume: a chunk's T samples are summarized and dropped
//! before the next chunk starts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::Instant;

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{ResultMaps, summarize};
use crate::model::{DecoderMode, DecoderSample, Network, crop_chunk, pad_chunk};
use crate::volume::{Chunk, ChunkGrid, Volume, ZScore};

/// Settings of one Monte Carlo run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InferConfig {
    /// Monte Carlo samples T (the paper used 48).
    pub samples: usize,
    /// Lower percentile, 0 to 100 (default 20, the second decile).
    pub lower_percentile: f64,
    /// Upper percentile, 0 to 100 (default 80, the eighth decile).
    pub upper_percentile: f64,
    /// Chunk size (z, y, x); clamped to the volume.
    pub chunk: [usize; 3],
    /// Overlap of neighbouring chunks (z, y, x); each chunk keeps its half of an overlap.
    pub overlap: [usize; 3],
    /// Seed of the sample draws: the same seed gives the same maps.
    pub seed: u64,
}

impl Default for InferConfig {
    fn default() -> Self {
        InferConfig {
            samples: 48,
            lower_percentile: 20.0,
            upper_percentile: 80.0,
            chunk: [64, 64, 64],
            overlap: [16, 16, 16],
            seed: 0,
        }
    }
}

/// The chunking used when the user gives none: chunks of at least 64 voxels a side (or the
/// model's training chunk if larger), and a single chunk along any axis of at most twice
/// that, where splitting would only add overlap work. Overlap is a quarter of the chunk.
///
/// Returns (chunk, overlap).
pub fn default_chunking(model_chunk: [usize; 3], shape: [usize; 3]) -> ([usize; 3], [usize; 3]) {
    let chunk = [0, 1, 2].map(|axis| {
        let side = model_chunk[axis].max(64);
        if shape[axis] <= 2 * side {
            shape[axis].max(1)
        } else {
            side
        }
    });
    (chunk, chunk.map(|side| side / 4))
}

/// Progress of a run, sent as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum InferEvent {
    /// The run starts: this many chunks, each sampled `samples` times.
    Started {
        /// Chunks in the grid.
        chunks: usize,
        /// Samples per chunk.
        samples: usize,
    },
    /// One sample of a chunk is done. Progress within a chunk: a volume that fits in one chunk
    /// (the built-in sample does) would otherwise report nothing until the end.
    SampleDone {
        /// The chunk being sampled, from 1.
        chunk: usize,
        /// Chunks in all.
        chunks: usize,
        /// Samples of this chunk done, from 1.
        sample: usize,
        /// Samples per chunk.
        samples: usize,
    },
    /// A chunk is done and its region of the maps is final.
    ChunkDone {
        /// Chunks done so far.
        done: usize,
        /// Chunks in all.
        total: usize,
        /// Seconds since the start.
        elapsed_secs: f64,
    },
}

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The settings are unusable.
    #[error("{0}")]
    Config(String),
    /// The user cancelled; nothing was written.
    #[error("cancelled")]
    Cancelled,
    /// The network gave NaN or infinite probabilities: its weights are broken.
    #[error(
        "the network gave NaN or infinite probabilities (chunk {chunk} of {chunks}): the model \
         file may be damaged or its training diverged; retrain it or use another model"
    )]
    NotFinite {
        /// The chunk, from 1.
        chunk: usize,
        /// Chunks in all.
        chunks: usize,
    },
}

/// What produces T probability samples for one chunk. The network is the real one; tests
/// use simple stand-ins to check the stitching exactly.
pub trait ChunkSampler {
    /// Number of samples this sampler draws per chunk.
    fn sample_count(&self) -> usize;

    /// Probabilities of every sample for a normalized chunk of `size` voxels (z, y, x), laid
    /// out sample-major: `T x voxels`. After each sample it calls `on_sample` with the samples
    /// so far, laid out the same way. Returns `None` if cancelled between samples.
    fn sample_chunk(
        &self,
        chunk: Vec<f32>,
        size: [usize; 3],
        cancel: &AtomicBool,
        on_sample: &mut dyn FnMut(&[f32]),
    ) -> Option<Vec<f32>>;
}

/// The network with T decoder draws made up front from the seed.
pub struct NetworkSampler<'a> {
    network: &'a Network,
    device: Device,
    draws: Vec<DecoderSample>,
}

impl<'a> NetworkSampler<'a> {
    /// Draws `samples` decoder samples from `seed`.
    pub fn new(network: &'a Network, device: &Device, samples: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let draws = (0..samples)
            .map(|_| network.draw_sample_seeded(&mut rng, device))
            .collect();
        NetworkSampler {
            network,
            device: device.clone(),
            draws,
        }
    }
}

impl ChunkSampler for NetworkSampler<'_> {
    fn sample_count(&self) -> usize {
        self.draws.len()
    }

    fn sample_chunk(
        &self,
        chunk: Vec<f32>,
        size: [usize; 3],
        cancel: &AtomicBool,
        on_sample: &mut dyn FnMut(&[f32]),
    ) -> Option<Vec<f32>> {
        let [d, h, w] = size;
        let input = Tensor::<5>::from_data(TensorData::new(chunk, [1, 1, d, h, w]), &self.device);
        let (input, size) = pad_chunk(input);
        let features = self.network.encode(input);
        let mut probabilities = Vec::with_capacity(self.draws.len() * d * h * w);
        for draw in &self.draws {
            if cancel.load(Ordering::Relaxed) {
                return None;
            }
            let logits = self.network.decode(&features, DecoderMode::Sample(draw));
            let sample = sigmoid(crop_chunk(logits, size)).into_data();
            match sample.try_into_vec::<f32>() {
                Ok(values) => probabilities.extend(values),
                Err(error) => panic!("BUG: network output is not f32: {error:?}"),
            }
            on_sample(&probabilities);
        }
        Some(probabilities)
    }
}

/// The deterministic network: one "sample" at the mean weights (BCNN) or without dropout
/// (MCDN). A quick preview, and a reference that the stitching can be checked against.
pub struct MeanSampler<'a> {
    network: &'a Network,
    device: Device,
}

impl<'a> MeanSampler<'a> {
    /// Wraps `network` on `device`.
    pub fn new(network: &'a Network, device: &Device) -> Self {
        MeanSampler {
            network,
            device: device.clone(),
        }
    }
}

impl ChunkSampler for MeanSampler<'_> {
    fn sample_count(&self) -> usize {
        1
    }

    fn sample_chunk(
        &self,
        chunk: Vec<f32>,
        size: [usize; 3],
        cancel: &AtomicBool,
        on_sample: &mut dyn FnMut(&[f32]),
    ) -> Option<Vec<f32>> {
        if cancel.load(Ordering::Relaxed) {
            return None;
        }
        let [d, h, w] = size;
        let input = Tensor::<5>::from_data(TensorData::new(chunk, [1, 1, d, h, w]), &self.device);
        let (input, size) = pad_chunk(input);
        let logits = self.network.forward(input, DecoderMode::Mean);
        let values = match sigmoid(crop_chunk(logits, size))
            .into_data()
            .try_into_vec::<f32>()
        {
            Ok(values) => values,
            Err(error) => panic!("BUG: network output is not f32: {error:?}"),
        };
        on_sample(&values);
        Some(values)
    }
}

/// A look at the maps before the run ends, for a viewer that shows results as they come.
///
/// The chunks done so far hold their final statistics; the chunk being sampled holds the
/// statistics of its first [`Preview::samples`] samples; chunks not reached yet are zero.
#[derive(Debug, Clone, Copy)]
pub struct Preview<'a> {
    /// The maps as they stand.
    pub maps: &'a ResultMaps,
    /// The chunk being sampled, from 1.
    pub chunk: usize,
    /// Chunks in all.
    pub chunks: usize,
    /// Samples summarized in that chunk.
    pub samples: usize,
    /// Samples per chunk at the end.
    pub samples_per_chunk: usize,
}

/// Whether a chunk is previewed after its `sample`-th sample: at 2, 4, 8, ... samples, the
/// first counts with an interval at all, doubling so that previews cost a few summaries of the
/// chunk in all (the last sample is the chunk's final summary, never a preview).
fn previews_after(sample: usize, samples_per_chunk: usize) -> bool {
    sample >= 2 && sample < samples_per_chunk && sample.is_power_of_two()
}

/// Runs Monte Carlo inference over `volume` and returns its result maps.
pub fn run(
    sampler: &dyn ChunkSampler,
    volume: &Volume,
    config: &InferConfig,
    events: Option<&Sender<InferEvent>>,
    cancel: &AtomicBool,
) -> Result<ResultMaps, InferError> {
    run_with_previews(sampler, volume, config, events, cancel, None)
}

/// [`run`], handing `preview` the maps as they stand after 2, 4, 8, ... samples of each chunk
/// and after each chunk but the last. A preview summarizes the chunk's samples so far into
/// the maps, which the chunk's final summary then overwrites: it costs time, no memory.
pub fn run_with_previews(
    sampler: &dyn ChunkSampler,
    volume: &Volume,
    config: &InferConfig,
    events: Option<&Sender<InferEvent>>,
    cancel: &AtomicBool,
    mut preview: Option<&mut dyn FnMut(Preview<'_>)>,
) -> Result<ResultMaps, InferError> {
    check_config(config, volume.shape)?;
    let started = Instant::now();
    let normalized = ZScore::fit(&volume.voxels).apply(&volume.voxels);
    let overlap = [0, 1, 2].map(|axis| config.overlap[axis].min(config.chunk[axis] - 1));
    let grid = ChunkGrid::new(volume.shape, config.chunk, overlap)
        .map_err(|e| InferError::Config(e.to_string()))?;
    let total = grid.len();
    send(
        events,
        InferEvent::Started {
            chunks: total,
            samples: sampler.sample_count(),
        },
    );
    tracing::debug!(chunks = total, chunk = ?grid.chunk, "inference grid");

    let mut maps = ResultMaps::zeros(volume.shape, volume.voxel_size.clone());
    let samples_per_chunk = sampler.sample_count();
    for (done, chunk) in grid.chunks().enumerate() {
        let input = chunk.extract(&normalized, volume.shape);
        let mut sample = 0;
        let mut on_sample = |so_far: &[f32]| {
            sample += 1;
            send(
                events,
                InferEvent::SampleDone {
                    chunk: done + 1,
                    chunks: total,
                    sample,
                    samples: samples_per_chunk,
                },
            );
            if let Some(preview) = preview.as_mut()
                && previews_after(sample, samples_per_chunk)
            {
                summarize_owned(&chunk, so_far, sample, config, &mut maps);
                preview(Preview {
                    maps: &maps,
                    chunk: done + 1,
                    chunks: total,
                    samples: sample,
                    samples_per_chunk,
                });
            }
        };
        let samples = sampler
            .sample_chunk(input, chunk.size, cancel, &mut on_sample)
            .ok_or(InferError::Cancelled)?;
        if samples.iter().any(|p| !p.is_finite()) {
            return Err(InferError::NotFinite {
                chunk: done + 1,
                chunks: total,
            });
        }
        summarize_owned(&chunk, &samples, samples_per_chunk, config, &mut maps);
        let elapsed_secs = started.elapsed().as_secs_f64();
        send(
            events,
            InferEvent::ChunkDone {
                done: done + 1,
                total,
                elapsed_secs,
            },
        );
        if let Some(preview) = preview.as_mut()
            && done + 1 < total
        {
            preview(Preview {
                maps: &maps,
                chunk: done + 1,
                chunks: total,
                samples: samples_per_chunk,
                samples_per_chunk,
            });
        }
    }
    Ok(maps)
}

/// Summarizes the samples of every voxel the chunk owns into the maps.
fn summarize_owned(
    chunk: &Chunk,
    samples: &[f32],
    sample_count: usize,
    config: &InferConfig,
    maps: &mut ResultMaps,
) {
    let [_, height, width] = chunk.size;
    let chunk_voxels = chunk.size.iter().product::<usize>();
    let [_, volume_height, volume_width] = maps.shape;
    let mut voxel_samples = vec![0f32; sample_count];
    for z in chunk.owned[0].clone() {
        for y in chunk.owned[1].clone() {
            for x in chunk.owned[2].clone() {
                let in_chunk = ((z - chunk.origin[0]) * height + (y - chunk.origin[1])) * width
                    + (x - chunk.origin[2]);
                for (t, value) in voxel_samples.iter_mut().enumerate() {
                    *value = samples[t * chunk_voxels + in_chunk];
                }
                let summary = summarize(
                    &mut voxel_samples,
                    config.lower_percentile,
                    config.upper_percentile,
                );
                maps.set((z * volume_height + y) * volume_width + x, summary);
            }
        }
    }
}

/// Refuses settings that cannot give a meaningful result.
/// Checks `config` for a volume of `shape` without running anything, so that a command can
/// refuse bad settings before it prepares its outputs; [`run`] checks the same.
///
/// # Errors
/// The settings are unusable; the message says which and why.
pub fn check_config(config: &InferConfig, shape: [usize; 3]) -> Result<(), InferError> {
    check(config)?;
    check_grid(config, shape)
}

fn check(config: &InferConfig) -> Result<(), InferError> {
    if config.samples == 0 {
        return Err(InferError::Config("--samples must be at least 1".into()));
    }
    let percentile_ok = |q: f64| (0.0..=100.0).contains(&q);
    if !percentile_ok(config.lower_percentile)
        || !percentile_ok(config.upper_percentile)
        || config.lower_percentile > config.upper_percentile
    {
        return Err(InferError::Config(format!(
            "percentiles must satisfy 0 <= lower <= upper <= 100, got {} and {}",
            config.lower_percentile, config.upper_percentile
        )));
    }
    if config.chunk.contains(&0) {
        return Err(InferError::Config(format!(
            "chunk {:?} has a zero side",
            config.chunk
        )));
    }
    Ok(())
}

/// Refuses chunks too small for the network and overlaps that leave no step between chunks
/// (which would make the grid one chunk per voxel), on the axes where the chunk is smaller
/// than the volume; where it covers the axis, one chunk does and the overlap is moot.
fn check_grid(config: &InferConfig, shape: [usize; 3]) -> Result<(), InferError> {
    for ((&chunk, &overlap), &side) in config.chunk.iter().zip(&config.overlap).zip(&shape) {
        if chunk.min(side) < MIN_CHUNK_SIDE.min(side) {
            return Err(InferError::Config(format!(
                "--chunk {:?} has a side under {MIN_CHUNK_SIDE}: the network would see too \
                 little around each voxel",
                config.chunk
            )));
        }
        if chunk < side && overlap >= chunk {
            return Err(InferError::Config(format!(
                "--overlap {:?} must be smaller than --chunk {:?} on every axis the chunk does \
                 not cover whole (a quarter of the chunk is the default)",
                config.overlap, config.chunk
            )));
        }
    }
    Ok(())
}

/// The smallest chunk side inference accepts: the network's three poolings take a side of 8
/// down to one voxel.
pub const MIN_CHUNK_SIDE: usize = 8;

fn send(events: Option<&Sender<InferEvent>>, event: InferEvent) {
    if let Some(events) = events {
        // N.B. A receiver that went away (a closed viewer panel) must not stop the run.
        let _ = events.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::VoxelSummary;
    use crate::model::{ModelConfig, Variant};
    use crate::volume::{SampleType, VoxelSize};

    /// A sampler whose sample t at a voxel depends on that voxel alone, so chunked and whole
    /// runs must agree exactly.
    struct Pointwise(usize);

    impl ChunkSampler for Pointwise {
        fn sample_count(&self) -> usize {
            self.0
        }

        fn sample_chunk(
            &self,
            chunk: Vec<f32>,
            _: [usize; 3],
            _: &AtomicBool,
            on_sample: &mut dyn FnMut(&[f32]),
        ) -> Option<Vec<f32>> {
            let squash = |v: f32| 1.0 / (1.0 + (-v).exp());
            let mut samples = Vec::with_capacity(self.0 * chunk.len());
            for t in 0..self.0 {
                samples.extend(chunk.iter().map(|&v| squash(v + t as f32 * 0.1)));
                on_sample(&samples);
            }
            Some(samples)
        }
    }

    fn volume(shape: [usize; 3]) -> Volume {
        let len = shape.iter().product::<usize>();
        Volume {
            shape,
            voxels: (0..len).map(|i| ((i * 7919) % 113) as f32).collect(),
            voxel_size: VoxelSize::unknown(),
            source_type: SampleType::F32,
            value_range: None,
        }
    }

    #[test]
    fn chunked_run_equals_whole_volume_statistics() {
        let volume = volume([37, 30, 21]);
        let config = InferConfig {
            samples: 5,
            chunk: [16, 16, 16],
            overlap: [4, 6, 8],
            ..InferConfig::default()
        };
        let maps = run(
            &Pointwise(5),
            &volume,
            &config,
            None,
            &AtomicBool::new(false),
        )
        .unwrap();

        let normalized = ZScore::fit(&volume.voxels).apply(&volume.voxels);
        let all = Pointwise(5).sample_chunk(
            normalized.clone(),
            volume.shape,
            &AtomicBool::new(false),
            &mut |_| {},
        );
        let all = all.unwrap();
        for i in 0..normalized.len() {
            let mut samples: Vec<f32> = (0..5).map(|t| all[t * normalized.len() + i]).collect();
            let expected: VoxelSummary = summarize(&mut samples, 20.0, 80.0);
            assert_eq!(maps.mean[i], expected.mean, "voxel {i}");
            assert_eq!(maps.lower[i], expected.lower);
            assert_eq!(maps.upper[i], expected.upper);
            assert_eq!(maps.std[i], expected.std);
        }
    }

    #[test]
    fn previews_show_finished_chunks_and_the_samples_so_far() {
        let volume = volume([6, 10, 20]);
        let config = InferConfig {
            samples: 8,
            chunk: [6, 10, 12],
            overlap: [0, 0, 4],
            ..InferConfig::default()
        };
        let cancel = AtomicBool::new(false);
        let reference = |samples: usize| {
            let config = InferConfig {
                samples,
                ..config.clone()
            };
            run(&Pointwise(samples), &volume, &config, None, &cancel).unwrap()
        };
        let (two, four, all) = (reference(2), reference(4), reference(8));
        let grid = ChunkGrid::new(volume.shape, config.chunk, config.overlap).unwrap();
        let owned_by_first = |index: usize| {
            let x = index % 20;
            grid.chunks().next().unwrap().owned[2].contains(&x)
        };
        assert_eq!(grid.len(), 2);

        let mut seen = Vec::new();
        let mut check = |preview: Preview<'_>| {
            let expected_in_chunk = match preview.samples {
                2 => &two,
                4 => &four,
                8 => &all,
                other => panic!("a preview after {other} samples"),
            };
            for (index, &mean) in preview.maps.mean.iter().enumerate() {
                let expected = match (preview.chunk, owned_by_first(index)) {
                    (1, true) | (2, false) => expected_in_chunk.mean[index],
                    (1, false) => 0.0,
                    (2, true) => all.mean[index],
                    (other, _) => panic!("a preview of chunk {other} of 2"),
                };
                assert_eq!(mean, expected, "chunk {}, voxel {index}", preview.chunk);
            }
            seen.push((preview.chunk, preview.samples));
        };
        let maps = run_with_previews(
            &Pointwise(8),
            &volume,
            &config,
            None,
            &cancel,
            Some(&mut check),
        )
        .unwrap();

        assert_eq!(seen, [(1, 2), (1, 4), (1, 8), (2, 2), (2, 4)]);
        assert!(maps.mean == all.mean && maps.uncertainty == all.uncertainty);
    }

    /// A sampler whose network is broken: every probability is NaN.
    struct Broken;

    impl ChunkSampler for Broken {
        fn sample_count(&self) -> usize {
            2
        }

        fn sample_chunk(
            &self,
            chunk: Vec<f32>,
            _: [usize; 3],
            _: &AtomicBool,
            _: &mut dyn FnMut(&[f32]),
        ) -> Option<Vec<f32>> {
            Some(vec![f32::NAN; 2 * chunk.len()])
        }
    }

    #[test]
    fn a_network_giving_nan_is_an_error_not_a_map() {
        let volume = volume([8, 8, 8]);
        let config = InferConfig {
            samples: 2,
            ..InferConfig::default()
        };
        let result = run(&Broken, &volume, &config, None, &AtomicBool::new(false));
        assert!(
            matches!(result, Err(InferError::NotFinite { chunk: 1, .. })),
            "{:?}",
            result.err()
        );
    }

    #[test]
    fn grids_without_a_step_or_with_tiny_chunks_are_refused() {
        let volume = volume([6, 20, 20]);
        let cancel = AtomicBool::new(false);
        let run_with = |chunk: [usize; 3], overlap: [usize; 3]| {
            let config = InferConfig {
                samples: 2,
                chunk,
                overlap,
                ..InferConfig::default()
            };
            run(&Pointwise(2), &volume, &config, None, &cancel)
        };

        let error = run_with([8, 8, 8], [2, 8, 2]).expect_err("refused");
        assert!(error.to_string().contains("--overlap"), "{error}");
        let error = run_with([6, 4, 8], [0, 0, 0]).expect_err("refused");
        assert!(error.to_string().contains("under 8"), "{error}");
        // A chunk covering an axis whole (z here) has no step to lose; a short axis may be
        // shorter than 8.
        assert!(run_with([6, 10, 10], [6, 4, 4]).is_ok());
    }

    #[test]
    fn default_chunking_avoids_needless_splits() {
        assert_eq!(
            default_chunking([16, 16, 16], [128, 128, 128]).0,
            [128, 128, 128]
        );
        let (chunk, overlap) = default_chunking([16, 16, 16], [512, 100, 129]);
        assert_eq!(chunk, [64, 100, 64]);
        assert_eq!(overlap, [16, 25, 16]);
        assert_eq!(
            default_chunking([96, 96, 96], [400, 400, 400]).0,
            [96, 96, 96]
        );
    }

    #[test]
    fn events_report_every_chunk_and_cancel_stops() {
        let volume = volume([20, 20, 20]);
        let config = InferConfig {
            samples: 2,
            chunk: [8, 8, 8],
            overlap: [2, 2, 2],
            ..InferConfig::default()
        };
        let (sender, receiver) = std::sync::mpsc::channel();
        run(
            &Pointwise(2),
            &volume,
            &config,
            Some(&sender),
            &AtomicBool::new(false),
        )
        .unwrap();
        let events: Vec<InferEvent> = receiver.try_iter().collect();
        let chunks = match events[0] {
            InferEvent::Started { chunks, samples: 2 } => chunks,
            ref other => panic!("first event {other:?}"),
        };
        let sample_events = events
            .iter()
            .filter(|e| matches!(e, InferEvent::SampleDone { samples: 2, .. }))
            .count();
        assert_eq!(
            sample_events,
            2 * chunks,
            "one event per sample of each chunk"
        );
        assert!(matches!(
            events[1..3],
            [
                InferEvent::SampleDone {
                    chunk: 1,
                    sample: 1,
                    ..
                },
                InferEvent::SampleDone {
                    chunk: 1,
                    sample: 2,
                    ..
                }
            ]
        ));
        assert_eq!(events.len(), 1 + 3 * chunks);
        assert!(
            matches!(events.last(), Some(InferEvent::ChunkDone { done, total, .. })
            if *done == chunks && *total == chunks)
        );

        let cancelled = run(
            &Pointwise(2),
            &volume,
            &config,
            None,
            &AtomicBool::new(true),
        );
        assert!(matches!(cancelled, Err(InferError::Cancelled)) || cancelled.is_ok());
    }

    /// With one chunk covering the volume, the chunk pipeline (normalize, pad to a multiple
    /// of 8, crop, stitch, summarize) gives exactly the network's own output.
    ///
    /// N.B. With several chunks the result differs slightly from a whole-volume pass even for
    /// the deterministic network: GroupNorm takes its statistics over each chunk, as in the
    /// paper. The pointwise test above checks the stitching of many chunks exactly.
    #[test]
    fn deterministic_network_through_the_pipeline_equals_a_whole_pass() {
        let device = Device::flex();
        let volume = volume([10, 20, 13]);
        for variant in [Variant::Bcnn, Variant::Mcdn] {
            let network = ModelConfig::new(variant)
                .with_widths([4, 8, 8, 8])
                .init(&device)
                .unwrap();
            let config = InferConfig {
                samples: 1,
                chunk: [64, 64, 64],
                ..InferConfig::default()
            };
            let cancel = AtomicBool::new(false);
            let maps = run(
                &MeanSampler::new(&network, &device),
                &volume,
                &config,
                None,
                &cancel,
            )
            .unwrap();

            let normalized = ZScore::fit(&volume.voxels).apply(&volume.voxels);
            let whole = MeanSampler::new(&network, &device)
                .sample_chunk(normalized, volume.shape, &cancel, &mut |_| {})
                .unwrap();
            assert!(maps.mean == whole, "{variant:?}");
            assert!(
                maps.uncertainty.iter().all(|&u| u == 0.0),
                "one sample, no spread"
            );
            let again = run(
                &MeanSampler::new(&network, &device),
                &volume,
                &config,
                None,
                &cancel,
            )
            .unwrap();
            assert!(
                again.mean == maps.mean,
                "{variant:?}: the mean network is deterministic"
            );
        }
    }

    #[test]
    fn network_runs_are_reproducible_per_seed_and_uncertain() {
        let device = Device::flex();
        let volume = volume([12, 20, 20]);
        let config = InferConfig {
            samples: 4,
            chunk: [8, 16, 16],
            overlap: [4, 8, 8],
            ..InferConfig::default()
        };
        let cancel = AtomicBool::new(false);
        for variant in [Variant::Bcnn, Variant::Mcdn] {
            let network = ModelConfig::new(variant)
                .with_widths([4, 8, 8, 8])
                .init(&device)
                .unwrap();
            let maps = |seed| {
                let sampler = NetworkSampler::new(&network, &device, 4, seed);
                run(&sampler, &volume, &config, None, &cancel).unwrap()
            };
            let (first, again, other) = (maps(5), maps(5), maps(6));
            assert!(first == again, "{variant:?}: same seed, same maps");
            assert!(
                first.mean != other.mean,
                "{variant:?}: another seed, other samples"
            );
            assert!(
                first.uncertainty.iter().any(|&u| u > 0.0),
                "{variant:?}: samples differ"
            );
            assert!(first.lower.iter().zip(&first.upper).all(|(l, u)| l <= u));
        }
    }
}
