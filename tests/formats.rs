//! Every TIFF and NIfTI variant the readers promise, from small fixtures written by
//! tifffile and nibabel (tests/fixtures/make_fixtures.py).

mod common;

use common::{FIXTURE_SHAPE, fixture, pattern};
use ctuq::volume::{ReadOptions, SampleType, read_raw_volume};

/// Reads a fixture and checks its type and that every voxel is `expected(pattern)`.
fn check(name: &str, sample_type: SampleType, expected: impl Fn(f64) -> f64) {
    let raw = read_raw_volume(&fixture(name), &ReadOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(raw.shape, FIXTURE_SHAPE, "{name}");
    assert_eq!(raw.samples.sample_type(), sample_type, "{name}");
    let [depth, height, width] = FIXTURE_SHAPE;
    for z in 0..depth {
        for y in 0..height {
            for x in 0..width {
                let got = raw.samples.get_f64((z * height + y) * width + x);
                let want = expected(pattern(z, y, x));
                assert_eq!(got, want, "{name} at ({z}, {y}, {x})");
            }
        }
    }
}

#[test]
fn u8_lzw() {
    check("u8_lzw.tif", SampleType::U8, |v| v);
}

#[test]
fn u16_deflate_with_edge_tiles() {
    check("u16_deflate_tiled.tif", SampleType::U16, |v| v);
}

#[test]
fn u16_packbits() {
    check("u16_packbits.tif", SampleType::U16, |v| v);
}

#[test]
fn i8_in_several_strips() {
    check("i8_strips.tif", SampleType::I8, |v| v - 40.0);
}

#[test]
fn i16_bigtiff() {
    check("i16_bigtiff.tif", SampleType::I16, |v| v - 50.0);
}

#[test]
fn u32_big_endian() {
    check("u32_bigendian.tif", SampleType::U32, |v| v * 1000.0);
}

#[test]
fn i32_tiled_big_endian() {
    check("i32_tiled_bigendian.tif", SampleType::I32, |v| v - 60.0);
}

#[test]
fn f32_big_endian_lzw() {
    check("f32_bigendian_lzw.tif", SampleType::F32, |v| v / 4.0);
}

#[test]
fn f64_deflate() {
    check("f64_deflate.tif", SampleType::F64, |v| v / 8.0);
}

#[test]
fn one_bit_pages_unpack() {
    check("bit1.tif", SampleType::Bit, |v| v % 2.0);
}

#[test]
fn nifti_gz_with_voxel_size() {
    check("i16.nii.gz", SampleType::I16, |v| v - 20.0);
    let raw = read_raw_volume(&fixture("i16.nii.gz"), &ReadOptions::default()).unwrap();
    let zyx = raw
        .voxel_size
        .zyx
        .map(|v| v.map(|v| (v * 1000.0).round() / 1000.0));
    assert_eq!(zyx, [Some(2.0), Some(0.4), Some(0.5)]);
    assert_eq!(raw.voxel_size.unit.as_deref(), Some("mm"));
}

#[test]
fn nifti_big_endian_float() {
    check("f32_bigendian.nii", SampleType::F32, |v| v);
}

#[test]
fn hyperstack_needs_a_channel_and_reads_the_one_given() {
    let path = fixture("hyperstack_2ch.tif");
    let error = read_raw_volume(&path, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("2 channels") && error.contains("--channel"),
        "{error}"
    );

    for (channel, offset) in [(0, 0.0), (1, 1000.0)] {
        let options = ReadOptions {
            channel: Some(channel),
            ..ReadOptions::default()
        };
        let raw = read_raw_volume(&path, &options).unwrap();
        assert_eq!(raw.shape, FIXTURE_SHAPE);
        assert_eq!(raw.samples.get_f64(3 * 35 + 2), pattern(0, 3, 2) + offset);
        let last = raw.samples.len() - 1;
        assert_eq!(raw.samples.get_f64(last), pattern(3, 39, 34) + offset);
    }

    let options = ReadOptions {
        channel: Some(2),
        ..ReadOptions::default()
    };
    let error = read_raw_volume(&path, &options).unwrap_err().to_string();
    assert!(error.contains("out of range"), "{error}");
}
