//! The 3D Bayesian segmentation network of LaBonte et al. (2019), exactly as `SPEC.md` fixes it.
//!
//! One encoder-decoder shape, two variants ([`Variant`]): BCNN (Flipout convolutions in the
//! decoder and head) and MCDN (plain convolutions with Monte Carlo spatial dropout). The
//! encoder is deterministic, so [`Network::encode`] runs once per chunk and
//! [`Network::decode`] runs once per Monte Carlo sample on the same [`EncoderFeatures`].
//!
//! Layout: `block.rs` (plain conv, conv block, 3D pool and upsample), `flipout.rs`,
//! `mc_dropout.rs`, `encoder.rs`, `decoder.rs`, `summary.rs` (Keras-like layer table) and
//! `file.rs` (the `.ctuq` model file). Nothing here depends on training code.

pub mod block;
pub mod decoder;
pub mod encoder;
pub mod file;
pub mod flipout;
pub mod mc_dropout;
pub mod summary;

use std::fmt;
use std::str::FromStr;

use burn::config::Config;
use burn::module::Module;
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

pub use decoder::{Decoder, DecoderConfig, DecoderMode, DecoderSample};
pub use encoder::{Encoder, EncoderConfig, EncoderFeatures};
pub use file::{ModelFileError, ModelHeader};
pub use summary::{LayerRow, ModelSummary};

/// Every chunk side must be a multiple of this: the encoder pools by 2 three times.
pub const SIDE_MULTIPLE: usize = 8;

/// The paper's channel widths of the four encoder stages.
pub const DEFAULT_WIDTHS: [usize; 4] = [16, 32, 64, 128];

/// The two network variants of the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Bayesian CNN: Flipout convolutions in the decoder and head.
    Bcnn,
    /// Monte Carlo dropout network: plain convolutions, spatial dropout kept on at inference.
    Mcdn,
}

impl Variant {
    /// Both variants, BCNN first.
    pub const ALL: [Variant; 2] = [Variant::Bcnn, Variant::Mcdn];

    /// The lowercase name used on the command line and in model files.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Bcnn => "bcnn",
            Variant::Mcdn => "mcdn",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Variant {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "bcnn" => Ok(Variant::Bcnn),
            "mcdn" => Ok(Variant::Mcdn),
            _ => Err(ModelError::UnknownVariant(s.to_string())),
        }
    }
}

/// Errors in a model configuration or an input shape.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    /// A variant name other than `bcnn` or `mcdn`.
    #[error("unknown variant '{0}', expected 'bcnn' or 'mcdn'")]
    UnknownVariant(String),
    /// A width that GroupNorm's four groups cannot divide, or zero.
    #[error("width {width} at stage {stage} must be a positive multiple of {groups}")]
    BadWidth {
        /// The encoder stage.
        stage: usize,
        /// The offending width.
        width: usize,
        /// The GroupNorm group count.
        groups: usize,
    },
    /// A dropout rate outside `[0, 1)`.
    #[error("dropout rate {0} must be in [0, 1)")]
    BadDropoutRate(f64),
    /// A chunk side that three 2x poolings cannot halve evenly.
    #[error(
        "chunk {chunk:?} (z, y, x) has a side that is not a positive multiple of {multiple}; \
         the network pools three times"
    )]
    BadChunk {
        /// The chunk shape, z, y, x.
        chunk: [usize; 3],
        /// The required multiple.
        multiple: usize,
    },
}

/// Hyper-parameters that fix the network's shape.
#[derive(Config, Debug, PartialEq)]
pub struct ModelConfig {
    /// BCNN or MCDN.
    pub variant: Variant,
    /// Channel widths of the four encoder stages; the decoder mirrors them.
    #[config(default = "[16, 32, 64, 128]")]
    pub widths: [usize; 4],
    /// MCDN channel dropout rate (ignored by the BCNN).
    #[config(default = 0.5)]
    pub dropout_rate: f64,
}

impl ModelConfig {
    /// Checks the widths and the dropout rate before anything is built.
    pub fn validate(&self) -> Result<(), ModelError> {
        for (stage, &width) in self.widths.iter().enumerate() {
            if width == 0 || width % block::NORM_GROUPS != 0 {
                return Err(ModelError::BadWidth {
                    stage,
                    width,
                    groups: block::NORM_GROUPS,
                });
            }
        }
        if !(0.0..1.0).contains(&self.dropout_rate) {
            return Err(ModelError::BadDropoutRate(self.dropout_rate));
        }
        Ok(())
    }

    /// Builds the network with fresh weights on `device` (use `device.autodiff()` to train).
    pub fn init(&self, device: &Device) -> Result<Network, ModelError> {
        self.validate()?;
        Ok(Network {
            encoder: EncoderConfig::new(self.widths).init(device),
            decoder: DecoderConfig::new(self.variant, self.widths)
                .with_dropout_rate(self.dropout_rate)
                .init(device),
        })
    }
}

/// Checks that a chunk shape (z, y, x) can go through the network unpadded.
pub fn check_chunk_shape(chunk: [usize; 3]) -> Result<(), ModelError> {
    if chunk
        .iter()
        .all(|&side| side > 0 && side.is_multiple_of(SIDE_MULTIPLE))
    {
        Ok(())
    } else {
        Err(ModelError::BadChunk {
            chunk,
            multiple: SIDE_MULTIPLE,
        })
    }
}

/// The smallest multiple of [`SIDE_MULTIPLE`] that holds `side` voxels (at least one multiple).
pub fn padded_side(side: usize) -> usize {
    side.max(1).div_ceil(SIDE_MULTIPLE) * SIDE_MULTIPLE
}

/// Pads a batch of chunks at the far faces, replicating the edge voxels, so that every side is
/// a multiple of [`SIDE_MULTIPLE`]; returns the padded batch and the original (z, y, x) size for
/// [`crop_chunk`].
///
/// # Shapes
///
/// - input: `[batch, channels, d, h, w]`
/// - output: `[batch, channels, padded_side(d), padded_side(h), padded_side(w)]`
pub fn pad_chunk(x: Tensor<5>) -> (Tensor<5>, [usize; 3]) {
    let [_, _, d, h, w] = x.dims();
    let size = [d, h, w];
    let pairs = size.map(|side| (0, padded_side(side) - side));
    if pairs.iter().all(|&(_, after)| after == 0) {
        return (x, size);
    }
    (x.pad(pairs, PadMode::Edge), size)
}

/// Crops a network output back to the size [`pad_chunk`] returned.
///
/// # Shapes
///
/// - input: `[batch, channels, D, H, W]`, each at least the matching side of `size`
/// - output: `[batch, channels, size[0], size[1], size[2]]`
pub fn crop_chunk(y: Tensor<5>, size: [usize; 3]) -> Tensor<5> {
    let [_, _, d, h, w] = y.dims();
    if [d, h, w] == size {
        return y;
    }
    y.narrow(2, 0, size[0])
        .narrow(3, 0, size[1])
        .narrow(4, 0, size[2])
}

/// The whole network: a deterministic encoder and a variant-specific decoder and head.
#[derive(Module, Debug)]
pub struct Network {
    /// The deterministic encoder.
    pub encoder: Encoder,
    /// The decoder and head, where the variants differ.
    pub decoder: Decoder,
}

impl Network {
    /// The variant this network was built as.
    pub fn variant(&self) -> Variant {
        self.decoder.variant()
    }

    /// Encodes a batch of chunks; run once per chunk, reuse for every sample.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, 1, d, h, w]`, sides multiples of [`SIDE_MULTIPLE`]
    pub fn encode(&self, x: Tensor<5>) -> EncoderFeatures {
        self.encoder.forward(x)
    }

    /// Decodes features to logits in the given mode.
    ///
    /// # Shapes
    ///
    /// - output: `[batch, 1, d, h, w]`
    pub fn decode(&self, features: &EncoderFeatures, mode: DecoderMode<'_>) -> Tensor<5> {
        self.decoder.forward(features, mode)
    }

    /// Encodes and decodes in one go, returning logits.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, 1, d, h, w]`, sides multiples of [`SIDE_MULTIPLE`]
    /// - output: `[batch, 1, d, h, w]`
    pub fn forward(&self, x: Tensor<5>, mode: DecoderMode<'_>) -> Tensor<5> {
        let features = self.encode(x);
        self.decode(&features, mode)
    }

    /// Foreground probabilities, `sigmoid(logits)`.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, 1, d, h, w]`, sides multiples of [`SIDE_MULTIPLE`]
    /// - output: `[batch, 1, d, h, w]`
    pub fn probabilities(&self, x: Tensor<5>, mode: DecoderMode<'_>) -> Tensor<5> {
        burn::tensor::activation::sigmoid(self.forward(x, mode))
    }

    /// KL divergence of the posterior to the prior, summed over all Flipout kernels; `None`
    /// for the MCDN.
    pub fn kl(&self) -> Option<Tensor<1>> {
        self.decoder.kl()
    }

    /// Draws one Monte Carlo sample from a seeded generator: repeatable on every backend.
    pub fn draw_sample_seeded(
        &self,
        rng: &mut rand_chacha::ChaCha8Rng,
        device: &Device,
    ) -> DecoderSample {
        self.decoder.draw_sample_seeded(rng, device)
    }

    /// Draws one Monte Carlo sample of the decoder (see [`DecoderSample`]).
    pub fn draw_sample(&self, device: &Device) -> DecoderSample {
        self.decoder.draw_sample(device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn narrow(variant: Variant) -> ModelConfig {
        ModelConfig::new(variant).with_widths([4, 8, 8, 8])
    }

    #[test]
    fn trainable_parameter_counts_match_the_paper() {
        let device = Device::flex();
        let bcnn = ModelConfig::new(Variant::Bcnn)
            .init(&device)
            .expect("valid config");
        let mcdn = ModelConfig::new(Variant::Mcdn)
            .init(&device)
            .expect("valid config");
        assert_eq!(bcnn.num_params(), 1_924_964);
        assert_eq!(mcdn.num_params(), 1_403_059);
        assert_eq!(bcnn.variant(), Variant::Bcnn);
        assert_eq!(mcdn.variant(), Variant::Mcdn);
    }

    #[test]
    fn output_has_the_input_shape_in_every_mode() {
        let device = Device::flex();
        for variant in Variant::ALL {
            let net = narrow(variant).init(&device).expect("valid config");
            let x = Tensor::<5>::random([2, 1, 8, 16, 24], Distribution::Default, &device);
            let features = net.encode(x);
            assert_eq!(features.skips.len(), 3);
            assert_eq!(features.bottleneck.dims(), [2, 8, 1, 2, 3]);
            let sample = net.draw_sample(&device);
            for mode in [
                DecoderMode::Train,
                DecoderMode::Mean,
                DecoderMode::Sample(&sample),
            ] {
                assert_eq!(
                    net.decode(&features, mode).dims(),
                    [2, 1, 8, 16, 24],
                    "{variant}"
                );
            }
        }
    }

    #[test]
    fn mean_mode_is_deterministic_and_samples_differ() {
        let device = Device::flex();
        for variant in Variant::ALL {
            let net = narrow(variant).init(&device).expect("valid config");
            let x = Tensor::<5>::random([1, 1, 16, 16, 16], Distribution::Default, &device);
            let features = net.encode(x);
            let out = |mode| -> Vec<f32> {
                net.decode(&features, mode)
                    .to_data()
                    .try_to_vec::<f32>()
                    .expect("f32 data")
            };
            assert_eq!(out(DecoderMode::Mean), out(DecoderMode::Mean), "{variant}");
            let a = net.draw_sample(&device);
            let b = net.draw_sample(&device);
            assert_eq!(
                out(DecoderMode::Sample(&a)),
                out(DecoderMode::Sample(&a)),
                "{variant}"
            );
            assert_ne!(
                out(DecoderMode::Sample(&a)),
                out(DecoderMode::Sample(&b)),
                "{variant}"
            );
        }
    }

    #[test]
    fn kl_exists_for_bcnn_only() {
        let device = Device::flex();
        let bcnn = narrow(Variant::Bcnn).init(&device).expect("valid config");
        let mcdn = narrow(Variant::Mcdn).init(&device).expect("valid config");
        let kl = bcnn.kl().expect("bcnn has a kl").into_scalar::<f64>();
        assert!(kl > 0.0);
        assert!(mcdn.kl().is_none());
    }

    #[test]
    fn bad_configs_and_chunks_are_refused() {
        let device = Device::flex();
        let bad = ModelConfig::new(Variant::Mcdn).with_widths([16, 30, 64, 128]);
        assert!(matches!(
            bad.init(&device),
            Err(ModelError::BadWidth { stage: 1, .. })
        ));
        let bad = ModelConfig::new(Variant::Mcdn).with_dropout_rate(1.0);
        assert_eq!(bad.validate(), Err(ModelError::BadDropoutRate(1.0)));
        assert!(check_chunk_shape([32, 64, 64]).is_ok());
        assert!(check_chunk_shape([32, 60, 64]).is_err());
        assert!(check_chunk_shape([0, 8, 8]).is_err());
        assert_eq!("BCNN".parse::<Variant>(), Ok(Variant::Bcnn));
        assert!("unet".parse::<Variant>().is_err());
    }

    #[test]
    fn pad_and_crop_round_trip() {
        let device = Device::flex();
        let x = Tensor::<5>::random([1, 1, 5, 8, 13], Distribution::Default, &device);
        let (padded, size) = pad_chunk(x.clone());
        assert_eq!(padded.dims(), [1, 1, 8, 8, 16]);
        assert_eq!(size, [5, 8, 13]);
        let back = crop_chunk(padded, size);
        assert_eq!(back.to_data(), x.to_data());
        assert_eq!(padded_side(0), 8);
        assert_eq!(padded_side(16), 16);
        assert_eq!(padded_side(17), 24);
    }
}
