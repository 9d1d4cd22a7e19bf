//! The deterministic encoder shared by both variants: four stages of two conv blocks, with a
//! 2x2x2 max pool after the first three.
//!
//! Inference runs it once per chunk and hands its [`EncoderFeatures`] to every Monte Carlo
//! sample of the decoder.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::block::{ConvBlock, ConvBlockConfig, max_pool3d_2};

/// What the decoder needs from the encoder: the three skip tensors and the bottleneck.
#[derive(Debug, Clone)]
pub struct EncoderFeatures {
    /// Outputs of stages 0, 1 and 2 (before pooling), finest first:
    /// `[batch, widths[i], side / 2^i, ...]`.
    pub skips: Vec<Tensor<5>>,
    /// Output of stage 3: `[batch, widths[3], side / 8, ...]`.
    pub bottleneck: Tensor<5>,
}

/// Configuration of an [`Encoder`].
#[derive(Config, Debug)]
pub struct EncoderConfig {
    /// Channel widths of the four stages.
    pub widths: [usize; 4],
}

impl EncoderConfig {
    /// Builds the encoder.
    pub fn init(&self, device: &Device) -> Encoder {
        let mut stages = Vec::with_capacity(self.widths.len());
        let mut channels_in = 1;
        for &width in &self.widths {
            stages.push(EncoderStage {
                first: ConvBlockConfig::new([channels_in, width]).init(device),
                second: ConvBlockConfig::new([width, width]).init(device),
            });
            channels_in = width;
        }
        Encoder { stages }
    }
}

/// One encoder stage: two conv blocks at one resolution.
#[derive(Module, Debug)]
pub struct EncoderStage {
    /// Changes the channel count.
    pub first: ConvBlock,
    /// Keeps the channel count.
    pub second: ConvBlock,
}

impl EncoderStage {
    /// # Shapes
    ///
    /// - input: `[batch, channels_in, d, h, w]`
    /// - output: `[batch, width, d, h, w]`
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let x = self.first.forward(x);
        self.second.forward(x)
    }
}

/// The encoder: deterministic in both variants.
#[derive(Module, Debug)]
pub struct Encoder {
    /// Stages 0..3; stage 3 is the bottleneck.
    pub stages: Vec<EncoderStage>,
}

impl Encoder {
    /// Encodes a batch of chunks.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, 1, d, h, w]`, each side a multiple of 8
    ///   (see [`super::check_chunk_shape`])
    /// - output: see [`EncoderFeatures`]
    pub fn forward(&self, x: Tensor<5>) -> EncoderFeatures {
        let [_, _, d, h, w] = x.dims();
        assert!(
            [d, h, w]
                .iter()
                .all(|side| side.is_multiple_of(super::SIDE_MULTIPLE)),
            "BUG: chunk {:?} reached the encoder; check_chunk_shape should have refused it",
            [d, h, w]
        );
        let last = self.stages.len() - 1;
        let mut skips = Vec::with_capacity(last);
        let mut x = x;
        for (i, stage) in self.stages.iter().enumerate() {
            x = stage.forward(x);
            if i < last {
                skips.push(x.clone());
                x = max_pool3d_2(x); // sides halve
            }
        }
        EncoderFeatures {
            skips,
            bottleneck: x,
        }
    }
}
