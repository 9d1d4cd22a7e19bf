//! `ctuq eval`: how right a results folder is, and how well its uncertainty marks the errors.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use crate::infer::ResultMaps;
use crate::infer::results::read_segmentation;
use crate::metrics::{Axis, EvalReport, evaluate};
use crate::volume::{ReadOptions, VolumeError, check_same_shape, read_label, write_atomically};

/// Arguments of `ctuq eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The results folder written by `ctuq infer`.
    #[arg(long)]
    pub results: PathBuf,

    /// The label to compare with.
    #[arg(long)]
    pub label: PathBuf,

    /// The label value that is foreground, for labels with more than two values.
    #[arg(long)]
    pub class: Option<i64>,

    /// Axis the PAvPU slices are taken across.
    #[arg(long, default_value = "z", value_parser = parse_axis)]
    pub axis: Axis,

    /// Evaluate only slices START:END (z), e.g. the part held out from training.
    #[arg(long, value_name = "START:END")]
    pub z: Option<String>,

    /// Where to write the metrics as JSON (default RESULTS/metrics.json); the per-slice CSV
    /// goes beside it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Parses `z`, `y` or `x`.
pub fn parse_axis(text: &str) -> Result<Axis, String> {
    match text {
        "z" => Ok(Axis::Z),
        "y" => Ok(Axis::Y),
        "x" => Ok(Axis::X),
        other => Err(format!("unknown axis {other:?}: use z, y or x")),
    }
}

/// Runs `ctuq eval`.
pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let maps = ResultMaps::load(&args.results)?;
    let mut label = read_label(&args.label, &ReadOptions::default(), args.class)?;
    check_same_shape(
        &args.results.join("prediction.tif"),
        maps.shape,
        &args.label,
        label.shape,
    )?;
    let refined_path = args.results.join("refined.tif");
    let mut refined = if refined_path.is_file() {
        Some(read_segmentation(&refined_path, maps.shape)?)
    } else {
        None
    };

    let maps = match &args.z {
        None => maps,
        Some(text) => {
            let z = parse_z_range(text)?;
            let page = maps.shape[1] * maps.shape[2];
            let cropped = maps
                .crop_z(z.clone())
                .with_context(|| format!("--z {text}: the volume has {} slices", maps.shape[0]))?;
            label.voxels = label.voxels[z.start * page..z.end * page].to_vec();
            refined = refined.map(|r| r[z.start * page..z.end * page].to_vec());
            cropped
        }
    };
    let mut segmentations: Vec<(&str, &[u8])> = vec![
        ("prediction", &maps.prediction),
        ("lower_seg", &maps.lower_seg),
        ("upper_seg", &maps.upper_seg),
    ];
    if let Some(refined) = &refined {
        segmentations.push(("refined", refined));
    }
    let report = evaluate(
        &segmentations,
        &label.voxels,
        &maps.uncertainty,
        maps.shape,
        args.axis,
    );

    match &args.z {
        Some(text) => println!("metrics of slices z {text} (END exclusive)"),
        None => println!("metrics of every slice"),
    }
    print_table(&report)?;
    let json_path = args
        .out
        .clone()
        .unwrap_or_else(|| args.results.join("metrics.json"));
    let json = serde_json::to_vec_pretty(&report).context("BUG: metrics serialize")?;
    write_atomically(&json_path, |w| {
        w.write_all(&json).map_err(|e| VolumeError::Io {
            path: json_path.clone(),
            cause: e,
        })
    })?;
    let csv_path = json_path.with_extension("slices.csv");
    let csv = slices_csv(&report);
    write_atomically(&csv_path, |w| {
        w.write_all(csv.as_bytes()).map_err(|e| VolumeError::Io {
            path: csv_path.clone(),
            cause: e,
        })
    })?;
    tracing::info!("wrote {} and {}", json_path.display(), csv_path.display());
    Ok(())
}

/// Parses `START:END` (z slices, END exclusive).
pub fn parse_z_range(text: &str) -> anyhow::Result<std::ops::Range<usize>> {
    let parsed = text.split_once(':').and_then(|(start, end)| {
        Some(start.trim().parse::<usize>().ok()?..end.trim().parse::<usize>().ok()?)
    });
    let range = parsed.with_context(|| format!("{text:?} is not START:END, e.g. 96:128"))?;
    if range.is_empty() {
        bail!("{text:?} holds no slices: START must be below END (END is exclusive), e.g. 96:128");
    }
    Ok(range)
}

/// Formats an optional ratio for the table.
fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
}

/// Prints the metrics table.
pub fn print_table(report: &EvalReport) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "mean uncertainty: {:.5}", report.mean_uncertainty)?;
    writeln!(
        out,
        "{:<11} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "", "accuracy", "dice", "iou", "fg frac", "P(A|C)", "P(U|I)", "PAvPU", "PAvPU 3D"
    )?;
    for segmentation in &report.segmentations {
        let pooled = &segmentation.pavpu_slices;
        writeln!(
            out,
            "{:<11} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8} {:>8} {:>8} {:>9}",
            segmentation.name,
            segmentation.overlap.accuracy,
            segmentation.overlap.dice,
            segmentation.overlap.iou,
            segmentation.overlap.foreground_fraction,
            cell(pooled.p_accurate_given_certain()),
            cell(pooled.p_uncertain_given_inaccurate()),
            cell(pooled.pavpu()),
            cell(segmentation.pavpu_3d.pavpu()),
        )?;
    }
    Ok(())
}

/// One CSV row per segmentation and slice.
fn slices_csv(report: &EvalReport) -> String {
    let mut csv = String::from(
        "segmentation,slice,accuracy,dice,iou,n_ac,n_au,n_ic,n_iu,p_accurate_given_certain,\
         p_uncertain_given_inaccurate,pavpu\n",
    );
    let field = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
    for segmentation in &report.segmentations {
        for slice in &segmentation.per_slice {
            let p = &slice.pavpu;
            csv.push_str(&format!(
                "{},{},{:.6},{:.6},{:.6},{},{},{},{},{},{},{}\n",
                segmentation.name,
                slice.index,
                slice.overlap.accuracy,
                slice.overlap.dice,
                slice.overlap.iou,
                p.n_ac,
                p.n_au,
                p.n_ic,
                p.n_iu,
                field(p.p_accurate_given_certain()),
                field(p.p_uncertain_given_inaccurate()),
                field(p.pavpu()),
            ));
        }
    }
    csv
}
