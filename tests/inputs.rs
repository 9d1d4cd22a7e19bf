//! The unusual and malformed files of `shared/inputs`, each with the behaviour its README
//! asks for, through the library and through `ctuq info`.

mod common;

use std::path::Path;
use std::process::Command;

use common::{read_npy, shared_dir, shared_file};
use ctuq::volume::{
    ReadOptions, SampleType, Volume, VolumeError, VoxelStats, ZScore, check_same_shape, read_label,
    read_raw_volume,
};

fn read(path: &Path) -> Result<ctuq::volume::RawVolume, VolumeError> {
    read_raw_volume(path, &ReadOptions::default())
}

/// Runs `ctuq info` on `args` and returns (success, stdout + stderr).
fn info(args: &[&Path]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ctuq"))
        .arg("info")
        .args(args)
        .output()
        .expect("ctuq runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(!text.contains("panicked"), "ctuq panicked: {text}");
    (output.status.success(), text)
}

/// Asserts that `ctuq info` fails on `path`, names the file and says `what`.
fn assert_cli_refuses(path: &Path, what: &str) {
    let (ok, text) = info(&[path]);
    assert!(!ok, "ctuq info accepted {}: {text}", path.display());
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(text.contains(&*name), "error does not name {name}: {text}");
    assert!(
        text.to_lowercase().contains(what),
        "error does not say {what:?}: {text}"
    );
}

#[test]
fn c01_single_voxel_stack() {
    let Some(shared) = shared_dir() else { return };
    let raw = read(&shared_file(
        &shared,
        "inputs/c01_u16_stack_single_voxel.tif",
    ))
    .unwrap();
    assert_eq!(raw.shape, [48, 48, 48]);
    assert_eq!(raw.samples.sample_type(), SampleType::U16);
    assert_eq!(raw.samples.get_f64(0), 255.0);
    let nonzero = (0..raw.samples.len())
        .filter(|&i| raw.samples.get_f64(i) != 0.0)
        .count();
    assert_eq!(nonzero, 1);
    assert!(
        raw.voxel_size.is_unknown(),
        "no voxel size is stated: {:?}",
        raw.voxel_size
    );
}

#[test]
fn c02_imagej_spacing() {
    let Some(shared) = shared_dir() else { return };
    let path = shared_file(&shared, "inputs/c02_imagej_spacing_10_10_20um.tif");
    let raw = read(&path).unwrap();
    assert_eq!(raw.voxel_size.zyx, [Some(20.0), Some(10.0), Some(10.0)]);
    assert_eq!(raw.voxel_size.unit.as_deref(), Some("um"));
    let (ok, text) = info(&[&path]);
    assert!(ok && text.contains("20 x 10 x 10 um"), "{text}");
}

#[test]
fn c04_rgb_is_refused() {
    let Some(shared) = shared_dir() else { return };
    let path = shared_file(&shared, "inputs/c04_rgb16_multipage.tif");
    let error = read(&path).unwrap_err().to_string();
    assert!(
        error.contains("RGB") && error.contains("single-channel"),
        "{error}"
    );
    assert_cli_refuses(&path, "single-channel");
}

#[test]
fn c05_big_endian_matches_numpy() {
    let Some(shared) = shared_dir() else { return };
    let raw = read(&shared_file(&shared, "inputs/c05_bigendian_u16.tif")).unwrap();
    let expected = read_npy(&shared_file(&shared, "inputs/c05_expected.npy"));
    assert_eq!(raw.shape.to_vec(), expected.shape);
    let values: Vec<f64> = (0..raw.samples.len())
        .map(|i| raw.samples.get_f64(i))
        .collect();
    assert_eq!(values, expected.values);
}

#[test]
fn c09_alloc_bomb_is_refused_before_allocating() {
    let Some(shared) = shared_dir() else { return };
    let path = shared_file(&shared, "inputs/c09_alloc_bomb.tif");
    let error = read(&path).unwrap_err();
    assert!(matches!(error, VolumeError::TooLarge { .. }), "{error}");
    assert!(error.to_string().contains("60000 x 60000"), "{error}");
    assert_cli_refuses(&path, "60000 x 60000");
}

#[test]
fn c10_truncated_is_refused() {
    let Some(shared) = shared_dir() else { return };
    let path = shared_file(&shared, "inputs/c10_truncated.tif");
    assert!(read(&path).is_err());
    assert_cli_refuses(&path, "truncated");
}

#[test]
fn c11_mismatched_slice_is_named() {
    let Some(shared) = shared_dir() else { return };
    let folder = shared_file(&shared, "inputs/c11_slices_mismatch");
    let error = read(&folder).unwrap_err().to_string();
    assert!(error.contains("slice_0006.tif"), "{error}");
    assert!(error.contains("63"), "{error}");
    let (ok, text) = info(&[&folder]);
    assert!(!ok && text.contains("slice_0006.tif"), "{text}");
}

#[test]
fn c11_good_slices_stack_in_natural_order() {
    let Some(shared) = shared_dir() else { return };
    let source = shared_file(&shared, "inputs/c11_slices_mismatch");
    let folder = tempfile::tempdir().unwrap();
    for (index, name) in [(0, "img2.tif"), (1, "img10.tif"), (2, "img1.tif")] {
        let from = source.join(format!("slice_000{index}.tif"));
        std::fs::copy(from, folder.path().join(name)).unwrap();
    }
    let stacked = read(folder.path()).unwrap();
    assert_eq!(stacked.shape[0], 3);
    let page = stacked.shape[1] * stacked.shape[2];
    let slice = |index: usize| read(&source.join(format!("slice_000{index}.tif"))).unwrap();
    for (z, index) in [(0, 2), (1, 0), (2, 1)] {
        let expected = slice(index);
        let got: Vec<f64> = (z * page..(z + 1) * page)
            .map(|i| stacked.samples.get_f64(i))
            .collect();
        let want: Vec<f64> = (0..page).map(|i| expected.samples.get_f64(i)).collect();
        assert_eq!(
            got, want,
            "z {z} should be slice {index} (img1, img2, img10 order)"
        );
    }
}

#[test]
fn c12_0_255_mask_is_binary() {
    let Some(shared) = shared_dir() else { return };
    let path = shared_file(&shared, "inputs/c12_label_0_255.tif");
    let raw = read(&path).unwrap();
    let label = read_label(&path, &ReadOptions::default(), None).unwrap();
    assert!(label.voxels.iter().all(|&v| v <= 1));
    let nonzero = (0..raw.samples.len())
        .filter(|&i| raw.samples.get_f64(i) != 0.0)
        .count();
    assert_eq!(label.voxels.iter().filter(|&&v| v == 1).count(), nonzero);
    assert!(nonzero > 0);
}

#[test]
fn c13_nan_and_inf_stay_out_of_statistics() {
    let Some(shared) = shared_dir() else { return };
    let path = shared_file(&shared, "inputs/c13_f32_nan_inf.tif");
    let volume = Volume::from_raw(&read(&path).unwrap());
    let stats = VoxelStats::of(&volume.voxels);
    assert!(stats.nan > 0 && stats.infinite > 0);
    assert!(stats.mean.is_finite() && stats.std.is_finite() && stats.std > 0.0);
    let zscore = ZScore::fit(&volume.voxels);
    assert_eq!(zscore.nonfinite, stats.nan + stats.infinite);
    let normalized = zscore.apply(&volume.voxels);
    assert!(normalized.iter().all(|v| v.is_finite()));
    let (ok, text) = info(&[&path]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("NaN / Inf:   {} / {}", stats.nan, stats.infinite)),
        "{text}"
    );
}

#[test]
fn c15_empty_file_is_refused() {
    let Some(shared) = shared_dir() else { return };
    let path = shared_file(&shared, "inputs/c15_empty.tif");
    assert!(matches!(read(&path), Err(VolumeError::Empty { .. })));
    assert_cli_refuses(&path, "empty");
}

#[test]
fn c18_shape_mismatch_names_both_shapes() {
    let Some(shared) = shared_dir() else { return };
    let image = shared_file(&shared, "inputs/c18_image_16x32x32.tif");
    let label = shared_file(&shared, "inputs/c18_label_16x32x31.tif");
    let error = check_same_shape(
        &image,
        read(&image).unwrap().shape,
        &label,
        read(&label).unwrap().shape,
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("16 x 32 x 32") && error.contains("16 x 32 x 31"),
        "{error}"
    );
    let label_flag = Path::new("--label");
    let (ok, text) = info(&[&image, label_flag, &label]);
    assert!(!ok, "{text}");
    assert!(text.contains("c18_image_16x32x32.tif") && text.contains("c18_label_16x32x31.tif"));
    assert!(text.contains("16 x 32 x 31"), "{text}");
}

#[test]
fn missing_file_is_a_clear_error() {
    let (ok, text) = info(&[Path::new("/no/such/volume.tif")]);
    assert!(!ok && text.contains("/no/such/volume.tif"), "{text}");
}

#[test]
fn non_tiff_file_says_how_to_read_raw() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("scan.bin");
    std::fs::write(&path, [1u8, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    let (ok, text) = info(&[&path]);
    assert!(!ok && text.contains("--raw-shape"), "{text}");
}
