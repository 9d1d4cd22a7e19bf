//! `ctuq report` on tiny synthetic volumes: the whole pipeline (given models, a material the
//! report trains itself, an unseen material, figures, Markdown) runs, and its numbers are the
//! ones `ctuq segment` measures on the same input.

use std::path::Path;
use std::process::{Command, Output};

use ctuq::volume::{Samples, VoxelSize, write_tiff};
use serde_json::Value;

const SHAPE: [usize; 3] = [16, 32, 32];

fn ctuq(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_ctuq"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    output
}

fn ok(args: &[&str]) -> Output {
    let output = ctuq(args);
    assert!(
        output.status.success(),
        "ctuq {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A bright matrix with dark round voids (the label) and a little deterministic noise.
fn write_voids(folder: &Path, name: &str, centres: &[[f32; 3]]) -> (String, String) {
    let [depth, height, width] = SHAPE;
    let mut image = Vec::with_capacity(depth * height * width);
    let mut label = Vec::with_capacity(depth * height * width);
    for z in 0..depth {
        for y in 0..height {
            for x in 0..width {
                let inside = centres.iter().any(|c| {
                    let d = [z as f32 - c[0], y as f32 - c[1], x as f32 - c[2]];
                    d.iter().map(|v| v * v).sum::<f32>() < 16.0
                });
                let noise = ((z * 31 + y * 17 + x * 7) % 23) as f32;
                image.push(if inside { 60.0 } else { 180.0 } + noise);
                label.push(u8::from(inside));
            }
        }
    }
    let image_path = folder.join(format!("{name}.tif"));
    let label_path = folder.join(format!("{name}_label.tif"));
    let unknown = VoxelSize::unknown();
    write_tiff(&image_path, SHAPE, &Samples::F32(image), &unknown).unwrap();
    write_tiff(&label_path, SHAPE, &Samples::U8(label), &unknown).unwrap();
    let text = |p: &Path| p.to_str().unwrap().to_string();
    (text(&image_path), text(&label_path))
}

fn train(image: &str, label: &str, variant: &str, out: &str) {
    ok(&[
        "train",
        "--image",
        image,
        "--label",
        label,
        "--variant",
        variant,
        "--widths",
        "4,4,8,8",
        "--chunk",
        "8,8,8",
        "--epochs",
        "1",
        "--lr",
        "1e-2",
        "--validate-z",
        "12:16",
        "--out",
        out,
    ]);
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

#[test]
fn report_runs_end_to_end_and_agrees_with_segment() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let centres = [
        [4.0, 8.0, 8.0],
        [8.0, 20.0, 22.0],
        [13.0, 10.0, 24.0],
        [14.0, 24.0, 8.0],
    ];
    let (image, label) = write_voids(dir, "first", &centres);
    let (second, second_label) = write_voids(dir, "second", &[[5.0, 16.0, 16.0], [13.0, 8.0, 9.0]]);
    let (unseen, _) = write_voids(dir, "unseen", &[[8.0, 16.0, 16.0]]);
    let (bcnn, mcdn) = (path("bcnn.ctuq"), path("mcdn.ctuq"));
    train(&image, &label, "bcnn", &bcnn);
    train(&image, &label, "mcdn", &mcdn);

    let (docs, work) = (path("docs"), path("work"));
    let report_args = [
        "report",
        "--image",
        &image,
        "--label",
        &label,
        "--test-z",
        "12:16",
        "--bcnn",
        &bcnn,
        "--mcdn",
        &mcdn,
        "--ood",
        &unseen,
        "--second-image",
        &second,
        "--second-label",
        &second_label,
        "--second-name",
        "second material",
        "--widths",
        "4,4,8,8",
        "--chunk",
        "8,8,8",
        "--epochs",
        "1",
        "--samples",
        "4",
        "--out",
        &docs,
        "--work",
        &work,
    ];
    ok(&report_args);

    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("docs/validation.json")).unwrap())
            .unwrap();
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[1]["name"], "second material");
    assert_eq!(
        cases[1]["test_z"]["start"], 12,
        "the last quarter of 16 slices"
    );
    assert!(cases[1]["models"][0]["training"]["epochs"].as_u64() == Some(1));
    assert_eq!(json["ood"].as_array().unwrap().len(), 1);
    assert_eq!(json["claims"].as_array().unwrap().len(), 2 * 5 + 2);

    // The same model, samples and seed through `ctuq segment` give the same numbers.
    let segment_out = path("segment");
    ok(&[
        "segment",
        &image,
        "--label",
        &label,
        "--model",
        &bcnn,
        "--samples",
        "4",
        "--eval-z",
        "12:16",
        "--out",
        &segment_out,
    ]);
    let metrics: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("segment/metrics.json")).unwrap())
            .unwrap();
    let report_bcnn = &cases[0]["models"][0];
    assert_eq!(report_bcnn["variant"], "bcnn");
    let segmentations = metrics["segmentations"].as_array().unwrap();
    let by_name = |name: &str| {
        segmentations
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in metrics.json"))
    };
    assert_eq!(
        number(&report_bcnn["accuracy"]),
        number(&by_name("prediction")["overlap"]["accuracy"])
    );
    assert_eq!(
        number(&report_bcnn["mean_uncertainty"]),
        number(&metrics["mean_uncertainty"])
    );
    assert_eq!(
        number(&report_bcnn["accuracy_at_paper_threshold"]),
        number(&by_name("refined")["overlap"]["accuracy"]),
        "refined at 0.22 by `ctuq segment`"
    );

    // The Markdown shows those numbers, the figures and the verdicts.
    let markdown = std::fs::read_to_string(dir.join("docs/validation.md")).unwrap();
    let accuracy = format!("{:.4}", number(&report_bcnn["accuracy"]));
    assert!(
        markdown.contains(&format!("| BCNN | {accuracy} |")),
        "{markdown}"
    );
    for figure in [
        "first_slice.png",
        "first_threshold.png",
        "second_material_slice.png",
    ] {
        assert!(
            markdown.contains(&format!("]({figure})")),
            "{figure} not linked"
        );
    }
    assert!(markdown.contains("## Out of distribution"));
    assert!(markdown.contains("agrees") || markdown.contains("does not agree"));

    // Figures: six panels of 32 pixels scaled by 8 under titles, and a colour bar.
    let slice = image::open(dir.join("docs/first_slice.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(slice.dimensions(), (6 * 256 + 7 * 8, 26 + 256 + 56 + 8));
    let ct_centre = slice.get_pixel(8 + 128, 26 + 128);
    assert_eq!(ct_centre[0], ct_centre[1], "the CT panel is grey");
    let curve = image::open(dir.join("docs/first_threshold.png"))
        .unwrap()
        .to_rgb8();
    // Both curves can coincide on so small a case; one of them must be drawn across the plot.
    let coloured = curve
        .pixels()
        .filter(|p| (p[0] > 150 && p[2] < 80) || (p[0] < 80 && p[2] > 150))
        .count();
    assert!(
        coloured > 500,
        "a curve is drawn ({coloured} coloured pixels)"
    );
    let unseen_figure = image::open(dir.join("docs/ood_slice.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(
        unseen_figure.width(),
        5 * 256 + 6 * 8,
        "no label panel without a label"
    );

    // A second run reuses the models the first one trained.
    let again = ok(&report_args);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("reusing"), "{stderr}");
}

#[test]
fn report_names_a_missing_data_file() {
    let folder = tempfile::tempdir().unwrap();
    let missing = folder.path().join("nowhere");
    let output = ctuq(&[
        "report",
        "--data",
        missing.to_str().unwrap(),
        "--no-second",
        "--out",
        folder.path().to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("fibers_150_unlabelled.tif"), "{stderr}");
    assert!(stderr.contains("--no-ood"), "{stderr}");
    assert!(!folder.path().join("validation.md").exists());
}
