//! The Flipout 3D convolution of the BCNN decoder (Wen et al. 2018), as SPEC pins it down.
//!
//! Each kernel element has an independent Normal posterior with mean `mu` and standard
//! deviation `softplus(rho)`; the prior is N(0, 1). The bias is an ordinary point estimate.
//!
//! Three forward passes, each chosen explicitly by the caller:
//! - [`FlipoutConv3d::forward_flipout`] for training: one perturbation `dW` per call, decorrelated
//!   across examples by Rademacher signs on input and output channels;
//! - [`FlipoutConv3d::forward_kernel`] for inference: one full weight draw
//!   ([`FlipoutConv3d::draw_kernel`]) that the caller reuses over every chunk of a sample;
//! - [`FlipoutConv3d::forward_mean`] for a deterministic run with the mean kernel.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::activation::softplus;
use burn::tensor::{Device, Distribution, Tensor};

use super::block::conv3d_same;

/// Configuration of a [`FlipoutConv3d`] layer.
#[derive(Config, Debug)]
pub struct FlipoutConv3dConfig {
    /// Input and output channel counts.
    pub channels: [usize; 2],
    /// Cubic kernel side (convolution is always stride 1, Keras 'same').
    pub kernel: usize,
    /// Mean of the initial `mu` values.
    #[config(default = 0.0)]
    pub mu_init_mean: f64,
    /// Standard deviation of the initial `mu` values.
    #[config(default = 0.1)]
    pub mu_init_std: f64,
    /// Mean of the initial `rho` values; softplus(-3) is a posterior std of about 0.05.
    #[config(default = -3.0)]
    pub rho_init_mean: f64,
    /// Standard deviation of the initial `rho` values.
    #[config(default = 0.1)]
    pub rho_init_std: f64,
}

impl FlipoutConv3dConfig {
    /// Builds the layer: `mu ~ N(0, 0.1)`, `rho ~ N(-3, 0.1)`, zero bias.
    pub fn init(&self, device: &Device) -> FlipoutConv3d {
        let [c_in, c_out] = self.channels;
        let k = self.kernel;
        let shape = [c_out, c_in, k, k, k];
        let mu = Initializer::Normal {
            mean: self.mu_init_mean,
            std: self.mu_init_std,
        }
        .init(shape, device);
        let rho = Initializer::Normal {
            mean: self.rho_init_mean,
            std: self.rho_init_std,
        }
        .init(shape, device);
        let bias = Initializer::Zeros.init([c_out], device);
        FlipoutConv3d { mu, rho, bias }
    }
}

/// A Bayesian 3D convolution with a mean-field Normal posterior over its kernel.
#[derive(Module, Debug)]
pub struct FlipoutConv3d {
    /// Posterior means of the kernel, `[channels_out, channels_in, k, k, k]`.
    pub mu: Param<Tensor<5>>,
    /// Posterior scale parameters: std = softplus(rho), same shape as `mu`.
    pub rho: Param<Tensor<5>>,
    /// Ordinary bias, `[channels_out]`.
    pub bias: Param<Tensor<1>>,
}

impl FlipoutConv3d {
    /// The posterior standard deviations, `softplus(rho)`.
    pub fn sigma(&self) -> Tensor<5> {
        softplus(self.rho.val(), 1.0)
    }

    /// KL(q || N(0, 1)) in closed form, summed over all kernel elements.
    ///
    /// Per element: `-ln(sigma) + (sigma^2 + mu^2 - 1) / 2`. Differentiable in `mu` and `rho`.
    ///
    /// # Shapes
    ///
    /// - output: `[1]`
    pub fn kl(&self) -> Tensor<1> {
        let sigma = self.sigma();
        let mu = self.mu.val();
        let per_element = sigma.clone().square() + mu.square() - 1.0;
        let per_element = per_element * 0.5 - sigma.log();
        per_element.sum()
    }

    /// Draws one full kernel `W = mu + softplus(rho) * eps`, `eps ~ N(0, 1)`, for inference.
    ///
    /// Reuse the draw for every chunk of one Monte Carlo sample.
    ///
    /// # Shapes
    ///
    /// - output: `[channels_out, channels_in, k, k, k]`
    pub fn draw_kernel(&self) -> Tensor<5> {
        let mu = self.mu.val();
        let eps = mu.random_like(Distribution::Normal(0.0, 1.0));
        mu + self.sigma() * eps
    }

    /// The kernel `mu + softplus(rho) * eps` for noise `eps` the caller drew (see
    /// [`super::Decoder::draw_sample_seeded`]).
    ///
    /// # Shapes
    ///
    /// - eps and output: `[channels_out, channels_in, k, k, k]`
    pub fn draw_kernel_from(&self, eps: Tensor<5>) -> Tensor<5> {
        self.mu.val() + self.sigma() * eps
    }

    /// Convolves with a kernel the caller drew with [`Self::draw_kernel`], plus the bias.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, channels_in, depth, height, width]`
    /// - kernel: `[channels_out, channels_in, k, k, k]`
    /// - output: `[batch, channels_out, depth, height, width]`
    pub fn forward_kernel(&self, x: Tensor<5>, kernel: Tensor<5>) -> Tensor<5> {
        conv3d_same(x, kernel, Some(self.bias.val()))
    }

    /// Convolves with the mean kernel `mu`, plus the bias: the deterministic forward pass.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, channels_in, depth, height, width]`
    /// - output: `[batch, channels_out, depth, height, width]`
    pub fn forward_mean(&self, x: Tensor<5>) -> Tensor<5> {
        conv3d_same(x, self.mu.val(), Some(self.bias.val()))
    }

    /// The Flipout training pass: `conv(x, mu) + conv(x * s_in, dW) * s_out + bias`.
    ///
    /// One `dW = softplus(rho) * eps` is drawn per call; `s_in` and `s_out` are Rademacher signs
    /// drawn per example and channel and tiled over space, so every example in the batch sees
    /// a pseudo-independent perturbation at the cost of one extra convolution.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, channels_in, depth, height, width]`
    /// - output: `[batch, channels_out, depth, height, width]`
    pub fn forward_flipout(&self, x: Tensor<5>) -> Tensor<5> {
        let [batch, c_in, _, _, _] = x.dims();
        let [c_out, _, _, _, _] = self.mu.dims();
        let device = x.device();

        let mu = self.mu.val();
        let eps = mu.random_like(Distribution::Normal(0.0, 1.0));
        let delta = self.sigma() * eps; // [c_out, c_in, k, k, k]

        let s_in = rademacher([batch, c_in, 1, 1, 1], &device);
        let s_out = rademacher([batch, c_out, 1, 1, 1], &device);

        let mean_part = conv3d_same(x.clone(), mu, Some(self.bias.val()));
        let perturbation = conv3d_same(x * s_in, delta, None) * s_out;
        mean_part + perturbation
    }
}

/// Random signs, -1 or +1 with equal probability.
fn rademacher(shape: [usize; 5], device: &Device) -> Tensor<5> {
    Tensor::random(shape, Distribution::Bernoulli(0.5), device) * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn tiny_layer(device: &Device) -> FlipoutConv3d {
        FlipoutConv3dConfig::new([2, 3], 3).init(device)
    }

    fn input(shape: [usize; 5], device: &Device) -> Tensor<5> {
        Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
    }

    fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.to_data().try_to_vec::<f32>().expect("f32 data")
    }

    #[test]
    fn kl_matches_the_closed_form() {
        let device = Device::flex();
        let layer = tiny_layer(&device);
        let mu = to_vec(layer.mu.val());
        let rho = to_vec(layer.rho.val());
        let expected: f64 = mu
            .iter()
            .zip(&rho)
            .map(|(&m, &r)| {
                let sigma = (1.0 + (r as f64).exp()).ln();
                // KL(N(m, s^2) || N(0, 1)) = ln(1 / s) + (s^2 + m^2) / 2 - 1 / 2.
                (1.0 / sigma).ln() + (sigma * sigma + (m as f64).powi(2)) / 2.0 - 0.5
            })
            .sum();
        let got = layer.kl().into_scalar::<f64>();
        assert!(expected > 0.0);
        assert!(
            (got - expected).abs() < 1e-4 * expected,
            "kl {got} vs closed form {expected}"
        );
    }

    #[test]
    fn mean_of_many_draws_tends_to_the_mean_kernel_output() {
        let device = Device::flex();
        device.seed(7);
        // A wide posterior makes the test meaningful: one draw is far from the mean.
        let layer = FlipoutConv3dConfig::new([2, 3], 3)
            .with_rho_init_mean(0.0)
            .init(&device);
        let x = input([2, 2, 4, 4, 4], &device);
        let mean_out = layer.forward_mean(x.clone());

        let draws = 400;
        let mut sum = layer.forward_flipout(x.clone());
        let one_draw_error = (sum.clone() - mean_out.clone())
            .abs()
            .mean()
            .into_scalar::<f64>();
        for _ in 1..draws {
            sum = sum + layer.forward_flipout(x.clone());
        }
        let average = sum / draws as f64;
        let average_error = (average - mean_out).abs().mean().into_scalar::<f64>();
        assert!(
            one_draw_error > 0.3,
            "one draw too close to the mean: {one_draw_error}"
        );
        assert!(
            average_error < one_draw_error / 8.0,
            "average of {draws} draws is {average_error} off, one draw {one_draw_error}"
        );
    }

    #[test]
    fn weight_draws_average_to_the_mean_kernel() {
        let device = Device::flex();
        device.seed(11);
        let layer = tiny_layer(&device);
        let mu = layer.mu.val();
        let draws = 2000;
        let mut sum = layer.draw_kernel();
        for _ in 1..draws {
            sum = sum + layer.draw_kernel();
        }
        let error = (sum / draws as f64 - mu).abs().max().into_scalar::<f64>();
        // sigma is about 0.05, so the std error of the mean is about 0.05 / sqrt(2000) ~ 0.001.
        assert!(error < 0.01, "mean draw off by {error}");
    }

    #[test]
    fn two_draws_differ() {
        let device = Device::flex();
        let layer = tiny_layer(&device);
        let x = input([1, 2, 4, 4, 4], &device);
        let a = to_vec(layer.forward_flipout(x.clone()));
        let b = to_vec(layer.forward_flipout(x.clone()));
        assert_ne!(a, b, "two Flipout passes gave identical outputs");
        let k1 = to_vec(layer.draw_kernel());
        let k2 = to_vec(layer.draw_kernel());
        assert_ne!(k1, k2, "two weight draws were identical");
        let m1 = to_vec(layer.forward_mean(x.clone()));
        let m2 = to_vec(layer.forward_mean(x));
        assert_eq!(m1, m2, "the mean pass must be deterministic");
    }

    #[test]
    fn flipout_examples_in_a_batch_get_different_perturbations() {
        let device = Device::flex();
        // N.B. Flipping every sign of s_in and s_out gives the same output, so with c_in + c_out
        // signs two examples collide with probability 2^(1 - c_in - c_out): use enough channels.
        let layer = FlipoutConv3dConfig::new([12, 12], 3)
            .with_rho_init_mean(0.0)
            .init(&device);
        let one = input([1, 12, 4, 4, 4], &device);
        let batch = Tensor::cat(vec![one.clone(), one], 0);
        let y = layer.forward_flipout(batch);
        let first = to_vec(y.clone().narrow(0, 0, 1));
        let second = to_vec(y.narrow(0, 1, 1));
        assert_ne!(first, second);
    }

    #[test]
    fn gradients_reach_mu_rho_and_bias() {
        let device = Device::flex().autodiff();
        let layer = tiny_layer(&device);
        let x = input([2, 2, 4, 4, 4], &device);
        let loss = layer.forward_flipout(x).square().mean() + layer.kl();
        let grads = loss.backward();
        for (name, grad) in [
            ("mu", layer.mu.val().grad(&grads)),
            ("rho", layer.rho.val().grad(&grads)),
        ] {
            let grad = grad.unwrap_or_else(|| panic!("no gradient for {name}"));
            let size = grad.abs().sum().into_scalar::<f64>();
            assert!(size > 0.0, "zero gradient for {name}");
        }
        let bias_grad = layer.bias.val().grad(&grads).expect("no gradient for bias");
        assert!(bias_grad.abs().sum().into_scalar::<f64>() > 0.0);
    }

    #[test]
    fn drawn_kernel_forward_is_one_convolution_with_that_kernel() {
        let device = Device::flex();
        let layer = tiny_layer(&device);
        let x = input([1, 2, 4, 4, 4], &device);
        let kernel = layer.draw_kernel();
        let a = to_vec(layer.forward_kernel(x.clone(), kernel.clone()));
        let b = to_vec(conv3d_same(x, kernel, Some(layer.bias.val())));
        assert_eq!(a, b);
        let zeros = TensorData::zeros::<f32, _>([3]);
        assert_eq!(layer.bias.val().to_data(), zeros);
    }
}
