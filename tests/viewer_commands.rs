//! The viewer's file commands, as the file dialogs and drag and drop issue them: exports write
//! what is on screen, opening a wrong file shows an error naming it and keeps what was open.
//! No GPU needed: the commands are the same with or without a window.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ctuq::app::{AppState, Command, MapKind, OpenRequest, ViewerApp};
use ctuq::infer::ResultMaps;
use ctuq::refine::{RefineMode, refine};
use ctuq::volume::{
    ReadOptions, Samples, VoxelSize, read_label, read_raw_volume, read_volume, write_tiff,
};
use eframe::egui;

/// The viewer on the built-in sample, with results whose uncertainty is a known pattern.
fn viewer_with_results() -> (ViewerApp, ResultMaps) {
    let sample = OpenRequest {
        start_inference: false,
        model: None,
        ..OpenRequest::sample()
    };
    let mut app = ViewerApp::with_state(AppState::default(), None);
    app.open(&sample).expect("the sample opens");
    let label = read_label(
        sample.label.as_deref().expect("sample label"),
        &ReadOptions::default(),
        None,
    )
    .expect("sample label");

    let mut results = ResultMaps::zeros(label.shape, VoxelSize::unknown());
    for (i, &truth) in label.voxels.iter().enumerate() {
        let uncertainty = (i % 10) as f32 / 10.0;
        results.mean[i] = if truth != 0 { 0.8 } else { 0.1 };
        results.uncertainty[i] = uncertainty;
        results.lower[i] = (results.mean[i] - uncertainty / 2.0).max(0.0);
        results.upper[i] = (results.mean[i] + uncertainty / 2.0).min(1.0);
        results.prediction[i] = truth;
    }
    app.load_results(results.clone())
        .expect("results fit the sample");
    (app, results)
}

fn apply(app: &mut ViewerApp, command: Command) {
    app.apply(&egui::Context::default(), command);
}

fn f32_voxels(path: &Path) -> Vec<f32> {
    let volume = read_volume(path, &ReadOptions::default()).expect("exported TIFF reads back");
    volume.voxels
}

#[test]
fn exported_maps_hold_what_the_viewer_shows() {
    let folder = tempfile::tempdir().expect("temp dir");
    let (mut app, results) = viewer_with_results();

    let uncertainty = folder.path().join("uncertainty.tif");
    apply(
        &mut app,
        Command::ExportMap(MapKind::Uncertainty, uncertainty.clone()),
    );
    assert!(app.error.is_none(), "{:?}", app.error);
    assert_eq!(f32_voxels(&uncertainty), results.uncertainty);
    assert!(
        app.notice
            .as_deref()
            .is_some_and(|n| n.contains("uncertainty.tif"))
    );

    app.state.threshold = 0.45;
    app.state.mode = RefineMode::Remove;
    let refined = folder.path().join("refined.tif");
    apply(
        &mut app,
        Command::ExportMap(MapKind::Refined, refined.clone()),
    );
    let expected = refine(
        &results.prediction,
        &results.uncertainty,
        0.45,
        RefineMode::Remove,
    );
    let read = read_raw_volume(&refined, &ReadOptions::default()).expect("refined reads back");
    assert_eq!(read.samples, Samples::U8(expected));

    let csv = folder.path().join("metrics.csv");
    apply(&mut app, Command::ExportMetrics(csv.clone()));
    let text = std::fs::read_to_string(&csv).expect("metrics CSV written");
    assert!(text.starts_with("kind,threshold,mode,"), "{text}");
}

#[test]
fn a_failed_export_names_the_file_and_leaves_nothing() {
    let folder = tempfile::tempdir().expect("temp dir");
    let (mut app, _) = viewer_with_results();
    let nowhere = folder.path().join("no such folder").join("mean.tif");
    apply(&mut app, Command::ExportMap(MapKind::Mean, nowhere.clone()));
    let error = app.error.clone().expect("an error is shown");
    assert!(error.contains("no such folder"), "{error}");
    assert!(!nowhere.exists());

    // Without results there is nothing to export, and the user is told what to do.
    let mut empty = ViewerApp::with_state(AppState::default(), None);
    apply(
        &mut empty,
        Command::ExportMap(MapKind::Mean, folder.path().join("mean.tif")),
    );
    let error = empty.error.expect("an error is shown");
    assert!(error.contains("run Infer"), "{error}");
}

#[test]
fn a_label_of_another_shape_is_refused_and_the_old_one_kept() {
    let folder = tempfile::tempdir().expect("temp dir");
    let (mut app, _) = viewer_with_results();
    let wrong = folder.path().join("wrong_label.tif");
    write_tiff(
        &wrong,
        [4, 5, 6],
        &Samples::U8(vec![1; 120]),
        &VoxelSize::unknown(),
    )
    .expect("write");

    apply(&mut app, Command::OpenLabel(wrong));
    let error = app.error.clone().expect("an error is shown");
    assert!(error.contains("wrong_label.tif"), "{error}");
    assert!(
        error.contains('4') && error.contains("128"),
        "both shapes named: {error}"
    );
    let dataset = app.dataset.as_ref().expect("the sample stays open");
    assert!(dataset.label.is_some(), "the sample's label is kept");
    assert!(dataset.results.is_some(), "the results are kept");
}

#[test]
fn a_folder_without_results_is_refused_by_name() {
    let folder = tempfile::tempdir().expect("temp dir");
    let (mut app, results) = viewer_with_results();
    apply(&mut app, Command::OpenResults(folder.path().to_path_buf()));
    let error = app.error.clone().expect("an error is shown");
    let name = folder.path().display().to_string();
    assert!(error.contains(&name), "{error}");
    let shown = app
        .dataset
        .as_ref()
        .and_then(|d| d.results.as_ref())
        .expect("results kept");
    assert_eq!(shown.uncertainty, results.uncertainty);
}

#[test]
fn models_picked_in_dialogs_go_to_the_infer_and_train_panels() {
    let mut app = ViewerApp::with_state(AppState::default(), None);
    apply(
        &mut app,
        Command::SetModel(PathBuf::from("/models/bcnn.ctuq")),
    );
    assert_eq!(
        app.state.infer.model,
        Some(PathBuf::from("/models/bcnn.ctuq"))
    );

    apply(
        &mut app,
        Command::SetTrainOutput(PathBuf::from("/models/new.ctuq")),
    );
    assert_eq!(app.state.train.output, PathBuf::from("/models/new.ctuq"));
}

/// A file handed over by drag and drop.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn dropping_an_image_and_a_label_opens_both() {
    let sample = OpenRequest::sample();
    let image = sample.image.clone();
    let label = sample.label.clone().expect("sample label");
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::Vec2::new(1000.0, 700.0))
        .build_eframe(|cc| ViewerApp::new(cc, None));
    assert!(harness.state().dataset.is_none());

    harness.input_mut().dropped_files = vec![Arc::new(Dropped(image)), Arc::new(Dropped(label))];
    harness.step();
    let dataset = harness
        .state()
        .dataset
        .as_ref()
        .expect("the dropped image is open");
    assert_eq!(dataset.shape(), [128, 128, 128]);
    assert!(dataset.label.is_some(), "the second file is its label");
}

#[test]
fn a_running_job_shows_and_cancels_from_the_menu_bar() {
    use ctuq::worker::Job;
    use egui_kittest::kittest::Queryable as _;

    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::Vec2::new(1000.0, 700.0))
        .build_eframe(|cc| ViewerApp::new(cc, None));
    let job = Job::spawn("infer", Arc::new(|| {}), |reporter| {
        reporter.progress(0.5, "24 of 48 samples");
        while !reporter.is_cancelled() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Ok(None)
    })
    .expect("the job starts");
    harness.state_mut().jobs.push(job);
    for _ in 0..200 {
        harness.step();
        if harness.state().jobs[0].fraction > 0.0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }

    harness.step();
    let menu_bar_cancel = harness
        .query_all_by_label("Cancel")
        .find(|button| button.rect().top() < 30.0)
        .expect("a Cancel button in the menu bar");
    menu_bar_cancel.click();
    for _ in 0..200 {
        harness.step();
        if !harness.state().jobs[0].is_running() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(
        !harness.state().jobs[0].is_running(),
        "the job was cancelled"
    );
}

#[test]
fn a_preview_is_shown_and_called_a_preview_when_inference_stops() {
    use ctuq::worker::{Job, JobEvent};

    let (app, results) = viewer_with_results();
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::Vec2::new(1000.0, 700.0))
        .build_eframe(|_| app);
    let mut preview = results.clone();
    preview.uncertainty.iter_mut().for_each(|u| *u = 0.5);
    let job = Job::spawn("infer", Arc::new(|| {}), move |reporter| {
        reporter.send(JobEvent::Preview {
            maps: Box::new(preview),
            message: "2 of 48 samples".into(),
        });
        while !reporter.is_cancelled() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Ok(None)
    })
    .expect("the job starts");
    harness.state_mut().jobs.push(job);
    let shown = |harness: &egui_kittest::Harness<'_, ViewerApp>| {
        let dataset = harness
            .state()
            .dataset
            .as_ref()
            .expect("the sample is open");
        dataset.results.as_ref().expect("results").uncertainty[0]
    };
    for _ in 0..200 {
        harness.step();
        if harness.state().preview.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(harness.state().preview.as_deref(), Some("2 of 48 samples"));
    assert_eq!(shown(&harness), 0.5, "the preview's maps are on screen");

    harness.state().jobs[0].cancel();
    for _ in 0..200 {
        harness.step();
        if !harness.state().jobs[0].is_running() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    harness.step();
    let notice = harness.state().notice.clone().unwrap_or_default();
    assert!(notice.contains("not final results"), "{notice}");

    // Final results replace the preview and its warning.
    harness
        .state_mut()
        .load_results(results)
        .expect("results fit");
    assert!(harness.state().preview.is_none());
}

#[test]
fn an_image_opens_even_when_its_label_does_not_fit() {
    let folder = tempfile::tempdir().expect("temp dir");
    let wrong = folder.path().join("short_label.tif");
    write_tiff(
        &wrong,
        [4, 5, 6],
        &Samples::U8(vec![1; 120]),
        &VoxelSize::unknown(),
    )
    .expect("write");
    let request = OpenRequest {
        label: Some(wrong),
        start_inference: false,
        model: None,
        ..OpenRequest::sample()
    };
    let mut app = ViewerApp::with_state(AppState::default(), None);

    let error = format!(
        "{:#}",
        app.open(&request).expect_err("the label is refused")
    );
    assert!(
        error.contains("short_label.tif") && error.contains("4 x 5 x 6"),
        "{error}"
    );
    let dataset = app.dataset.as_ref().expect("the image is open");
    assert_eq!(dataset.shape(), [128, 128, 128]);
    assert!(dataset.label.is_none());
}

#[test]
fn the_colour_bar_follows_the_results_or_stays_fixed() {
    let (mut app, results) = viewer_with_results();
    assert_eq!(
        app.uncertainty_scale(),
        0.9,
        "the largest uncertainty of the results"
    );

    let mut calmer = results;
    calmer.uncertainty.iter_mut().for_each(|u| *u = u.min(0.5));
    app.load_results(calmer).expect("results fit");
    assert_eq!(
        app.uncertainty_scale(),
        0.5,
        "new results, new top of the bar"
    );

    app.state.fixed_uncertainty_scale = true;
    assert_eq!(app.uncertainty_scale(), 1.0);
}
