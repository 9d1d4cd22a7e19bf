//! `ctuq eval` and `ctuq refine` on a hand-made results folder: the paper's failure case of
//! an over-predicted edge that the uncertainty marks.

use std::path::Path;
use std::process::{Command, Output};

use ctuq::infer::{ResultMaps, VoxelSummary};
use ctuq::volume::{ReadOptions, Samples, VoxelSize, read_raw_volume, write_tiff};

const SHAPE: [usize; 3] = [4, 12, 12];

/// A label of a 4-voxel-wide bar, and results that over-predict one extra column on its
/// right with high uncertainty there.
fn make_results(folder: &Path) -> Vec<u8> {
    let mut maps = ResultMaps::zeros(SHAPE, VoxelSize::new([2.0, 1.0, 1.0], "um"));
    let mut label = vec![0u8; 4 * 12 * 12];
    for z in 0..4 {
        for y in 0..12 {
            for x in 0..12 {
                let i = (z * 12 + y) * 12 + x;
                label[i] = u8::from((4..8).contains(&x));
                let summary = if (4..8).contains(&x) {
                    VoxelSummary {
                        mean: 0.9,
                        lower: 0.85,
                        upper: 0.95,
                        std: 0.03,
                    }
                } else if x == 8 {
                    VoxelSummary {
                        mean: 0.6,
                        lower: 0.3,
                        upper: 0.9,
                        std: 0.2,
                    }
                } else {
                    VoxelSummary {
                        mean: 0.05,
                        lower: 0.02,
                        upper: 0.08,
                        std: 0.02,
                    }
                };
                maps.set(i, summary);
            }
        }
    }
    maps.write(folder).unwrap();
    write_tiff(
        &folder.join("label.tif"),
        SHAPE,
        &Samples::U8(label.clone()),
        &VoxelSize::unknown(),
    )
    .unwrap();
    label
}

fn ctuq(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_ctuq"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    output
}

#[test]
fn eval_reports_the_over_prediction_and_refine_removes_it() {
    let folder = tempfile::tempdir().unwrap();
    let label = make_results(folder.path());
    let results = folder.path().to_str().unwrap();
    let label_path = folder.path().join("label.tif");
    let label_arg = label_path.to_str().unwrap();

    let eval = ctuq(&["eval", "--results", results, "--label", label_arg]);
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let table = String::from_utf8_lossy(&eval.stdout);
    // One wrong column of 12: accuracy 11/12.
    assert!(
        table.contains("prediction") && table.contains("0.9167"),
        "{table}"
    );
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.path().join("metrics.json")).unwrap())
            .unwrap();
    let prediction = &metrics["segmentations"][0];
    assert_eq!(prediction["name"], "prediction");
    // Every inaccurate window touches column 8, where the uncertainty is: P(U|I) = 1.
    let counts = &prediction["pavpu_slices"];
    assert!(counts["n_iu"].as_u64().unwrap() > 0);
    assert_eq!(counts["n_ic"].as_u64().unwrap(), 0);
    let csv = std::fs::read_to_string(folder.path().join("metrics.slices.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 3 * 4,
        "header + 3 segmentations x 4 slices"
    );

    let refine = ctuq(&[
        "refine",
        "--results",
        results,
        "--threshold",
        "0.22",
        "--mode",
        "remove",
    ]);
    assert!(
        refine.status.success(),
        "{}",
        String::from_utf8_lossy(&refine.stderr)
    );
    let refined =
        read_raw_volume(&folder.path().join("refined.tif"), &ReadOptions::default()).unwrap();
    assert_eq!(
        refined.samples,
        Samples::U8(label.clone()),
        "refinement removes the extra column"
    );
    assert_eq!(refined.voxel_size, VoxelSize::new([2.0, 1.0, 1.0], "um"));

    let eval = ctuq(&["eval", "--results", results, "--label", label_arg]);
    let table = String::from_utf8_lossy(&eval.stdout);
    let refined_row = table
        .lines()
        .find(|l| l.starts_with("refined"))
        .expect("refined row");
    assert!(refined_row.contains("1.0000"), "{refined_row}");
}

#[test]
fn sweep_reports_the_best_threshold() {
    let folder = tempfile::tempdir().unwrap();
    make_results(folder.path());
    let label_path = folder.path().join("label.tif");
    let sweep = ctuq(&[
        "refine",
        "--results",
        folder.path().to_str().unwrap(),
        "--sweep",
        "0:1:0.1",
        "--label",
        label_path.to_str().unwrap(),
    ]);
    assert!(
        sweep.status.success(),
        "{}",
        String::from_utf8_lossy(&sweep.stderr)
    );
    let text = String::from_utf8_lossy(&sweep.stdout);
    // Thresholds below 0.1 would also remove the bar (uncertainty 0.1): the best lie in
    // [0.1, 0.6), and the lowest of them is reported.
    assert!(
        text.contains("best threshold 0.100: accuracy 1.00000"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(folder.path().join("sweep.csv"))
            .unwrap()
            .lines()
            .count(),
        12
    );
}

#[test]
fn bad_inputs_get_clear_errors() {
    let folder = tempfile::tempdir().unwrap();
    make_results(folder.path());
    let results = folder.path().to_str().unwrap();

    let out = ctuq(&["refine", "--results", results, "--threshold=-0.1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside [0, 1]"));

    let other = folder.path().join("other_label.tif");
    write_tiff(
        &other,
        [4, 12, 11],
        &Samples::U8(vec![0; 4 * 12 * 11]),
        &VoxelSize::unknown(),
    )
    .unwrap();
    let out = ctuq(&[
        "eval",
        "--results",
        results,
        "--label",
        other.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(
        message.contains("other_label.tif") && message.contains("4 x 12 x 11"),
        "{message}"
    );

    std::fs::remove_file(folder.path().join("std.tif")).unwrap();
    let label = folder.path().join("label.tif");
    let out = ctuq(&[
        "eval",
        "--results",
        results,
        "--label",
        label.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("std.tif"));
}
