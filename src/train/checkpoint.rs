//! Training checkpoints: everything needed to resume a run where it stopped.
//!
//! Same container as the model file (see `model::file`), another magic: section 0 is a JSON
//! [`CheckpointHeader`] (config, progress, history), section 1 the model record, section 2 the
//! Adam state. Written atomically after every epoch and on cancellation, so the file on disk is
//! always the last good state.

use std::path::{Path, PathBuf};

use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

use super::{EpochSummary, TrainConfig};
use crate::model::Network;
use crate::model::file::{
    ModelFileError, TrainingSummary, corrupt, network_from_record, read_container, record_bytes,
    write_container,
};

/// Magic bytes opening a checkpoint file.
pub const CHECKPOINT_MAGIC: [u8; 8] = *b"CTUQ\0CKP";

/// The checkpoint format this build writes and reads.
pub const CHECKPOINT_FORMAT_VERSION: u32 = 1;

/// Where a run stands: enough to continue it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Epochs fully done.
    pub epochs_done: usize,
    /// Steps already done in the epoch after `epochs_done` (non-zero after a cancellation).
    pub steps_into_epoch: usize,
    /// Optimizer steps done since the run began, over all epochs.
    pub global_step: usize,
    /// Sum of the minibatch BCE values of the partial epoch, for its mean.
    pub partial_bce_sum: f64,
    /// Sum of the minibatch KL values of the partial epoch, for its mean.
    pub partial_kl_sum: f64,
}

/// The JSON header of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHeader {
    /// Checkpoint format version.
    pub format_version: u32,
    /// Version of ctuq that wrote it.
    pub ctuq_version: String,
    /// The run's configuration.
    pub config: TrainConfig,
    /// Where the run stands.
    pub progress: Progress,
    /// One entry per finished epoch.
    pub history: Vec<EpochSummary>,
    /// The training data, for the final model header.
    pub data: TrainingSummary,
}

/// A loaded checkpoint.
pub struct Checkpoint {
    /// The header.
    pub header: CheckpointHeader,
    /// The network, on the device asked for.
    pub network: Network,
    /// The optimizer with its state.
    pub optimizer: ModuleOptimizer,
}

/// The Adam optimizer used for training (Keras' epsilon, 1e-7).
pub(crate) fn adam() -> ModuleOptimizer {
    AdamConfig::new().with_epsilon(1e-7).init()
}

/// Writes a checkpoint atomically.
pub fn save_checkpoint(
    path: &Path,
    header: &CheckpointHeader,
    network: &Network,
    optimizer: &ModuleOptimizer,
) -> Result<(), ModelFileError> {
    let json = serde_json::to_vec_pretty(header).map_err(|source| ModelFileError::Header {
        path: path.to_path_buf(),
        source,
    })?;
    let model = record_bytes(path, network)?;
    let optim = optimizer
        .into_bytes()
        .map_err(|error| ModelFileError::Record {
            path: path.to_path_buf(),
            detail: format!("optimizer state: {error}"),
        })?;
    let sections: [&[u8]; 3] = [&json, &model, &optim];
    write_container(path, CHECKPOINT_MAGIC, CHECKPOINT_FORMAT_VERSION, &sections)
}

/// Reads a checkpoint onto `device` (an autodiff device, to keep training).
pub fn load_checkpoint(path: &Path, device: &Device) -> Result<Checkpoint, ModelFileError> {
    let sections = read_container(
        path,
        CHECKPOINT_MAGIC,
        "checkpoint",
        CHECKPOINT_FORMAT_VERSION,
    )?;
    let [json, model, optim] = sections.as_slice() else {
        return Err(corrupt(
            path,
            format!("{} sections, expected 3", sections.len()),
        ));
    };
    let header = read_header(path, json)?;
    let network = network_from_record(path, &header.config.model, model, device)?;
    let optimizer = adam()
        .from_bytes(Bytes::from_bytes_vec(optim.clone()))
        .map_err(|error| ModelFileError::Record {
            path: path.to_path_buf(),
            detail: format!("optimizer state: {error}"),
        })?;
    Ok(Checkpoint {
        header,
        network,
        optimizer,
    })
}

fn read_header(path: &Path, json: &[u8]) -> Result<CheckpointHeader, ModelFileError> {
    let header: CheckpointHeader =
        serde_json::from_slice(json).map_err(|source| ModelFileError::Header {
            path: path.to_path_buf(),
            source,
        })?;
    header
        .config
        .model
        .validate()
        .map_err(|source| ModelFileError::Config {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(header)
}

/// The checkpoint path used beside a model file: `model.ctuq` -> `model.ctuq.ckpt`.
pub fn default_checkpoint_path(model_path: &Path) -> PathBuf {
    let mut name = model_path.as_os_str().to_os_string();
    name.push(".ckpt");
    PathBuf::from(name)
}
