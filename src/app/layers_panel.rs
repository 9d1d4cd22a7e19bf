//! The Layers panel: visibility, opacity and fill or contour of each overlay, the uncertainty
//! colour bar, and the 3D view's settings (iso level, transfer function).

use eframe::egui::{self, Color32, Rect, Sense, Vec2};

use super::ViewerApp;
use crate::render::{COLORMAP_TEXELS, Layer, colormap_rgb};

/// Draws the Layers panel.
pub fn layers_ui(app: &mut ViewerApp, ui: &mut egui::Ui) {
    let (has_label, has_results) = match &app.dataset {
        Some(d) => (d.label.is_some(), d.results.is_some()),
        None => (false, false),
    };
    let uncertainty_max = app.uncertainty_scale();
    egui::Grid::new("layers")
        .num_columns(3)
        .striped(true)
        .show(ui, |ui| {
            for (style, layer) in app.state.layers.iter_mut().zip(Layer::ALL) {
                let available = match layer {
                    Layer::Label => has_label,
                    _ => has_results,
                };
                ui.add_enabled_ui(available, |ui| {
                    let [r, g, b] = match layer {
                        Layer::Uncertainty => colormap_rgb(0.8),
                        _ => layer.color(),
                    };
                    let name = egui::RichText::new(layer.name()).color(Color32::from_rgb(r, g, b));
                    ui.checkbox(&mut style.visible, name)
                        .on_disabled_hover_text(if layer == Layer::Label {
                            "No label: File > Open label"
                        } else {
                            "No results: run Infer or File > Open results folder"
                        });
                });
                ui.add(egui::Slider::new(&mut style.opacity, 0.0..=1.0).show_value(false))
                    .on_hover_text("opacity");
                if layer == Layer::Uncertainty {
                    ui.label("");
                } else {
                    let text = if style.contour { "contour" } else { "fill" };
                    ui.toggle_value(&mut style.contour, text).on_hover_text(
                        if layer == Layer::Bounds {
                            "Contour: the lower (blue) and upper (orange) bound outlines; \
                         fill: the band between them, where the truth is unsure"
                        } else {
                            "Outline or filled"
                        },
                    );
                }
                ui.end_row();
            }
        });
    if has_results {
        ui.add_space(4.0);
        ui.label("Uncertainty (upper minus lower bound probability)");
        colour_bar_ui(ui, uncertainty_max);
        ui.checkbox(&mut app.state.fixed_uncertainty_scale, "fixed 0-1 scale")
            .on_hover_text(
                "Off: the bar spans 0 to the largest uncertainty of these results, for contrast. \
                 On: 0 to 1 for every run, so that runs and models compare by colour.",
            );
    }

    ui.separator();
    ui.label("3D view");
    ui.add(egui::Slider::new(&mut app.state.iso_level, 0.05..=0.95).text("iso level (mean p)"));
    ui.collapsing("Transfer function (volume mode)", |ui| {
        for point in &mut app.state.transfer {
            ui.horizontal(|ui| {
                ui.color_edit_button_srgb(&mut point.color);
                ui.add(
                    egui::DragValue::new(&mut point.at)
                        .range(0.0..=1.0)
                        .speed(0.01)
                        .prefix("at "),
                );
                ui.add(
                    egui::DragValue::new(&mut point.opacity)
                        .range(0.0..=1.0)
                        .speed(0.005)
                        .prefix("opacity "),
                );
            });
        }
        if ui.button("Reset").clicked() {
            app.state.transfer = crate::render::raycast::default_transfer();
        }
    });
}

/// A horizontal colour bar from 0 to `max`, with its end values.
pub fn colour_bar_ui(ui: &mut egui::Ui, max: f32) {
    let width = ui.available_width().min(260.0);
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, 14.0), Sense::hover());
    let painter = ui.painter_at(rect);
    let steps = COLORMAP_TEXELS / 4;
    for i in 0..steps {
        let t0 = i as f32 / steps as f32;
        let t1 = (i + 1) as f32 / steps as f32;
        let [r, g, b] = colormap_rgb((t0 + t1) * 0.5);
        let x0 = rect.left() + t0 * rect.width();
        let x1 = rect.left() + t1 * rect.width();
        painter.rect_filled(
            Rect::from_x_y_ranges(x0..=x1 + 0.5, rect.y_range()),
            0.0,
            Color32::from_rgb(r, g, b),
        );
    }
    ui.horizontal(|ui| {
        ui.set_width(width);
        ui.small("0 (certain)");
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.small(format!("{max:.2}"));
        });
    });
}
