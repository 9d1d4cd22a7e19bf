//! `ctuq train` from the command line: Ctrl-C mid-run saves a checkpoint, `--resume` ends
//! at the asked epoch count, and `ctuq model` prints the summary and the saved header.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ctuq::model::file::read_model_header;
use ctuq::volume::{ReadOptions, Samples, VoxelSize, read_raw_volume, write_tiff};

/// A 16 x 32 x 32 crop of the built-in sample and its label.
fn crop(folder: &Path) -> (PathBuf, PathBuf) {
    let assets = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets");
    let mut paths = Vec::new();
    for name in ["cement.tif", "cement_voids_label.tif"] {
        let raw = read_raw_volume(&assets.join(name), &ReadOptions::default()).unwrap();
        let Samples::U8(voxels) = raw.samples else {
            panic!("uint8 expected")
        };
        let mut cropped = Vec::new();
        for z in 40..56 {
            for y in 40..72 {
                let start = (z * 128 + y) * 128 + 40;
                cropped.extend_from_slice(&voxels[start..start + 32]);
            }
        }
        let path = folder.join(name);
        write_tiff(
            &path,
            [16, 32, 32],
            &Samples::U8(cropped),
            &VoxelSize::unknown(),
        )
        .unwrap();
        paths.push(path);
    }
    (paths.remove(0), paths.remove(0))
}

fn train_command(image: &Path, label: &Path, out: &Path, epochs: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ctuq"));
    command.args([
        "train",
        "--variant",
        "bcnn",
        "--widths",
        "4,8,8,8",
        "--chunk",
        "8,16,16",
        "--batch",
        "1",
        "--epochs",
        epochs,
    ]);
    command
        .arg("--image")
        .arg(image)
        .arg("--label")
        .arg(label)
        .arg("--out")
        .arg(out);
    command
}

#[test]
fn interrupted_training_resumes_to_the_epoch_count() {
    let folder = tempfile::tempdir().unwrap();
    let (image, label) = crop(folder.path());
    let out = folder.path().join("model.ctuq");

    let mut child = train_command(&image, &label, &out, "40")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("epoch 1:") {
            let status = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            assert!(status.unwrap().success());
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "Ctrl-C is a clean stop: {log}");
    assert!(
        log.contains("--resume"),
        "the user is told how to continue: {log}"
    );
    let checkpoint = PathBuf::from(format!("{}.ckpt", out.display()));
    assert!(checkpoint.is_file(), "a checkpoint is kept");
    let stopped_at = read_model_header(&out).unwrap().training.epochs;
    assert!(stopped_at < 40, "stopped early, at {stopped_at}");

    let resumed = train_command(&image, &label, &out, &(stopped_at + 2).to_string())
        .arg("--resume")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{log}");
    assert!(log.contains("resuming"), "{log}");
    assert!(log.contains(&format!("epoch {}:", stopped_at + 2)), "{log}");
    assert!(
        !log.contains("epoch 1:"),
        "resume does not start over: {log}"
    );
    assert_eq!(
        read_model_header(&out).unwrap().training.epochs,
        stopped_at + 2
    );
}

#[test]
fn model_prints_the_summary_and_a_header() {
    let output = Command::new(env!("CARGO_BIN_EXE_ctuq"))
        .args(["model", "--variant", "mcdn"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Total params: 1,403,059"), "{text}");
    let output = Command::new(env!("CARGO_BIN_EXE_ctuq"))
        .args(["model", "/no/such.ctuq"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/no/such.ctuq"));
}

#[test]
fn mismatched_pairs_are_refused() {
    let folder = tempfile::tempdir().unwrap();
    let (image, _) = crop(folder.path());
    let other = folder.path().join("other.tif");
    write_tiff(
        &other,
        [16, 32, 31],
        &Samples::U8(vec![0; 16 * 32 * 31]),
        &VoxelSize::unknown(),
    )
    .unwrap();
    let output = train_command(&image, &other, &folder.path().join("m.ctuq"), "1")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("other.tif") && message.contains("16 x 32 x 31"),
        "{message}"
    );
}

#[test]
fn an_early_stop_without_validation_data_is_refused() {
    let folder = tempfile::tempdir().unwrap();
    let (image, label) = crop(folder.path());
    let model = folder.path().join("m.ctuq");
    let output = train_command(&image, &label, &model, "1")
        .args(["--stop-at-accuracy", "0.9"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("--validate-z"), "{message}");
    assert!(!model.exists());
}
