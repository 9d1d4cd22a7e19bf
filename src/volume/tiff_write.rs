//! Writing volumes as plain multi-page TIFF with ImageJ metadata, so that Fiji, tifffile
//! and simulation tools read the voxels and the voxel size back.

use std::io::{Seek, Write};
use std::path::Path;

use tiff::encoder::colortype::{
    ColorType, Gray8, Gray16, Gray32, Gray32Float, Gray64, Gray64Float, GrayI8, GrayI16, GrayI32,
    GrayI64,
};
use tiff::encoder::{Rational, TiffEncoder, TiffKind, TiffValue};
use tiff::tags::{ResolutionUnit, Tag};

use super::write::write_atomically;
use super::{Samples, Shape, VolumeError, VoxelSize, voxel_count};

/// Classic TIFF addresses 4 GiB; larger outputs are written as BigTIFF.
const CLASSIC_TIFF_LIMIT: u64 = 4_000_000_000;

/// Writes `samples` of shape `shape` as a multi-page TIFF (one page per z slice) in their
/// own type, atomically. The voxel size goes into ImageJ's description (slice spacing and
/// unit) and the resolution tags (x and y).
pub fn write_tiff(
    path: &Path,
    shape: Shape,
    samples: &Samples,
    voxel_size: &VoxelSize,
) -> Result<(), VolumeError> {
    if samples.len() != voxel_count(shape) {
        return Err(VolumeError::invalid(
            path,
            format!(
                "BUG: {} samples for a volume of shape {shape:?}",
                samples.len()
            ),
        ));
    }
    let big = samples.len() as u64 * samples.sample_type().bytes() as u64 > CLASSIC_TIFF_LIMIT;
    write_atomically(path, |writer| {
        let result = if big {
            TiffEncoder::new_big(writer)
                .and_then(|mut e| write_samples(&mut e, shape, samples, voxel_size))
        } else {
            TiffEncoder::new(writer)
                .and_then(|mut e| write_samples(&mut e, shape, samples, voxel_size))
        };
        result.map_err(|e| VolumeError::invalid(path, format!("cannot write TIFF: {e}")))
    })
}

/// Dispatches on the sample type.
fn write_samples<W: Write + Seek, K: TiffKind>(
    encoder: &mut TiffEncoder<W, K>,
    shape: Shape,
    samples: &Samples,
    voxel_size: &VoxelSize,
) -> tiff::TiffResult<()> {
    match samples {
        Samples::Bit(values) | Samples::U8(values) => {
            write_pages::<_, _, Gray8>(encoder, shape, values, voxel_size)
        }
        Samples::U16(values) => write_pages::<_, _, Gray16>(encoder, shape, values, voxel_size),
        Samples::U32(values) => write_pages::<_, _, Gray32>(encoder, shape, values, voxel_size),
        Samples::U64(values) => write_pages::<_, _, Gray64>(encoder, shape, values, voxel_size),
        Samples::I8(values) => write_pages::<_, _, GrayI8>(encoder, shape, values, voxel_size),
        Samples::I16(values) => write_pages::<_, _, GrayI16>(encoder, shape, values, voxel_size),
        Samples::I32(values) => write_pages::<_, _, GrayI32>(encoder, shape, values, voxel_size),
        Samples::I64(values) => write_pages::<_, _, GrayI64>(encoder, shape, values, voxel_size),
        Samples::F32(values) => {
            write_pages::<_, _, Gray32Float>(encoder, shape, values, voxel_size)
        }
        Samples::F64(values) => {
            write_pages::<_, _, Gray64Float>(encoder, shape, values, voxel_size)
        }
    }
}

/// Writes one page per z slice; the first carries ImageJ's description.
fn write_pages<W: Write + Seek, K: TiffKind, C: ColorType>(
    encoder: &mut TiffEncoder<W, K>,
    shape: Shape,
    values: &[C::Inner],
    voxel_size: &VoxelSize,
) -> tiff::TiffResult<()>
where
    [C::Inner]: TiffValue,
{
    let [depth, height, width] = shape;
    let page_len = height * width;
    let description = imagej_description(depth, voxel_size);
    for z in 0..depth {
        let mut image = encoder.new_image::<C>(width as u32, height as u32)?;
        if z == 0 {
            image
                .encoder()
                .write_tag(Tag::ImageDescription, description.as_str())?;
        }
        if let (Some(y), Some(x)) = (voxel_size.zyx[1], voxel_size.zyx[2]) {
            image
                .encoder()
                .write_tag(Tag::ResolutionUnit, ResolutionUnit::None.to_u16())?;
            image.encoder().write_tag(Tag::XResolution, per_unit(x))?;
            image.encoder().write_tag(Tag::YResolution, per_unit(y))?;
        }
        image.write_data(&values[z * page_len..(z + 1) * page_len])?;
    }
    Ok(())
}

/// ImageJ's description for a plain z stack.
fn imagej_description(depth: usize, voxel_size: &VoxelSize) -> String {
    let mut description = format!("ImageJ=1.11a\nimages={depth}\nslices={depth}\n");
    if let Some(unit) = &voxel_size.unit {
        let unit = if unit == "um" {
            "micron"
        } else {
            unit.as_str()
        };
        description.push_str(&format!("unit={unit}\n"));
    }
    if let Some(spacing) = voxel_size.zyx[0] {
        description.push_str(&format!("spacing={spacing}\n"));
    }
    description.push_str("loop=false\n");
    description
}

/// Pixels per unit for a spacing, as a rational with as many digits as fit.
fn per_unit(spacing: f64) -> Rational {
    let mut scale = 1_000_000.0;
    while scale > 1.0 && spacing * scale > f64::from(u32::MAX) {
        scale /= 10.0;
    }
    Rational {
        n: scale as u32,
        d: (spacing * scale).round().max(1.0) as u32,
    }
}
