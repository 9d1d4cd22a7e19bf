//! The command line: clap structs are raw input; each subcommand checks them into a job
//! configuration before any work starts, then calls the same job functions as the viewer.

mod bench;
mod bench_view;
mod convert;
mod eval;
mod infer;
mod info;
mod input;
mod model;
mod progress;
mod refine;
mod report;
mod segment;
mod train;
mod view;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use input::InputArgs;

/// Bayesian 3D CNN segmentation of X-ray CT volumes, with per-voxel uncertainty.
#[derive(Debug, Parser)]
#[command(name = "ctuq", version, about, long_about = None)]
pub struct Cli {
    /// Print debug logs (or set RUST_LOG, e.g. RUST_LOG=ctuq=debug).
    #[arg(long, short, global = true)]
    pub verbose: bool,

    /// The command; with none, the viewer opens on the built-in sample.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print shape, type, voxel size and statistics of a volume (and its label).
    Info(info::InfoArgs),
    /// Convert any readable volume to a plain multi-page TIFF in its own type.
    Convert(convert::ConvertArgs),
    /// The main job headless: infer, refine and evaluate (default: the built-in sample).
    Segment(segment::SegmentArgs),
    /// Train a BCNN or MCDN on labelled volumes.
    Train(train::TrainArgs),
    /// Print the network's layers and parameter counts, or a model file's header.
    Model(model::ModelArgs),
    /// Monte Carlo inference: mean, percentile bounds and uncertainty maps of a volume.
    Infer(infer::InferArgs),
    /// Time training steps and Monte Carlo inference on each backend, as tables.
    Bench(bench::BenchArgs),
    /// Compare a results folder with a label: accuracy, Dice, IoU, PAvPU, P(A|C), P(U|I).
    Eval(eval::EvalArgs),
    /// Refine a segmentation by its uncertainty, or sweep the threshold against a label.
    Refine(refine::RefineArgs),
    /// Regenerate docs/validation.md: BCNN against MCDN on real CT, with the paper's claims.
    Report(report::ReportArgs),
    /// Time the viewer's slice and raycast renderers offscreen, as a table.
    BenchView(bench_view::BenchViewArgs),
    /// Open the viewer on an image, with its label, results and model.
    View(view::ViewArgs),
}

/// Parses the arguments, runs the command, prints any error with its causes and returns a
/// non-zero exit status for it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let Some(command) = cli.command else {
        return finish(view::run_sample());
    };
    let result = match command {
        Command::Info(args) => info::run(&args),
        Command::Convert(args) => convert::run(&args),
        Command::Segment(args) => segment::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Model(args) => model::run(&args),
        Command::Infer(args) => infer::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Refine(args) => refine::run(&args),
        Command::Report(args) => report::run(&args),
        Command::View(args) => view::run_view(&args),
        Command::BenchView(args) => bench_view::run(&args),
    };
    finish(result)
}

/// The exit status of a command's result; prints the error with its causes.
fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped early (`ctuq info ... | head`) is not an error.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Whether an error comes from writing to a closed pipe.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Logs to stderr: info for users, debug with `--verbose`; `RUST_LOG` overrides both.
fn init_logging(verbose: bool) {
    let default = if verbose { "ctuq=debug,info" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .init();
}
