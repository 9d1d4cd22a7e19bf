//! Reading multi-page TIFF stacks: strips or tiles, any byte order, uncompressed, LZW,
//! Deflate or PackBits, classic or BigTIFF, with ImageJ's metadata.
//!
//! The file is walked twice. The first pass reads only the page directories, checks that
//! every page has the same size and type, and checks the claimed data against the file
//! size and the memory budget, so that a corrupt header fails before any large allocation.
//! The second pass decodes the pages it needs.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use tiff::ColorType;
use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::tags::{CompressionMethod, SampleFormat, Tag};

use super::read::nonempty_len;
use super::read::{ReadOptions, check_memory};
use super::voxel_size::normalize_unit;
use super::{RawVolume, SampleType, Samples, VolumeError, VoxelSize};

/// Micrometres per centimetre, for the TIFF resolution unit.
const UM_PER_CM: f64 = 10_000.0;

/// What the first page directory says about every page.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PageFormat {
    width: u32,
    height: u32,
    color: ColorType,
    sample_format: SampleFormat,
}

/// The parts of ImageJ's ImageDescription that ctuq uses.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ImageJInfo {
    pub images: Option<usize>,
    pub channels: usize,
    pub slices: Option<usize>,
    pub frames: usize,
    pub spacing: Option<f64>,
    pub unit: Option<String>,
}

impl ImageJInfo {
    /// Parses a description such as `ImageJ=1.54f\nimages=48\nslices=48\nunit=micron\n...`;
    /// `None` when the description is not ImageJ's.
    pub(crate) fn parse(description: &str) -> Option<ImageJInfo> {
        if !description.starts_with("ImageJ=") {
            return None;
        }
        let mut info = ImageJInfo {
            channels: 1,
            frames: 1,
            ..ImageJInfo::default()
        };
        for line in description.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "images" => info.images = value.parse().ok(),
                "channels" => info.channels = value.parse().unwrap_or(1),
                "slices" => info.slices = value.parse().ok(),
                "frames" => info.frames = value.parse().unwrap_or(1),
                "spacing" => info.spacing = value.parse().ok().filter(|s: &f64| *s > 0.0),
                "unit" => info.unit = Some(normalize_unit(&value.replace("\\u00B5", "\u{b5}"))),
                _ => {}
            }
        }
        Some(info)
    }
}

/// Reads a TIFF file as a volume; pages are z slices.
pub(crate) fn read_tiff(path: &Path, options: &ReadOptions) -> Result<RawVolume, VolumeError> {
    let file_len = nonempty_len(path)?;
    let file = File::open(path).map_err(|e| VolumeError::io(path, e))?;
    let mut limits = Limits::default();
    limits.decoding_buffer_size = usize::MAX;
    let mut decoder = Decoder::new(BufReader::new(file))
        .map_err(|e| VolumeError::invalid(path, format!("not a readable TIFF file: {e}")))?
        .with_limits(limits);

    let (format, page_count, uncompressed) = scan_pages(path, &mut decoder, file_len)?;
    let sample_type = sample_type_of(path, &format)?;
    let description = decoder
        .seek_to_image(0)
        .ok()
        .and_then(|()| decoder.get_tag_ascii_string(Tag::ImageDescription).ok());
    let imagej = description.as_deref().and_then(ImageJInfo::parse);

    let pages = select_pages(path, imagej.as_ref(), page_count, options)?;
    let page_voxels = format.width as usize * format.height as usize;
    check_memory(path, pages.len() * page_voxels, sample_type)?;
    if uncompressed {
        let claimed = page_count as u64 * page_voxels as u64 * sample_type.bytes() as u64;
        let claimed = if sample_type == SampleType::Bit {
            claimed / 8
        } else {
            claimed
        };
        if claimed > file_len {
            return Err(VolumeError::TooLarge {
                path: path.to_path_buf(),
                reason: format!(
                    "the header claims {page_count} page(s) of {} x {} {sample_type} pixels \
                     ({claimed} bytes, uncompressed) but the file holds only {file_len} bytes; \
                     it is truncated or corrupt",
                    format.width, format.height,
                ),
            });
        }
    }

    let mut samples = Samples::with_capacity(sample_type, pages.len() * page_voxels);
    for &page in &pages {
        decoder
            .seek_to_image(page)
            .map_err(|e| page_error(path, page, page_count, &e))?;
        let decoded = decoder
            .read_image()
            .map_err(|e| page_error(path, page, page_count, &e))?;
        let page_samples = to_samples(decoded, &format)
            .ok_or_else(|| VolumeError::invalid(path, "BUG: decoded page of unexpected type"))?;
        if page_samples.len() != page_voxels {
            return Err(page_error(path, page, page_count, &"short page"));
        }
        samples.append(page_samples);
    }

    let voxel_size = voxel_size(&mut decoder, imagej.as_ref());
    let shape = [pages.len(), format.height as usize, format.width as usize];
    Ok(RawVolume {
        shape,
        samples,
        voxel_size,
    })
}

/// Walks every page directory: checks that all pages match the first, and whether all are
/// uncompressed. Returns the common format and the page count.
fn scan_pages(
    path: &Path,
    decoder: &mut Decoder<BufReader<File>>,
    file_len: u64,
) -> Result<(PageFormat, usize, bool), VolumeError> {
    let first = page_format(path, decoder, 0)?;
    let sample_type = sample_type_of(path, &first)?;
    let page_bytes = u64::from(first.width) * u64::from(first.height) * sample_type.bytes() as u64;
    let page_bytes = if sample_type == SampleType::Bit {
        page_bytes / 8
    } else {
        page_bytes
    };
    let mut uncompressed = true;
    let mut page = 0;
    loop {
        let format = page_format(path, decoder, page)?;
        if format.color != first.color || format.sample_format != first.sample_format {
            return Err(VolumeError::invalid(
                path,
                format!(
                    "page {} is {:?} {:?} but page 1 is {:?} {:?}; all pages of a stack must \
                     have the same type",
                    page + 1,
                    format.color,
                    format.sample_format,
                    first.color,
                    first.sample_format,
                ),
            ));
        }
        if (format.width, format.height) != (first.width, first.height) {
            return Err(VolumeError::invalid(
                path,
                format!(
                    "page {} is {} x {} pixels but page 1 is {} x {}; all pages of a stack \
                     must have the same size",
                    page + 1,
                    format.width,
                    format.height,
                    first.width,
                    first.height,
                ),
            ));
        }
        let compression = decoder
            .find_tag_unsigned::<u16>(Tag::Compression)
            .ok()
            .flatten();
        let page_uncompressed = compression.is_none_or(|c| c == CompressionMethod::None.to_u16());
        if page_uncompressed && page_bytes > file_len {
            return Err(VolumeError::TooLarge {
                path: path.to_path_buf(),
                reason: format!(
                    "the header claims {} x {} {sample_type} pixels on page {} ({page_bytes} \
                     bytes, uncompressed) but the whole file holds {file_len} bytes; it is \
                     corrupt or truncated",
                    first.width,
                    first.height,
                    page + 1,
                ),
            });
        }
        uncompressed &= page_uncompressed;
        check_offsets(path, decoder, page, file_len)?;

        if !decoder.more_images() {
            break;
        }
        decoder.next_image().map_err(|e| {
            VolumeError::invalid(
                path,
                format!(
                    "the directory of page {} cannot be read ({e}); the file is truncated \
                         or corrupt",
                    page + 2
                ),
            )
        })?;
        page += 1;
    }
    Ok((first, page + 1, uncompressed))
}

/// Checks that the strips or tiles of the current page lie inside the file.
fn check_offsets(
    path: &Path,
    decoder: &mut Decoder<BufReader<File>>,
    page: usize,
    file_len: u64,
) -> Result<(), VolumeError> {
    let (offsets, counts) = if decoder.find_tag(Tag::TileOffsets).ok().flatten().is_some() {
        (Tag::TileOffsets, Tag::TileByteCounts)
    } else {
        (Tag::StripOffsets, Tag::StripByteCounts)
    };
    let offsets = decoder
        .find_tag_unsigned_vec::<u64>(offsets)
        .ok()
        .flatten()
        .unwrap_or_default();
    let counts = decoder
        .find_tag_unsigned_vec::<u64>(counts)
        .ok()
        .flatten()
        .unwrap_or_default();
    let end = offsets
        .iter()
        .zip(&counts)
        .map(|(o, c)| o.saturating_add(*c))
        .max()
        .unwrap_or(0);
    if end > file_len {
        return Err(VolumeError::invalid(
            path,
            format!(
                "the header of page {} places pixel data up to byte {end} but the file ends at \
                 byte {file_len}; the header is corrupt or the file truncated",
                page + 1
            ),
        ));
    }
    Ok(())
}

/// Size, colour type and sample format of the current page.
fn page_format(
    path: &Path,
    decoder: &mut Decoder<BufReader<File>>,
    page: usize,
) -> Result<PageFormat, VolumeError> {
    let (width, height) = decoder
        .dimensions()
        .map_err(|e| page_error(path, page, 0, &e))?;
    let color = decoder.colortype().map_err(|e| {
        VolumeError::invalid(
            path,
            format!("page {} has an unsupported pixel layout: {e}", page + 1),
        )
    })?;
    let sample_format = decoder
        .find_tag_unsigned_vec::<u16>(Tag::SampleFormat)
        .ok()
        .flatten()
        .and_then(|formats| formats.first().copied())
        .map_or(SampleFormat::Uint, SampleFormat::from_u16_exhaustive);
    Ok(PageFormat {
        width,
        height,
        color,
        sample_format,
    })
}

/// The sample type of a page format, or why ctuq cannot take it.
fn sample_type_of(path: &Path, format: &PageFormat) -> Result<SampleType, VolumeError> {
    let bits = match format.color {
        ColorType::Gray(bits) => bits,
        other => {
            return Err(VolumeError::invalid(
                path,
                format!(
                    "pages are {} ({other:?}); CT volumes are single-channel: save one \
                     channel as grayscale (in Fiji: Image > Type > 16-bit, or Image > Color > \
                     Split Channels) and open that",
                    describe_color(other)
                ),
            ));
        }
    };
    let sample_type = match (format.sample_format, bits) {
        (SampleFormat::Uint, 1) => SampleType::Bit,
        (SampleFormat::Uint, 8) => SampleType::U8,
        (SampleFormat::Uint, 16) => SampleType::U16,
        (SampleFormat::Uint, 32) => SampleType::U32,
        (SampleFormat::Uint, 64) => SampleType::U64,
        (SampleFormat::Int, 8) => SampleType::I8,
        (SampleFormat::Int, 16) => SampleType::I16,
        (SampleFormat::Int, 32) => SampleType::I32,
        (SampleFormat::Int, 64) => SampleType::I64,
        (SampleFormat::IEEEFP, 16 | 32) => SampleType::F32,
        (SampleFormat::IEEEFP, 64) => SampleType::F64,
        (sample_format, bits) => {
            return Err(VolumeError::invalid(
                path,
                format!(
                    "{bits}-bit {sample_format:?} samples are not supported; ctuq reads 1, 8, \
                     16, 32 and 64-bit integers and 16, 32 and 64-bit floats"
                ),
            ));
        }
    };
    Ok(sample_type)
}

/// A person's name for a colour type.
fn describe_color(color: ColorType) -> String {
    match color {
        ColorType::RGB(bits) => format!("RGB, 3 samples of {bits} bits per pixel"),
        ColorType::RGBA(bits) => format!("RGBA, 4 samples of {bits} bits per pixel"),
        ColorType::GrayA(bits) => format!("gray with alpha, 2 samples of {bits} bits per pixel"),
        ColorType::Palette(bits) => format!("palette-coloured, {bits} bits per pixel"),
        ColorType::Multiband {
            bit_depth,
            num_samples,
        } => {
            format!("{num_samples} samples of {bit_depth} bits per pixel")
        }
        other => format!("{other:?}"),
    }
}

/// The page indices that make up the volume: all pages, or one channel and time point of an
/// ImageJ hyperstack.
fn select_pages(
    path: &Path,
    imagej: Option<&ImageJInfo>,
    page_count: usize,
    options: &ReadOptions,
) -> Result<Vec<usize>, VolumeError> {
    let Some(info) = imagej.filter(|info| info.channels > 1 || info.frames > 1) else {
        if options.channel.is_some_and(|c| c > 0) || options.frame.is_some_and(|t| t > 0) {
            return Err(VolumeError::invalid(
                path,
                "--channel or --frame was given but the file has one channel and one time point",
            ));
        }
        return Ok((0..page_count).collect());
    };

    let slices = info.slices.unwrap_or(1);
    if info.channels * slices * info.frames != page_count {
        return Err(VolumeError::invalid(
            path,
            format!(
                "ImageJ says {} channels x {slices} slices x {} frames but the file has {} \
                 pages",
                info.channels, info.frames, page_count
            ),
        ));
    }
    let channel = pick(path, "channel", options.channel, info.channels)?;
    let frame = pick(path, "frame", options.frame, info.frames)?;
    Ok((0..slices)
        .map(|z| (frame * slices + z) * info.channels + channel)
        .collect())
}

/// Checks a hyperstack index the user gave, or asks for one.
fn pick(path: &Path, what: &str, given: Option<usize>, count: usize) -> Result<usize, VolumeError> {
    match given {
        None if count == 1 => Ok(0),
        None => Err(VolumeError::invalid(
            path,
            format!(
                "this ImageJ hyperstack has {count} {what}s; pass --{what} N (0 to {}) to pick \
                 the one to read as the volume",
                count - 1
            ),
        )),
        Some(index) if index < count => Ok(index),
        Some(index) => Err(VolumeError::invalid(
            path,
            format!(
                "--{what} {index} is out of range: the file has {count} {what}s (0 to {})",
                count - 1
            ),
        )),
    }
}

/// Voxel size from ImageJ's description and the resolution tags of the first page.
///
/// N.B. Without ImageJ's unit, resolutions in inches are ignored: image libraries stamp
/// 72 dpi on everything, and reading that as 353 um voxels would be a silent lie.
fn voxel_size(decoder: &mut Decoder<BufReader<File>>, imagej: Option<&ImageJInfo>) -> VoxelSize {
    let _ = decoder.seek_to_image(0);
    let mut resolution = |tag| match decoder.find_tag(tag) {
        Ok(Some(tiff::decoder::ifd::Value::Rational(n, d))) if n > 0 && d > 0 => {
            Some(f64::from(d) / f64::from(n))
        }
        Ok(Some(value)) => value.into_f64().ok().filter(|v| *v > 0.0).map(|v| 1.0 / v),
        _ => None,
    };
    let x = resolution(Tag::XResolution);
    let y = resolution(Tag::YResolution);
    let unit_tag = decoder
        .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
        .ok()
        .flatten();

    match imagej {
        // ImageJ writes resolution tags only for calibrated images, and then with a unit.
        Some(info) if info.unit.is_some() => VoxelSize {
            zyx: [info.spacing, y, x],
            unit: info.unit.clone(),
        },
        Some(info) => VoxelSize {
            zyx: [info.spacing, None, None],
            unit: None,
        },
        // N.B. Resolution unit "none" outside ImageJ is what libraries write by default
        // (tifffile writes 1/1): a number without a unit says nothing about the voxel.
        None => match unit_tag {
            Some(3) => VoxelSize {
                zyx: [None, y.map(|v| v * UM_PER_CM), x.map(|v| v * UM_PER_CM)],
                unit: Some("um".to_string()),
            },
            _ => VoxelSize::unknown(),
        },
    }
}

/// Converts one decoded page to samples; 1-bit rows are unpacked to one byte per pixel.
fn to_samples(decoded: DecodingResult, format: &PageFormat) -> Option<Samples> {
    let samples = match decoded {
        DecodingResult::U8(bytes) if format.color == ColorType::Gray(1) => Samples::Bit(
            unpack_bits(&bytes, format.width as usize, format.height as usize),
        ),
        DecodingResult::U8(values) => Samples::U8(values),
        DecodingResult::U16(values) => Samples::U16(values),
        DecodingResult::U32(values) => Samples::U32(values),
        DecodingResult::U64(values) => Samples::U64(values),
        DecodingResult::I8(values) => Samples::I8(values),
        DecodingResult::I16(values) => Samples::I16(values),
        DecodingResult::I32(values) => Samples::I32(values),
        DecodingResult::I64(values) => Samples::I64(values),
        DecodingResult::F16(values) => Samples::F32(values.iter().map(|v| v.to_f32()).collect()),
        DecodingResult::F32(values) => Samples::F32(values),
        DecodingResult::F64(values) => Samples::F64(values),
    };
    Some(samples)
}

/// Unpacks 1-bit rows (most significant bit first, rows padded to a byte) to 0/1 bytes.
fn unpack_bits(packed: &[u8], width: usize, height: usize) -> Vec<u8> {
    let row_bytes = width.div_ceil(8);
    let mut pixels = Vec::with_capacity(width * height);
    for row in packed.chunks(row_bytes).take(height) {
        pixels.extend((0..width).map(|x| (row[x / 8] >> (7 - x % 8)) & 1));
    }
    pixels
}

/// The error for a page that cannot be decoded.
fn page_error(
    path: &Path,
    page: usize,
    page_count: usize,
    cause: &dyn std::fmt::Display,
) -> VolumeError {
    let of = if page_count > 0 {
        format!(" of {page_count}")
    } else {
        String::new()
    };
    VolumeError::invalid(
        path,
        format!(
            "page {}{of} cannot be decoded ({cause}); the file is truncated or corrupt",
            page + 1
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagej_description_is_parsed() {
        let info = ImageJInfo::parse(
            "ImageJ=1.54f\nimages=96\nchannels=2\nslices=48\nunit=micron\nspacing=20.0\n",
        )
        .unwrap();
        assert_eq!(info.images, Some(96));
        assert_eq!((info.channels, info.slices, info.frames), (2, Some(48), 1));
        assert_eq!(info.spacing, Some(20.0));
        assert_eq!(info.unit.as_deref(), Some("um"));
        assert!(ImageJInfo::parse("made by something else").is_none());
    }

    #[test]
    fn bits_unpack_msb_first_with_row_padding() {
        assert_eq!(
            unpack_bits(&[0b1010_0000, 0b0110_0000], 3, 2),
            vec![1, 0, 1, 0, 1, 1]
        );
    }
}
