//! The Refinement panel: threshold and mode, live numbers, the sweep plot with the current
//! threshold marked, and export of the refined segmentation.

use eframe::egui;
use egui_plot::{Line, Plot, PlotPoints, VLine};

use super::{Command, MapKind, Question, ViewerApp};
use crate::refine::RefineMode;

/// Draws the Refinement panel.
pub fn refine_ui(app: &mut ViewerApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    let has_results = app.dataset.as_ref().is_some_and(|d| d.results.is_some());
    if !has_results {
        ui.weak("Refinement needs results: run Infer below or File > Open results folder.");
        return;
    }
    ui.add(
        egui::Slider::new(&mut app.state.threshold, 0.0..=1.0)
            .text("threshold")
            .fixed_decimals(3),
    )
    .on_hover_text("Voxels with uncertainty above the threshold are refined");
    ui.horizontal(|ui| {
        ui.label("mode");
        for (mode, name, hint) in [
            (
                RefineMode::Remove,
                "remove",
                "uncertain foreground becomes background",
            ),
            (
                RefineMode::Add,
                "add",
                "uncertain background becomes foreground",
            ),
            (RefineMode::Flag, "flag", "show the uncertain voxels only"),
        ] {
            ui.selectable_value(&mut app.state.mode, mode, name)
                .on_hover_text(hint);
        }
    });
    match &app.stats {
        Some(stats) => {
            let stale = stats.request.threshold != app.state.threshold
                || stats.request.mode != app.state.mode;
            egui::Grid::new("refine_numbers")
                .num_columns(2)
                .show(ui, |ui| {
                    ui.label("foreground fraction");
                    ui.monospace(format!("{:.4}", stats.foreground_fraction));
                    ui.end_row();
                    if let Some(overlap) = stats.overlap {
                        ui.label("accuracy");
                        ui.monospace(format!("{:.4}", overlap.accuracy));
                        ui.end_row();
                        ui.label("Dice");
                        ui.monospace(format!("{:.4}", overlap.dice));
                        ui.end_row();
                    }
                    if let Some(pavpu) = stats.pavpu {
                        ui.label("PAvPU (axial)");
                        ui.monospace(format!("{pavpu:.4}"));
                        ui.end_row();
                    }
                });
            if stale {
                ui.weak("updating…");
            }
        }
        None => {
            ui.spinner();
        }
    }
    if let Some((_, points)) = &app.sweep {
        let accuracy: Vec<[f64; 2]> = points
            .iter()
            .map(|p| [f64::from(p.threshold), p.overlap.accuracy])
            .collect();
        let fraction: Vec<[f64; 2]> = points
            .iter()
            .map(|p| [f64::from(p.threshold), p.overlap.foreground_fraction])
            .collect();
        // Two plots, each on its own y range: accuracy moves in the third decimal where the
        // foreground fraction moves in the first, so one shared 0-1 axis flattens both.
        let threshold = app.state.threshold;
        let sweep_plot = |ui: &mut egui::Ui, name: &str, points: Vec<[f64; 2]>, x_label: bool| {
            let plot = Plot::new(("sweep", name))
                .height(85.0)
                .include_x(0.0)
                .include_x(1.0)
                .allow_drag(false)
                .allow_zoom(false)
                .allow_scroll(false)
                .y_axis_label(name);
            let plot = if x_label {
                plot.x_axis_label("threshold")
            } else {
                plot.show_axes([false, true])
            };
            plot.show(ui, |plot| {
                plot.line(Line::new(name, PlotPoints::from(points)));
                plot.vline(VLine::new("threshold", threshold));
            });
        };
        sweep_plot(ui, "accuracy", accuracy, false);
        sweep_plot(ui, "foreground", fraction, true);
    } else if app.dataset.as_ref().is_some_and(|d| d.label.is_none()) {
        ui.weak("Open a label to see accuracy, Dice, PAvPU and the sweep.");
    }
    ui.horizontal(|ui| {
        if ui.button("Export refined TIFF…").clicked() {
            commands.push(Command::Ask(Question::ExportMap(MapKind::Refined)));
        }
        if ui.button("Metrics CSV…").clicked() {
            commands.push(Command::Ask(Question::ExportMetrics));
        }
    });
}
