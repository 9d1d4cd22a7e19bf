//! Raw binary volumes: bare samples whose shape, type and byte order the user states.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::read::check_memory;
use super::read::nonempty_len;
use super::{RawVolume, SampleType, Samples, Shape, VolumeError, VoxelSize, voxel_count};

/// Byte order of multi-byte samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ByteOrder {
    /// Least significant byte first (x86, ARM, most files).
    #[default]
    Little,
    /// Most significant byte first.
    Big,
}

/// How to read a raw binary file: a raw file carries no header, so the user says it all.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSpec {
    /// Shape (z, y, x).
    pub shape: Shape,
    /// Sample type.
    pub sample_type: SampleType,
    /// Byte order.
    pub byte_order: ByteOrder,
    /// Bytes to skip at the start (a header ctuq does not understand).
    pub offset: u64,
    /// Voxel size, when the user knows it.
    pub voxel_size: VoxelSize,
}

/// Reads a raw binary volume as `spec` describes it. The file must hold exactly
/// `offset + voxels x bytes per sample` bytes: a mismatch means the shape or type is wrong.
pub(crate) fn read_raw(path: &Path, spec: &RawSpec) -> Result<RawVolume, VolumeError> {
    if spec.sample_type == SampleType::Bit {
        return Err(VolumeError::invalid(
            path,
            "raw 1-bit files are not supported",
        ));
    }
    let voxels = voxel_count(spec.shape);
    let expected = spec.offset + voxels as u64 * spec.sample_type.bytes() as u64;
    let file_len = nonempty_len(path)?;
    if file_len != expected {
        return Err(VolumeError::invalid(
            path,
            format!(
                "a raw {} x {} x {} {} volume after a {}-byte offset needs {expected} bytes but \
                 the file has {file_len}; check --raw-shape, --raw-type and --raw-offset",
                spec.shape[0], spec.shape[1], spec.shape[2], spec.sample_type, spec.offset
            ),
        ));
    }
    check_memory(path, voxels, spec.sample_type)?;

    let mut file = File::open(path).map_err(|e| VolumeError::io(path, e))?;
    file.seek(SeekFrom::Start(spec.offset))
        .map_err(|e| VolumeError::io(path, e))?;
    let mut bytes = Vec::with_capacity(expected as usize);
    file.read_to_end(&mut bytes)
        .map_err(|e| VolumeError::io(path, e))?;
    let samples = decode_samples(&bytes, spec.sample_type, spec.byte_order);
    Ok(RawVolume {
        shape: spec.shape,
        samples,
        voxel_size: spec.voxel_size.clone(),
    })
}

/// Decodes packed samples of a given type and byte order.
pub(crate) fn decode_samples(bytes: &[u8], sample_type: SampleType, order: ByteOrder) -> Samples {
    macro_rules! decode {
        ($variant:ident, $ty:ty) => {{
            const N: usize = std::mem::size_of::<$ty>();
            Samples::$variant(
                bytes
                    .chunks_exact(N)
                    .map(|chunk| {
                        let mut array = [0u8; N];
                        array.copy_from_slice(chunk);
                        match order {
                            ByteOrder::Little => <$ty>::from_le_bytes(array),
                            ByteOrder::Big => <$ty>::from_be_bytes(array),
                        }
                    })
                    .collect(),
            )
        }};
    }
    match sample_type {
        SampleType::Bit => Samples::Bit(bytes.iter().map(|&b| u8::from(b != 0)).collect()),
        SampleType::U8 => Samples::U8(bytes.to_vec()),
        SampleType::I8 => Samples::I8(bytes.iter().map(|&b| b as i8).collect()),
        SampleType::U16 => decode!(U16, u16),
        SampleType::U32 => decode!(U32, u32),
        SampleType::U64 => decode!(U64, u64),
        SampleType::I16 => decode!(I16, i16),
        SampleType::I32 => decode!(I32, i32),
        SampleType::I64 => decode!(I64, i64),
        SampleType::F32 => decode!(F32, f32),
        SampleType::F64 => decode!(F64, f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_and_little_endian_decode() {
        let bytes = [0x01, 0x02, 0x03, 0x04];
        assert_eq!(
            decode_samples(&bytes, SampleType::U16, ByteOrder::Little),
            Samples::U16(vec![0x0201, 0x0403])
        );
        assert_eq!(
            decode_samples(&bytes, SampleType::U16, ByteOrder::Big),
            Samples::U16(vec![0x0102, 0x0304])
        );
    }
}
