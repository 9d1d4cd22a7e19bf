//! Volumes written by ctuq read back identically, voxel size included, and `ctuq convert`
//! turns every input kind into such a file.

mod common;

use std::process::Command;

use common::{FIXTURE_SHAPE, fixture};
use ctuq::volume::{
    RawVolume, ReadOptions, SampleType, Samples, VoxelSize, read_raw_volume, write_tiff,
};

fn ramp(sample_type: SampleType, len: usize) -> Samples {
    let mut samples = Samples::with_capacity(sample_type, len);
    let values: Vec<f64> = (0..len).map(|i| ((i * 37) % 251) as f64 - 100.0).collect();
    let appended = match sample_type {
        SampleType::Bit => samples.append(Samples::Bit(
            values.iter().map(|v| (*v > 0.0) as u8).collect(),
        )),
        SampleType::U8 => samples.append(Samples::U8(
            values.iter().map(|v| (v + 100.0) as u8).collect(),
        )),
        SampleType::U16 => samples.append(Samples::U16(
            values.iter().map(|v| (v + 100.0) as u16 * 200).collect(),
        )),
        SampleType::I16 => samples.append(Samples::I16(
            values.iter().map(|v| *v as i16 * 100).collect(),
        )),
        SampleType::I32 => samples.append(Samples::I32(
            values.iter().map(|v| *v as i32 * 100_000).collect(),
        )),
        SampleType::U32 => samples.append(Samples::U32(
            values
                .iter()
                .map(|v| (v + 100.0) as u32 * 100_000)
                .collect(),
        )),
        SampleType::F32 => samples.append(Samples::F32(
            values.iter().map(|v| *v as f32 / 7.0).collect(),
        )),
        SampleType::F64 => samples.append(Samples::F64(values.iter().map(|v| v / 7.0).collect())),
        SampleType::I8 => samples.append(Samples::I8(
            values.iter().map(|v| (*v / 2.0) as i8).collect(),
        )),
        SampleType::U64 => samples.append(Samples::U64(
            values.iter().map(|v| ((v + 100.0) as u64) << 40).collect(),
        )),
        SampleType::I64 => samples.append(Samples::I64(
            values.iter().map(|v| (*v as i64) << 40).collect(),
        )),
    };
    assert!(appended);
    samples
}

#[test]
fn every_type_round_trips_with_its_voxel_size() {
    let folder = tempfile::tempdir().unwrap();
    let shape = [3, 17, 9];
    let voxel_size = VoxelSize::new([2.5, 0.65, 0.65], "um");
    for sample_type in [
        SampleType::U8,
        SampleType::U16,
        SampleType::U32,
        SampleType::U64,
        SampleType::I8,
        SampleType::I16,
        SampleType::I32,
        SampleType::I64,
        SampleType::F32,
        SampleType::F64,
    ] {
        let path = folder.path().join(format!("{sample_type}.tif"));
        let samples = ramp(sample_type, 3 * 17 * 9);
        write_tiff(&path, shape, &samples, &voxel_size).unwrap();
        let back = read_raw_volume(&path, &ReadOptions::default()).unwrap();
        assert_eq!(
            back,
            RawVolume {
                shape,
                samples,
                voxel_size: voxel_size.clone()
            },
            "{sample_type}"
        );
    }
}

#[test]
fn unknown_voxel_size_stays_unknown() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("plain.tif");
    write_tiff(
        &path,
        [2, 3, 4],
        &ramp(SampleType::F32, 24),
        &VoxelSize::unknown(),
    )
    .unwrap();
    let back = read_raw_volume(&path, &ReadOptions::default()).unwrap();
    assert!(back.voxel_size.is_unknown(), "{:?}", back.voxel_size);
}

#[test]
fn writing_leaves_no_temporary_files() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("out.tif");
    write_tiff(
        &path,
        [2, 3, 4],
        &ramp(SampleType::U8, 24),
        &VoxelSize::unknown(),
    )
    .unwrap();
    let names: Vec<_> = std::fs::read_dir(folder.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out.tif")]);
}

#[test]
fn convert_keeps_type_values_and_voxel_size() {
    let folder = tempfile::tempdir().unwrap();
    for input in [
        "i16.nii.gz",
        "u16_deflate_tiled.tif",
        "f32_bigendian_lzw.tif",
        "bit1.tif",
    ] {
        let output = folder.path().join(format!("{input}.converted.tif"));
        let status = Command::new(env!("CARGO_BIN_EXE_ctuq"))
            .args([
                "convert".as_ref(),
                fixture(input).as_os_str(),
                output.as_os_str(),
            ])
            .status()
            .unwrap();
        assert!(status.success(), "convert {input}");
        let original = read_raw_volume(&fixture(input), &ReadOptions::default()).unwrap();
        let converted = read_raw_volume(&output, &ReadOptions::default()).unwrap();
        assert_eq!(converted.shape, original.shape);
        let as_u8 = |raw: &RawVolume| match &raw.samples {
            Samples::Bit(v) => Samples::U8(v.clone()),
            other => other.clone(),
        };
        assert_eq!(as_u8(&converted), as_u8(&original), "{input}");
        if original.voxel_size.is_known() {
            let rounded = |v: &VoxelSize| v.zyx.map(|a| a.map(|a| (a * 1e4).round()));
            assert_eq!(
                rounded(&converted.voxel_size),
                rounded(&original.voxel_size),
                "{input}"
            );
        }
    }
}

#[test]
fn raw_binary_reads_with_given_shape_type_and_order() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("scan.raw");
    let [depth, height, width] = FIXTURE_SHAPE;
    let mut bytes = vec![0xAB; 16];
    let mut expected = Vec::new();
    for i in 0..depth * height * width {
        let value = (i as u16).wrapping_mul(7);
        bytes.extend(value.to_be_bytes());
        expected.push(value);
    }
    std::fs::write(&path, &bytes).unwrap();

    let output = folder.path().join("scan.tif");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ctuq"))
            .args(["convert".as_ref(), path.as_os_str(), output.as_os_str()])
            .args(extra)
            .output()
            .unwrap()
    };
    let done = run(&[
        "--raw-shape",
        "4,40,35",
        "--raw-type",
        "u16",
        "--raw-endian",
        "big",
        "--raw-offset",
        "16",
        "--voxel-size",
        "5,1.5,1.5",
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let back = read_raw_volume(&output, &ReadOptions::default()).unwrap();
    assert_eq!(back.samples, Samples::U16(expected));
    assert_eq!(back.voxel_size, VoxelSize::new([5.0, 1.5, 1.5], "um"));

    let wrong = run(&["--raw-shape", "4,40,36", "--raw-type", "u16"]);
    assert!(!wrong.status.success());
    let message = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        message.contains("scan.raw") && message.contains("--raw-shape"),
        "{message}"
    );

    let nonsense = run(&[
        "--raw-shape",
        "4,40,35",
        "--raw-type",
        "u16",
        "--raw-offset",
        "16",
        "--voxel-size=-1,0,nan",
    ]);
    assert!(!nonsense.status.success());
    let message = String::from_utf8_lossy(&nonsense.stderr);
    assert!(
        message.contains("--voxel-size") && message.contains("positive"),
        "{message}"
    );

    // convert writes TIFF only, so another extension would be a lie about the file.
    let nifti = folder.path().join("scan.nii.gz");
    let refused = Command::new(env!("CARGO_BIN_EXE_ctuq"))
        .args(["convert".as_ref(), output.as_os_str(), nifti.as_os_str()])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("scan.nii.gz") && message.contains(".tif"),
        "{message}"
    );
    assert!(!nifti.exists());
}
