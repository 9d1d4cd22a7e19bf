//! The real CT volumes of `shared/data` read with the shapes, types and statistics that
//! their `meta.json` records.

mod common;

use std::path::Path;

use common::{shared_dir, shared_file};
use ctuq::volume::{ReadOptions, Volume, VoxelStats, read_label, read_raw_volume};

/// Reads `image` and checks it against the `section` of `meta.json` in its folder.
fn check_against_meta(folder: &Path, image: &str, section: &str, label: Option<&str>) {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("meta.json")).unwrap()).unwrap();
    let expected = &meta[section];
    let path = shared_file(folder, image);
    let raw = read_raw_volume(&path, &ReadOptions::default()).unwrap();

    let shape: Vec<usize> = expected["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(raw.shape.to_vec(), shape, "{image}");
    assert_eq!(
        raw.samples.sample_type().to_string(),
        expected["dtype"].as_str().unwrap()
    );

    let volume = Volume::from_raw(&raw);
    let stats = VoxelStats::of(&volume.voxels);
    let close = |got: f64, key: &str| {
        let want = expected[key].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-6 * want.abs().max(1.0),
            "{image} {key}: {got} vs {want}"
        );
    };
    close(stats.min, "min");
    close(stats.max, "max");
    close(stats.mean, "mean");
    close(stats.std, "std");

    if let Some(label) = label {
        let label = read_label(&shared_file(folder, label), &ReadOptions::default(), None).unwrap();
        assert_eq!(label.shape, raw.shape);
        close(label.foreground_fraction(), "label_foreground_fraction");
    }
}

#[test]
fn cement_matches_meta() {
    let Some(shared) = shared_dir() else { return };
    let folder = shared.join("data/qim3d_cement");
    check_against_meta(
        &folder,
        "image.tif",
        "image",
        Some("label_multiotsu_voids.tif"),
    );
    check_against_meta(&folder, "fibers_150_unlabelled.tif", "fibers", None);
}

#[test]
fn snow_matches_meta() {
    let Some(shared) = shared_dir() else { return };
    check_against_meta(
        &shared.join("data/spam_snow"),
        "image.tif",
        "image",
        Some("label_otsu.tif"),
    );
}

#[test]
fn totalseg_matches_meta() {
    let Some(shared) = shared_dir() else { return };
    let folder = shared.join("data/totalseg_example_ct");
    check_against_meta(&folder, "image.tif", "image", None);

    let multiclass = shared_file(&folder, "label_multiclass.tif");
    let error = read_label(&multiclass, &ReadOptions::default(), None)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("42 values") && error.contains("--class"),
        "{error}"
    );
    let liver = read_label(
        &shared_file(&folder, "label_liver.tif"),
        &ReadOptions::default(),
        None,
    )
    .unwrap();
    let class5 = read_label(&multiclass, &ReadOptions::default(), Some(5)).unwrap();
    assert_eq!(
        liver.voxels, class5.voxels,
        "label_liver is class 5 of the multiclass label"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("meta.json")).unwrap()).unwrap();
    let fraction = meta["image"]["label_foreground_fraction"].as_f64().unwrap();
    assert!((liver.foreground_fraction() - fraction).abs() < 1e-9);
}
