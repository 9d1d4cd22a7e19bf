//! Plain building blocks: a Keras-'same' 3D convolution, the conv block of the encoder, and the
//! pooling and upsampling burn 0.22 lacks in 3D.
//!
//! burn's `conv3d` refuses asymmetric padding and has neither a 3D max pool nor a 3D
//! interpolation, so this file pads, pools and upsamples by hand. Everything here is
//! deterministic; the stochastic layers live in `flipout.rs` and `mc_dropout.rs`.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{GroupNorm, GroupNormConfig, Initializer};
use burn::tensor::activation::relu;
use burn::tensor::module::{conv3d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions, PadMode};
use burn::tensor::{Device, Tensor};

/// Number of GroupNorm groups everywhere in the network (SPEC: Wu and He, 4 groups).
pub const NORM_GROUPS: usize = 4;

/// GroupNorm epsilon (SPEC).
pub const NORM_EPSILON: f64 = 1e-5;

/// A GroupNorm over `channels` channels with the network's group count and epsilon.
pub(crate) fn group_norm(channels: usize, device: &Device) -> GroupNorm {
    GroupNormConfig::new(NORM_GROUPS, channels)
        .with_epsilon(NORM_EPSILON)
        .init(device)
}

/// Convolves with stride 1 and Keras 'same' padding: the output keeps the input's spatial size.
///
/// An odd kernel pads `(k - 1) / 2` zeros on both sides of each axis. An even kernel pads as
/// Keras does, `k / 2 - 1` before and `k / 2` after (0 and 1 for the decoder's k2 kernel);
/// burn's `conv3d` has no asymmetric padding, so the tensor itself is padded first.
///
/// # Shapes
///
/// - input: `[batch, channels_in, depth, height, width]`
/// - weight: `[channels_out, channels_in, k, k, k]`
/// - output: `[batch, channels_out, depth, height, width]`
pub(crate) fn conv3d_same(x: Tensor<5>, weight: Tensor<5>, bias: Option<Tensor<1>>) -> Tensor<5> {
    let [_, _, k0, k1, k2] = weight.dims();
    let kernel = [k0, k1, k2];
    let x = if kernel.iter().all(|k| k % 2 == 1) {
        x
    } else {
        let pairs = kernel.map(|k| {
            if k.is_multiple_of(2) {
                (k / 2 - 1, k / 2)
            } else {
                (0, 0)
            }
        });
        x.pad(pairs, PadMode::Constant(0.0))
    };
    let symmetric = kernel.map(|k| if k % 2 == 1 { (k - 1) / 2 } else { 0 });
    conv3d(
        x,
        weight,
        bias,
        ConvOptions::new([1; 3], symmetric, [1; 3], 1),
    )
}

/// Configuration of a [`Conv3dSame`] layer.
#[derive(Config, Debug)]
pub struct Conv3dSameConfig {
    /// Input and output channel counts.
    pub channels: [usize; 2],
    /// Cubic kernel side.
    pub kernel: usize,
}

impl Conv3dSameConfig {
    /// Builds the layer: Glorot-uniform kernel and zero bias, as Keras initializes `Conv3D`.
    pub fn init(&self, device: &Device) -> Conv3dSame {
        let [c_in, c_out] = self.channels;
        let k = self.kernel;
        let volume = k * k * k;
        let weight = Initializer::XavierUniform { gain: 1.0 }.init_with(
            [c_out, c_in, k, k, k],
            Some(c_in * volume),
            Some(c_out * volume),
            device,
        );
        let bias = Initializer::Zeros.init([c_out], device);
        Conv3dSame { weight, bias }
    }
}

/// A plain (point-estimate) 3D convolution with bias and Keras 'same' padding.
#[derive(Module, Debug)]
pub struct Conv3dSame {
    /// Kernel, `[channels_out, channels_in, k, k, k]`.
    pub weight: Param<Tensor<5>>,
    /// Bias, `[channels_out]`.
    pub bias: Param<Tensor<1>>,
}

impl Conv3dSame {
    /// Applies the convolution.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, channels_in, depth, height, width]`
    /// - output: `[batch, channels_out, depth, height, width]`
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        conv3d_same(x, self.weight.val(), Some(self.bias.val()))
    }
}

/// Configuration of a [`ConvBlock`].
#[derive(Config, Debug)]
pub struct ConvBlockConfig {
    /// Input and output channel counts.
    pub channels: [usize; 2],
}

impl ConvBlockConfig {
    /// Builds the block.
    pub fn init(&self, device: &Device) -> ConvBlock {
        ConvBlock {
            conv: Conv3dSameConfig::new(self.channels, 3).init(device),
            norm: group_norm(self.channels[1], device),
        }
    }
}

/// The encoder's unit: Conv3d k3 'same' with bias, then ReLU, then GroupNorm (4 groups).
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// The 3x3x3 convolution.
    pub conv: Conv3dSame,
    /// The GroupNorm after the ReLU.
    pub norm: GroupNorm,
}

impl ConvBlock {
    /// Applies conv, ReLU and GroupNorm.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, channels_in, depth, height, width]`
    /// - output: `[batch, channels_out, depth, height, width]`
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let x = self.conv.forward(x);
        let x = relu(x);
        self.norm.forward(x)
    }
}

/// Max-pools by 2 along each spatial axis (kernel 2, stride 2), which burn lacks in 3D.
///
/// A 2D pool over (height, width) with depth folded into channels, then a max over pairs of
/// depth slices.
///
/// # Shapes
///
/// - input: `[batch, channels, depth, height, width]`, every spatial side even
/// - output: `[batch, channels, depth / 2, height / 2, width / 2]`
pub(crate) fn max_pool3d_2(x: Tensor<5>) -> Tensor<5> {
    let [n, c, d, h, w] = x.dims();
    debug_assert!(
        d.is_multiple_of(2) && h.is_multiple_of(2) && w.is_multiple_of(2),
        "BUG: odd side {:?}",
        [d, h, w]
    );
    let x = x.reshape([n, c * d, h, w]);
    let x = max_pool2d(x, MaxPoolOptions::new([2, 2])); // [n, c*d, h/2, w/2]
    let x = x.reshape([n, c, d / 2, 2, (h / 2) * (w / 2)]);
    let x = x.max_dim(3); // [n, c, d/2, 1, h/2*w/2]
    x.reshape([n, c, d / 2, h / 2, w / 2])
}

/// Nearest-neighbour upsampling by 2 along each spatial axis, which burn lacks in 3D.
///
/// # Shapes
///
/// - input: `[batch, channels, depth, height, width]`
/// - output: `[batch, channels, 2 * depth, 2 * height, 2 * width]`
pub(crate) fn upsample_nearest3d_2(x: Tensor<5>) -> Tensor<5> {
    let [n, c, d, h, w] = x.dims();
    // N.B. One axis at a time keeps every tensor at rank 5 or less: ndarray stops at 6.
    let x = x
        .reshape([n * c * d * h, w, 1])
        .expand([n * c * d * h, w, 2]);
    let x = x
        .reshape([n * c * d, h, 1, 2 * w])
        .expand([n * c * d, h, 2, 2 * w]);
    let x = x
        .reshape([n * c, d, 1, 4 * h * w])
        .expand([n * c, d, 2, 4 * h * w]);
    x.reshape([n, c, 2 * d, 2 * h, 2 * w])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn ramp(shape: [usize; 5], device: &Device) -> Tensor<5> {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|i| ((i * 37) % 101) as f32).collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    #[test]
    fn max_pool_takes_the_max_of_each_2x2x2_cell() {
        let device = Device::flex();
        let x = ramp([1, 2, 4, 4, 6], &device);
        let values: Vec<f32> = x.to_data().try_to_vec::<f32>().expect("f32 data");
        let pooled: Vec<f32> = max_pool3d_2(x)
            .to_data()
            .try_to_vec::<f32>()
            .expect("f32 data");
        let index = |c: usize, z: usize, y: usize, x: usize| ((c * 4 + z) * 4 + y) * 6 + x;
        let mut expected = Vec::new();
        for c in 0..2 {
            for z in 0..2 {
                for y in 0..2 {
                    for x in 0..3 {
                        let mut m = f32::MIN;
                        for (dz, dy, dx) in (0..8).map(|i| (i / 4, (i / 2) % 2, i % 2)) {
                            m = m.max(values[index(c, 2 * z + dz, 2 * y + dy, 2 * x + dx)]);
                        }
                        expected.push(m);
                    }
                }
            }
        }
        assert_eq!(pooled, expected);
    }

    #[test]
    fn upsample_repeats_each_voxel_in_a_2x2x2_cell() {
        let device = Device::flex();
        let x = ramp([1, 2, 2, 3, 2], &device);
        let values: Vec<f32> = x.to_data().try_to_vec::<f32>().expect("f32 data");
        let up = upsample_nearest3d_2(x);
        assert_eq!(up.dims(), [1, 2, 4, 6, 4]);
        let up: Vec<f32> = up.to_data().try_to_vec::<f32>().expect("f32 data");
        for c in 0..2 {
            for z in 0..4 {
                for y in 0..6 {
                    for x in 0..4 {
                        let got = up[((c * 4 + z) * 6 + y) * 4 + x];
                        let want = values[((c * 2 + z / 2) * 3 + y / 2) * 2 + x / 2];
                        assert_eq!(got, want, "at c{c} z{z} y{y} x{x}");
                    }
                }
            }
        }
    }

    #[test]
    fn even_kernel_pads_zero_before_and_one_after() {
        // A 2x2x2 kernel that picks the far corner: with Keras padding (0 before, 1 after) the
        // output at p is the input at p + (1, 1, 1), and zero past the far faces.
        let device = Device::flex();
        let x = ramp([1, 1, 3, 3, 3], &device);
        let values: Vec<f32> = x.to_data().try_to_vec::<f32>().expect("f32 data");
        let mut kernel = vec![0.0f32; 8];
        kernel[7] = 1.0;
        let weight = Tensor::from_data(TensorData::new(kernel, [1, 1, 2, 2, 2]), &device);
        let y = conv3d_same(x, weight, None);
        assert_eq!(y.dims(), [1, 1, 3, 3, 3]);
        let y: Vec<f32> = y.to_data().try_to_vec::<f32>().expect("f32 data");
        for z in 0..3 {
            for yy in 0..3 {
                for xx in 0..3 {
                    let got = y[(z * 3 + yy) * 3 + xx];
                    let want = if z < 2 && yy < 2 && xx < 2 {
                        values[((z + 1) * 3 + yy + 1) * 3 + xx + 1]
                    } else {
                        0.0
                    };
                    assert_eq!(got, want, "at {z} {yy} {xx}");
                }
            }
        }
    }

    #[test]
    fn odd_kernel_keeps_the_spatial_size() {
        let device = Device::flex();
        let conv = Conv3dSameConfig::new([2, 3], 3).init(&device);
        let y = conv.forward(ramp([2, 2, 4, 5, 6], &device));
        assert_eq!(y.dims(), [2, 3, 4, 5, 6]);
    }
}
