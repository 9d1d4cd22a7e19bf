//! The decoder and head: where the two variants differ and where Monte Carlo sampling happens.
//!
//! BCNN: every convolution here is a Flipout layer. MCDN: plain convolutions, with spatial
//! dropout after the bottleneck and after each decoder stage. The caller picks the behaviour
//! with a [`DecoderMode`]; a Monte Carlo sample is a [`DecoderSample`] drawn once and applied
//! to every chunk of a volume.

use burn::config::Config;
use burn::module::Module;
use burn::nn::GroupNorm;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::Variant;
use super::block::{Conv3dSame, Conv3dSameConfig, group_norm, upsample_nearest3d_2};
use super::encoder::EncoderFeatures;
use super::flipout::{FlipoutConv3d, FlipoutConv3dConfig};
use super::mc_dropout::{DropoutMode, SpatialDropout, SpatialDropoutConfig};

/// Convolutions per decoder stage (the k2 after upsampling, then two k3).
const CONVS_PER_STAGE: usize = 3;

/// How the stochastic parts of the decoder behave on one forward pass.
#[derive(Debug, Clone, Copy)]
pub enum DecoderMode<'a> {
    /// Training: Flipout with fresh perturbations (BCNN) or fresh per-example dropout masks
    /// (MCDN) on every call.
    Train,
    /// One Monte Carlo sample: a full weight draw (BCNN) or one set of dropout masks (MCDN),
    /// the same for every chunk it is applied to.
    Sample(&'a DecoderSample),
    /// Deterministic: the mean kernels (BCNN) or no dropout (MCDN).
    Mean,
}

/// One Monte Carlo draw of the decoder's randomness, made by [`Decoder::draw_sample`].
///
/// Reusing one sample for every chunk of a volume keeps the chunks of sample t consistent, so
/// that seams do not shrink the spread across samples.
#[derive(Debug, Clone)]
pub struct DecoderSample {
    /// Drawn kernels of the Flipout layers in decoder order (empty for MCDN).
    kernels: Vec<Tensor<5>>,
    /// Dropout masks `[1, channels, 1, 1, 1]` in decoder order (empty for BCNN).
    masks: Vec<Tensor<5>>,
}

/// A decoder convolution: plain (MCDN) or Flipout (BCNN).
#[derive(Module, Debug)]
pub enum DecoderConv {
    /// A point-estimate convolution.
    Plain(Conv3dSame),
    /// A Bayesian Flipout convolution.
    Flipout(FlipoutConv3d),
}

impl DecoderConv {
    fn new(variant: Variant, channels: [usize; 2], kernel: usize, device: &Device) -> Self {
        match variant {
            Variant::Bcnn => Self::Flipout(FlipoutConv3dConfig::new(channels, kernel).init(device)),
            Variant::Mcdn => Self::Plain(Conv3dSameConfig::new(channels, kernel).init(device)),
        }
    }

    /// Applies the convolution; `index` is the layer's place in decoder order.
    fn forward(&self, x: Tensor<5>, mode: DecoderMode<'_>, index: usize) -> Tensor<5> {
        match (self, mode) {
            (Self::Plain(conv), _) => conv.forward(x),
            (Self::Flipout(conv), DecoderMode::Train) => conv.forward_flipout(x),
            (Self::Flipout(conv), DecoderMode::Mean) => conv.forward_mean(x),
            (Self::Flipout(conv), DecoderMode::Sample(sample)) => {
                let kernel = sample.kernels.get(index).unwrap_or_else(|| {
                    panic!("BUG: sample has no kernel {index}; drawn from another decoder?")
                });
                conv.forward_kernel(x, kernel.clone())
            }
        }
    }

    fn kl(&self) -> Option<Tensor<1>> {
        match self {
            Self::Plain(_) => None,
            Self::Flipout(conv) => Some(conv.kl()),
        }
    }
}

/// Configuration of a [`Decoder`].
#[derive(Config, Debug)]
pub struct DecoderConfig {
    /// Which variant's layers to build.
    pub variant: Variant,
    /// Encoder widths; stage j of the decoder works at `widths[2 - j]`.
    pub widths: [usize; 4],
    /// MCDN channel dropout rate.
    #[config(default = 0.5)]
    pub dropout_rate: f64,
}

impl DecoderConfig {
    /// Builds the decoder and head.
    pub fn init(&self, device: &Device) -> Decoder {
        let variant = self.variant;
        let dropout = || match variant {
            Variant::Bcnn => None,
            Variant::Mcdn => Some(
                SpatialDropoutConfig::new()
                    .with_rate(self.dropout_rate)
                    .init(),
            ),
        };
        let mut stages = Vec::new();
        for j in 0..3 {
            let below = self.widths[3 - j];
            let c = self.widths[2 - j];
            stages.push(DecoderStage {
                up_conv: DecoderConv::new(variant, [below, c], 2, device),
                up_norm: group_norm(c, device),
                concat_norm: group_norm(2 * c, device),
                conv_1: DecoderConv::new(variant, [2 * c, c], 3, device),
                norm_1: group_norm(c, device),
                conv_2: DecoderConv::new(variant, [c, c], 3, device),
                norm_2: group_norm(c, device),
                dropout: dropout(),
            });
        }
        Decoder {
            bottleneck_dropout: dropout(),
            stages,
            head: Head {
                conv: DecoderConv::new(variant, [self.widths[0], 1], 3, device),
                out: DecoderConv::new(variant, [1, 1], 1, device),
            },
        }
    }
}

/// One decoder stage: upsample, k2 conv, concatenate with the skip, two k3 convs.
#[derive(Module, Debug)]
pub struct DecoderStage {
    /// The 2x2x2 convolution after nearest-neighbour upsampling.
    pub up_conv: DecoderConv,
    /// GroupNorm after `up_conv` and its ReLU.
    pub up_norm: GroupNorm,
    /// GroupNorm over the concatenation [skip, upsampled].
    pub concat_norm: GroupNorm,
    /// First 3x3x3 convolution, 2c to c channels.
    pub conv_1: DecoderConv,
    /// GroupNorm after `conv_1` and its ReLU.
    pub norm_1: GroupNorm,
    /// Second 3x3x3 convolution, c to c channels.
    pub conv_2: DecoderConv,
    /// GroupNorm after `conv_2` and its ReLU.
    pub norm_2: GroupNorm,
    /// MCDN only: spatial dropout at the end of the stage.
    pub dropout: Option<SpatialDropout>,
}

/// The head: k3 conv to one channel and ReLU, then a k1 conv to the logit.
#[derive(Module, Debug)]
pub struct Head {
    /// 3x3x3 convolution to one channel.
    pub conv: DecoderConv,
    /// 1x1x1 convolution giving the logit.
    pub out: DecoderConv,
}

/// The decoder and head of the network.
#[derive(Module, Debug)]
pub struct Decoder {
    /// MCDN only: spatial dropout on the bottleneck features.
    pub bottleneck_dropout: Option<SpatialDropout>,
    /// Stages 0..2, coarse to fine.
    pub stages: Vec<DecoderStage>,
    /// The output head.
    pub head: Head,
}

impl Decoder {
    /// Which variant this decoder was built as.
    pub fn variant(&self) -> Variant {
        match self.head.out {
            DecoderConv::Plain(_) => Variant::Mcdn,
            DecoderConv::Flipout(_) => Variant::Bcnn,
        }
    }

    /// Decodes encoder features to logits (apply a sigmoid for probabilities).
    ///
    /// # Shapes
    ///
    /// - features: see [`EncoderFeatures`]
    /// - output: `[batch, 1, d, h, w]`, the size of the encoder's input
    pub fn forward(&self, features: &EncoderFeatures, mode: DecoderMode<'_>) -> Tensor<5> {
        let mut x = features.bottleneck.clone(); // [n, F3, d/8, h/8, w/8]
        x = dropout(&self.bottleneck_dropout, x, mode, 0);
        let skips = &features.skips;
        for (j, stage) in self.stages.iter().enumerate() {
            let first = j * CONVS_PER_STAGE;
            let skip = skips
                .get(skips.len().wrapping_sub(1 + j))
                .unwrap_or_else(|| panic!("BUG: no skip for decoder stage {j}"))
                .clone();
            x = upsample_nearest3d_2(x); // [n, below, 2s, 2s, 2s]
            x = stage.up_conv.forward(x, mode, first); // [n, c, ...]
            x = stage.up_norm.forward(relu(x));
            x = Tensor::cat(vec![skip, x], 1); // [n, 2c, ...]
            x = stage.concat_norm.forward(x);
            x = stage.conv_1.forward(x, mode, first + 1); // [n, c, ...]
            x = stage.norm_1.forward(relu(x));
            x = stage.conv_2.forward(x, mode, first + 2);
            x = stage.norm_2.forward(relu(x));
            x = dropout(&stage.dropout, x, mode, j + 1);
        }
        let head = self.stages.len() * CONVS_PER_STAGE;
        x = relu(self.head.conv.forward(x, mode, head)); // [n, 1, ...]
        self.head.out.forward(x, mode, head + 1)
    }

    /// The decoder's convolutions in the order [`DecoderConv`] indices count them.
    fn convs(&self) -> Vec<&DecoderConv> {
        let mut convs = Vec::new();
        for stage in &self.stages {
            convs.extend([&stage.up_conv, &stage.conv_1, &stage.conv_2]);
        }
        convs.extend([&self.head.conv, &self.head.out]);
        convs
    }

    /// Sum of the Flipout layers' KL divergences to the prior; `None` for MCDN.
    ///
    /// # Shapes
    ///
    /// - output: `[1]`
    pub fn kl(&self) -> Option<Tensor<1>> {
        self.convs()
            .into_iter()
            .filter_map(DecoderConv::kl)
            .reduce(|a, b| a + b)
    }

    /// Draws one Monte Carlo sample of the decoder, kernels (BCNN) or dropout masks (MCDN),
    /// from fresh entropy; use [`Self::draw_sample_seeded`] for repeatable draws.
    pub fn draw_sample(&self, device: &Device) -> DecoderSample {
        self.draw_sample_seeded(&mut ChaCha8Rng::from_os_rng(), device)
    }

    /// Draws one Monte Carlo sample from a seeded generator instead of the backend's global
    /// random state, so that the same seed gives the same sample on every backend and thread.
    ///
    /// N.B. burn's `device.seed` does not make `random_like` repeatable on every backend, so
    /// inference draws its noise on the host and uploads it.
    pub fn draw_sample_seeded(&self, rng: &mut ChaCha8Rng, device: &Device) -> DecoderSample {
        let kernels = self
            .convs()
            .into_iter()
            .filter_map(|conv| match conv {
                DecoderConv::Plain(_) => None,
                DecoderConv::Flipout(conv) => {
                    let shape = conv.mu.dims();
                    let len = shape.iter().product::<usize>();
                    let eps: Vec<f32> = (0..len).map(|_| rng.sample(StandardNormal)).collect();
                    let eps = Tensor::from_data(TensorData::new(eps, shape), device);
                    Some(conv.draw_kernel_from(eps))
                }
            })
            .collect();
        let mut layers = vec![(&self.bottleneck_dropout, self.bottleneck_channels())];
        for stage in &self.stages {
            layers.push((&stage.dropout, stage.norm_2.num_channels));
        }
        let masks = layers
            .into_iter()
            .filter_map(|(layer, channels)| {
                layer.as_ref().map(|layer| {
                    let keep: Vec<bool> = (0..channels)
                        .map(|_| rng.random::<f64>() >= layer.rate)
                        .collect();
                    layer.mask_from_keep(&keep, device)
                })
            })
            .collect();
        DecoderSample { kernels, masks }
    }

    fn bottleneck_channels(&self) -> usize {
        match self.stages.first().map(|stage| &stage.up_conv) {
            Some(DecoderConv::Plain(conv)) => conv.weight.dims()[1],
            Some(DecoderConv::Flipout(conv)) => conv.mu.dims()[1],
            None => 0,
        }
    }
}

/// Applies an optional spatial dropout layer; `index` is its place in decoder order.
fn dropout(
    layer: &Option<SpatialDropout>,
    x: Tensor<5>,
    mode: DecoderMode<'_>,
    index: usize,
) -> Tensor<5> {
    let Some(layer) = layer else {
        return x;
    };
    match mode {
        DecoderMode::Train => layer.forward(x, DropoutMode::Fresh),
        DecoderMode::Mean => layer.forward(x, DropoutMode::Off),
        DecoderMode::Sample(sample) => {
            let mask = sample.masks.get(index).unwrap_or_else(|| {
                panic!("BUG: sample has no dropout mask {index}; drawn from another decoder?")
            });
            layer.forward(x, DropoutMode::Mask(mask))
        }
    }
}
