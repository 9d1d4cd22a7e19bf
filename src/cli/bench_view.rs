//! `ctuq bench-view`: frame times of the slice and raycast renderers on a synthetic volume,
//! offscreen on the first wgpu adapter (lavapipe without a GPU), as a table.

use clap::Args;

use crate::refine::RefineMode;
use crate::render::offscreen::{self, Draw, Headless};
use crate::render::raycast::RaycastStyle;
use crate::render::{
    Layer, OrbitCamera, RaycastUniforms, RenderMode, SliceAxis, SliceGeometry, SliceStyle,
    SliceUniforms, ViewerGpu, VolumeTextures,
};

/// Arguments of `ctuq bench-view`.
#[derive(Debug, Args)]
pub struct BenchViewArgs {
    /// Cube sides to time.
    #[arg(long, value_delimiter = ',', default_value = "128,512")]
    pub sizes: Vec<usize>,
    /// Frames per measurement (after one warm-up frame).
    #[arg(long, default_value_t = 5)]
    pub frames: usize,
    /// Image width and height in pixels.
    #[arg(long, default_value_t = 800)]
    pub pixels: u32,
}

/// Runs `ctuq bench-view`.
pub fn run(args: &BenchViewArgs) -> anyhow::Result<()> {
    let headless = Headless::new().map_err(anyhow::Error::msg)?;
    println!("adapter: {}", headless.adapter);
    println!(
        "{:>6}  {:<22} {:>10} {:>10}",
        "side", "view", "ms/frame", "frames/s"
    );
    for &side in &args.sizes {
        anyhow::ensure!(side > 0, "--sizes: a side of 0");
        let shape = [side; 3];
        let voxels = synthetic(side);
        let mut gpu = ViewerGpu::new(&headless.device, &headless.queue, offscreen::FORMAT);
        gpu.textures = Some(
            VolumeTextures::new(&headless.device, &headless.queue, shape, &voxels, 1)
                .map_err(anyhow::Error::msg)?,
        );
        let size = args.pixels;
        let slice_style = SliceStyle {
            window: [0.0, 1.0],
            threshold: 0.22,
            mode: RefineMode::Remove,
            uncertainty_max: 1.0,
            layers: Layer::ALL.map(Layer::default_style),
            pixels_per_point: 1.0,
        };
        let geometry = SliceGeometry {
            axis: SliceAxis::Axial,
            shape,
            spacing_mm: [1.0; 3],
            size_points: [size as f32; 2],
            zoom: 1.0,
            pan_mm: [0.0; 2],
        };
        let mut draws = vec![(
            "slice (all overlays)".to_owned(),
            Draw::Slice(SliceUniforms::new(&geometry, side / 2, &slice_style)),
        )];
        for mode in [RenderMode::Mip, RenderMode::Dvr, RenderMode::Iso] {
            let style = RaycastStyle {
                mode,
                window: [0.0, 1.0],
                iso_level: 0.5,
                uncertainty_max: 1.0,
                has_results: true,
            };
            let uniforms = RaycastUniforms::new(
                &OrbitCamera::default(),
                shape,
                [1.0; 3],
                [size as f32; 2],
                &style,
            );
            draws.push((format!("raycast {}", mode.name()), Draw::Raycast(uniforms)));
        }
        for (name, draw) in draws {
            let _ = offscreen::render(&headless, &mut gpu, &draw, size, size);
            let mut total = 0.0;
            for _ in 0..args.frames.max(1) {
                total += offscreen::render(&headless, &mut gpu, &draw, size, size).1;
            }
            let per_frame = total / args.frames.max(1) as f64;
            println!(
                "{side:>6}  {name:<22} {:>10.2} {:>10.1}",
                per_frame * 1e3,
                1.0 / per_frame
            );
        }
    }
    Ok(())
}

/// A volume of spheres on a ramp, normalised, as f16 bits.
fn synthetic(side: usize) -> Vec<u16> {
    let mut voxels = Vec::with_capacity(side * side * side);
    let cell = (side / 4).max(1) as f32;
    for z in 0..side {
        for y in 0..side {
            for x in 0..side {
                let p = [z, y, x].map(|c| (c as f32 % cell) / cell - 0.5);
                let ball = 1.0 - (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt() * 2.0;
                let value = (0.3 * x as f32 / side as f32).max(ball);
                voxels.push(half::f16::from_f32(value).to_bits());
            }
        }
    }
    voxels
}
