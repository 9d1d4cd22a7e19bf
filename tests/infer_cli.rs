//! `ctuq infer` end to end on a crop of the built-in sample with a small untrained model:
//! every map is written with the input's voxel size, the seed fixes the result, and bad
//! input fails cleanly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn::tensor::Device;
use ctuq::infer::ResultMaps;
use ctuq::model::file::{ModelHeader, TrainingSummary, save_model};
use ctuq::model::{ModelConfig, Variant};
use ctuq::volume::{ReadOptions, Samples, VoxelSize, read_raw_volume, write_tiff};

const CROP: [usize; 3] = [20, 24, 28];

/// A crop of the cement sample, with a voxel size so that it can be checked downstream.
fn crop(folder: &Path) -> PathBuf {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/cement.tif");
    let raw = read_raw_volume(&sample, &ReadOptions::default()).unwrap();
    let Samples::U8(voxels) = raw.samples else {
        panic!("the sample is uint8")
    };
    let mut cropped = Vec::new();
    for z in 0..CROP[0] {
        for y in 0..CROP[1] {
            let start = (z * 128 + y) * 128;
            cropped.extend_from_slice(&voxels[start..start + CROP[2]]);
        }
    }
    let path = folder.join("crop.tif");
    let voxel_size = VoxelSize::new([3.0, 2.0, 2.0], "um");
    write_tiff(&path, CROP, &Samples::U8(cropped), &voxel_size).unwrap();
    path
}

fn model(folder: &Path, variant: Variant) -> PathBuf {
    let config = ModelConfig::new(variant).with_widths([4, 8, 8, 8]);
    let network = config.init(&Device::flex()).unwrap();
    let path = folder.join(format!("{}.ctuq", variant.name()));
    let header = ModelHeader::new(config, [16, 16, 16], TrainingSummary::default());
    save_model(&path, &header, &network).unwrap();
    path
}

fn ctuq(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_ctuq"))
        .args(args)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
    output
}

fn infer(model: &Path, image: &Path, out: &Path, seed: &str) -> Output {
    ctuq(&[
        "infer",
        "--model",
        model.to_str().unwrap(),
        "--image",
        image.to_str().unwrap(),
        "--samples",
        "6",
        "--chunk",
        "16,16,16",
        "--seed",
        seed,
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn infer_writes_every_map_and_the_seed_fixes_them() {
    let folder = tempfile::tempdir().unwrap();
    let image = crop(folder.path());
    for variant in [Variant::Bcnn, Variant::Mcdn] {
        let model = model(folder.path(), variant);
        let first = folder.path().join(format!("{}_a", variant.name()));
        let again = folder.path().join(format!("{}_b", variant.name()));
        let other = folder.path().join(format!("{}_c", variant.name()));
        for (out, seed) in [(&first, "1"), (&again, "1"), (&other, "2")] {
            let output = infer(&model, &image, out, seed);
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }

        let maps = ResultMaps::load(&first).unwrap();
        assert_eq!(maps.shape, CROP);
        assert_eq!(maps.voxel_size, VoxelSize::new([3.0, 2.0, 2.0], "um"));
        for i in 0..maps.mean.len() {
            assert!(maps.lower[i] <= maps.mean[i] + 1e-6 || maps.lower[i] <= maps.upper[i]);
            assert!((maps.uncertainty[i] - (maps.upper[i] - maps.lower[i])).abs() < 1e-6);
            assert_eq!(maps.prediction[i], u8::from(maps.mean[i] > 0.5));
        }
        assert!(
            maps.uncertainty.iter().any(|&u| u > 0.0),
            "{variant:?} samples should differ"
        );
        assert_eq!(
            maps,
            ResultMaps::load(&again).unwrap(),
            "{variant:?}: same seed, same maps"
        );
        assert_ne!(
            maps.mean,
            ResultMaps::load(&other).unwrap().mean,
            "{variant:?}: seed matters"
        );

        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(first.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["variant"], variant.name());
        assert_eq!(summary["settings"]["samples"], 6);
        assert_eq!(summary["settings"]["seed"], 1);
        let fraction = &summary["foreground_fraction"];
        let (lower, upper) = (
            fraction["lower"].as_f64().unwrap(),
            fraction["upper"].as_f64().unwrap(),
        );
        assert!(
            lower <= upper,
            "the lower bound segmentation is inside the upper one"
        );
    }
}

#[test]
fn infer_refuses_bad_input() {
    let folder = tempfile::tempdir().unwrap();
    let image = crop(folder.path());
    let corrupt = folder.path().join("corrupt.ctuq");
    std::fs::write(&corrupt, b"not a model at all").unwrap();
    let out = folder.path().join("out");
    let output = infer(&corrupt, &image, &out, "0");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("corrupt.ctuq"));
    assert!(!out.exists(), "nothing is written for a failed run");

    let model = model(folder.path(), Variant::Bcnn);
    let output = infer(&model, &folder.path().join("missing.tif"), &out, "0");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.tif"));

    let output = ctuq(&[
        "infer",
        "--model",
        model.to_str().unwrap(),
        "--image",
        image.to_str().unwrap(),
        "--lower",
        "90",
        "--upper",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("percentiles"));
    assert!(
        !out.exists(),
        "bad settings are refused before the folder is made"
    );

    let file = folder.path().join("a file");
    std::fs::write(&file, b"").unwrap();
    let output = infer(&model, &image, &file, "0");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a folder"));
}

#[test]
fn segment_refuses_bad_settings_before_the_inference() {
    let folder = tempfile::tempdir().unwrap();
    let image = crop(folder.path());
    let [d, h, w] = CROP;
    let short_label = folder.path().join("short_label.tif");
    let voxels = vec![0u8; (d - 1) * h * w];
    write_tiff(
        &short_label,
        [d - 1, h, w],
        &Samples::U8(voxels),
        &VoxelSize::unknown(),
    )
    .unwrap();
    let model = model(folder.path(), Variant::Bcnn);
    let out = folder.path().join("segmented");
    let segment = |extra: &[&str]| {
        let mut args = vec![
            "segment",
            image.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let output = ctuq(&args);
        assert!(!output.status.success(), "{extra:?} should be refused");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };

    let error = segment(&["--label", short_label.to_str().unwrap()]);
    assert!(error.contains("short_label.tif"), "{error}");
    let error = segment(&["--threshold", "2"]);
    assert!(error.contains("--threshold"), "{error}");
    let error = segment(&["--eval-z", "20:10"]);
    assert!(
        error.contains("--eval-z") && error.contains("no slices"),
        "{error}"
    );
    let error = segment(&["--eval-z", "0:1000"]);
    assert!(error.contains("--eval-z"), "{error}");
    assert!(!out.exists(), "no inference ran, so nothing was written");
}

#[test]
fn segment_runs_inference_refinement_and_evaluation() {
    let folder = tempfile::tempdir().unwrap();
    let image = crop(folder.path());
    let label = folder.path().join("label.tif");
    let voxels: Vec<u8> = (0..CROP.iter().product::<usize>())
        .map(|i| u8::from(i % 5 == 0))
        .collect();
    write_tiff(&label, CROP, &Samples::U8(voxels), &VoxelSize::unknown()).unwrap();
    let model = model(folder.path(), Variant::Bcnn);
    let out = folder.path().join("segmented");
    let output = ctuq(&[
        "segment",
        image.to_str().unwrap(),
        "--label",
        label.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--samples",
        "3",
        "--chunk",
        "16,16,16",
        "--eval-z",
        "10:20",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains("refined") && table.contains("PAvPU"),
        "{table}"
    );
    for name in [
        "mean.tif",
        "uncertainty.tif",
        "refined.tif",
        "metrics.json",
        "summary.json",
    ] {
        assert!(out.join(name).is_file(), "{name} missing");
    }
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(
        metrics["shape"][0], 10,
        "only the slices asked for are evaluated"
    );
}
