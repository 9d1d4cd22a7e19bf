//! Choosing where the network runs: the CPU always, a GPU through wgpu or CUDA when built in.
//!
//! burn picks the backend from the device at run time, so one binary serves every machine;
//! the GPU backends are cargo features because they take long to build.

use std::fmt;

use burn::tensor::{Device, Tensor};

/// A compute backend for the network.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn's flex CPU backend (SIMD and threads): always available.
    #[default]
    Cpu,
    /// Any GPU through wgpu (Vulkan, Metal, DX12); build with `--features wgpu`.
    Wgpu,
    /// NVIDIA GPUs through CUDA; build with `--features cuda`.
    Cuda,
    /// burn's deprecated ndarray CPU backend, for comparison; build with `--features ndarray`.
    Ndarray,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Cpu => "cpu",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
            Backend::Ndarray => "ndarray",
        })
    }
}

impl Backend {
    /// What the backend is, in words, for reports.
    pub fn description(self) -> &'static str {
        match self {
            Backend::Cpu => "burn's flex CPU backend",
            Backend::Wgpu => "burn's wgpu GPU backend",
            Backend::Cuda => "burn's CUDA GPU backend",
            Backend::Ndarray => "burn's ndarray CPU backend",
        }
    }
}

/// Why a backend cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// This build does not include the backend.
    #[error(
        "the {backend} backend is not compiled into this build of ctuq (available: {}); \
         rebuild with `cargo build --release --features {backend}`",
        available_list()
    )]
    NotCompiled {
        /// The backend asked for.
        backend: Backend,
    },

    /// The backend is built in but found no usable device.
    #[error(
        "the {backend} backend found no usable device ({detail}); available: {}",
        available_list()
    )]
    NoDevice {
        /// The backend asked for.
        backend: Backend,
        /// What the backend said.
        detail: String,
    },
}

/// The backends compiled into this build.
pub fn available() -> Vec<Backend> {
    let mut backends = vec![Backend::Cpu];
    if cfg!(feature = "wgpu") {
        backends.push(Backend::Wgpu);
    }
    if cfg!(feature = "cuda") {
        backends.push(Backend::Cuda);
    }
    if cfg!(feature = "ndarray") {
        backends.push(Backend::Ndarray);
    }
    backends
}

fn available_list() -> String {
    available()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Opens a device of `backend` and checks that it computes.
pub fn open(backend: Backend) -> Result<Device, BackendError> {
    let device = match backend {
        Backend::Cpu => Device::flex(),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        #[cfg(feature = "cuda")]
        Backend::Cuda => Device::cuda(0),
        #[cfg(feature = "ndarray")]
        // N.B. Deprecated by burn; kept behind a feature only to measure it against flex.
        #[allow(deprecated)]
        Backend::Ndarray => Device::ndarray(),
        #[allow(unreachable_patterns)]
        other => return Err(BackendError::NotCompiled { backend: other }),
    };
    probe(backend, &device)?;
    tracing::debug!(%backend, "device opened");
    Ok(device)
}

/// Runs a tiny computation; GPU backends panic rather than fail when no adapter exists, so
/// the panic is caught and turned into an error the user can act on.
fn probe(backend: Backend, device: &Device) -> Result<(), BackendError> {
    let device = device.clone();
    let result = std::panic::catch_unwind(move || {
        let ones = Tensor::<1>::ones([4], &device);
        ones.sum().into_scalar::<f32>()
    });
    match result {
        Ok(4.0) => Ok(()),
        Ok(sum) => Err(BackendError::NoDevice {
            backend,
            detail: format!("1+1+1+1 gave {sum}"),
        }),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown failure".to_string());
            Err(BackendError::NoDevice { backend, detail })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_always_opens() {
        assert!(open(Backend::Cpu).is_ok());
        assert!(available().contains(&Backend::Cpu));
    }

    #[test]
    fn missing_backend_names_the_available_ones() {
        if cfg!(feature = "cuda") {
            return;
        }
        let error = open(Backend::Cuda).unwrap_err().to_string();
        assert!(
            error.contains("cuda") && error.contains("available: cpu"),
            "{error}"
        );
        assert!(error.contains("--features cuda"), "{error}");
    }
}
