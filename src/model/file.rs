//! The `.ctuq` model file: a small JSON header (variant, widths, chunk size, normalization,
//! training summary, versions) followed by burn's record of the weights.
//!
//! Layout of the container, shared with training checkpoints (which add an optimizer section):
//!
//! ```text
//! magic (8 bytes) | format version (u32 LE) | section count (u32 LE)
//! then per section: length (u64 LE) | bytes
//! ```
//!
//! Section 0 is the JSON header; section 1 is the burnpack module record. Every failure to read
//! one (not a ctuq file, a newer format, a truncated or corrupt file, another variant than
//! asked for) is a [`ModelFileError`], never a panic. Writes go to a temporary file in the same
//! folder, then a rename, so a crash never leaves half a file under the final name.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

use super::{ModelConfig, ModelError, Network, Variant};

/// Magic bytes opening a model file.
pub const MODEL_MAGIC: [u8; 8] = *b"CTUQ\0MDL";

/// The model file format this build writes and reads.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// Upper bound on a header section, to refuse absurd lengths in corrupt files early.
const MAX_HEADER_BYTES: u64 = 16 << 20;

/// Errors reading or writing a model file (or a checkpoint, which shares the container).
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    /// The file could not be read or written. The cause is in the message and not also the
    /// error's source, so that a printed chain names it once.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: io::Error,
    },
    /// The file does not start with the expected magic bytes.
    #[error("{path}: not a ctuq {kind} file")]
    NotCtuqFile {
        /// The file.
        path: PathBuf,
        /// `model` or `checkpoint`.
        kind: &'static str,
    },
    /// The file's format version is not one this build can read.
    #[error(
        "{path}: format version {found} is not supported (this ctuq reads version {supported}); \
         the file was written by ctuq {written_by}"
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The version this build reads.
        supported: u32,
        /// The ctuq version recorded in the header, or `unknown`.
        written_by: String,
    },
    /// The file ends before its declared sections do, or its layout is inconsistent.
    #[error("{path}: truncated or corrupt file ({detail})")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The JSON header does not parse.
    #[error("{path}: corrupt header: {source}")]
    Header {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The header describes an invalid network.
    #[error("{path}: invalid model configuration: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// The configuration error.
        source: ModelError,
    },
    /// The file holds another variant than the caller asked for.
    #[error("{path}: holds a {found} model, but a {expected} model was asked for")]
    WrongVariant {
        /// The file.
        path: PathBuf,
        /// The variant asked for.
        expected: Variant,
        /// The variant in the file.
        found: Variant,
    },
    /// The weights do not decode or do not fit the network the header describes.
    #[error("{path}: weights do not match the header: {detail}")]
    Record {
        /// The file.
        path: PathBuf,
        /// burn's message.
        detail: String,
    },
}

/// How the input volumes were normalized before training; inference must do the same.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalization {
    /// Each volume z-scored over all its voxels: `(v - mean) / std`.
    ZScorePerVolume,
}

/// What one training or validation volume looked like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeSummary {
    /// File name or other label of the volume.
    pub name: String,
    /// Shape z, y, x.
    pub shape: [usize; 3],
    /// Raw intensity mean used for the z-score, if the caller knew it.
    pub mean: Option<f64>,
    /// Raw intensity standard deviation used for the z-score, if the caller knew it.
    pub std: Option<f64>,
    /// Fraction of voxels labelled foreground.
    pub foreground_fraction: f64,
}

/// Summary of a training run, stored in the model header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Training volumes.
    pub train: Vec<VolumeSummary>,
    /// Validation volumes (or held-out parts).
    pub validation: Vec<VolumeSummary>,
    /// Epochs completed.
    pub epochs: usize,
    /// Initial learning rate.
    pub lr0: f64,
    /// Chunks per minibatch.
    pub batch_size: usize,
    /// Validation accuracy after the last epoch, if validated.
    pub val_accuracy: Option<f64>,
    /// Validation Dice after the last epoch, if validated.
    pub val_dice: Option<f64>,
}

/// The JSON header of a model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelHeader {
    /// Container format version ([`MODEL_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Version of ctuq that wrote the file.
    pub ctuq_version: String,
    /// Network shape: variant, widths, dropout rate.
    pub model: ModelConfig,
    /// Chunk shape (z, y, x) the network was trained on; a good default for inference.
    pub chunk: [usize; 3],
    /// Input normalization.
    pub normalization: Normalization,
    /// Training data and outcome.
    pub training: TrainingSummary,
}

impl ModelHeader {
    /// A header for this build of ctuq.
    pub fn new(model: ModelConfig, chunk: [usize; 3], training: TrainingSummary) -> Self {
        Self {
            format_version: MODEL_FORMAT_VERSION,
            ctuq_version: env!("CARGO_PKG_VERSION").to_string(),
            model,
            chunk,
            normalization: Normalization::ZScorePerVolume,
            training,
        }
    }
}

/// Saves a network and its header atomically.
pub fn save_model(
    path: &Path,
    header: &ModelHeader,
    network: &Network,
) -> Result<(), ModelFileError> {
    let header_json =
        serde_json::to_vec_pretty(header).map_err(|source| ModelFileError::Header {
            path: path.to_path_buf(),
            source,
        })?;
    let record = record_bytes(path, network)?;
    write_container(
        path,
        MODEL_MAGIC,
        MODEL_FORMAT_VERSION,
        &[&header_json, &record],
    )
}

/// Reads only the header of a model file (for `ctuq model FILE.ctuq`).
pub fn read_model_header(path: &Path) -> Result<ModelHeader, ModelFileError> {
    let sections = read_container(path, MODEL_MAGIC, "model", MODEL_FORMAT_VERSION)?;
    parse_model_header(path, &sections)
}

/// Loads a model file onto `device`, refusing another variant than `expected` (if given).
pub fn load_model(
    path: &Path,
    expected: Option<Variant>,
    device: &Device,
) -> Result<(ModelHeader, Network), ModelFileError> {
    let sections = read_container(path, MODEL_MAGIC, "model", MODEL_FORMAT_VERSION)?;
    let header = parse_model_header(path, &sections)?;
    if let Some(expected) = expected
        && expected != header.model.variant
    {
        return Err(ModelFileError::WrongVariant {
            path: path.to_path_buf(),
            expected,
            found: header.model.variant,
        });
    }
    let record = sections
        .get(1)
        .ok_or_else(|| corrupt(path, "no weights section"))?;
    let network = network_from_record(path, &header.model, record, device)?;
    Ok((header, network))
}

fn parse_model_header(path: &Path, sections: &[Vec<u8>]) -> Result<ModelHeader, ModelFileError> {
    let json = sections
        .first()
        .ok_or_else(|| corrupt(path, "no header section"))?;
    let header: ModelHeader =
        serde_json::from_slice(json).map_err(|source| ModelFileError::Header {
            path: path.to_path_buf(),
            source,
        })?;
    header
        .model
        .validate()
        .map_err(|source| ModelFileError::Config {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(header)
}

/// Serializes a module's record to burnpack bytes.
pub(crate) fn record_bytes<M: Module>(path: &Path, module: &M) -> Result<Vec<u8>, ModelFileError> {
    let bytes =
        module
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|error| ModelFileError::Record {
                path: path.to_path_buf(),
                detail: error.to_string(),
            })?;
    Ok(bytes.to_vec())
}

/// Builds a network of `config` on `device` and loads recorded weights into it.
pub(crate) fn network_from_record(
    path: &Path,
    config: &ModelConfig,
    record: &[u8],
    device: &Device,
) -> Result<Network, ModelFileError> {
    let record_error = |detail: String| ModelFileError::Record {
        path: path.to_path_buf(),
        detail,
    };
    let network = config
        .init(device)
        .map_err(|source| ModelFileError::Config {
            path: path.to_path_buf(),
            source,
        })?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(record.to_vec()))
        .map_err(|error| record_error(error.to_string()))?;
    network
        .try_load_record(record)
        .map_err(|error| record_error(error.to_string()))
}

pub(crate) fn corrupt(path: &Path, detail: impl Into<String>) -> ModelFileError {
    ModelFileError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// Writes a container atomically: a temporary file beside `path`, synced, then renamed.
pub(crate) fn write_container(
    path: &Path,
    magic: [u8; 8],
    version: u32,
    sections: &[&[u8]],
) -> Result<(), ModelFileError> {
    let io_error = |cause| ModelFileError::Io {
        path: path.to_path_buf(),
        cause,
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io_error(io::Error::new(io::ErrorKind::InvalidInput, "no file name")))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = path.with_file_name(temp_name);

    let write = || -> io::Result<()> {
        let mut file = io::BufWriter::new(fs::File::create(&temp)?);
        file.write_all(&magic)?;
        file.write_all(&version.to_le_bytes())?;
        let count = u32::try_from(sections.len()).map_err(io::Error::other)?;
        file.write_all(&count.to_le_bytes())?;
        for section in sections {
            file.write_all(&(section.len() as u64).to_le_bytes())?;
            file.write_all(section)?;
        }
        let file = file.into_inner().map_err(|error| error.into_error())?;
        file.sync_all()?;
        fs::rename(&temp, path)
    };
    write().map_err(|source| {
        let _ = fs::remove_file(&temp);
        io_error(source)
    })
}

/// Reads a container, checking its magic and version, and returns its sections.
pub(crate) fn read_container(
    path: &Path,
    magic: [u8; 8],
    kind: &'static str,
    version: u32,
) -> Result<Vec<Vec<u8>>, ModelFileError> {
    let bytes = fs::read(path).map_err(|cause| ModelFileError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    if bytes.len() < 16 || bytes[..8] != magic {
        return Err(ModelFileError::NotCtuqFile {
            path: path.to_path_buf(),
            kind,
        });
    }
    let word =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let found = word(8);
    let count = word(12) as usize;
    let mut sections = Vec::new();
    let mut at = 16usize;
    for index in 0..count {
        let Some(length) = bytes.get(at..at + 8) else {
            return Err(corrupt(path, format!("section {index} has no length")));
        };
        let mut length_bytes = [0u8; 8];
        length_bytes.copy_from_slice(length);
        let length = u64::from_le_bytes(length_bytes);
        at += 8;
        let remaining = (bytes.len() - at) as u64;
        if length > remaining || (index == 0 && length > MAX_HEADER_BYTES) {
            return Err(corrupt(
                path,
                format!("section {index} declares {length} bytes, {remaining} remain"),
            ));
        }
        let end = at + length as usize;
        sections.push(bytes[at..end].to_vec());
        at = end;
        // Check the version once the header is in hand, so the error can say who wrote it.
        if index == 0 && found != version {
            let written_by = serde_json::from_slice::<serde_json::Value>(&sections[0])
                .ok()
                .and_then(|json| json.get("ctuq_version")?.as_str().map(str::to_string))
                .unwrap_or_else(|| "unknown".to_string());
            return Err(ModelFileError::UnsupportedVersion {
                path: path.to_path_buf(),
                found,
                supported: version,
                written_by,
            });
        }
    }
    if found != version {
        return Err(ModelFileError::UnsupportedVersion {
            path: path.to_path_buf(),
            found,
            supported: version,
            written_by: "unknown".to_string(),
        });
    }
    if at != bytes.len() {
        return Err(corrupt(
            path,
            format!("{} stray bytes at the end", bytes.len() - at),
        ));
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DecoderMode;
    use burn::tensor::{Distribution, Tensor};

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ctuq-test-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn narrow(variant: Variant) -> ModelConfig {
        ModelConfig::new(variant).with_widths([4, 8, 8, 8])
    }

    #[test]
    fn save_and_load_give_the_same_mean_outputs() {
        let dir = temp_dir("model-round-trip");
        let device = Device::flex();
        for variant in Variant::ALL {
            let config = narrow(variant);
            let network = config.init(&device).expect("valid");
            let header = ModelHeader::new(config.clone(), [16, 16, 16], TrainingSummary::default());
            let path = dir.join(format!("{variant}.ctuq"));
            save_model(&path, &header, &network).expect("save");

            let (loaded_header, loaded) = load_model(&path, Some(variant), &device).expect("load");
            assert_eq!(loaded_header, header);
            let x = Tensor::<5>::random([1, 1, 16, 16, 16], Distribution::Default, &device);
            let a = network.forward(x.clone(), DecoderMode::Mean).into_data();
            let b = loaded.forward(x, DecoderMode::Mean).into_data();
            assert_eq!(a, b, "{variant}");
            assert_eq!(read_model_header(&path).expect("header"), header);
        }
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn bad_files_give_errors_not_panics() {
        let dir = temp_dir("model-bad");
        let device = Device::flex();
        let config = narrow(Variant::Mcdn);
        let network = config.init(&device).expect("valid");
        let header = ModelHeader::new(config, [16, 16, 16], TrainingSummary::default());
        let path = dir.join("good.ctuq");
        save_model(&path, &header, &network).expect("save");
        let good = fs::read(&path).expect("read");

        let wrong = load_model(&path, Some(Variant::Bcnn), &device);
        assert!(
            matches!(wrong, Err(ModelFileError::WrongVariant { .. })),
            "{wrong:?}"
        );

        let missing = load_model(&dir.join("missing.ctuq"), None, &device)
            .expect_err("a missing file is an error");
        let ModelFileError::Io { cause, .. } = &missing else {
            panic!("{missing:?}");
        };
        let cause = cause.to_string();
        let chain = format!("{:#}", anyhow::Error::new(missing));
        assert_eq!(chain.matches(&cause).count(), 1, "the cause once: {chain}");

        let write = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            fs::write(&p, bytes).expect("write");
            p
        };
        let not_ours = write("text.ctuq", b"hello, this is not a model file at all");
        assert!(matches!(
            load_model(&not_ours, None, &device),
            Err(ModelFileError::NotCtuqFile { .. })
        ));

        let truncated = write("truncated.ctuq", &good[..good.len() / 2]);
        assert!(matches!(
            load_model(&truncated, None, &device),
            Err(ModelFileError::Corrupt { .. })
        ));

        let mut newer = good.clone();
        newer[8..12].copy_from_slice(&99u32.to_le_bytes());
        let newer = write("newer.ctuq", &newer);
        let error = load_model(&newer, None, &device).expect_err("newer format");
        assert!(matches!(
            error,
            ModelFileError::UnsupportedVersion { found: 99, .. }
        ));
        assert!(
            error.to_string().contains(env!("CARGO_PKG_VERSION")),
            "{error}"
        );

        // Flip bytes inside the header JSON.
        let mut bad_header = good.clone();
        bad_header[30] = b'}';
        bad_header[31] = b'{';
        let bad_header = write("bad-header.ctuq", &bad_header);
        assert!(matches!(
            load_model(&bad_header, None, &device),
            Err(ModelFileError::Header { .. })
        ));

        // Garbage in the weights section, same length.
        let header_len = u64::from_le_bytes(good[16..24].try_into().expect("8 bytes")) as usize;
        let weights_at = 24 + header_len + 8;
        let mut bad_weights = good.clone();
        for byte in &mut bad_weights[weights_at..] {
            *byte = 0xA5;
        }
        let bad_weights = write("bad-weights.ctuq", &bad_weights);
        assert!(matches!(
            load_model(&bad_weights, None, &device),
            Err(ModelFileError::Record { .. })
        ));

        // Weights of a wider network under this header.
        let wide = ModelConfig::new(Variant::Mcdn).with_widths([8, 8, 8, 8]);
        let wide_net = wide.init(&device).expect("valid");
        let wide_path = dir.join("wide.ctuq");
        save_model(&wide_path, &header, &wide_net).expect("save");
        assert!(matches!(
            load_model(&wide_path, None, &device),
            Err(ModelFileError::Record { .. })
        ));
        let _ = fs::remove_dir_all(dir);
    }
}
