//! The validation report: the BCNN against its Monte Carlo dropout twin on real CT, with the
//! paper's claims checked against what the models measure.
//!
//! `ctuq report` runs [`run`] and writes `validation.md`, `validation.json` and the figures into
//! one folder. Nothing in the Markdown is typed by hand: every number, and every "agrees" or
//! "does not agree", comes from the run that wrote it.
//!
//! The steps, for a [`ReportPlan`]:
//! 1. for each labelled [`Case`], get both models: given files (the built-in ones), or trained
//!    here on the case's own training slices and cached in the work folder;
//! 2. Monte Carlo inference of each model over the whole volume (the same settings as
//!    `ctuq infer`), then evaluation on the test slices only: accuracy, Dice, mean
//!    uncertainty, PAvPU with P(A|C) and P(U|I), and a refinement sweep;
//! 3. each out-of-distribution volume ([`OodCase`]): inference only, its mean uncertainty
//!    against the test slices of a labelled case;
//! 4. the claims ([`claims`]), the figures ([`figure`]) and the Markdown ([`markdown`]).

pub mod claims;
pub mod figure;
pub mod markdown;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, bail};
use burn::tensor::Device;
use serde::Serialize;

use crate::infer::{self, InferConfig, NetworkSampler, ResultMaps, default_chunking};
use crate::metrics::{Axis, evaluate};
use crate::model::file::load_model;
use crate::model::{ModelConfig, Variant};
use crate::refine::{RefineMode, SweepPoint, best_by_accuracy, sweep};
use crate::train::{TrainConfig, TrainEvent, TrainJob, TrainStatus, TrainingPair};
use crate::volume::{
    ReadOptions, Shape, Volume, check_same_shape, read_label, read_volume, write_atomically,
};

/// The refinement threshold the paper used, reported beside the best one.
pub const PAPER_THRESHOLD: f32 = 0.22;

/// What to run and where to write it.
#[derive(Debug, Clone)]
pub struct ReportPlan {
    /// Labelled volumes, each with a test z-range; the first is the reference of the
    /// out-of-distribution checks.
    pub cases: Vec<Case>,
    /// Volumes of materials the models never saw, for the out-of-distribution check.
    pub ood: Vec<OodCase>,
    /// Monte Carlo samples per voxel.
    pub samples: usize,
    /// Seed of the Monte Carlo draws.
    pub seed: u64,
    /// Folder of `validation.md`, `validation.json` and the figures.
    pub out: PathBuf,
    /// Folder of the models trained by the report, reused by later runs.
    pub work: PathBuf,
    /// Train again even where the work folder holds a model.
    pub retrain: bool,
    /// The command that made the report, quoted in it.
    pub command: String,
    /// Where the network runs, in words (e.g. "burn's flex CPU backend").
    pub backend: String,
}

/// A labelled volume whose test slices both models are evaluated on.
#[derive(Debug, Clone)]
pub struct Case {
    /// Shown in headings, e.g. "cement (qim3d)".
    pub name: String,
    /// Used in file names, e.g. "cement".
    pub slug: String,
    /// The CT volume.
    pub image: PathBuf,
    /// Its binary label.
    pub label: PathBuf,
    /// The z slices evaluated; no model may have trained on them.
    pub test_z: Range<usize>,
    /// Where the models come from.
    pub models: CaseModels,
    /// Why the slice figure is left out (a licence that forbids shipping the voxels, even as
    /// a picture), or `None` to draw it.
    pub withhold_slice: Option<String>,
}

/// Where the models of a case come from.
#[derive(Debug, Clone)]
pub enum CaseModels {
    /// Model files made elsewhere (the built-in ones), with a sentence on how they were made.
    Given {
        /// The BCNN.
        bcnn: PathBuf,
        /// The MCDN.
        mcdn: PathBuf,
        /// How they were trained, for the reader.
        provenance: String,
    },
    /// Train both here, on the slices outside `test_z` and `validate_z`.
    Train(TrainRecipe),
}

/// How the report trains the two models of a case; the same recipe for both.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainRecipe {
    /// Channel widths of the encoder stages.
    pub widths: [usize; 4],
    /// Training chunk (z, y, x).
    pub chunk: [usize; 3],
    /// Chunks per minibatch.
    pub batch_size: usize,
    /// Initial learning rate.
    pub lr0: f64,
    /// Epochs at most.
    pub epochs: usize,
    /// Stop after the first epoch whose validation accuracy passes this.
    pub stop_at_accuracy: Option<f64>,
    /// Slices held out for validation (early stopping), apart from the test slices.
    pub validate_z: Range<usize>,
    /// Seed of chunk order, augmentation and noise.
    pub seed: u64,
}

/// A volume without a label, of a material the models never saw.
#[derive(Debug, Clone)]
pub struct OodCase {
    /// Shown in headings.
    pub name: String,
    /// Used in file names.
    pub slug: String,
    /// The CT volume.
    pub image: PathBuf,
    /// Index into [`ReportPlan::cases`] of the case whose models run here and whose test
    /// slices give the in-distribution uncertainty.
    pub reference: usize,
}

/// Everything the report measured; written as `validation.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// ctuq's version.
    pub ctuq_version: String,
    /// The command that made the report.
    pub command: String,
    /// The machine it ran on.
    pub machine: String,
    /// Monte Carlo samples per voxel.
    pub samples: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// One entry per labelled case.
    pub cases: Vec<CaseResult>,
    /// One entry per out-of-distribution volume.
    pub ood: Vec<OodResult>,
    /// The paper's claims against these results.
    pub claims: Vec<claims::Claim>,
}

/// The results of both models on one labelled case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// Heading.
    pub name: String,
    /// File name part.
    pub slug: String,
    /// The image file.
    pub image: String,
    /// The label file.
    pub label: String,
    /// Shape of the whole volume.
    pub shape: Shape,
    /// The test slices.
    pub test_z: Range<usize>,
    /// How the models were made.
    pub provenance: String,
    /// The training recipe, where the report trained the models.
    pub recipe: Option<TrainRecipe>,
    /// BCNN first, then MCDN.
    pub models: Vec<ModelResult>,
    /// The slice figure's file name, or why there is none.
    pub figure: Result<String, String>,
    /// The threshold curve's file name.
    pub curve: String,
    /// The z index of the slice in the figure.
    pub figure_z: usize,
}

/// One model on the test slices of a case.
#[derive(Debug, Clone, Serialize)]
pub struct ModelResult {
    /// bcnn or mcdn.
    pub variant: String,
    /// The model file.
    pub model: String,
    /// Training, where the report trained the model now or earlier.
    pub training: Option<TrainingInfo>,
    /// Seconds of Monte Carlo inference over the whole volume.
    pub inference_secs: f64,
    /// Voxel accuracy of the prediction (mean > 0.5).
    pub accuracy: f64,
    /// Dice of the foreground.
    pub dice: f64,
    /// Mean of the uncertainty map (80th minus 20th percentile).
    pub mean_uncertainty: f64,
    /// P(accurate | certain), 3x3 windows per slice, pooled.
    pub p_accurate_given_certain: Option<f64>,
    /// P(uncertain | inaccurate), the same windows.
    pub p_uncertain_given_inaccurate: Option<f64>,
    /// PAvPU, the same windows.
    pub pavpu: Option<f64>,
    /// Accuracy after refinement (remove mode) at [`PAPER_THRESHOLD`].
    pub accuracy_at_paper_threshold: f64,
    /// The threshold of the sweep with the best accuracy.
    pub best_threshold: f32,
    /// The accuracy there.
    pub best_accuracy: f64,
    /// The sweep, 0 to 1 in steps of 0.01.
    pub sweep: Vec<SweepPoint>,
}

/// How a model of the report was trained.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct TrainingInfo {
    /// Epochs done.
    pub epochs: usize,
    /// Wall-clock seconds.
    pub secs: f64,
    /// Validation accuracy after the last epoch.
    pub val_accuracy: Option<f64>,
}

/// Both models on a volume of an unseen material.
#[derive(Debug, Clone, Serialize)]
pub struct OodResult {
    /// Heading.
    pub name: String,
    /// File name part.
    pub slug: String,
    /// The image file.
    pub image: String,
    /// Shape.
    pub shape: Shape,
    /// The name of the case whose models ran and whose test slices are the reference.
    pub reference: String,
    /// BCNN first, then MCDN.
    pub models: Vec<OodModelResult>,
    /// The slice figure's file name.
    pub figure: String,
}

/// One model on an unseen material.
#[derive(Debug, Clone, Serialize)]
pub struct OodModelResult {
    /// bcnn or mcdn.
    pub variant: String,
    /// Mean uncertainty over the whole unseen volume.
    pub mean_uncertainty: f64,
    /// Mean uncertainty of the same model on the reference case's test slices.
    pub reference_mean_uncertainty: f64,
    /// Fraction of voxels predicted foreground.
    pub foreground_fraction: f64,
    /// Seconds of inference.
    pub inference_secs: f64,
}

/// One z slice of a volume and of each model's maps, kept for the figures.
#[derive(Debug, Clone)]
pub struct FigureSlice {
    /// Slice height and width.
    pub size: [usize; 2],
    /// The CT slice.
    pub ct: Vec<f32>,
    /// The label slice, where there is a label.
    pub label: Option<Vec<u8>>,
    /// Per model (BCNN, MCDN): prediction and uncertainty.
    pub models: Vec<(Variant, Vec<u8>, Vec<f32>)>,
}

/// Runs the plan and writes the report; returns what it measured.
pub fn run(plan: &ReportPlan, device: &Device, cancel: &AtomicBool) -> anyhow::Result<Report> {
    check_plan(plan)?;
    std::fs::create_dir_all(&plan.out)
        .with_context(|| format!("cannot create the report folder {}", plan.out.display()))?;

    let mut cases = Vec::new();
    let mut case_models = Vec::new();
    for case in &plan.cases {
        let models = case_model_files(plan, case, device, cancel)?;
        let (result, slice) = run_case(plan, case, &models, device, cancel)?;
        if let Ok(name) = &result.figure {
            figure::write_slice_figure(&plan.out.join(name), &slice)?;
        }
        figure::write_threshold_curve(&plan.out.join(&result.curve), &result)?;
        cases.push(result);
        case_models.push(models);
    }

    let mut ood = Vec::new();
    for ood_case in &plan.ood {
        let reference = &cases[ood_case.reference];
        let models = &case_models[ood_case.reference];
        let (result, slice) = run_ood(plan, ood_case, reference, models, device, cancel)?;
        figure::write_slice_figure(&plan.out.join(&result.figure), &slice)?;
        ood.push(result);
    }

    let report = Report {
        ctuq_version: env!("CARGO_PKG_VERSION").to_string(),
        command: plan.command.clone(),
        machine: describe_machine(&plan.backend),
        samples: plan.samples,
        seed: plan.seed,
        claims: claims::check(&cases, &ood),
        cases,
        ood,
    };
    write_text(&plan.out.join("validation.md"), &markdown::render(&report))?;
    let json = serde_json::to_string_pretty(&report).context("BUG: the report serializes")?;
    write_text(&plan.out.join("validation.json"), &json)?;
    tracing::info!(
        "report written to {}",
        plan.out.join("validation.md").display()
    );
    Ok(report)
}

/// Refuses a plan that cannot run, before any work.
fn check_plan(plan: &ReportPlan) -> anyhow::Result<()> {
    if plan.cases.is_empty() {
        bail!("the report needs at least one labelled volume");
    }
    if plan.samples < 2 {
        bail!(
            "--samples {}: uncertainty needs at least 2 samples",
            plan.samples
        );
    }
    for ood in &plan.ood {
        if ood.reference >= plan.cases.len() {
            bail!(
                "BUG: out-of-distribution case {} has no reference case",
                ood.name
            );
        }
    }
    Ok(())
}

/// The BCNN and MCDN files of a case, training them first where the plan says so.
fn case_model_files(
    plan: &ReportPlan,
    case: &Case,
    device: &Device,
    cancel: &AtomicBool,
) -> anyhow::Result<CaseModelFiles> {
    match &case.models {
        CaseModels::Given {
            bcnn,
            mcdn,
            provenance,
        } => Ok(CaseModelFiles {
            files: vec![
                (Variant::Bcnn, bcnn.clone(), None),
                (Variant::Mcdn, mcdn.clone(), None),
            ],
            provenance: provenance.clone(),
            recipe: None,
        }),
        CaseModels::Train(recipe) => {
            let mut files = Vec::new();
            for variant in Variant::ALL {
                let (path, info) = train_or_reuse(plan, case, recipe, variant, device, cancel)?;
                files.push((variant, path, Some(info)));
            }
            let provenance = format!(
                "trained by this report on every slice outside the test slices z {}..{} and \
                 the early-stopping slices z {}..{}",
                case.test_z.start, case.test_z.end, recipe.validate_z.start, recipe.validate_z.end
            );
            Ok(CaseModelFiles {
                files,
                provenance,
                recipe: Some(recipe.clone()),
            })
        }
    }
}

/// The model files of one case, with how they were made.
#[derive(Debug, Clone)]
struct CaseModelFiles {
    files: Vec<(Variant, PathBuf, Option<TrainingInfo>)>,
    provenance: String,
    recipe: Option<TrainRecipe>,
}

/// Trains one model of a case into the work folder, or reuses the one there.
fn train_or_reuse(
    plan: &ReportPlan,
    case: &Case,
    recipe: &TrainRecipe,
    variant: Variant,
    device: &Device,
    cancel: &AtomicBool,
) -> anyhow::Result<(PathBuf, TrainingInfo)> {
    let model_path = plan
        .work
        .join(format!("{}-{}.ctuq", case.slug, variant.name()));
    let info_path = model_path.with_extension("training.json");
    if !plan.retrain && model_path.is_file() && info_path.is_file() {
        let text = std::fs::read_to_string(&info_path)
            .with_context(|| format!("cannot read {}", info_path.display()))?;
        let info: TrainingInfo = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a training record; delete it or pass --retrain",
                info_path.display()
            )
        })?;
        tracing::info!(
            "{}: reusing {} from {} (--retrain trains it again)",
            case.name,
            variant.name(),
            model_path.display()
        );
        return Ok((model_path, info));
    }
    std::fs::create_dir_all(&plan.work)
        .with_context(|| format!("cannot create the work folder {}", plan.work.display()))?;

    let (train_pair, validation_pair) = training_split(case, recipe)?;
    let mut config = TrainConfig::new(ModelConfig::new(variant).with_widths(recipe.widths))
        .with_chunk(recipe.chunk)
        .with_batch_size(recipe.batch_size)
        .with_epochs(recipe.epochs)
        .with_lr0(recipe.lr0)
        .with_seed(recipe.seed);
    config.stop_at_accuracy = recipe.stop_at_accuracy;
    config.validate()?;
    let job = TrainJob {
        config,
        train: vec![train_pair],
        validation: vec![validation_pair],
        output: model_path.clone(),
        checkpoint: crate::train::default_checkpoint_path(&model_path),
        resume: false,
        device: device.clone(),
    };

    tracing::info!("{}: training the {} ...", case.name, variant.name());
    let started = Instant::now();
    let outcome = run_training(job, cancel)?;
    if outcome.status == TrainStatus::Cancelled {
        bail!(
            "cancelled while training the {} of {}",
            variant.name(),
            case.name
        );
    }
    let info = TrainingInfo {
        epochs: outcome.epochs_done,
        secs: started.elapsed().as_secs_f64(),
        val_accuracy: outcome
            .history
            .last()
            .and_then(|epoch| epoch.validation.as_ref().map(|v| v.accuracy)),
    };
    let json = serde_json::to_string_pretty(&info).context("BUG: training info serializes")?;
    write_text(&info_path, &json)?;
    tracing::info!(
        "{}: {} trained in {:.0} s, {} epochs",
        case.name,
        variant.name(),
        info.secs,
        info.epochs
    );
    Ok((model_path, info))
}

/// Runs a training job on a worker thread, logging each epoch.
fn run_training(job: TrainJob, cancel: &AtomicBool) -> anyhow::Result<crate::train::TrainOutcome> {
    let cancel_flag = std::sync::Arc::new(AtomicBool::new(false));
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let flag = std::sync::Arc::clone(&cancel_flag);
        let worker = scope.spawn(move || crate::train::train(job, sender, flag));
        for event in receiver.iter() {
            if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                cancel_flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            if let TrainEvent::Epoch(epoch) = event {
                tracing::info!(
                    "  epoch {}: bce {:.4}, validation accuracy {}",
                    epoch.epoch,
                    epoch.mean_bce,
                    epoch
                        .validation
                        .as_ref()
                        .map_or("-".to_string(), |v| format!("{:.4}", v.accuracy))
                );
            }
        }
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            .map_err(anyhow::Error::from)
    })
}

/// Splits a case's volume into training and validation pairs, keeping the test slices out.
fn training_split(
    case: &Case,
    recipe: &TrainRecipe,
) -> anyhow::Result<(TrainingPair, TrainingPair)> {
    let (volume, label) = read_case(case)?;
    let depth = volume.shape[0];
    let test = &case.test_z;
    let validate = &recipe.validate_z;
    let at_an_end =
        |range: &Range<usize>, start: usize, end: usize| range.start == start || range.end == end;
    if !at_an_end(test, 0, depth) {
        bail!(
            "{}: test slices {test:?} must start at 0 or end at {depth} so that the training \
             slices stay in one piece",
            case.image.display()
        );
    }
    let overlaps = validate.start < test.end && test.start < validate.end;
    let (rest_start, rest_end) = if test.start == 0 {
        (test.end, depth)
    } else {
        (0, test.start)
    };
    if overlaps || !at_an_end(validate, rest_start, rest_end) || validate.is_empty() {
        bail!(
            "{}: validation slices {validate:?} must lie at one end of the slices left after \
             the test slices {test:?}, without overlapping them",
            case.image.display()
        );
    }

    let pair = TrainingPair::from_volume(case.image.display().to_string(), &volume, &label)?;
    let (rest, _test) = pair.split_z(test.clone())?;
    let shift = if test.start == 0 { test.end } else { 0 };
    let (train, validation) = rest.split_z(validate.start - shift..validate.end - shift)?;
    Ok((train, validation))
}

/// Reads a case's image and label and checks that they match.
fn read_case(case: &Case) -> anyhow::Result<(Volume, crate::volume::Label)> {
    let volume = read_volume(&case.image, &ReadOptions::default())?;
    let label = read_label(&case.label, &ReadOptions::default(), None)?;
    check_same_shape(&case.image, volume.shape, &case.label, label.shape)?;
    if case.test_z.is_empty() || case.test_z.end > volume.shape[0] {
        bail!(
            "{}: test slices {:?} do not fit its {} slices",
            case.image.display(),
            case.test_z,
            volume.shape[0]
        );
    }
    Ok((volume, label))
}

/// Runs both models of a case and evaluates them on its test slices.
fn run_case(
    plan: &ReportPlan,
    case: &Case,
    models: &CaseModelFiles,
    device: &Device,
    cancel: &AtomicBool,
) -> anyhow::Result<(CaseResult, FigureSlice)> {
    let (volume, label) = read_case(case)?;
    let [_, height, width] = volume.shape;
    let page = height * width;
    let test = case.test_z.clone();
    let test_label = &label.voxels[test.start * page..test.end * page];
    let figure_z = (test.start + test.end) / 2;
    let mut slice = FigureSlice {
        size: [height, width],
        ct: volume.voxels[figure_z * page..(figure_z + 1) * page].to_vec(),
        label: Some(label.voxels[figure_z * page..(figure_z + 1) * page].to_vec()),
        models: Vec::new(),
    };

    let mut results = Vec::new();
    for (variant, path, training) in &models.files {
        tracing::info!(
            "{}: {} inference, {} samples ...",
            case.name,
            variant.name(),
            plan.samples
        );
        let (maps, secs) = infer_volume(path, *variant, &volume, plan, device, cancel)?;
        let figure_range = figure_z * page..(figure_z + 1) * page;
        slice.models.push((
            *variant,
            maps.prediction[figure_range.clone()].to_vec(),
            maps.uncertainty[figure_range].to_vec(),
        ));
        let test_maps = maps
            .crop_z(test.clone())
            .context("BUG: test slices were checked")?;
        let result = evaluate_model(
            *variant,
            path,
            training.clone(),
            secs,
            &test_maps,
            test_label,
        );
        tracing::info!(
            "{}: {} accuracy {:.4}, Dice {:.4}, mean uncertainty {:.4} ({:.0} s)",
            case.name,
            variant.name(),
            result.accuracy,
            result.dice,
            result.mean_uncertainty,
            secs
        );
        results.push(result);
    }

    let result = CaseResult {
        name: case.name.clone(),
        slug: case.slug.clone(),
        image: shown_path(&case.image),
        label: shown_path(&case.label),
        shape: volume.shape,
        test_z: test,
        provenance: models.provenance.clone(),
        recipe: models.recipe.clone(),
        models: results,
        figure: match &case.withhold_slice {
            Some(reason) => Err(reason.clone()),
            None => Ok(format!("{}_slice.png", case.slug)),
        },
        curve: format!("{}_threshold.png", case.slug),
        figure_z,
    };
    Ok((result, slice))
}

/// The metrics of one model's maps on the test slices.
fn evaluate_model(
    variant: Variant,
    path: &Path,
    training: Option<TrainingInfo>,
    inference_secs: f64,
    maps: &ResultMaps,
    label: &[u8],
) -> ModelResult {
    let report = evaluate(
        &[("prediction", &maps.prediction)],
        label,
        &maps.uncertainty,
        maps.shape,
        Axis::Z,
    );
    let prediction = &report.segmentations[0];
    let thresholds: Vec<f32> = (0..=100).map(|step| step as f32 / 100.0).collect();
    let points = sweep(
        &maps.prediction,
        &maps.uncertainty,
        label,
        &thresholds,
        RefineMode::Remove,
    );
    let at_paper = sweep(
        &maps.prediction,
        &maps.uncertainty,
        label,
        &[PAPER_THRESHOLD],
        RefineMode::Remove,
    );
    let best = best_by_accuracy(&points).unwrap_or(at_paper[0]);
    ModelResult {
        variant: variant.name().to_string(),
        model: shown_path(path),
        training,
        inference_secs,
        accuracy: prediction.overlap.accuracy,
        dice: prediction.overlap.dice,
        mean_uncertainty: report.mean_uncertainty,
        p_accurate_given_certain: prediction.pavpu_slices.p_accurate_given_certain(),
        p_uncertain_given_inaccurate: prediction.pavpu_slices.p_uncertain_given_inaccurate(),
        pavpu: prediction.pavpu_slices.pavpu(),
        accuracy_at_paper_threshold: at_paper[0].overlap.accuracy,
        best_threshold: best.threshold,
        best_accuracy: best.overlap.accuracy,
        sweep: points,
    }
}

/// Runs a reference case's models on an unseen material.
fn run_ood(
    plan: &ReportPlan,
    ood: &OodCase,
    reference: &CaseResult,
    models: &CaseModelFiles,
    device: &Device,
    cancel: &AtomicBool,
) -> anyhow::Result<(OodResult, FigureSlice)> {
    let volume = read_volume(&ood.image, &ReadOptions::default())?;
    let [depth, height, width] = volume.shape;
    let page = height * width;
    let figure_z = depth / 2;
    let figure_range = figure_z * page..(figure_z + 1) * page;
    let mut slice = FigureSlice {
        size: [height, width],
        ct: volume.voxels[figure_range.clone()].to_vec(),
        label: None,
        models: Vec::new(),
    };

    let mut results = Vec::new();
    for ((variant, path, _), in_distribution) in models.files.iter().zip(&reference.models) {
        tracing::info!(
            "{}: {} inference, {} samples ...",
            ood.name,
            variant.name(),
            plan.samples
        );
        let (maps, secs) = infer_volume(path, *variant, &volume, plan, device, cancel)?;
        slice.models.push((
            *variant,
            maps.prediction[figure_range.clone()].to_vec(),
            maps.uncertainty[figure_range.clone()].to_vec(),
        ));
        let foreground = maps.prediction.iter().filter(|&&p| p != 0).count();
        let result = OodModelResult {
            variant: variant.name().to_string(),
            mean_uncertainty: crate::metrics::mean(&maps.uncertainty),
            reference_mean_uncertainty: in_distribution.mean_uncertainty,
            foreground_fraction: foreground as f64 / maps.prediction.len() as f64,
            inference_secs: secs,
        };
        tracing::info!(
            "{}: {} mean uncertainty {:.4} (test slices of {}: {:.4})",
            ood.name,
            variant.name(),
            result.mean_uncertainty,
            reference.name,
            result.reference_mean_uncertainty
        );
        results.push(result);
    }

    let result = OodResult {
        name: ood.name.clone(),
        slug: ood.slug.clone(),
        image: shown_path(&ood.image),
        shape: volume.shape,
        reference: reference.name.clone(),
        models: results,
        figure: format!("{}_slice.png", ood.slug),
    };
    Ok((result, slice))
}

/// Monte Carlo inference of a model file over a volume with `ctuq infer`'s default chunking;
/// returns the maps and the seconds it took.
fn infer_volume(
    path: &Path,
    variant: Variant,
    volume: &Volume,
    plan: &ReportPlan,
    device: &Device,
    cancel: &AtomicBool,
) -> anyhow::Result<(ResultMaps, f64)> {
    let (header, network) = load_model(path, Some(variant), device)?;
    let (chunk, overlap) = default_chunking(header.chunk, volume.shape);
    let config = InferConfig {
        samples: plan.samples,
        lower_percentile: 20.0,
        upper_percentile: 80.0,
        chunk,
        overlap,
        seed: plan.seed,
    };
    let started = Instant::now();
    let sampler = NetworkSampler::new(&network, device, config.samples, config.seed);
    let maps = infer::run(&sampler, volume, &config, None, cancel)
        .with_context(|| format!("inference of {} failed", path.display()))?;
    Ok((maps, started.elapsed().as_secs_f64()))
}

/// The machine in words: CPU model and cores, and the backend.
fn describe_machine(backend: &str) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    format!("{cpu}, {cores} cores; the network ran on {backend}")
}

/// A path as the report shows it: relative to the working folder, or to the folder above it,
/// where it lies there (the report is committed; a machine's absolute paths would date it).
fn shown_path(path: &Path) -> String {
    let Ok(here) = std::env::current_dir() else {
        return path.display().to_string();
    };
    if let Ok(inside) = path.strip_prefix(&here) {
        return inside.display().to_string();
    }
    match here.parent().map(|above| path.strip_prefix(above)) {
        Some(Ok(beside)) => Path::new("..").join(beside).display().to_string(),
        _ => path.display().to_string(),
    }
}

/// Writes a text file atomically.
fn write_text(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    write_atomically(path, |writer| {
        writer
            .write_all(text.as_bytes())
            .map_err(|cause| crate::volume::VolumeError::Io {
                path: path.to_path_buf(),
                cause,
            })
    })?;
    Ok(())
}
