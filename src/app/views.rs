//! The central area: three slice views and the 3D view in a 2x2 grid, any of which can be
//! maximised. Handles the linked crosshair, slice stepping, panning, zooming and orbiting.

use std::collections::HashMap;

use eframe::egui::{self, Color32, Pos2, Rect, Sense, Stroke, Vec2};
use eframe::egui_wgpu;

use super::{Command, Question, ViewerApp};
use crate::render::raycast::RaycastStyle;
use crate::render::{
    Layer, RaycastCallback, RaycastUniforms, SliceAxis, SliceCallback, SliceGeometry, SliceStyle,
    SliceUniforms,
};

/// Height of a view's title bar, points.
const HEADER_HEIGHT: f32 = 22.0;

/// One of the four views.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViewId {
    /// A slice view.
    Slice(SliceAxis),
    /// The 3D view.
    ThreeD,
}

impl ViewId {
    /// All four, in grid order.
    pub const ALL: [ViewId; 4] = [
        ViewId::Slice(SliceAxis::Axial),
        ViewId::Slice(SliceAxis::Coronal),
        ViewId::Slice(SliceAxis::Sagittal),
        ViewId::ThreeD,
    ];

    /// The view's name.
    pub fn name(self) -> &'static str {
        match self {
            ViewId::Slice(axis) => axis.name(),
            ViewId::ThreeD => "3D",
        }
    }

    /// The default file name of a screenshot of the view, without extension.
    pub fn file_stem(self) -> &'static str {
        match self {
            ViewId::ThreeD => "3d",
            ViewId::Slice(SliceAxis::Axial) => "axial",
            ViewId::Slice(SliceAxis::Coronal) => "coronal",
            ViewId::Slice(SliceAxis::Sagittal) => "sagittal",
        }
    }
}

/// Zoom and pan of one slice view.
#[derive(Clone, Copy, Debug, PartialEq)]
struct SliceViewState {
    zoom: f32,
    pan_mm: [f32; 2],
}

impl Default for SliceViewState {
    fn default() -> Self {
        SliceViewState {
            zoom: 1.0,
            pan_mm: [0.0; 2],
        }
    }
}

/// Runtime state of the views.
#[derive(Debug, Default)]
pub struct ViewsState {
    /// The maximised view, if any.
    pub maximised: Option<ViewId>,
    slices: [SliceViewState; 3],
    /// Where each view was drawn last frame (for screenshots of one view).
    pub rects: HashMap<ViewId, Rect>,
}

/// The colour of each axis's crosshair line (the line of the view that fixes that axis).
fn axis_color(axis: SliceAxis) -> Color32 {
    match axis {
        SliceAxis::Axial => Color32::from_rgb(255, 90, 90),
        SliceAxis::Coronal => Color32::from_rgb(90, 220, 90),
        SliceAxis::Sagittal => Color32::from_rgb(90, 160, 255),
    }
}

/// Draws the views and handles their input.
pub fn views_ui(app: &mut ViewerApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    let area = ui.available_rect_before_wrap();
    if app.dataset.is_none() {
        ui.centered_and_justified(|ui| {
            ui.heading("No volume: File > Open image…, or drop a file here");
        });
        return;
    }
    app.hover = None;
    let gap = 4.0;
    let layout: Vec<(ViewId, Rect)> = match app.views.maximised {
        Some(view) => vec![(view, area)],
        None => {
            let half = Vec2::new((area.width() - gap) * 0.5, (area.height() - gap) * 0.5);
            ViewId::ALL
                .iter()
                .enumerate()
                .map(|(i, &view)| {
                    let column = (i % 2) as f32;
                    let row = (i / 2) as f32;
                    let min = area.min + Vec2::new(column * (half.x + gap), row * (half.y + gap));
                    (view, Rect::from_min_size(min, half))
                })
                .collect()
        }
    };
    for (view, rect) in layout {
        app.views.rects.insert(view, rect);
        let header = Rect::from_min_size(rect.min, Vec2::new(rect.width(), HEADER_HEIGHT));
        let body = Rect::from_min_max(Pos2::new(rect.min.x, header.max.y), rect.max);
        header_ui(app, ui, view, header, commands);
        match view {
            ViewId::Slice(axis) => slice_view_ui(app, ui, axis, body, commands),
            ViewId::ThreeD => three_d_view_ui(app, ui, body, commands),
        }
    }
    ui.allocate_rect(area, Sense::hover());
}

fn header_ui(
    app: &mut ViewerApp,
    ui: &mut egui::Ui,
    view: ViewId,
    header: Rect,
    commands: &mut Vec<Command>,
) {
    ui.scope_builder(egui::UiBuilder::new().max_rect(header), |ui| {
        ui.horizontal_centered(|ui| {
            ui.strong(view.name());
            match view {
                ViewId::Slice(axis) => {
                    if let Some(dataset) = &app.dataset {
                        let count = dataset.shape()[axis.index()];
                        let index = &mut app.crosshair[axis.index()];
                        ui.add(
                            egui::DragValue::new(index)
                                .range(0..=count.saturating_sub(1))
                                .prefix("slice "),
                        );
                        ui.weak(format!("/ {}", count.saturating_sub(1)));
                    }
                }
                ViewId::ThreeD => {
                    use crate::render::RenderMode;
                    for mode in [RenderMode::Mip, RenderMode::Dvr, RenderMode::Iso] {
                        ui.selectable_value(&mut app.state.render_mode, mode, mode.name());
                    }
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let maximised = app.views.maximised == Some(view);
                let (text, hint) = if maximised {
                    ("grid", "Back to the grid of four views (or double-click)")
                } else {
                    ("max", "Maximise this view (or double-click it)")
                };
                if ui.small_button(text).on_hover_text(hint).clicked() {
                    commands.push(Command::Maximise((!maximised).then_some(view)));
                }
                if ui
                    .small_button("png")
                    .on_hover_text("Save this view as PNG")
                    .clicked()
                {
                    commands.push(Command::Ask(Question::Screenshot(Some(view))));
                }
            });
        });
    });
}

/// Wheel steps (without Ctrl) and zoom factor (with Ctrl) from this frame's wheel events.
fn wheel(ui: &egui::Ui) -> (i32, f32) {
    ui.input(|input| {
        let mut steps = 0.0;
        let mut zoom = 1.0;
        for event in &input.events {
            if let egui::Event::MouseWheel {
                delta, modifiers, ..
            } = event
            {
                if modifiers.command || modifiers.ctrl {
                    zoom *= (0.15 * delta.y.signum()).exp();
                } else {
                    steps += delta.y.signum();
                }
            }
        }
        (steps as i32, zoom)
    })
}

/// The style shared by the slice views this frame.
pub fn slice_style(app: &ViewerApp, pixels_per_point: f32) -> Option<SliceStyle> {
    let dataset = app.dataset.as_ref()?;
    let has_results = dataset.results.is_some();
    let has_label = dataset.label.is_some();
    let mut layers = app.state.layers;
    for (style, layer) in layers.iter_mut().zip(Layer::ALL) {
        let available = match layer {
            Layer::Label => has_label,
            _ => has_results,
        };
        style.visible &= available;
    }
    Some(SliceStyle {
        window: [
            dataset.normalise(app.window[0]),
            dataset.normalise(app.window[1]),
        ],
        threshold: app.state.threshold,
        mode: app.state.mode,
        uncertainty_max: app.uncertainty_scale(),
        layers,
        pixels_per_point,
    })
}

fn slice_view_ui(
    app: &mut ViewerApp,
    ui: &mut egui::Ui,
    axis: SliceAxis,
    rect: Rect,
    commands: &mut Vec<Command>,
) {
    let Some(dataset) = &app.dataset else {
        return;
    };
    let shape = dataset.shape();
    let view_state = &mut app.views.slices[axis.index()];
    let response = ui.interact(
        rect,
        ui.scope_id().with(("slice", axis)),
        Sense::click_and_drag(),
    );
    let mut geometry = SliceGeometry {
        axis,
        shape,
        spacing_mm: dataset.spacing(),
        size_points: [rect.width(), rect.height()],
        zoom: view_state.zoom,
        pan_mm: view_state.pan_mm,
    };

    // Input.
    if response.hovered() {
        let (steps, zoom) = wheel(ui);
        if zoom != 1.0 {
            view_state.zoom = (view_state.zoom * zoom).clamp(0.2, 64.0);
        }
        if steps != 0 {
            let index = &mut app.crosshair[axis.index()];
            let last = shape[axis.index()].saturating_sub(1) as i64;
            *index = (*index as i64 + i64::from(steps)).clamp(0, last) as usize;
        }
    }
    if response.dragged_by(egui::PointerButton::Primary)
        || response.dragged_by(egui::PointerButton::Middle)
    {
        let delta = response.drag_delta();
        let scale = geometry.mm_per_point();
        view_state.pan_mm[0] -= delta.x * scale;
        view_state.pan_mm[1] -= delta.y * scale;
    }
    geometry.zoom = view_state.zoom;
    geometry.pan_mm = view_state.pan_mm;
    let slice = app.crosshair[axis.index()];
    let offset = |pos: Pos2| [pos.x - rect.center().x, pos.y - rect.center().y];
    if response.double_clicked() {
        let view = ViewId::Slice(axis);
        let maximised = app.views.maximised == Some(view);
        commands.push(Command::Maximise((!maximised).then_some(view)));
    } else if response.clicked()
        && let Some(pos) = response.interact_pointer_pos()
        && let Some(voxel) = geometry.voxel_at(offset(pos), slice)
    {
        app.crosshair = voxel;
    }
    if let Some(pos) = response.hover_pos()
        && let Some(voxel) = geometry.voxel_at(offset(pos), slice)
    {
        app.hover = dataset.probe(voxel);
    }

    // Drawing.
    let Some(style) = slice_style(app, ui.ctx().pixels_per_point()) else {
        return;
    };
    let uniforms = SliceUniforms::new(&geometry, slice, &style);
    let painter = ui.painter_at(rect);
    painter.add(egui_wgpu::Callback::new_paint_callback(
        rect,
        SliceCallback {
            slot: axis.index() as u32,
            uniforms,
        },
    ));
    let center = geometry.offset_of(app.crosshair);
    let at = rect.center() + Vec2::new(center[0], center[1]);
    let [u, v] = axis.plane_axes();
    let line_color = |component: usize| {
        let other = SliceAxis::ALL[component];
        Stroke::new(1.0, axis_color(other).gamma_multiply(0.8))
    };
    // The vertical line is where the u-fixing view cuts this slice, and so on.
    painter.line_segment(
        [Pos2::new(at.x, rect.top()), Pos2::new(at.x, rect.bottom())],
        line_color(u),
    );
    painter.line_segment(
        [Pos2::new(rect.left(), at.y), Pos2::new(rect.right(), at.y)],
        line_color(v),
    );
    painter.rect_stroke(
        rect,
        0.0,
        Stroke::new(1.0, axis_color(axis)),
        egui::StrokeKind::Inside,
    );
}

fn three_d_view_ui(
    app: &mut ViewerApp,
    ui: &mut egui::Ui,
    rect: Rect,
    commands: &mut Vec<Command>,
) {
    let Some(dataset) = &app.dataset else {
        return;
    };
    let response = ui.interact(rect, ui.scope_id().with("3d"), Sense::click_and_drag());
    if response.dragged_by(egui::PointerButton::Primary) {
        let delta = response.drag_delta();
        app.camera.orbit(delta.x, delta.y);
    }
    if response.dragged_by(egui::PointerButton::Secondary)
        || response.dragged_by(egui::PointerButton::Middle)
    {
        let delta = response.drag_delta();
        app.camera.pan(delta.x, delta.y, rect.height());
    }
    if response.hovered() {
        let (steps, zoom) = wheel(ui);
        let factor = zoom * (0.1 * steps as f32).exp();
        if factor != 1.0 {
            app.camera.zoom(factor);
        }
    }
    if response.double_clicked() {
        let maximised = app.views.maximised == Some(ViewId::ThreeD);
        commands.push(Command::Maximise((!maximised).then_some(ViewId::ThreeD)));
    }
    let style = RaycastStyle {
        mode: app.state.render_mode,
        window: [
            dataset.normalise(app.window[0]),
            dataset.normalise(app.window[1]),
        ],
        iso_level: app.state.iso_level,
        uncertainty_max: app.uncertainty_scale(),
        has_results: dataset.results.is_some(),
    };
    let uniforms = RaycastUniforms::new(
        &app.camera,
        dataset.shape(),
        dataset.spacing(),
        [rect.width(), rect.height()],
        &style,
    );
    let painter = ui.painter_at(rect);
    painter.add(egui_wgpu::Callback::new_paint_callback(
        rect,
        RaycastCallback {
            slot: 0,
            uniforms,
            transfer: app.state.transfer.clone(),
        },
    ));
    if style.mode == crate::render::RenderMode::Iso && !style.has_results {
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "The iso-surface needs results: run Infer or open a results folder",
            egui::FontId::proportional(14.0),
            Color32::LIGHT_GRAY,
        );
    }
    painter.text(
        rect.left_bottom() + Vec2::new(6.0, -6.0),
        egui::Align2::LEFT_BOTTOM,
        "drag: orbit   right-drag: pan   wheel: zoom",
        egui::FontId::proportional(11.0),
        Color32::GRAY,
    );
    painter.rect_stroke(
        rect,
        0.0,
        Stroke::new(1.0, Color32::from_gray(90)),
        egui::StrokeKind::Inside,
    );
}
