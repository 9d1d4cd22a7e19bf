//! The report's figures as PNG: a slice with each model's prediction and uncertainty side by
//! side under one colour bar, and the accuracy-against-threshold curve.
//!
//! Drawn with plotters into an RGB buffer, with egui's built-in font, and encoded with the
//! image crate, so the report needs no system fonts and no display.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{CaseResult, FigureSlice};
use crate::model::Variant;
use crate::render::COLORMAP;

/// The font family the figures use; registered once from egui's built-in Ubuntu Light.
const FONT: &str = "sans-serif";

/// Side, in pixels, that a panel is scaled up to (at least; by whole pixels).
const PANEL_SIDE: usize = 240;

/// Gap between panels, in pixels.
const GAP: usize = 8;

/// Height of the row of panel titles.
const TITLE_HEIGHT: usize = 26;

/// Height of the colour bar row under the panels.
const BAR_ROW_HEIGHT: usize = 56;

/// Colours of the curves, BCNN first.
const CURVE_COLOURS: [RGBColor; 2] = [RGBColor(214, 96, 20), RGBColor(31, 104, 180)];

/// Prediction colours against a label.
const RIGHT_FOREGROUND: [u8; 3] = [255, 255, 255];
const FALSE_POSITIVE: [u8; 3] = [228, 52, 40];
const FALSE_NEGATIVE: [u8; 3] = [60, 132, 240];

/// Writes the slice figure: CT, label (if any), then each model's prediction and
/// uncertainty, with a colour bar for the uncertainty shared by every model.
pub fn write_slice_figure(path: &Path, slice: &FigureSlice) -> anyhow::Result<()> {
    register_font()?;
    let [height, width] = slice.size;
    let scale = PANEL_SIDE.div_ceil(height.max(width)).max(1);
    let (panel_w, panel_h) = (width * scale, height * scale);

    let uncertainty_max = slice
        .models
        .iter()
        .flat_map(|(_, _, uncertainty)| uncertainty.iter().copied())
        .fold(0f32, f32::max);
    let uncertainty_max = round_up(uncertainty_max.max(1e-3));

    let mut panels: Vec<(String, Vec<[u8; 3]>)> = vec![("CT".into(), grey(&slice.ct))];
    if let Some(label) = &slice.label {
        let pixels = label
            .iter()
            .map(|&l| if l != 0 { RIGHT_FOREGROUND } else { [0; 3] })
            .collect();
        panels.push(("label".into(), pixels));
    }
    for (variant, prediction, uncertainty) in &slice.models {
        let name = variant_name(*variant);
        panels.push((
            format!("{name} prediction"),
            prediction_colours(prediction, slice.label.as_deref()),
        ));
        let colours = uncertainty
            .iter()
            .map(|&u| colormap((u / uncertainty_max).clamp(0.0, 1.0)))
            .collect();
        panels.push((format!("{name} uncertainty"), colours));
    }

    let figure_w = panels.len() * panel_w + (panels.len() + 1) * GAP;
    let figure_h = TITLE_HEIGHT + panel_h + BAR_ROW_HEIGHT + GAP;
    let mut buffer = vec![255u8; figure_w * figure_h * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (figure_w as u32, figure_h as u32))
            .into_drawing_area();
        let title_style = TextStyle::from((FONT, 17).into_font()).color(&BLACK);
        for (index, (title, pixels)) in panels.iter().enumerate() {
            let x = GAP + index * (panel_w + GAP);
            root.draw(&Text::new(
                title.clone(),
                (x as i32, 5),
                title_style.clone(),
            ))
            .map_err(plot_error)?;
            let scaled = upscale(pixels, [height, width], scale);
            let element = BitMapElement::with_owned_buffer(
                (x as i32, TITLE_HEIGHT as i32),
                (panel_w as u32, panel_h as u32),
                scaled,
            )
            .context("BUG: panel buffer has the wrong size")?;
            root.draw(&element).map_err(plot_error)?;
        }
        if !slice.models.is_empty() {
            let bar_x = GAP;
            let bar_y = TITLE_HEIGHT + panel_h + GAP;
            draw_colour_bar(&root, (bar_x, bar_y), uncertainty_max)?;
        }
        root.present().map_err(plot_error)?;
    }
    write_png(path, buffer, figure_w, figure_h)
}

/// Writes the accuracy of refinement against its threshold for each model of a case.
pub fn write_threshold_curve(path: &Path, case: &CaseResult) -> anyhow::Result<()> {
    register_font()?;
    let (figure_w, figure_h) = (720usize, 440usize);
    let accuracies = case
        .models
        .iter()
        .flat_map(|model| model.sweep.iter().map(|point| point.overlap.accuracy));
    let (low, high) = accuracies.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), a| {
        (lo.min(a), hi.max(a))
    });
    if !low.is_finite() {
        return Err(anyhow!("BUG: no sweep to plot for {}", case.name));
    }
    let margin = ((high - low) * 0.08).max(0.002);
    let y_range = (low - margin).max(0.0)..(high + margin).min(1.0);
    let digits = tick_digits(y_range.end - y_range.start);

    let mut buffer = vec![255u8; figure_w * figure_h * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (figure_w as u32, figure_h as u32))
            .into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{}: refinement on the test slices", case.name),
                (FONT, 20),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..1f64, y_range.clone())
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("uncertainty threshold (remove mode)")
            .y_desc("accuracy")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .y_label_formatter(&|y| format!("{y:.digits$}"))
            .light_line_style(RGBColor(236, 236, 236))
            .draw()
            .map_err(plot_error)?;

        let paper = f64::from(super::PAPER_THRESHOLD);
        chart
            .draw_series(DashedLineSeries::new(
                [(paper, y_range.start), (paper, y_range.end)],
                6,
                4,
                RGBColor(110, 110, 110).stroke_width(1),
            ))
            .map_err(plot_error)?;
        for (model, colour) in case.models.iter().zip(CURVE_COLOURS) {
            let points: Vec<(f64, f64)> = model
                .sweep
                .iter()
                .map(|point| (f64::from(point.threshold), point.overlap.accuracy))
                .collect();
            let name = model.variant.to_uppercase();
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(plot_error)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], colour.stroke_width(2))
                });
            let best = (f64::from(model.best_threshold), model.best_accuracy);
            chart
                .draw_series(std::iter::once(Circle::new(best, 4, colour.filled())))
                .map_err(plot_error)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    write_png(path, buffer, figure_w, figure_h)
}

/// A horizontal viridis bar from 0 to `max` with three labelled ticks and a caption.
fn draw_colour_bar(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    (x, y): (usize, usize),
    max: f32,
) -> anyhow::Result<()> {
    let (bar_w, bar_h) = (256usize, 14usize);
    let mut pixels = Vec::with_capacity(bar_w * bar_h * 3);
    for _ in 0..bar_h {
        for column in 0..bar_w {
            pixels.extend(colormap(column as f32 / (bar_w - 1) as f32));
        }
    }
    let element = BitMapElement::with_owned_buffer(
        (x as i32, y as i32),
        (bar_w as u32, bar_h as u32),
        pixels,
    )
    .context("BUG: colour bar buffer has the wrong size")?;
    root.draw(&element).map_err(plot_error)?;

    let style = TextStyle::from((FONT, 14).into_font()).color(&BLACK);
    let tick_y = (y + bar_h + 3) as i32;
    for (fraction, value) in [(0.0, 0.0), (0.5, max / 2.0), (1.0, max)] {
        let tick_x = x as i32 + (fraction * (bar_w - 1) as f32) as i32;
        root.draw(&PathElement::new(
            vec![(tick_x, tick_y - 3), (tick_x, tick_y)],
            BLACK,
        ))
        .map_err(plot_error)?;
        let text = format_tick(value);
        let offset = if fraction == 0.0 {
            0
        } else {
            6 * text.len() as i32 / 2
        };
        root.draw(&Text::new(
            text,
            (tick_x - offset, tick_y + 1),
            style.clone(),
        ))
        .map_err(plot_error)?;
    }
    root.draw(&Text::new(
        "uncertainty (80th minus 20th percentile), one scale for every model",
        ((x + bar_w + 16) as i32, y as i32 - 1),
        style,
    ))
    .map_err(plot_error)?;
    Ok(())
}

/// Registers the figures' font with plotters, once per process.
fn register_font() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT)
            .is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!("BUG: the built-in font does not load"))
    }
}

/// Greyscale of a CT slice, stretched from its 1st to its 99th percentile.
fn grey(values: &[f32]) -> Vec<[u8; 3]> {
    let mut finite: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    finite.sort_by(f32::total_cmp);
    let at = |q: f64| {
        finite
            .get(((finite.len().saturating_sub(1)) as f64 * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let (low, high) = (at(0.01), at(0.99));
    let span = (high - low).max(f32::EPSILON);
    values
        .iter()
        .map(|&v| {
            let level = if v.is_finite() {
                ((v - low) / span).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let byte = (level * 255.0).round() as u8;
            [byte; 3]
        })
        .collect()
}

/// A prediction coloured by agreement with the label, or white on black without one.
fn prediction_colours(prediction: &[u8], label: Option<&[u8]>) -> Vec<[u8; 3]> {
    prediction
        .iter()
        .enumerate()
        .map(|(index, &predicted)| {
            let truth = label.map(|label| label[index] != 0);
            match (predicted != 0, truth) {
                (true, Some(false)) => FALSE_POSITIVE,
                (false, Some(true)) => FALSE_NEGATIVE,
                (true, _) => RIGHT_FOREGROUND,
                (false, _) => [0; 3],
            }
        })
        .collect()
}

fn colormap(t: f32) -> [u8; 3] {
    let colour = COLORMAP.eval_continuous(f64::from(t));
    [colour.r, colour.g, colour.b]
}

/// Nearest-neighbour upscaling of an RGB slice by a whole factor, as packed bytes.
fn upscale(pixels: &[[u8; 3]], [height, width]: [usize; 2], scale: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(pixels.len() * scale * scale * 3);
    for y in 0..height * scale {
        for x in 0..width * scale {
            out.extend(pixels[(y / scale) * width + x / scale]);
        }
    }
    out
}

/// Rounds up to two significant digits, so the colour bar ends on a readable value.
fn round_up(value: f32) -> f32 {
    let magnitude = 10f32.powf(value.log10().floor() - 1.0);
    (value / magnitude).ceil() * magnitude
}

/// Decimals that tell apart the ticks of an axis spanning `span` (about ten ticks).
fn tick_digits(span: f64) -> usize {
    let step = span / 10.0;
    if step.is_finite() && step > 0.0 {
        (-step.log10()).ceil().clamp(1.0, 6.0) as usize
    } else {
        3
    }
}

fn format_tick(value: f32) -> String {
    if value == 0.0 {
        "0".to_string()
    } else if value >= 0.1 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

fn variant_name(variant: Variant) -> &'static str {
    match variant {
        Variant::Bcnn => "BCNN",
        Variant::Mcdn => "MCDN",
    }
}

fn write_png(path: &Path, buffer: Vec<u8>, width: usize, height: usize) -> anyhow::Result<()> {
    let image = image::RgbImage::from_raw(width as u32, height as u32, buffer)
        .context("BUG: figure buffer has the wrong size")?;
    crate::volume::write_atomically(path, |writer| {
        image
            .write_to(writer, image::ImageFormat::Png)
            .map_err(|e| crate::volume::VolumeError::Io {
                path: path.to_path_buf(),
                cause: std::io::Error::other(e),
            })
    })?;
    Ok(())
}

fn plot_error<E: std::error::Error + Send + Sync>(error: DrawingAreaErrorKind<E>) -> anyhow::Error {
    anyhow!("drawing a figure failed: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Overlap;
    use crate::refine::SweepPoint;
    use crate::report::ModelResult;

    #[test]
    fn round_up_keeps_two_digits() {
        assert!((round_up(0.1234) - 0.13).abs() < 1e-6);
        assert!((round_up(0.0071) - 0.0071).abs() < 1e-6);
        assert!((round_up(0.00712) - 0.0072).abs() < 1e-6);
    }

    #[test]
    fn predictions_coloured_by_the_label() {
        let colours = prediction_colours(&[1, 1, 0, 0], Some(&[1, 0, 1, 0]));
        assert_eq!(
            colours,
            [RIGHT_FOREGROUND, FALSE_POSITIVE, FALSE_NEGATIVE, [0; 3]]
        );
        assert_eq!(
            prediction_colours(&[1, 0], None),
            [RIGHT_FOREGROUND, [0; 3]]
        );
    }

    #[test]
    fn tick_digits_follow_the_span() {
        assert_eq!(tick_digits(0.1), 2);
        assert_eq!(tick_digits(0.004), 4);
        assert_eq!(tick_digits(0.5), 2);
        assert_eq!(tick_digits(0.0), 3);
    }

    fn model(variant: &str, accuracy_at: impl Fn(f32) -> f64) -> ModelResult {
        let sweep: Vec<SweepPoint> = (0..=100)
            .map(|step| {
                let threshold = step as f32 / 100.0;
                SweepPoint {
                    threshold,
                    overlap: Overlap {
                        accuracy: accuracy_at(threshold),
                        dice: 0.5,
                        iou: 0.5,
                        foreground_fraction: 0.1,
                    },
                }
            })
            .collect();
        ModelResult {
            variant: variant.into(),
            model: format!("{variant}.ctuq"),
            training: None,
            inference_secs: 1.0,
            accuracy: accuracy_at(1.0),
            dice: 0.5,
            mean_uncertainty: 0.1,
            p_accurate_given_certain: None,
            p_uncertain_given_inaccurate: None,
            pavpu: None,
            accuracy_at_paper_threshold: accuracy_at(0.22),
            best_threshold: 0.3,
            best_accuracy: accuracy_at(0.3),
            sweep,
        }
    }

    #[test]
    fn threshold_curve_draws_both_models() {
        let case = CaseResult {
            name: "case".into(),
            slug: "case".into(),
            image: "image.tif".into(),
            label: "label.tif".into(),
            shape: [4, 4, 4],
            test_z: 2..4,
            provenance: "test".into(),
            recipe: None,
            models: vec![
                model("bcnn", |t| 0.90 + 0.05 * f64::from(t)),
                model("mcdn", |t| 0.97 - 0.02 * f64::from(t)),
            ],
            figure: Ok("case_slice.png".into()),
            curve: "case_threshold.png".into(),
            figure_z: 3,
        };
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("curve.png");
        write_threshold_curve(&path, &case).unwrap();

        let curve = image::open(&path).unwrap().to_rgb8();
        let near = |colour: RGBColor| {
            curve
                .pixels()
                .filter(|p| {
                    let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs();
                    d(p[0], colour.0) + d(p[1], colour.1) + d(p[2], colour.2) < 40
                })
                .count()
        };
        let [bcnn, mcdn] = CURVE_COLOURS.map(near);
        assert!(bcnn > 500, "the BCNN curve is drawn ({bcnn} pixels)");
        assert!(mcdn > 500, "the MCDN curve is drawn ({mcdn} pixels)");
    }

    #[test]
    fn upscale_repeats_each_pixel() {
        let out = upscale(&[[1, 1, 1], [2, 2, 2]], [1, 2], 2);
        let firsts: Vec<u8> = out.chunks(3).map(|p| p[0]).collect();
        assert_eq!(firsts, [1, 1, 2, 2, 1, 1, 2, 2]);
    }
}
