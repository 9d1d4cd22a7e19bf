//! `ctuq report`: regenerate `docs/validation.md` and its figures, the BCNN against the MCDN
//! on the built-in sample, an unseen material and a second labelled material.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use clap::Args;

use super::eval::parse_z_range;
use super::input::parse_triple;
use super::progress::cancel_on_ctrl_c;
use crate::assets;
use crate::backend::{self, Backend};
use crate::report::{self, Case, CaseModels, OodCase, ReportPlan, TrainRecipe};
use crate::volume::{ReadOptions, read_raw_volume};

/// Arguments of `ctuq report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Folder of validation.md, validation.json and the figures.
    #[arg(long, default_value = "docs")]
    pub out: PathBuf,

    /// Monte Carlo samples per voxel.
    #[arg(long, default_value_t = 48)]
    pub samples: usize,

    /// Seed of the Monte Carlo draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// The first labelled volume (default: the built-in cement sample).
    #[arg(long, requires_all = ["label", "test_z", "bcnn", "mcdn"])]
    pub image: Option<PathBuf>,

    /// Its label.
    #[arg(long, requires = "image")]
    pub label: Option<PathBuf>,

    /// Its test slices START:END, unseen by its models (default: the sample's held-out part).
    #[arg(long, value_name = "START:END", requires = "image")]
    pub test_z: Option<String>,

    /// The BCNN trained on it (default: the built-in BCNN).
    #[arg(long, requires = "image")]
    pub bcnn: Option<PathBuf>,

    /// The MCDN trained on it (default: the built-in MCDN).
    #[arg(long, requires = "image")]
    pub mcdn: Option<PathBuf>,

    /// Folder of the real CT data (default: $CTUQ_SHARED/data, else ../shared/data).
    #[arg(long)]
    pub data: Option<PathBuf>,

    /// A volume of a material the models never saw (default: DATA/qim3d_cement/
    /// fibers_150_unlabelled.tif).
    #[arg(long, conflicts_with = "no_ood")]
    pub ood: Option<PathBuf>,

    /// Leave out the out-of-distribution check.
    #[arg(long)]
    pub no_ood: bool,

    /// A second labelled material, trained and tested here (default: DATA/spam_snow/image.tif).
    #[arg(long, requires = "second_label", conflicts_with = "no_second")]
    pub second_image: Option<PathBuf>,

    /// Its label (default: DATA/spam_snow/label_otsu.tif).
    #[arg(long, requires = "second_image")]
    pub second_label: Option<PathBuf>,

    /// Its name in the report (default: "snow (spam)", or the file's name).
    #[arg(long)]
    pub second_name: Option<String>,

    /// Leave out the second material.
    #[arg(long)]
    pub no_second: bool,

    /// Channel widths of the second material's models (the built-in models' recipe).
    #[arg(long, value_name = "W0,W1,W2,W3", default_value = "8,16,32,64")]
    pub widths: String,

    /// Training chunk of the second material's models.
    #[arg(long, value_name = "Z,Y,X", default_value = "16,16,16")]
    pub chunk: String,

    /// Chunks per minibatch.
    #[arg(long, default_value_t = 2)]
    pub batch: usize,

    /// Initial learning rate.
    #[arg(long, default_value_t = 1e-2)]
    pub lr: f64,

    /// Epochs at most.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,

    /// Stop training once validation accuracy passes this.
    #[arg(long, default_value_t = 0.955)]
    pub stop_at_accuracy: f64,

    /// Folder of the models the report trains; later runs reuse them.
    #[arg(long, default_value = "ctuq-report-work")]
    pub work: PathBuf,

    /// Train the second material's models again even if the work folder has them.
    #[arg(long)]
    pub retrain: bool,

    /// Where the networks run.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
}

/// Runs `ctuq report`.
pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let plan = build_plan(args)?;
    let device = backend::open(args.backend)?;
    let cancel = cancel_on_ctrl_c();
    let report = report::run(&plan, &device, &cancel)?;

    for claim in &report.claims {
        let verdict = match claim.agrees {
            Some(true) => "agrees",
            Some(false) => "does not agree",
            None => "undecided",
        };
        println!("{:<16} {:<60} {verdict}", claim.case, claim.claim);
    }
    Ok(())
}

/// Checks the arguments into a plan: every file exists before any work starts.
fn build_plan(args: &ReportArgs) -> anyhow::Result<ReportPlan> {
    let first = match &args.image {
        Some(image) => Case {
            name: file_stem(image),
            slug: "first".into(),
            image: image.clone(),
            label: required(&args.label, "--label")?,
            test_z: parse_z_range(&required(&args.test_z, "--test-z")?)?,
            models: CaseModels::Given {
                bcnn: required(&args.bcnn, "--bcnn")?,
                mcdn: required(&args.mcdn, "--mcdn")?,
                provenance: "given on the command line".into(),
            },
            withhold_slice: None,
        },
        None => builtin_case()?,
    };

    let data = args.data.clone().unwrap_or_else(default_data_folder);
    let mut ood = Vec::new();
    if !args.no_ood {
        let image = args
            .ood
            .clone()
            .unwrap_or_else(|| data.join("qim3d_cement/fibers_150_unlabelled.tif"));
        check_exists(&image, "--ood")?;
        ood.push(OodCase {
            name: "fibre composite (qim3d)".into(),
            slug: "ood".into(),
            image,
            reference: 0,
        });
    }

    let mut cases = vec![first];
    if !args.no_second {
        let image = args
            .second_image
            .clone()
            .unwrap_or_else(|| data.join("spam_snow/image.tif"));
        let label = args
            .second_label
            .clone()
            .unwrap_or_else(|| data.join("spam_snow/label_otsu.tif"));
        check_exists(&image, "--second-image")?;
        check_exists(&label, "--second-label")?;
        let depth = read_raw_volume(&image, &ReadOptions::default())?.shape[0];
        let (test_z, validate_z) = second_split(depth)
            .with_context(|| format!("{}: too few slices to split", image.display()))?;
        let widths = super::train::parse_widths(&args.widths)?;
        let name = match (&args.second_name, &args.second_image) {
            (Some(name), _) => name.clone(),
            (None, Some(image)) => file_stem(image),
            (None, None) => "snow (spam)".to_string(),
        };
        // N.B. spam's snow volume is GPL data for testing only: ctuq may not ship it, and a
        // figure committed to docs/ would ship a slice of it.
        let withhold_slice = args.second_image.is_none().then(|| {
            "the snow volume is GPL-licensed test data that ctuq does not ship, not even as a \
             picture of one slice"
                .to_string()
        });
        cases.push(Case {
            slug: slug(&name),
            name,
            image,
            label,
            test_z,
            models: CaseModels::Train(TrainRecipe {
                widths,
                chunk: parse_triple::<usize>(&args.chunk).context("--chunk")?,
                batch_size: args.batch,
                lr0: args.lr,
                epochs: args.epochs,
                stop_at_accuracy: Some(args.stop_at_accuracy),
                validate_z,
                seed: 42,
            }),
            withhold_slice,
        });
    }

    let command = std::iter::once("ctuq".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    Ok(ReportPlan {
        cases,
        ood,
        samples: args.samples,
        seed: args.seed,
        out: args.out.clone(),
        work: args.work.clone(),
        retrain: args.retrain,
        command,
        backend: format!(
            "{} (`--backend {}`)",
            args.backend.description(),
            args.backend
        ),
    })
}

/// The built-in sample with the built-in models, tested on the slices they never trained on.
fn builtin_case() -> anyhow::Result<Case> {
    let find = |name| assets::find(name).map_err(|e| anyhow!(e));
    let held_out = assets::SAMPLE_HELD_OUT_Z;
    Ok(Case {
        name: "cement (qim3d, built-in sample)".into(),
        slug: "cement".into(),
        image: find(assets::SAMPLE_IMAGE)?,
        label: find(assets::SAMPLE_LABEL)?,
        test_z: held_out.clone(),
        models: CaseModels::Given {
            bcnn: find(assets::BCNN_MODEL)?,
            mcdn: find(assets::MCDN_MODEL)?,
            provenance: format!(
                "the built-in narrow twins (widths 8, 16, 32, 64), trained with ctuq on z 0 to \
                 {} (assets/README.md has the commands). Their early stopping read validation \
                 accuracy on these same test slices; both stopped after their first epoch, so \
                 it chose nothing, but a stricter split would keep them apart",
                held_out.start - 1
            ),
        },
        withhold_slice: None,
    })
}

/// Test slices (the last quarter) and validation slices (the eighth before them) of a second
/// material with `depth` slices.
fn second_split(depth: usize) -> Option<(Range<usize>, Range<usize>)> {
    let test = depth / 4;
    let validate = depth / 8;
    (test > 0 && validate > 0 && test + validate < depth).then(|| {
        let test_start = depth - test;
        (test_start..depth, test_start - validate..test_start)
    })
}

/// The shared data folder: `$CTUQ_SHARED/data`, else `../shared/data`.
fn default_data_folder() -> PathBuf {
    match std::env::var_os("CTUQ_SHARED") {
        Some(shared) => PathBuf::from(shared).join("data"),
        None => PathBuf::from("../shared/data"),
    }
}

fn check_exists(path: &Path, option: &str) -> anyhow::Result<()> {
    if !path.is_file() {
        bail!(
            "{}: no such file; pass {option} (or --data for the folder of the real CT data), or \
             leave the section out with {}",
            path.display(),
            if option == "--ood" {
                "--no-ood"
            } else {
                "--no-second"
            }
        );
    }
    Ok(())
}

fn required<T: Clone>(value: &Option<T>, option: &str) -> anyhow::Result<T> {
    value
        .clone()
        .ok_or_else(|| anyhow!("{option} is needed with --image"))
}

fn file_stem(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// A file-name-safe version of a name: lowercase letters and digits, words joined by `_`.
fn slug(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty() {
        "second".to_string()
    } else {
        words.join("_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_split_keeps_test_and_validation_apart() {
        assert_eq!(second_split(100), Some((75..100, 63..75)));
        assert_eq!(second_split(16), Some((12..16, 10..12)));
        assert_eq!(second_split(4), None);
    }

    #[test]
    fn slugs_are_file_safe() {
        assert_eq!(slug("snow (spam)"), "snow_spam");
        assert_eq!(slug("()"), "second");
    }
}
