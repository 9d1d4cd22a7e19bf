//! `ctuq segment`: the main job headless. Inference, refinement and evaluation in one go,
//! defaulting to the built-in sample and model.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use clap::Args;

use super::InputArgs;
use super::eval::{self, EvalArgs, parse_axis, parse_z_range};
use super::infer::{self, InferArgs};
use super::refine::{self, RefineArgs};
use crate::assets;
use crate::backend::Backend;
use crate::metrics::Axis;
use crate::refine::RefineMode;
use crate::volume::{ReadOptions, check_same_shape, read_label, read_raw_volume};

/// Arguments of `ctuq segment`.
#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// The volume to segment (default: the built-in cement sample).
    pub image: Option<PathBuf>,

    /// A label to evaluate against (default with the built-in sample: its void label).
    #[arg(long)]
    pub label: Option<PathBuf>,

    /// The trained model (default: the built-in BCNN).
    #[arg(long)]
    pub model: Option<PathBuf>,

    /// Output folder for the maps, the refined segmentation and the metrics.
    #[arg(long, default_value = "ctuq-results")]
    pub out: PathBuf,

    /// Monte Carlo samples per voxel.
    #[arg(long, default_value_t = 48)]
    pub samples: usize,

    /// Seed of the Monte Carlo draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Chunk size Z,Y,X (default: from the model).
    #[arg(long, value_name = "Z,Y,X")]
    pub chunk: Option<String>,

    /// Uncertainty threshold of the refinement.
    #[arg(long, default_value_t = 0.22)]
    pub threshold: f32,

    /// Refinement mode: remove, add or flag.
    #[arg(long, default_value = "remove")]
    pub mode: RefineMode,

    /// Evaluate only slices START:END (default with the built-in sample: the held-out part).
    #[arg(long, value_name = "START:END")]
    pub eval_z: Option<String>,

    /// Axis of the PAvPU slices.
    #[arg(long, default_value = "z", value_parser = parse_axis)]
    pub axis: Axis,

    /// Where the network runs.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,

    #[command(flatten)]
    pub input: InputArgs,
}

/// Runs `ctuq segment`.
pub fn run(args: &SegmentArgs) -> anyhow::Result<()> {
    let builtin_sample = args.image.is_none();
    let image = match &args.image {
        Some(path) => path.clone(),
        None => assets::find(assets::SAMPLE_IMAGE).map_err(|e| anyhow!(e))?,
    };
    let label = match (&args.label, builtin_sample) {
        (Some(path), _) => Some(path.clone()),
        (None, true) => Some(assets::find(assets::SAMPLE_LABEL).map_err(|e| anyhow!(e))?),
        (None, false) => None,
    };
    let model = match &args.model {
        Some(path) => path.clone(),
        None => assets::find(assets::BCNN_MODEL)
            .map_err(|e| anyhow!("{e}; train one with `ctuq train` and pass it with --model"))?,
    };
    let eval_z = args.eval_z.clone().or_else(|| {
        let held_out = assets::SAMPLE_HELD_OUT_Z;
        builtin_sample.then(|| format!("{}:{}", held_out.start, held_out.end))
    });

    // Everything that can be checked before the inference is, so that a typo costs seconds,
    // not a whole run.
    if !(0.0..=1.0).contains(&args.threshold) {
        bail!("--threshold {} is outside [0, 1]", args.threshold);
    }
    let label_shape = match &label {
        Some(path) => Some(read_label(path, &ReadOptions::default(), None)?.shape),
        None => None,
    };
    if label_shape.is_some() || eval_z.is_some() {
        let shape = read_raw_volume(&image, &args.input.read_options()?)?.shape;
        if let (Some(label_shape), Some(path)) = (label_shape, &label) {
            check_same_shape(&image, shape, path, label_shape)?;
        }
        if let Some(text) = &eval_z {
            let z = parse_z_range(text).context("--eval-z")?;
            if z.end > shape[0] {
                bail!(
                    "--eval-z {text}: {} has {} slices",
                    image.display(),
                    shape[0]
                );
            }
        }
    }

    infer::run(&InferArgs {
        model,
        image,
        samples: args.samples,
        lower: 20.0,
        upper: 80.0,
        chunk: args.chunk.clone(),
        overlap: None,
        seed: args.seed,
        backend: args.backend,
        out: args.out.clone(),
        input: args.input.clone(),
    })?;
    refine::run(&RefineArgs {
        results: args.out.clone(),
        threshold: args.threshold,
        mode: args.mode,
        sweep: None,
        label: None,
        class: None,
        out: None,
    })?;
    let Some(label) = label else {
        tracing::info!("no --label given: maps and refinement written, nothing to evaluate");
        return Ok(());
    };
    if let Some(z) = &eval_z {
        tracing::info!("metrics of slices {z} (z)");
    }
    eval::run(&EvalArgs {
        results: args.out.clone(),
        label,
        class: None,
        axis: args.axis,
        z: eval_z,
        out: None,
    })
}
