//! The viewer's rendering and layout, on a real wgpu device (lavapipe on CI): the slice
//! shader, the MIP and the iso-surface against the same image computed on the CPU, and the
//! main window on the built-in sample with overlays on.

use ctuq::app::{OpenRequest, ViewerApp};
use ctuq::infer::ResultMaps;
use ctuq::refine::{RefineMode, refine_voxel};
use ctuq::render::offscreen::{self, Draw, Headless};
use ctuq::render::raycast::RaycastStyle;
use ctuq::render::{
    Layer, LayerStyle, OrbitCamera, RaycastUniforms, RenderMode, SliceAxis, SliceGeometry,
    SliceStyle, SliceUniforms, ViewerGpu, VolumeTextures, colormap_rgb,
};
use ctuq::volume::{Shape, VoxelSize, read_label};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// A headless device; every test here needs one.
fn headless() -> Headless {
    Headless::new().expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)")
}

fn hidden_layers() -> [LayerStyle; 5] {
    [LayerStyle {
        visible: false,
        opacity: 1.0,
        contour: false,
    }; 5]
}

/// A test volume: a smooth pattern in [0, 1] so that f16 storage stays exact enough.
fn pattern(shape: Shape) -> Vec<f32> {
    let [d, h, w] = shape;
    let mut voxels = Vec::with_capacity(d * h * w);
    for z in 0..d {
        for y in 0..h {
            for x in 0..w {
                voxels.push(((x * 7 + y * 3 + z * 11) % 64) as f32 / 63.0);
            }
        }
    }
    voxels
}

fn f16_bits(values: &[f32]) -> Vec<u16> {
    values
        .iter()
        .map(|&v| half::f16::from_f32(v).to_bits())
        .collect()
}

#[test]
fn slice_shader_matches_the_cpu_slice_with_refined_overlay() {
    let headless = headless();
    let shape = [5, 32, 48];
    let voxels = pattern(shape);
    let uncertainty: Vec<f32> = (0..voxels.len()).map(|i| (i % 10) as f32 / 10.0).collect();
    let prediction: Vec<u8> = (0..voxels.len()).map(|i| u8::from(i % 3 != 0)).collect();
    let mut gpu = ViewerGpu::new(&headless.device, &headless.queue, offscreen::FORMAT);
    let textures = VolumeTextures::new(
        &headless.device,
        &headless.queue,
        shape,
        &f16_bits(&voxels),
        1,
    )
    .expect("textures");
    textures.write_uncertainty(&headless.queue, &uncertainty);
    let flags: Vec<u8> = prediction.iter().map(|&p| p * 2).collect();
    textures.write_flags(&headless.queue, &flags);
    gpu.textures = Some(textures);

    // One pixel per voxel: the view is exactly the slice's size.
    let (width, height) = (48u32, 32u32);
    let geometry = SliceGeometry {
        axis: SliceAxis::Axial,
        shape,
        spacing_mm: [1.0; 3],
        size_points: [width as f32, height as f32],
        zoom: 1.0,
        pan_mm: [0.0; 2],
    };
    let mut layers = hidden_layers();
    layers[4] = LayerStyle {
        visible: true,
        opacity: 1.0,
        contour: false,
    };
    let threshold = 0.45;
    let style = SliceStyle {
        window: [0.0, 1.0],
        threshold,
        mode: RefineMode::Remove,
        uncertainty_max: 1.0,
        layers,
        pixels_per_point: 1.0,
    };
    let z = 3;
    let uniforms = SliceUniforms::new(&geometry, z, &style);
    let (pixels, _) = offscreen::render(&headless, &mut gpu, &Draw::Slice(uniforms), width, height);
    assert_eq!(pixels.len(), (width * height * 4) as usize);

    let refined_color = Layer::Refined.color();
    let mut refined_pixels = 0;
    for y in 0..height as usize {
        for x in 0..width as usize {
            let index = (z * shape[1] + y) * shape[2] + x;
            let pixel = &pixels[(y * width as usize + x) * 4..][..3];
            let refined = refine_voxel(
                prediction[index],
                uncertainty[index],
                threshold,
                RefineMode::Remove,
            );
            if refined != 0 {
                refined_pixels += 1;
                assert_eq!(pixel, refined_color, "refined voxel at ({y}, {x})");
            } else {
                let grey = (voxels[index] * 255.0).round();
                for &channel in pixel {
                    assert!(
                        (f32::from(channel) - grey).abs() <= 2.0,
                        "grey at ({y}, {x}): {pixel:?} against {grey}"
                    );
                }
            }
        }
    }
    assert!(refined_pixels > 100, "only {refined_pixels} refined pixels");
}

/// Trilinear sample of a z, y, x volume at texture coordinates in [0, 1], as a linear
/// sampler with clamp to edge does it.
fn trilinear(voxels: &[f32], shape: Shape, tc: [f32; 3]) -> f32 {
    let [d, h, w] = shape;
    let sizes = [w, h, d];
    let mut base = [0usize; 3];
    let mut next = [0usize; 3];
    let mut frac = [0f32; 3];
    for a in 0..3 {
        let c = (tc[a] * sizes[a] as f32 - 0.5).clamp(0.0, (sizes[a] - 1) as f32);
        base[a] = c.floor() as usize;
        next[a] = (base[a] + 1).min(sizes[a] - 1);
        frac[a] = c - base[a] as f32;
    }
    let at = |x: usize, y: usize, z: usize| voxels[(z * h + y) * w + x];
    let mut value = 0.0;
    for corner in 0..8 {
        let pick = |a: usize| {
            if corner >> a & 1 == 1 {
                (next[a], frac[a])
            } else {
                (base[a], 1.0 - frac[a])
            }
        };
        let (x, wx) = pick(0);
        let (y, wy) = pick(1);
        let (z, wz) = pick(2);
        value += wx * wy * wz * at(x, y, z);
    }
    value
}

/// The points at which the raycast shader samples the ray of each pixel, in texture
/// coordinates, or `None` where the ray misses the box.
fn cpu_rays(u: &RaycastUniforms, width: u32, height: u32) -> Vec<Option<Vec<[f32; 3]>>> {
    let mut rays = Vec::new();
    for py in 0..height {
        for px in 0..width {
            let uv = [
                (px as f32 + 0.5) / width as f32,
                (py as f32 + 0.5) / height as f32,
            ];
            let ndc = [uv[0] * 2.0 - 1.0, 1.0 - uv[1] * 2.0];
            let t = u.eye[3];
            let dir: [f32; 3] = std::array::from_fn(|a| {
                u.forward[a] + ndc[0] * t * u.right[3] * u.right[a] + ndc[1] * t * u.up[a]
            });
            let length = (dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]).sqrt();
            let dir = dir.map(|c| c / length);
            let half = [u.half_extent[0], u.half_extent[1], u.half_extent[2]];
            let (mut enter, mut exit) = (0f32, f32::INFINITY);
            for a in 0..3 {
                let t0 = (-half[a] - u.eye[a]) / dir[a];
                let t1 = (half[a] - u.eye[a]) / dir[a];
                enter = enter.max(t0.min(t1));
                exit = exit.min(t0.max(t1));
            }
            if enter >= exit {
                rays.push(None);
                continue;
            }
            let step = u.half_extent[3];
            let steps = ((exit - enter) / step) as usize + 1;
            let points = (0..steps)
                .map(|i| {
                    let d = enter + i as f32 * step;
                    std::array::from_fn(|a| (u.eye[a] + dir[a] * d + half[a]) / (2.0 * half[a]))
                })
                .collect();
            rays.push(Some(points));
        }
    }
    rays
}

/// Size of the raycast test images.
const RAYCAST_WIDTH: u32 = 64;
const RAYCAST_HEIGHT: u32 = 48;

/// Renders `textures` in `mode` from the default camera, isotropic voxels, window 0-1, iso
/// level 0.5 and uncertainty scale 1; returns the RGBA pixels and the uniforms used.
fn render_raycast(
    headless: &Headless,
    textures: VolumeTextures,
    shape: Shape,
    mode: RenderMode,
    has_results: bool,
) -> (Vec<u8>, RaycastUniforms) {
    let mut gpu = ViewerGpu::new(&headless.device, &headless.queue, offscreen::FORMAT);
    gpu.textures = Some(textures);
    let style = RaycastStyle {
        mode,
        window: [0.0, 1.0],
        iso_level: 0.5,
        uncertainty_max: 1.0,
        has_results,
    };
    let uniforms = RaycastUniforms::new(
        &OrbitCamera::default(),
        shape,
        [1.0; 3],
        [RAYCAST_WIDTH as f32, RAYCAST_HEIGHT as f32],
        &style,
    );
    let draw = Draw::Raycast(uniforms);
    let (pixels, _) = offscreen::render(headless, &mut gpu, &draw, RAYCAST_WIDTH, RAYCAST_HEIGHT);
    (pixels, uniforms)
}

/// The maximum intensity projection of the raycast shader, on the CPU.
fn cpu_mip(voxels: &[f32], shape: Shape, u: &RaycastUniforms, width: u32, height: u32) -> Vec<f32> {
    cpu_rays(u, width, height)
        .into_iter()
        .map(|ray| match ray {
            None => f32::NAN,
            Some(points) => points
                .iter()
                .map(|&tc| trilinear(voxels, shape, tc))
                .fold(0.0, f32::max),
        })
        .collect()
}

#[test]
fn raycast_mip_matches_the_cpu_mip() {
    let headless = headless();
    let shape = [20, 24, 28];
    let [d, h, w] = shape;
    // A bright ball off centre on a dim ramp.
    let mut voxels = Vec::with_capacity(d * h * w);
    for z in 0..d {
        for y in 0..h {
            for x in 0..w {
                let r2 = (z as f32 - 8.0).powi(2)
                    + (y as f32 - 14.0).powi(2)
                    + (x as f32 - 10.0).powi(2);
                let ball = (1.0 - r2 / 36.0).max(0.0);
                voxels.push((0.3 * x as f32 / w as f32).max(ball));
            }
        }
    }
    let textures = VolumeTextures::new(
        &headless.device,
        &headless.queue,
        shape,
        &f16_bits(&voxels),
        1,
    )
    .expect("textures");
    let (width, height) = (RAYCAST_WIDTH, RAYCAST_HEIGHT);
    let (pixels, uniforms) = render_raycast(&headless, textures, shape, RenderMode::Mip, false);
    let expected = cpu_mip(&voxels, shape, &uniforms, width, height);
    let background = 0.05f32;
    let mut compared = 0;
    let mut close = 0;
    let mut bright = 0;
    for (i, &peak) in expected.iter().enumerate() {
        let got = f32::from(pixels[i * 4]) / 255.0;
        let want = if peak.is_nan() {
            background
        } else {
            // The shader blends the grey over the background by its own value.
            background + (peak - background) * peak
        };
        compared += 1;
        if (got - want).abs() <= 4.0 / 255.0 {
            close += 1;
        }
        if got > 0.8 {
            bright += 1;
        }
    }
    assert!(bright >= 5, "the ball should show: {bright} bright pixels");
    assert!(
        close as f32 >= 0.97 * compared as f32,
        "{close} of {compared} pixels match the CPU MIP"
    );
}

#[test]
fn raycast_iso_surface_shows_where_the_cpu_ray_meets_the_level() {
    let headless = headless();
    let shape = [20, 24, 28];
    let [d, h, w] = shape;
    // The mean probability is a ball off centre; the uncertainty is the same everywhere.
    let mut mean = Vec::with_capacity(d * h * w);
    for z in 0..d {
        for y in 0..h {
            for x in 0..w {
                let r2 = (z as f32 - 9.0).powi(2)
                    + (y as f32 - 12.0).powi(2)
                    + (x as f32 - 15.0).powi(2);
                mean.push((1.0 - r2 / 160.0).max(0.0));
            }
        }
    }
    let mean_bytes: Vec<u8> = mean.iter().map(|&m| (m * 255.0).round() as u8).collect();
    let stored_mean: Vec<f32> = mean_bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
    let uncertainty = 0.6f32;

    let textures = VolumeTextures::new(
        &headless.device,
        &headless.queue,
        shape,
        &f16_bits(&vec![0.0; d * h * w]),
        1,
    )
    .expect("textures");
    let rgba: Vec<[u8; 4]> = mean_bytes.iter().map(|&m| [m, m, m, 0]).collect();
    textures.write_probability(&headless.queue, &rgba);
    textures.write_uncertainty(&headless.queue, &vec![uncertainty; d * h * w]);
    let (width, height) = (RAYCAST_WIDTH, RAYCAST_HEIGHT);
    let (pixels, uniforms) = render_raycast(&headless, textures, shape, RenderMode::Iso, true);

    // A pixel shows the surface where its CPU ray has a sample at or above the level, and
    // then takes the colormap's colour of the uncertainty, shaded: its channels keep the
    // colormap's proportions. Elsewhere it shows the background.
    let colour = colormap_rgb(uncertainty).map(f32::from);
    let (mut hits, mut agree) = (0, 0);
    let rays = cpu_rays(&uniforms, width, height);
    for (i, ray) in rays.iter().enumerate() {
        let hit = ray.as_ref().is_some_and(|points| {
            points
                .iter()
                .any(|&tc| trilinear(&stored_mean, shape, tc) >= 0.5)
        });
        let rgb: [f32; 3] = std::array::from_fn(|c| f32::from(pixels[i * 4 + c]));
        let shows_surface = if hit {
            hits += 1;
            let scale = rgb[1] / colour[1];
            (0.2..=1.05).contains(&scale)
                && (0..3).all(|c| (rgb[c] - colour[c] * scale).abs() <= 6.0)
        } else {
            !rgb.iter().all(|&v| (v - 0.055 * 255.0).abs() <= 4.0)
        };
        if shows_surface == hit {
            agree += 1;
        }
    }
    assert!(hits >= 50, "the ball should show: {hits} pixels hit it");
    assert!(
        agree as f32 >= 0.995 * rays.len() as f32,
        "{agree} of {} pixels agree with the CPU rays",
        rays.len()
    );
}

/// Results for the sample: the prediction is the label, uncertain at its boundary.
fn sample_results(label: &[u8], shape: Shape) -> ResultMaps {
    let mut results = ResultMaps::zeros(shape, VoxelSize::unknown());
    let [d, h, w] = shape;
    for z in 0..d {
        for y in 0..h {
            for x in 0..w {
                let i = (z * h + y) * w + x;
                let inside = label[i] != 0;
                let edge = x > 0 && label[i - 1] != label[i] || y > 0 && label[i - w] != label[i];
                let mean = if inside { 0.9 } else { 0.05 };
                let spread = if edge { 0.35 } else { 0.02 };
                results.mean[i] = mean;
                results.lower[i] = (mean - spread).max(0.0);
                results.upper[i] = (mean + spread).min(1.0);
                results.uncertainty[i] = results.upper[i] - results.lower[i];
                results.prediction[i] = u8::from(inside);
                results.lower_seg[i] = u8::from(results.lower[i] > 0.5);
                results.upper_seg[i] = u8::from(results.upper[i] > 0.5);
            }
        }
    }
    results
}

#[test]
fn main_layout_shows_the_sample_with_overlays() {
    let sample = OpenRequest::sample();
    let label = read_label(
        sample.label.as_deref().expect("sample label"),
        &Default::default(),
        None,
    )
    .expect("sample label");
    let results = sample_results(&label.voxels, label.shape);
    let mut harness = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .wgpu()
        .build_eframe(|cc| ViewerApp::new(cc, Some(sample)));
    harness
        .state_mut()
        .load_results(results)
        .expect("results fit the sample");
    // Full opacity, so that uncertain voxels show the colormap's own colour.
    harness.state_mut().state.layers[3].opacity = 1.0;
    // Wait (in frames, not time) for the metrics worker's first answer.
    for _ in 0..2000 {
        harness.step();
        if harness.state().stats.is_some() {
            break;
        }
        std::thread::yield_now();
    }
    harness.run_steps(3);
    let app = harness.state();
    assert!(app.error.is_none(), "error shown: {:?}", app.error);
    let stats = app.stats.expect("refinement numbers arrive");
    let overlap = stats.overlap.expect("the sample has a label");
    assert!(overlap.accuracy > 0.9, "{overlap:?}");

    for text in [
        "Layers",
        "Window / level",
        "Refinement",
        "Jobs",
        "Axial (z)",
        "3D",
    ] {
        harness.get_by_label(text);
    }

    let image = harness.render().expect("render");
    // The uncertainty colormap and the label contour appear in the views.
    let near = |p: &image::Rgba<u8>, c: [u8; 3], tolerance: i32| {
        (0..3).all(|k| (i32::from(p[k]) - i32::from(c[k])).abs() <= tolerance)
    };
    let label_color = Layer::Label.color();
    let label_pixels = image.pixels().filter(|p| near(p, label_color, 30)).count();
    let uncertain_color = colormap_rgb(0.4 / 0.7);
    let colormap_pixels = image
        .pixels()
        .filter(|p| near(p, uncertain_color, 12))
        .count();
    assert!(label_pixels > 200, "label contour pixels: {label_pixels}");
    assert!(
        colormap_pixels > 200,
        "uncertainty pixels: {colormap_pixels}"
    );
}
