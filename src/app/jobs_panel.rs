//! The Jobs panel: Train and Infer settings, and each job's progress bar, ETA, loss curve and
//! Cancel button.

use eframe::egui;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::{Command, Question, ViewerApp};
use crate::model::Variant;
use crate::worker::JobState;

/// One line per running job for the menu bar, so that progress shows while the Jobs panel is
/// scrolled away or collapsed: name, a short progress bar with the time left, and Cancel.
pub fn running_jobs_ui(app: &ViewerApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    for (index, job) in app.jobs.iter().enumerate() {
        if !job.is_running() {
            continue;
        }
        ui.separator();
        ui.strong(&job.name);
        let left = job
            .eta_secs()
            .map_or_else(String::new, |eta| format!(", {eta:.0} s left"));
        ui.add(
            egui::ProgressBar::new(job.fraction)
                .desired_width(180.0)
                .text(format!("{:.0}%{left}", job.fraction * 100.0)),
        )
        .on_hover_text(&job.message);
        if ui.small_button("Cancel").clicked() {
            commands.push(Command::CancelJob(index));
        }
    }
}

/// Draws the Jobs panel.
pub fn jobs_ui(app: &mut ViewerApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    let busy = app.jobs.iter().any(|job| job.is_running());
    ui.collapsing("Infer", |ui| {
        let settings = &mut app.state.infer;
        ui.horizontal(|ui| {
            let name = settings
                .model
                .as_ref()
                .and_then(|p| p.file_name())
                .map_or_else(
                    || "no model".to_owned(),
                    |n| n.to_string_lossy().into_owned(),
                );
            ui.label(name);
            if ui.button("Browse…").clicked() {
                commands.push(Command::Ask(Question::ChooseModel));
            }
        });
        ui.add(egui::Slider::new(&mut settings.samples, 1..=64).text("samples"));
        ui.add(egui::DragValue::new(&mut settings.seed).prefix("seed "));
        let ready = settings.model.is_some() && !busy;
        if ui
            .add_enabled(ready, egui::Button::new("Run inference"))
            .clicked()
        {
            commands.push(Command::StartInfer);
        }
    });
    ui.collapsing("Train", |ui| {
        let settings = &mut app.state.train;
        ui.horizontal(|ui| {
            ui.selectable_value(&mut settings.variant, Variant::Bcnn, "BCNN");
            ui.selectable_value(&mut settings.variant, Variant::Mcdn, "MCDN");
        });
        ui.add(egui::Slider::new(&mut settings.epochs, 1..=100).text("epochs"));
        ui.horizontal(|ui| {
            ui.label("chunk");
            for side in [16, 32, 64] {
                ui.selectable_value(&mut settings.chunk, side, side.to_string());
            }
        });
        ui.horizontal(|ui| {
            ui.label(format!("writes {}", settings.output.display()));
            if ui.small_button("Save as…").clicked() {
                commands.push(Command::Ask(Question::SaveModel));
            }
        });
        let has_label = app.dataset.as_ref().is_some_and(|d| d.label.is_some());
        if ui
            .add_enabled(has_label && !busy, egui::Button::new("Train"))
            .on_disabled_hover_text("needs a label and no other job running")
            .clicked()
        {
            commands.push(Command::StartTrain);
        }
    });
    ui.separator();
    if app.jobs.is_empty() {
        ui.weak("no jobs");
    }
    for (index, job) in app.jobs.iter().enumerate() {
        ui.horizontal(|ui| {
            ui.strong(&job.name);
            match &job.state {
                JobState::Running => {
                    if ui.small_button("Cancel").clicked() {
                        commands.push(Command::CancelJob(index));
                    }
                }
                JobState::Finished => {
                    ui.label("done");
                }
                JobState::Cancelled => {
                    ui.label("cancelled");
                }
                JobState::Failed(message) => {
                    ui.colored_label(ui.visuals().error_fg_color, "failed")
                        .on_hover_text(message);
                }
            }
        });
        let eta = job
            .eta_secs()
            .map_or_else(String::new, |eta| format!(", about {eta:.0} s left"));
        ui.add(
            egui::ProgressBar::new(job.fraction)
                .show_percentage()
                .text(format!("{:.0}%{eta}", job.fraction * 100.0)),
        );
        if !job.message.is_empty() {
            ui.small(&job.message);
        }
        if !job.losses.is_empty() {
            let bce: Vec<[f64; 2]> = job.losses.iter().map(|l| [l[0], l[1]]).collect();
            let kl: Vec<[f64; 2]> = job
                .losses
                .iter()
                .filter(|l| l[2].is_finite())
                .map(|l| [l[0], l[2]])
                .collect();
            Plot::new(("loss", index))
                .height(100.0)
                .legend(Legend::default())
                .x_axis_label("step")
                .show(ui, |plot| {
                    plot.line(Line::new("bce", PlotPoints::from(bce)));
                    if !kl.is_empty() {
                        plot.line(Line::new("kl", PlotPoints::from(kl)));
                    }
                });
        }
    }
    if app.jobs.iter().any(|job| !job.is_running()) && ui.small_button("Clear ended").clicked() {
        commands.push(Command::ClearJobs);
    }
}
