//! Rendering without a window: a headless wgpu device (lavapipe on CI) and one draw of a
//! renderer into an RGBA image, for the render tests and the frame-time benchmark.

use std::time::Instant;

use eframe::egui_wgpu::{self, wgpu};

use super::{RaycastUniforms, SliceUniforms, ViewerGpu};

/// Texture format of offscreen renders.
pub const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;

/// A headless device, queue and adapter description.
pub struct Headless {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// The adapter's name and backend, for reports.
    pub adapter: String,
}

impl Headless {
    /// Opens the first adapter egui_wgpu would choose, without a window.
    ///
    /// # Errors
    /// No usable adapter (no Vulkan driver, for instance).
    pub fn new() -> Result<Headless, String> {
        let setup = egui_wgpu::WgpuSetup::without_display_handle();
        let config = egui_wgpu::WgpuConfiguration {
            wgpu_setup: setup.clone(),
            ..Default::default()
        };
        let instance = pollster::block_on(setup.new_instance());
        let state = pollster::block_on(egui_wgpu::RenderState::create(
            &config,
            &instance,
            None,
            egui_wgpu::RendererOptions::default(),
        ))
        .map_err(|e| format!("no GPU adapter for offscreen rendering: {e}"))?;
        let info = state.adapter.get_info();
        Ok(Headless {
            device: state.device,
            queue: state.queue,
            adapter: format!("{} ({:?})", info.name, info.backend),
        })
    }
}

/// What to draw offscreen.
#[derive(Clone, Copy, Debug)]
#[allow(clippy::large_enum_variant)] // N.B. built once per render; boxing buys nothing here.
pub enum Draw {
    /// A slice view.
    Slice(SliceUniforms),
    /// The 3D view.
    Raycast(RaycastUniforms),
}

/// Draws `draw` into a `width x height` image and reads it back as RGBA rows. The renderers
/// of `gpu` must have been built for [`FORMAT`]. Returns the pixels and the seconds the GPU
/// took, submission to readback.
pub fn render(
    headless: &Headless,
    gpu: &mut ViewerGpu,
    draw: &Draw,
    width: u32,
    height: u32,
) -> (Vec<u8>, f64) {
    let Headless { device, queue, .. } = headless;
    match draw {
        Draw::Slice(uniforms) => gpu.prepare_slice(device, queue, 0, uniforms),
        Draw::Raycast(uniforms) => {
            gpu.prepare_raycast(
                device,
                queue,
                0,
                uniforms,
                &super::raycast::default_transfer(),
            );
        }
    }
    let target = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("offscreen::target"),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: FORMAT,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let view = target.create_view(&Default::default());
    let padded_row = (width * 4).div_ceil(256) * 256;
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("offscreen::readback"),
        size: u64::from(padded_row) * u64::from(height),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let started = Instant::now();
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("offscreen::pass"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        match draw {
            Draw::Slice(_) => gpu.slice.paint(&mut pass, 0),
            Draw::Raycast(_) => gpu.raycast.paint(&mut pass, 0),
        }
    }
    encoder.copy_texture_to_buffer(
        target.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &readback,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(padded_row),
                rows_per_image: Some(height),
            },
        },
        wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
    );
    queue.submit([encoder.finish()]);
    readback.map_async(wgpu::MapMode::Read, .., |_| {});
    if let Err(error) = device.poll(wgpu::PollType::wait_indefinitely()) {
        tracing::error!("offscreen render: {error}");
    }
    let elapsed_secs = started.elapsed().as_secs_f64();
    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
    match readback.get_mapped_range(..) {
        Ok(mapped) => {
            for row in 0..height as usize {
                let start = row * padded_row as usize;
                pixels.extend_from_slice(&mapped[start..start + width as usize * 4]);
            }
        }
        Err(error) => tracing::error!("offscreen readback: {error}"),
    }
    readback.unmap();
    (pixels, elapsed_secs)
}
