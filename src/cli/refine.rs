//! `ctuq refine`: fix a segmentation where its uncertainty is high, or sweep the threshold.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use crate::infer::ResultMaps;
use crate::refine::{RefineMode, best_by_accuracy, refine, sweep};
use crate::volume::{
    ReadOptions, Samples, VolumeError, check_same_shape, read_label, write_atomically, write_tiff,
};

/// Arguments of `ctuq refine`.
#[derive(Debug, Args)]
pub struct RefineArgs {
    /// The results folder written by `ctuq infer`.
    #[arg(long)]
    pub results: PathBuf,

    /// Uncertainty above which a voxel is changed (0 to 1; the paper used 0.22).
    #[arg(long, default_value_t = 0.22)]
    pub threshold: f32,

    /// remove: uncertain foreground becomes background; add: uncertain background becomes
    /// foreground; flag: write a mask of the uncertain voxels.
    #[arg(long, default_value = "remove")]
    pub mode: RefineMode,

    /// Sweep thresholds START:END:STEP against --label instead, e.g. 0:1:0.01.
    #[arg(long, value_name = "START:END:STEP", requires = "label")]
    pub sweep: Option<String>,

    /// The label for --sweep.
    #[arg(long)]
    pub label: Option<PathBuf>,

    /// Foreground value of a label with more than two values.
    #[arg(long)]
    pub class: Option<i64>,

    /// Output file (default RESULTS/refined.tif, or RESULTS/flagged.tif in flag mode).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `ctuq refine`.
pub fn run(args: &RefineArgs) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&args.threshold) {
        bail!(
            "--threshold {} is outside [0, 1]: uncertainty is a probability interval width",
            args.threshold
        );
    }
    let maps = ResultMaps::load(&args.results)?;

    if let Some(range) = &args.sweep {
        let thresholds = parse_range(range).with_context(|| format!("--sweep {range}"))?;
        let Some(label_path) = &args.label else {
            bail!("--sweep needs --label")
        };
        let label = read_label(label_path, &ReadOptions::default(), args.class)?;
        check_same_shape(
            &args.results.join("prediction.tif"),
            maps.shape,
            label_path,
            label.shape,
        )?;
        if args.mode == RefineMode::Flag {
            bail!("--sweep compares segmentations with the label; use --mode remove or add");
        }
        let points = sweep(
            &maps.prediction,
            &maps.uncertainty,
            &label.voxels,
            &thresholds,
            args.mode,
        );
        let mut out = std::io::stdout().lock();
        let mut csv = String::from("threshold,accuracy,dice,iou,foreground_fraction\n");
        writeln!(
            out,
            "{:>9} {:>9} {:>9} {:>9}",
            "threshold", "accuracy", "dice", "fg frac"
        )?;
        for point in &points {
            let o = point.overlap;
            writeln!(
                out,
                "{:>9.3} {:>9.5} {:>9.5} {:>9.5}",
                point.threshold, o.accuracy, o.dice, o.foreground_fraction
            )?;
            csv.push_str(&format!(
                "{},{},{},{},{}\n",
                point.threshold, o.accuracy, o.dice, o.iou, o.foreground_fraction
            ));
        }
        if let Some(best) = best_by_accuracy(&points) {
            writeln!(
                out,
                "best threshold {:.3}: accuracy {:.5}, dice {:.5}",
                best.threshold, best.overlap.accuracy, best.overlap.dice
            )?;
        }
        let csv_path = args.results.join("sweep.csv");
        write_atomically(&csv_path, |w| {
            w.write_all(csv.as_bytes()).map_err(|e| VolumeError::Io {
                path: csv_path.clone(),
                cause: e,
            })
        })?;
        return Ok(());
    }

    let refined = refine(
        &maps.prediction,
        &maps.uncertainty,
        args.threshold,
        args.mode,
    );
    let default_name = if args.mode == RefineMode::Flag {
        "flagged.tif"
    } else {
        "refined.tif"
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.results.join(default_name));
    write_tiff(
        &out,
        maps.shape,
        &Samples::U8(refined.clone()),
        &maps.voxel_size,
    )?;
    let changed = refined
        .iter()
        .zip(&maps.prediction)
        .filter(|(a, b)| a != b)
        .count();
    let fraction = refined.iter().filter(|&&v| v != 0).count() as f64 / refined.len().max(1) as f64;
    tracing::info!(
        "wrote {} ({} voxels {}; foreground {:.3} %)",
        out.display(),
        if args.mode == RefineMode::Flag {
            refined.iter().filter(|&&v| v != 0).count()
        } else {
            changed
        },
        if args.mode == RefineMode::Flag {
            "flagged"
        } else {
            "changed"
        },
        100.0 * fraction
    );
    Ok(())
}

/// Parses `START:END:STEP` into thresholds, END included.
fn parse_range(text: &str) -> anyhow::Result<Vec<f32>> {
    let parts: Vec<f64> = text
        .split(':')
        .map(|part| {
            part.trim()
                .parse::<f64>()
                .map_err(|_| anyhow::anyhow!("{part:?} is not a number"))
        })
        .collect::<anyhow::Result<_>>()?;
    let [start, end, step] = parts.as_slice() else {
        bail!("expected START:END:STEP")
    };
    if !(0.0..=1.0).contains(start) || !(0.0..=1.0).contains(end) || start > end {
        bail!("START and END must satisfy 0 <= START <= END <= 1");
    }
    if *step <= 0.0 || (end - start) / step > 100_000.0 {
        bail!("STEP must be positive and give at most 100000 thresholds");
    }
    let count = ((end - start) / step + 1e-9).floor() as usize;
    Ok((0..=count)
        .map(|i| (start + i as f64 * step) as f32)
        .collect())
}
