//! The Window / level panel: the intensity histogram with the window marked, sliders, and
//! the presets full range and 1st to 99th percentile.

use eframe::egui;
use egui_plot::{Bar, BarChart, Plot, VLine};

use super::{Command, ViewerApp, data::HISTOGRAM_BINS};

/// Draws the Window / level panel.
pub fn window_ui(app: &mut ViewerApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    let Some(dataset) = &app.dataset else {
        ui.weak("no volume");
        return;
    };
    let (low, high) = dataset.range;
    let bin_width = f64::from(high - low) / HISTOGRAM_BINS as f64;
    let peak = dataset.histogram.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bars: Vec<Bar> = dataset
        .histogram
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            // Log counts: the background peak would hide everything else.
            let height = (count as f64 + 1.0).ln() / (peak + 1.0).ln();
            Bar::new(f64::from(low) + (i as f64 + 0.5) * bin_width, height).width(bin_width)
        })
        .collect();
    let [window_low, window_high] = app.window;
    Plot::new("histogram")
        .height(90.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .show_axes([true, false])
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new("voxels (log)", bars).color(egui::Color32::GRAY));
            plot.vline(VLine::new("low", window_low).color(egui::Color32::LIGHT_BLUE));
            plot.vline(VLine::new("high", window_high).color(egui::Color32::LIGHT_BLUE));
        });
    let mut window = app.window;
    let mut level = (window[0] + window[1]) * 0.5;
    let mut width = window[1] - window[0];
    let span = (high - low).max(f32::EPSILON);
    let changed_level = ui
        .add(egui::Slider::new(&mut level, low..=high).text("level"))
        .changed();
    let changed_width = ui
        .add(egui::Slider::new(&mut width, span / 1000.0..=span).text("width"))
        .changed();
    if changed_level || changed_width {
        window = [level - width * 0.5, level + width * 0.5];
        commands.push(Command::SetWindow(window[0], window[1]));
    }
    ui.horizontal(|ui| {
        if ui.button("Full range").clicked() {
            commands.push(Command::SetWindow(low, high));
        }
        if ui.button("1st–99th percentile").clicked() {
            commands.push(Command::SetWindow(
                dataset.percentiles.0,
                dataset.percentiles.1,
            ));
        }
    });
}
