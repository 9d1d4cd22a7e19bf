//! Reading NIfTI-1 volumes (`.nii`, `.nii.gz`), as medical and some materials tools write.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use flate2::read::GzDecoder;
use nifti::{NiftiHeader, NiftiType};

use super::raw::{ByteOrder, decode_samples};
use super::read::check_memory;
use super::read::nonempty_len;
use super::voxel_size::VoxelSize;
use super::{RawVolume, SampleType, Samples, VolumeError};

/// Whether a path names a NIfTI file.
pub(crate) fn is_nifti(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    name.ends_with(".nii") || name.ends_with(".nii.gz")
}

/// Reads a single-file NIfTI-1 volume, applying its intensity scaling if it has one.
pub(crate) fn read_nifti(path: &Path) -> Result<RawVolume, VolumeError> {
    let file_len = nonempty_len(path)?;
    let file = BufReader::new(File::open(path).map_err(|e| VolumeError::io(path, e))?);
    let gzipped = path.to_string_lossy().to_ascii_lowercase().ends_with(".gz");
    let mut reader: Box<dyn Read> = if gzipped {
        Box::new(GzDecoder::new(file))
    } else {
        Box::new(file)
    };

    let header = NiftiHeader::from_reader(&mut reader).map_err(|e| {
        let reason = match e {
            nifti::NiftiError::Io(cause) if gzipped && cause.to_string().contains("gzip") => {
                "the name ends in .gz but the file is not gzip-compressed (rename it or \
                 compress it)"
                    .to_string()
            }
            nifti::NiftiError::Io(cause) => format!("not a readable NIfTI-1 header: {cause}"),
            other => format!("not a readable NIfTI-1 header: {other}"),
        };
        VolumeError::invalid(path, reason)
    })?;
    let dims = header
        .dim()
        .map_err(|e| VolumeError::invalid(path, format!("bad NIfTI dimensions: {e}")))?;
    if dims.len() > 3 && dims[3..].iter().any(|&d| d > 1) {
        return Err(VolumeError::invalid(
            path,
            format!(
                "the volume has {} dimensions ({dims:?}); ctuq reads 3D volumes",
                dims.len()
            ),
        ));
    }
    let size = |i: usize| dims.get(i).copied().unwrap_or(1) as usize;
    let shape = [size(2), size(1), size(0)];
    let sample_type = nifti_sample_type(path, &header)?;
    let voxels = shape.iter().product::<usize>();
    check_memory(path, voxels, sample_type)?;

    let header_len = 348u64;
    let data_start = (header.vox_offset as u64).max(header_len);
    let data_len = (voxels * sample_type.bytes()) as u64;
    if !gzipped && data_start + data_len > file_len {
        return Err(VolumeError::TooLarge {
            path: path.to_path_buf(),
            reason: format!(
                "the header claims {} x {} x {} {sample_type} voxels ({data_len} bytes from \
                 byte {data_start}) but the file holds only {file_len} bytes; it is truncated",
                shape[0], shape[1], shape[2]
            ),
        });
    }

    let mut skip = Vec::new();
    let skipped = (&mut reader)
        .take(data_start - header_len)
        .read_to_end(&mut skip)
        .map_err(|e| VolumeError::io(path, e))?;
    let mut bytes = Vec::new();
    reader
        .take(data_len)
        .read_to_end(&mut bytes)
        .map_err(|e| VolumeError::io(path, e))?;
    if (skipped as u64) + header_len != data_start || bytes.len() as u64 != data_len {
        return Err(VolumeError::invalid(
            path,
            format!(
                "the voxel data ends early: {} of {data_len} bytes; the file is truncated",
                bytes.len()
            ),
        ));
    }

    let order = match header.endianness {
        nifti::Endianness::Big => ByteOrder::Big,
        nifti::Endianness::Little => ByteOrder::Little,
    };
    let samples = scaled(decode_samples(&bytes, sample_type, order), &header);
    let unit = header.xyzt_to_space().ok().and_then(|unit| match unit {
        nifti::Unit::Meter => Some("m"),
        nifti::Unit::Mm => Some("mm"),
        nifti::Unit::Micron => Some("um"),
        _ => None,
    });
    // N.B. Through the f32's shortest decimal form, so that 0.4 stays 0.4 and not 0.40000001.
    let pixdim = |i: usize| {
        let value: f64 = header.pixdim[i].to_string().parse().unwrap_or(0.0);
        Some(value).filter(|v| *v > 0.0 && v.is_finite())
    };
    let voxel_size = VoxelSize {
        zyx: [pixdim(3), pixdim(2), pixdim(1)],
        unit: unit.map(String::from),
    };
    Ok(RawVolume {
        shape,
        samples,
        voxel_size,
    })
}

/// The ctuq sample type of a NIfTI datatype.
fn nifti_sample_type(path: &Path, header: &NiftiHeader) -> Result<SampleType, VolumeError> {
    let datatype = header
        .data_type()
        .map_err(|e| VolumeError::invalid(path, format!("unknown NIfTI datatype: {e}")))?;
    let sample_type = match datatype {
        NiftiType::Uint8 => SampleType::U8,
        NiftiType::Int8 => SampleType::I8,
        NiftiType::Uint16 => SampleType::U16,
        NiftiType::Int16 => SampleType::I16,
        NiftiType::Uint32 => SampleType::U32,
        NiftiType::Int32 => SampleType::I32,
        NiftiType::Uint64 => SampleType::U64,
        NiftiType::Int64 => SampleType::I64,
        NiftiType::Float32 => SampleType::F32,
        NiftiType::Float64 => SampleType::F64,
        other => {
            return Err(VolumeError::invalid(
                path,
                format!("NIfTI datatype {other:?} is not supported; ctuq reads scalar volumes"),
            ));
        }
    };
    Ok(sample_type)
}

/// Applies `scl_slope` and `scl_inter` when set, which turns the samples into f32.
fn scaled(samples: Samples, header: &NiftiHeader) -> Samples {
    let (slope, inter) = (header.scl_slope, header.scl_inter);
    if slope == 0.0 || !slope.is_finite() || (slope == 1.0 && inter == 0.0) {
        return samples;
    }
    Samples::F32(samples.to_f32().iter().map(|v| v * slope + inter).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gz_name_on_plain_data_says_so() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("scan.nii.gz");
        std::fs::write(&path, b"II*\0 this is a TIFF, not gzip data at all").unwrap();
        let error = read_nifti(&path).unwrap_err().to_string();
        assert!(
            error.contains("scan.nii.gz") && error.contains("not gzip"),
            "{error}"
        );
    }
}
