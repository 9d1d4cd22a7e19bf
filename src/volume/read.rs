//! One entry point for every input kind: TIFF stacks, slice folders, NIfTI and raw binary.

use std::io::Read;
use std::path::Path;

use super::nifti::{is_nifti, read_nifti};
use super::raw::{RawSpec, read_raw};
use super::slices::read_slices;
use super::tiff_read::read_tiff;
use super::{Label, RawVolume, SampleType, Volume, VolumeError};

/// How to read an input beyond what its file says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadOptions {
    /// Read the file as raw binary with this description.
    pub raw: Option<RawSpec>,
    /// The channel of an ImageJ hyperstack to read (0-based).
    pub channel: Option<usize>,
    /// The time point of an ImageJ hyperstack to read (0-based).
    pub frame: Option<usize>,
}

/// Reads any supported input as a raw volume (samples in their source type).
///
/// A folder is read as TIFF slices; `.nii` and `.nii.gz` as NIfTI; with `options.raw` as raw
/// binary; anything else as TIFF.
pub fn read_raw_volume(path: &Path, options: &ReadOptions) -> Result<RawVolume, VolumeError> {
    let metadata = std::fs::metadata(path).map_err(|e| VolumeError::io(path, e))?;
    let volume = if metadata.is_dir() {
        read_slices(path, options)?
    } else if let Some(spec) = &options.raw {
        read_raw(path, spec)?
    } else if is_nifti(path) {
        read_nifti(path)?
    } else {
        check_tiff_magic(path)?;
        read_tiff(path, options)?
    };
    if volume.samples.is_empty() {
        return Err(VolumeError::invalid(path, "the volume has no voxels"));
    }
    tracing::debug!(
        path = %path.display(),
        shape = ?volume.shape,
        sample_type = %volume.samples.sample_type(),
        "read volume"
    );
    Ok(volume)
}

/// Reads any supported input as an f32 volume.
pub fn read_volume(path: &Path, options: &ReadOptions) -> Result<Volume, VolumeError> {
    Ok(Volume::from_raw(&read_raw_volume(path, options)?))
}

/// Reads a label file as a binary label; see [`Label::from_raw`] for `class`.
pub fn read_label(
    path: &Path,
    options: &ReadOptions,
    class: Option<i64>,
) -> Result<Label, VolumeError> {
    let raw = read_raw_volume(path, options)?;
    Label::from_raw(path, &raw, class)
}

/// Refuses, with a helpful message, a file that is neither TIFF nor a known format.
fn check_tiff_magic(path: &Path) -> Result<(), VolumeError> {
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).map_err(|e| VolumeError::io(path, e))?;
    let read = file
        .read(&mut magic)
        .map_err(|e| VolumeError::io(path, e))?;
    if read == 0 {
        return Err(VolumeError::Empty {
            path: path.to_path_buf(),
        });
    }
    let is_tiff = matches!(
        &magic[..read.min(4)],
        b"II*\0" | b"MM\0*" | b"II+\0" | b"MM\0+"
    );
    if !is_tiff {
        return Err(VolumeError::invalid(
            path,
            "not a TIFF, NIfTI (.nii, .nii.gz) or folder of slices; for raw binary give \
             --raw-shape and --raw-type",
        ));
    }
    Ok(())
}

/// The length of a file, refusing an empty one.
pub(crate) fn nonempty_len(path: &Path) -> Result<u64, VolumeError> {
    let len = std::fs::metadata(path)
        .map_err(|e| VolumeError::io(path, e))?
        .len();
    if len == 0 {
        return Err(VolumeError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(len)
}

/// Bytes of memory ctuq lets one volume take: what the system reports available, or 8 GiB
/// where it cannot tell.
pub(crate) fn memory_budget() -> u64 {
    let available_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|meminfo| {
            meminfo
                .lines()
                .find(|line| line.starts_with("MemAvailable:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
        });
    available_kib.map_or(8 << 30, |kib| kib * 1024)
}

/// Refuses a volume whose samples plus their f32 copy would not fit in memory.
pub(crate) fn check_memory(
    path: &Path,
    voxels: usize,
    sample_type: SampleType,
) -> Result<(), VolumeError> {
    let needed = voxels as u64 * (sample_type.bytes() as u64 + 4);
    let budget = memory_budget();
    if needed > budget {
        return Err(VolumeError::TooLarge {
            path: path.to_path_buf(),
            reason: format!(
                "{voxels} {sample_type} voxels need {:.1} GiB in memory but only {:.1} GiB is \
                 available; crop or downsample the volume first",
                needed as f64 / (1u64 << 30) as f64,
                budget as f64 / (1u64 << 30) as f64
            ),
        });
    }
    Ok(())
}
