//! Monte Carlo spatial dropout for the MCDN variant: whole channels dropped, kept on at inference.
//!
//! burn's `Dropout` does nothing off an autodiff device, so Monte Carlo dropout needs its own
//! layer. What the layer does is always the caller's explicit choice ([`DropoutMode`]): fresh
//! masks per example for training, one fixed mask shared by every chunk of a Monte Carlo
//! sample, or off for a deterministic run.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

/// What a [`SpatialDropout`] layer does on one forward pass.
#[derive(Debug, Clone, Copy)]
pub enum DropoutMode<'a> {
    /// Draw a fresh channel mask for every example of the batch (training).
    Fresh,
    /// Apply this mask, `[1, channels, 1, 1, 1]`, drawn by [`SpatialDropout::draw_mask`]: one
    /// Monte Carlo sample applied to every chunk of a volume.
    Mask(&'a Tensor<5>),
    /// Pass the input through unchanged (deterministic run).
    Off,
}

/// Configuration of a [`SpatialDropout`] layer.
#[derive(Config, Debug)]
pub struct SpatialDropoutConfig {
    /// Probability of dropping a channel.
    #[config(default = 0.5)]
    pub rate: f64,
}

impl SpatialDropoutConfig {
    /// Builds the layer.
    ///
    /// # Panics
    ///
    /// If `rate` is outside `[0, 1)`; the model config checks it before any layer is built.
    pub fn init(&self) -> SpatialDropout {
        assert!(
            (0.0..1.0).contains(&self.rate),
            "BUG: dropout rate {} not in [0, 1); ModelConfig::validate should have refused it",
            self.rate
        );
        SpatialDropout { rate: self.rate }
    }
}

/// Spatial dropout: zeroes whole channels with probability `rate` and scales the kept ones by
/// `1 / (1 - rate)`, in training and at inference alike.
#[derive(Module, Debug)]
pub struct SpatialDropout {
    /// Probability of dropping a channel.
    pub rate: f64,
}

impl SpatialDropout {
    /// Draws one scaled keep-mask for `channels` channels: entries are 0 or `1 / (1 - rate)`.
    ///
    /// # Shapes
    ///
    /// - output: `[1, channels, 1, 1, 1]`
    pub fn draw_mask(&self, channels: usize, device: &Device) -> Tensor<5> {
        self.mask([1, channels, 1, 1, 1], device)
    }

    /// Applies the layer.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, channels, depth, height, width]`
    /// - output: same as input
    pub fn forward(&self, x: Tensor<5>, mode: DropoutMode<'_>) -> Tensor<5> {
        if self.rate == 0.0 {
            return x;
        }
        match mode {
            DropoutMode::Off => x,
            DropoutMode::Mask(mask) => x * mask.clone(),
            DropoutMode::Fresh => {
                let [batch, channels, _, _, _] = x.dims();
                let mask = self.mask([batch, channels, 1, 1, 1], &x.device());
                x * mask
            }
        }
    }

    /// A scaled mask from per-channel keep decisions the caller drew: kept channels are
    /// scaled by `1 / (1 - rate)`, dropped ones are 0.
    ///
    /// # Shapes
    ///
    /// - output: `[1, keep.len(), 1, 1, 1]`
    pub fn mask_from_keep(&self, keep: &[bool], device: &Device) -> Tensor<5> {
        let scale = (1.0 / (1.0 - self.rate)) as f32;
        let values: Vec<f32> = keep.iter().map(|&k| if k { scale } else { 0.0 }).collect();
        Tensor::from_data(TensorData::new(values, [1, keep.len(), 1, 1, 1]), device)
    }

    fn mask(&self, shape: [usize; 5], device: &Device) -> Tensor<5> {
        let keep = 1.0 - self.rate;
        Tensor::random(shape, Distribution::Bernoulli(keep), device) / keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel_sums(x: Tensor<5>) -> Vec<f32> {
        let [n, c, _, _, _] = x.dims();
        x.sum_dims(&[2, 3, 4])
            .reshape([n * c])
            .to_data()
            .try_to_vec::<f32>()
            .expect("f32 data")
    }

    #[test]
    fn fresh_mode_drops_whole_channels_even_off_autodiff() {
        let device = Device::flex();
        device.seed(3);
        let layer = SpatialDropoutConfig::new().init();
        let x = Tensor::<5>::ones([4, 16, 3, 3, 3], &device);
        let sums = channel_sums(layer.forward(x, DropoutMode::Fresh));
        // Every channel is either all zero or all 2 (27 voxels): never partly dropped.
        assert!(sums.iter().all(|&s| s == 0.0 || s == 54.0), "{sums:?}");
        let dropped = sums.iter().filter(|&&s| s == 0.0).count();
        assert!(
            dropped > 8 && dropped < 56,
            "dropped {dropped} of 64 channels"
        );
    }

    #[test]
    fn a_fixed_mask_is_the_same_for_every_example_and_call() {
        let device = Device::flex();
        let layer = SpatialDropoutConfig::new().init();
        let mask = layer.draw_mask(16, &device);
        let x = Tensor::<5>::ones([2, 16, 2, 2, 2], &device);
        let a = channel_sums(layer.forward(x.clone(), DropoutMode::Mask(&mask)));
        let b = channel_sums(layer.forward(x, DropoutMode::Mask(&mask)));
        assert_eq!(a, b);
        assert_eq!(a[..16], a[16..], "both examples must share the mask");
        assert!(a.contains(&0.0) && a.contains(&16.0), "{a:?}");
    }

    #[test]
    fn off_mode_is_the_identity() {
        let device = Device::flex();
        let layer = SpatialDropoutConfig::new().init();
        let x = Tensor::<5>::ones([2, 8, 2, 2, 2], &device);
        let y = layer.forward(x.clone(), DropoutMode::Off);
        assert_eq!(y.to_data(), x.to_data());
    }
}
