//! The ELBO loss and the learning-rate schedule of SPEC.
//!
//! Loss per minibatch = mean binary cross-entropy over voxels + KL / M, with M the number of
//! minibatches per epoch; the two terms are reported apart.

use burn::tensor::Tensor;
use burn::tensor::activation::{relu, softplus};

/// The epochs trained at the constant initial rate before the decay starts.
pub const CONSTANT_LR_EPOCHS: usize = 10;

/// Mean binary cross-entropy of sigmoid(logits) against 0/1 labels, computed from the logits
/// for stability: `max(z, 0) - z * y + ln(1 + exp(-|z|))`.
///
/// # Shapes
///
/// - logits, labels: `[batch, 1, d, h, w]`
/// - output: `[1]`
pub fn bce_with_logits(logits: Tensor<5>, labels: Tensor<5>) -> Tensor<1> {
    let log_term = softplus(logits.clone().abs().neg(), 1.0);
    let per_voxel = relu(logits.clone()) - logits * labels + log_term;
    per_voxel.mean()
}

/// The learning rate for 1-based epoch `epoch`: `lr0` for epochs up to 10, then
/// `lr0 * exp(10 * lr0 * (10 - epoch))`, continuous at epoch 10.
pub fn learning_rate(lr0: f64, epoch: usize) -> f64 {
    if epoch <= CONSTANT_LR_EPOCHS {
        lr0
    } else {
        let past = epoch as f64 - CONSTANT_LR_EPOCHS as f64;
        lr0 * (-10.0 * lr0 * past).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn bce_matches_the_probability_form() {
        let device = Device::flex();
        let z = [-3.0f32, -0.5, 0.0, 0.7, 4.0, 30.0];
        let y = [0.0f32, 1.0, 1.0, 0.0, 1.0, 0.0];
        let logits = Tensor::<5>::from_data(TensorData::new(z.to_vec(), [1, 1, 1, 2, 3]), &device);
        let labels = Tensor::<5>::from_data(TensorData::new(y.to_vec(), [1, 1, 1, 2, 3]), &device);
        let got = bce_with_logits(logits, labels).into_scalar::<f64>();
        let expected: f64 = z
            .iter()
            .zip(&y)
            .map(|(&z, &y)| {
                let (z, y) = (z as f64, y as f64);
                let p = 1.0 / (1.0 + (-z).exp());
                let q = 1.0 / (1.0 + z.exp()); // 1 - p without cancellation
                -(y * p.ln() + (1.0 - y) * q.ln())
            })
            .sum::<f64>()
            / 6.0;
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    }

    #[test]
    fn schedule_is_constant_then_decays() {
        assert_eq!(learning_rate(1e-3, 1), 1e-3);
        assert_eq!(learning_rate(1e-3, 10), 1e-3);
        let e11 = learning_rate(1e-3, 11);
        assert!((e11 - 1e-3 * (-0.01f64).exp()).abs() < 1e-15);
        assert!(learning_rate(1e-3, 50) < e11);
    }
}
