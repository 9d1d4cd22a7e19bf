//! The viewer: an eframe app showing a volume in three slice views and a 3D view, with its
//! label, result maps and live refinement, and driving training and inference in the
//! background.
//!
//! [`AppState`] is what persists between runs; [`ViewerApp`] adds what does not (data, GPU
//! handles, jobs). Panels draw and return [`Command`]s, applied after drawing.

mod data;
mod dialogs;
mod export;
mod jobs_panel;
mod layers_panel;
mod refine_panel;
mod views;
mod window_panel;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use anyhow::Context as _;
use eframe::egui;
use eframe::egui_wgpu;
use serde::{Deserialize, Serialize};

pub use data::{Dataset, Probe};
pub use dialogs::Question;
pub use views::ViewId;

use crate::infer::ResultMaps;
use crate::refine::{RefineMode, SweepPoint};
use crate::render::raycast::{TransferPoint, default_transfer};
use crate::render::{Layer, LayerStyle, OrbitCamera, RenderMode, ViewerGpu, VolumeTextures};
use crate::worker::{
    InferSettings, Job, JobOutput, MetricsWorker, RefineInputs, RefineRequest, RefineStats,
    Repaint, TrainSettings,
};

/// Where a screenshot was saved, or why it was not.
type ScreenshotResult = Result<PathBuf, String>;

/// The default refinement threshold (SPEC).
pub const DEFAULT_THRESHOLD: f32 = 0.22;

/// Monte Carlo samples of the main job's inference (the paper's T).
pub const MAIN_JOB_SAMPLES: usize = 48;

/// The files to open at start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpenRequest {
    /// The image.
    pub image: PathBuf,
    /// Its label.
    pub label: Option<PathBuf>,
    /// A results folder written by `ctuq infer`.
    pub results: Option<PathBuf>,
    /// A model file for the Infer panel.
    pub model: Option<PathBuf>,
    /// Start Monte Carlo inference with `model` as soon as the image is open (the main job:
    /// the first thing a user sees is the segmentation and its uncertainty).
    pub start_inference: bool,
}

impl OpenRequest {
    /// The built-in sample with its label, and the built-in BCNN in the Infer panel (see
    /// [`crate::assets::find`] for where they are looked for).
    pub fn sample() -> OpenRequest {
        use crate::assets::{BCNN_MODEL, SAMPLE_IMAGE, SAMPLE_LABEL, find};
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets");
        let model = find(BCNN_MODEL).ok();
        OpenRequest {
            image: find(SAMPLE_IMAGE).unwrap_or_else(|_| root.join(SAMPLE_IMAGE)),
            label: Some(find(SAMPLE_LABEL).unwrap_or_else(|_| root.join(SAMPLE_LABEL))),
            results: None,
            start_inference: model.is_some(),
            model,
        }
    }
}

// ----------------------------------------------------------------------------

/// What persists between runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppState {
    /// Style of each layer, as [`Layer::ALL`].
    pub layers: [LayerStyle; 5],
    /// Refinement threshold.
    pub threshold: f32,
    /// Refinement mode.
    pub mode: RefineMode,
    /// What the 3D view shows.
    pub render_mode: RenderMode,
    /// Mean probability of the iso-surface.
    pub iso_level: f32,
    /// Transfer function of the volume rendering.
    pub transfer: Vec<TransferPoint>,
    /// Whether the uncertainty colour bar spans 0 to 1 whatever the results (to compare runs
    /// and models by colour) rather than 0 to the largest uncertainty of these results.
    pub fixed_uncertainty_scale: bool,
    /// Inference settings.
    pub infer: InferSettings,
    /// Training settings.
    pub train: TrainSettings,
}

impl Default for AppState {
    fn default() -> Self {
        AppState {
            layers: Layer::ALL.map(Layer::default_style),
            threshold: DEFAULT_THRESHOLD,
            mode: RefineMode::Remove,
            render_mode: RenderMode::Mip,
            iso_level: 0.5,
            transfer: default_transfer(),
            fixed_uncertainty_scale: false,
            infer: InferSettings::default(),
            train: TrainSettings::default(),
        }
    }
}

/// A map or segmentation that can be exported as TIFF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapKind {
    /// Mean probability.
    Mean,
    /// Lower bound probability.
    Lower,
    /// Upper bound probability.
    Upper,
    /// Uncertainty.
    Uncertainty,
    /// Prediction.
    Prediction,
    /// Lower-bound segmentation.
    LowerSeg,
    /// Upper-bound segmentation.
    UpperSeg,
    /// The refined segmentation at the current threshold.
    Refined,
}

impl MapKind {
    /// All kinds, for the Export menu.
    pub const ALL: [MapKind; 8] = [
        MapKind::Mean,
        MapKind::Lower,
        MapKind::Upper,
        MapKind::Uncertainty,
        MapKind::Prediction,
        MapKind::LowerSeg,
        MapKind::UpperSeg,
        MapKind::Refined,
    ];

    /// File stem and menu name.
    pub fn name(self) -> &'static str {
        match self {
            MapKind::Mean => "mean",
            MapKind::Lower => "lower",
            MapKind::Upper => "upper",
            MapKind::Uncertainty => "uncertainty",
            MapKind::Prediction => "prediction",
            MapKind::LowerSeg => "lower_seg",
            MapKind::UpperSeg => "upper_seg",
            MapKind::Refined => "refined",
        }
    }
}

/// A user action, applied after the frame is drawn.
#[must_use]
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Ask for a file with a dialog; the answer comes back as the command that uses it.
    Ask(Question),
    /// Open files (command line, drag and drop, File > Open image).
    Open(OpenRequest),
    /// Open a label for the image on screen.
    OpenLabel(PathBuf),
    /// Show the results in a folder written by `ctuq infer`.
    OpenResults(PathBuf),
    /// Use this model file in the Infer panel.
    SetModel(PathBuf),
    /// Write the Train panel's model to this file.
    SetTrainOutput(PathBuf),
    /// Set the window (raw intensities).
    SetWindow(f32, f32),
    /// Maximise a view, or go back to the grid.
    Maximise(Option<ViewId>),
    /// Start inference with the Infer settings.
    StartInfer,
    /// Start training with the Train settings.
    StartTrain,
    /// Cancel job `n`.
    CancelJob(usize),
    /// Forget jobs that ended.
    ClearJobs,
    /// Write a map as TIFF to this file.
    ExportMap(MapKind, PathBuf),
    /// Write the current metrics and the sweep as CSV to this file.
    ExportMetrics(PathBuf),
    /// Save a PNG of the window, or of one view, to this file.
    Screenshot(Option<ViewId>, PathBuf),
    /// Hide the error banner.
    DismissError,
}

// ----------------------------------------------------------------------------

/// The viewer app: persistent state plus everything that lives only while it runs.
pub struct ViewerApp {
    /// What persists.
    pub state: AppState,
    /// The data on screen.
    pub dataset: Option<Dataset>,
    render_state: Option<egui_wgpu::RenderState>,
    generation: u64,
    /// Window (raw intensities).
    pub window: [f32; 2],
    /// The crosshair voxel (z, y, x), shared by the views.
    pub crosshair: [usize; 3],
    views: views::ViewsState,
    /// The 3D view's camera.
    pub camera: OrbitCamera,
    /// What the cursor is over.
    pub hover: Option<Probe>,
    /// Background jobs, newest last.
    pub jobs: Vec<Job>,
    metrics: Option<MetricsWorker>,
    /// The live refinement numbers.
    pub stats: Option<RefineStats>,
    /// The threshold sweep for a mode.
    pub sweep: Option<(RefineMode, Vec<SweepPoint>)>,
    sweep_job: Option<Job>,
    dialogs: dialogs::Dialogs,
    /// The error to show, once, until dismissed.
    pub error: Option<String>,
    /// A line on the last thing that went right (exports).
    pub notice: Option<String>,
    /// What the maps on screen hold while they are a preview of an unfinished inference
    /// (e.g. "8 of 48 samples"); `None` once they are final or came from elsewhere.
    pub preview: Option<String>,
    screenshots: (Sender<ScreenshotResult>, Receiver<ScreenshotResult>),
    repaint: Option<Repaint>,
}

impl ViewerApp {
    /// Creates the app, restores its state, installs the renderers and opens `open`.
    pub fn new(cc: &eframe::CreationContext<'_>, open: Option<OpenRequest>) -> ViewerApp {
        let state = cc
            .storage
            .and_then(|storage| eframe::get_value::<AppState>(storage, eframe::APP_KEY))
            .unwrap_or_default();
        let ctx = cc.egui_ctx.clone();
        let mut app = ViewerApp::with_state(state, cc.wgpu_render_state.clone());
        app.repaint = Some(Arc::new(move || ctx.request_repaint()));
        if let Some(render_state) = &app.render_state {
            ViewerGpu::install(render_state);
        } else {
            app.error = Some("no wgpu renderer: the views cannot be drawn".into());
        }
        if let Some(open) = open {
            app.apply(&cc.egui_ctx, Command::Open(open));
        }
        app
    }

    /// An app with no data and no window, for tests.
    pub fn with_state(state: AppState, render_state: Option<egui_wgpu::RenderState>) -> Self {
        ViewerApp {
            state,
            dataset: None,
            render_state,
            generation: 0,
            window: [0.0, 1.0],
            crosshair: [0; 3],
            views: views::ViewsState::default(),
            camera: OrbitCamera::default(),
            hover: None,
            jobs: Vec::new(),
            metrics: None,
            stats: None,
            sweep: None,
            sweep_job: None,
            dialogs: dialogs::Dialogs::default(),
            error: None,
            notice: None,
            preview: None,
            screenshots: channel(),
            repaint: None,
        }
    }

    fn repaint(&self) -> Repaint {
        self.repaint.clone().unwrap_or_else(|| Arc::new(|| {}))
    }

    /// Shows an error once, and logs it.
    fn fail(&mut self, error: &anyhow::Error) {
        let message = format!("{error:#}");
        tracing::error!("{message}");
        self.error = Some(message);
    }

    // ------------------------------------------------------------------------
    // Data

    /// Opens files, replacing what is on screen.
    ///
    /// # Errors
    /// Unreadable files or shapes that disagree.
    pub fn open(&mut self, request: &OpenRequest) -> anyhow::Result<()> {
        let dataset = Dataset::open(&request.image, None)?;
        if let Some(model) = &request.model {
            self.state.infer.model = Some(model.clone());
        }
        let [d, h, w] = dataset.shape();
        tracing::info!("opened {} ({d} x {h} x {w})", request.image.display());
        self.window = [dataset.percentiles.0, dataset.percentiles.1];
        self.crosshair = [d / 2, h / 2, w / 2];
        self.views = views::ViewsState::default();
        self.dataset = Some(dataset);
        self.upload_volume()?;
        self.results_changed();

        // A label or results folder that does not fit is an error of its own: the image
        // stays open, so the user sees it and can pick the right file.
        let label = request.label.as_deref().map(|path| self.open_label(path));
        let results = request.results.as_deref().map(|folder| {
            ResultMaps::load(folder)
                .with_context(|| format!("open results {}", folder.display()))
                .and_then(|results| self.set_results(results))
        });
        if request.start_inference && request.results.is_none() && self.state.infer.model.is_some()
        {
            // The paper's T for the main job, whatever the panel was last set to.
            self.state.infer.samples = MAIN_JOB_SAMPLES;
            self.start_infer()?;
        }
        label.transpose()?;
        results.transpose()?;
        Ok(())
    }

    /// The uncertainty at the top of the colour bar: 1 on the fixed scale, else the largest
    /// uncertainty of the results on screen.
    pub fn uncertainty_scale(&self) -> f32 {
        match &self.dataset {
            Some(dataset) if !self.state.fixed_uncertainty_scale => dataset.uncertainty_max(),
            _ => 1.0,
        }
    }

    /// Shows results computed elsewhere (tests, scripts).
    ///
    /// # Errors
    /// No image open, or results of another shape.
    pub fn load_results(&mut self, results: ResultMaps) -> anyhow::Result<()> {
        self.set_results(results)
    }

    /// Replaces the results (after inference or File > Open results).
    fn set_results(&mut self, results: ResultMaps) -> anyhow::Result<()> {
        let dataset = self.dataset.as_mut().context("open an image first")?;
        dataset.set_results(results)?;
        self.preview = None;
        self.upload_maps();
        self.results_changed();
        Ok(())
    }

    /// Sends the whole volume to the GPU as new textures.
    fn upload_volume(&mut self) -> anyhow::Result<()> {
        let (Some(render_state), Some(dataset)) = (&self.render_state, &self.dataset) else {
            return Ok(());
        };
        self.generation += 1;
        let textures = VolumeTextures::new(
            &render_state.device,
            &render_state.queue,
            dataset.shape(),
            &dataset.intensity_texels(),
            self.generation,
        )
        .map_err(anyhow::Error::msg)?;
        let mut renderer = render_state.renderer.write();
        if let Some(gpu) = renderer.callback_resources.get_mut::<ViewerGpu>() {
            gpu.textures = Some(textures);
        }
        drop(renderer);
        self.upload_maps();
        Ok(())
    }

    /// Sends label and result maps to the existing textures.
    fn upload_maps(&self) {
        let (Some(render_state), Some(dataset)) = (&self.render_state, &self.dataset) else {
            return;
        };
        let renderer = render_state.renderer.read();
        let Some(textures) = renderer
            .callback_resources
            .get::<ViewerGpu>()
            .and_then(|gpu| gpu.textures.as_ref())
        else {
            return;
        };
        let queue = &render_state.queue;
        textures.write_flags(queue, &dataset.flag_texels());
        textures.write_probability(queue, &dataset.probability_texels());
        match &dataset.results {
            Some(results) => textures.write_uncertainty(queue, &results.uncertainty),
            None => textures.write_uncertainty(queue, &vec![0.0; dataset.volume.voxels.len()]),
        }
    }

    /// Restarts the refinement workers for new results.
    fn results_changed(&mut self) {
        self.metrics = None;
        self.stats = None;
        self.sweep = None;
        if let Some(job) = self.sweep_job.take() {
            job.cancel();
        }
        let Some(dataset) = &self.dataset else {
            return;
        };
        let Some(results) = &dataset.results else {
            return;
        };
        let inputs = Arc::new(RefineInputs {
            shape: results.shape,
            prediction: results.prediction.clone(),
            uncertainty: results.uncertainty.clone(),
            label: dataset.label.as_ref().map(|l| l.voxels.clone()),
        });
        match MetricsWorker::spawn(inputs, self.repaint()) {
            Ok(worker) => self.metrics = Some(worker),
            Err(error) => self.fail(&anyhow::Error::new(error).context("start metrics worker")),
        }
    }

    /// Keeps the refinement numbers and the sweep up to date with the slider.
    fn update_refinement(&mut self) {
        let request = RefineRequest {
            threshold: self.state.threshold,
            mode: self.state.mode,
        };
        if let Some(metrics) = &mut self.metrics {
            metrics.request(request);
            if let Some(stats) = metrics.poll() {
                self.stats = Some(stats);
            }
        }
        if let Some(job) = &mut self.sweep_job
            && let Some(JobOutput::Sweep(points)) = job.poll()
        {
            self.sweep = Some((self.state.mode, points));
        }
        let sweep_current = self
            .sweep
            .as_ref()
            .is_some_and(|(m, _)| *m == self.state.mode);
        let sweep_running = self.sweep_job.as_ref().is_some_and(Job::is_running);
        if !sweep_current
            && !sweep_running
            && self.state.mode != RefineMode::Flag
            && let Some(dataset) = &self.dataset
            && let (Some(results), Some(label)) = (&dataset.results, &dataset.label)
        {
            let work = crate::worker::sweep_work(
                results.prediction.clone(),
                results.uncertainty.clone(),
                label.voxels.clone(),
                self.state.mode,
            );
            match Job::spawn("sweep", self.repaint(), work) {
                Ok(job) => self.sweep_job = Some(job),
                Err(error) => self.fail(&anyhow::Error::new(error).context("start sweep")),
            }
        }
    }

    /// Takes job events; loads what finished jobs produced.
    fn poll_jobs(&mut self) {
        let mut outputs = Vec::new();
        let mut preview = None;
        for job in &mut self.jobs {
            if let Some(output) = job.poll() {
                outputs.push(output);
            }
            preview = job.take_preview().or(preview);
        }
        if let Some((maps, message)) = preview {
            if let Err(error) = self.set_results(*maps) {
                self.fail(&error);
            } else {
                self.notice = Some(format!("preview: {message}; inference goes on"));
                self.preview = Some(message);
            }
        }
        if let Some(message) = &self.preview
            && outputs.is_empty()
            && !self.jobs.iter().any(Job::is_running)
        {
            self.notice = Some(format!(
                "inference stopped: the maps shown are a preview ({message}), not final results"
            ));
        }
        for output in outputs {
            match output {
                JobOutput::Results(results) => {
                    if let Err(error) = self.set_results(*results) {
                        self.fail(&error);
                    } else {
                        self.notice = Some("inference done: results are in the views".into());
                    }
                }
                JobOutput::Model(path) => {
                    self.notice = Some(format!("model written to {}", path.display()));
                    self.state.infer.model = Some(path);
                }
                JobOutput::Sweep(points) => self.sweep = Some((self.state.mode, points)),
            }
        }
        while let Ok(result) = self.screenshots.1.try_recv() {
            match result {
                Ok(path) => self.notice = Some(format!("saved {}", path.display())),
                Err(message) => self.fail(&anyhow::anyhow!(message)),
            }
        }
    }

    // ------------------------------------------------------------------------
    // Commands

    /// Applies one command.
    pub fn apply(&mut self, ctx: &egui::Context, command: Command) {
        let result = match command {
            Command::Ask(question) => {
                let repaint = self.repaint();
                self.dialogs.ask(question, repaint)
            }
            Command::Open(request) => self.open(&request),
            Command::OpenLabel(path) => self.open_label(&path),
            Command::OpenResults(folder) => ResultMaps::load(&folder)
                .with_context(|| format!("open results {}", folder.display()))
                .and_then(|results| self.set_results(results)),
            Command::SetModel(model) => {
                self.state.infer.model = Some(model);
                Ok(())
            }
            Command::SetTrainOutput(output) => {
                self.state.train.output = output;
                Ok(())
            }
            Command::SetWindow(low, high) => {
                self.window = [low.min(high), high.max(low)];
                Ok(())
            }
            Command::Maximise(view) => {
                self.views.maximised = view;
                Ok(())
            }
            Command::StartInfer => self.start_infer(),
            Command::StartTrain => self.start_train(),
            Command::CancelJob(index) => {
                if let Some(job) = self.jobs.get(index) {
                    job.cancel();
                }
                Ok(())
            }
            Command::ClearJobs => {
                self.jobs.retain(Job::is_running);
                Ok(())
            }
            Command::ExportMap(kind, path) => self.export_map(kind, path),
            Command::ExportMetrics(path) => self.export_metrics(&path),
            Command::Screenshot(view, path) => {
                self.screenshot(ctx, view, path);
                Ok(())
            }
            Command::DismissError => {
                self.error = None;
                Ok(())
            }
        };
        if let Err(error) = result {
            self.fail(&error);
        }
    }

    fn open_label(&mut self, path: &std::path::Path) -> anyhow::Result<()> {
        let dataset = self.dataset.as_mut().context("open an image first")?;
        let context = || format!("open label {}", path.display());
        let label =
            crate::volume::read_label(path, &Default::default(), None).with_context(context)?;
        dataset.set_label(label).with_context(context)?;
        self.upload_maps();
        self.results_changed();
        Ok(())
    }

    fn start_infer(&mut self) -> anyhow::Result<()> {
        let dataset = self.dataset.as_ref().context("open an image first")?;
        let work = crate::worker::infer_work(self.state.infer.clone(), dataset.volume.clone());
        self.jobs.push(Job::spawn("infer", self.repaint(), work)?);
        Ok(())
    }

    fn start_train(&mut self) -> anyhow::Result<()> {
        let dataset = self.dataset.as_ref().context("open an image first")?;
        let label = dataset
            .label
            .clone()
            .context("training needs a label: File > Open label")?;
        let work =
            crate::worker::train_work(self.state.train.clone(), dataset.volume.clone(), label);
        self.jobs.push(Job::spawn("train", self.repaint(), work)?);
        Ok(())
    }

    // ------------------------------------------------------------------------
    // Panels

    fn menu_ui(&mut self, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                let mut ask = |ui: &mut egui::Ui, text: &str, question| {
                    if ui.button(text).clicked() {
                        commands.push(Command::Ask(question));
                    }
                };
                ask(ui, "Open image…", Question::OpenImage);
                ask(ui, "Open label…", Question::OpenLabel);
                ask(ui, "Open results folder…", Question::OpenResults);
                ui.separator();
                ui.menu_button("Export map as TIFF", |ui| {
                    for kind in MapKind::ALL {
                        ask(ui, kind.name(), Question::ExportMap(kind));
                    }
                });
                ask(ui, "Export metrics as CSV…", Question::ExportMetrics);
                ask(ui, "Screenshot of the window…", Question::Screenshot(None));
                ui.menu_button("Screenshot of a view", |ui| {
                    for view in ViewId::ALL {
                        ask(ui, view.name(), Question::Screenshot(Some(view)));
                    }
                });
            });
            ui.menu_button("View", |ui| {
                if ui.button("Grid of four views").clicked() {
                    commands.push(Command::Maximise(None));
                }
                for view in ViewId::ALL {
                    if ui.button(format!("Maximise {}", view.name())).clicked() {
                        commands.push(Command::Maximise(Some(view)));
                    }
                }
            });
            if let Some(dataset) = &self.dataset {
                ui.separator();
                let [d, h, w] = dataset.shape();
                ui.label(format!(
                    "{}  {d} x {h} x {w}",
                    dataset
                        .image_path
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                ));
                if dataset.volume.voxel_size.is_unknown() {
                    ui.label(egui::RichText::new("voxel size unknown: shown isotropic").weak())
                        .on_hover_text(
                            "The file states no voxel size; each voxel is drawn as a cube.",
                        );
                } else {
                    ui.label(format!("voxel {}", dataset.volume.voxel_size));
                }
            }
            if let Some(message) = &self.preview {
                ui.separator();
                ui.colored_label(ui.visuals().warn_fg_color, format!("preview: {message}"))
                    .on_hover_text(
                        "The maps shown come from an inference that has not finished: chunks \
                         not reached yet are empty, and the chunk being sampled has fewer \
                         samples than asked for.",
                    );
            }
            jobs_panel::running_jobs_ui(self, ui, commands);
        });
    }

    fn status_ui(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| match &self.hover {
            Some(probe) => {
                let [z, y, x] = probe.voxel;
                ui.monospace(format!(
                    "voxel (z,y,x) = ({z}, {y}, {x})   value {:.4}",
                    probe.value
                ));
                if let Some(label) = probe.label {
                    ui.monospace(format!("label {label}"));
                }
                match probe.maps {
                    Some([mean, lower, upper, uncertainty]) => {
                        ui.monospace(format!(
                            "mean p {mean:.3}   bounds [{lower:.3}, {upper:.3}]   \
                             uncertainty {uncertainty:.3}"
                        ));
                    }
                    None => {
                        ui.weak("no results: run Infer or open a results folder");
                    }
                }
            }
            None => {
                let [z, y, x] = self.crosshair;
                ui.monospace(format!("crosshair (z,y,x) = ({z}, {y}, {x})"));
                if let Some(question) = self.dialogs.open() {
                    ui.separator();
                    ui.weak(format!("waiting for the dialog \"{}\"", question.title()));
                }
                if let Some(notice) = &self.notice {
                    ui.separator();
                    ui.label(notice);
                }
            }
        });
    }

    fn error_ui(&self, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
        if let Some(error) = &self.error {
            egui::Frame::new()
                .fill(ui.visuals().error_fg_color.gamma_multiply(0.25))
                .inner_margin(6.0)
                .show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.colored_label(ui.visuals().error_fg_color, format!("error: {error}"));
                        if ui.button("Dismiss").clicked() {
                            commands.push(Command::DismissError);
                        }
                    });
                });
        }
    }

    /// Handles files dropped on the window: the first is the image, a second its label.
    fn dropped_files(&self, ctx: &egui::Context) -> Option<Command> {
        let paths: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        let mut paths = paths.into_iter();
        let image = paths.next()?;
        Some(Command::Open(OpenRequest {
            image,
            label: paths.next(),
            ..OpenRequest::default()
        }))
    }
}

impl eframe::App for ViewerApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.poll_jobs();
        self.update_refinement();
        let mut commands = Vec::new();
        if let Some(command) = self.dropped_files(&ctx) {
            commands.push(command);
        }
        if let Some(command) = self.dialogs.poll() {
            commands.push(command);
        }

        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui, &mut commands));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        egui::Panel::left("controls")
            .resizable(true)
            .default_size(310.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.error_ui(ui, &mut commands);
                    egui::CollapsingHeader::new("Layers")
                        .default_open(true)
                        .show(ui, |ui| layers_panel::layers_ui(self, ui));
                    egui::CollapsingHeader::new("Window / level")
                        .default_open(true)
                        .show(ui, |ui| window_panel::window_ui(self, ui, &mut commands));
                    egui::CollapsingHeader::new("Refinement")
                        .default_open(true)
                        .show(ui, |ui| refine_panel::refine_ui(self, ui, &mut commands));
                    egui::CollapsingHeader::new("Jobs")
                        .default_open(true)
                        .show(ui, |ui| jobs_panel::jobs_ui(self, ui, &mut commands));
                });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            views::views_ui(self, ui, &mut commands);
        });

        for command in commands {
            self.apply(&ctx, command);
        }
        if self.jobs.iter().any(Job::is_running) {
            // Keep the ETA ticking even between progress events.
            ctx.request_repaint_after(std::time::Duration::from_millis(500));
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.state);
    }
}

// ----------------------------------------------------------------------------

/// Whether a display is there to open a window on.
pub fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// Opens the viewer window and runs it until closed.
///
/// # Errors
/// No display, or no graphics device for the window.
pub fn run(open: OpenRequest) -> anyhow::Result<()> {
    if !has_display() {
        anyhow::bail!(
            "no display (neither DISPLAY nor WAYLAND_DISPLAY is set): the viewer needs a \
             window. Without one, use the headless commands: ctuq segment (the main job), info, \
             infer, eval, refine, train (ctuq --help)"
        );
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("ctuq")
            .with_inner_size([1400.0, 900.0])
            .with_drag_and_drop(true),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    eframe::run_native(
        "ctuq",
        options,
        Box::new(move |cc| Ok(Box::new(ViewerApp::new(cc, Some(open))))),
    )
    .map_err(|error| {
        anyhow::anyhow!(
            "cannot open the viewer window: {error}. Without a working display or GPU, use \
             the headless commands: ctuq segment, info, infer, eval, refine, train (ctuq --help)"
        )
    })
}
