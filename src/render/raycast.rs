//! The raycast renderer of the 3D view (`shaders/raycast.wgsl`): maximum intensity
//! projection, direct volume rendering through an editable transfer function, and an
//! iso-surface of the mean probability coloured by uncertainty.

use eframe::egui_wgpu::wgpu;
use serde::{Deserialize, Serialize};

use super::textures::VolumeTextures;
use crate::volume::Shape;

/// The WGSL twins of the raycast renderer's uniforms.
pub mod gpu_data {
    /// `RaycastUniforms` in `shaders/raycast.wgsl`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct RaycastUniforms {
        /// Camera position (box units), tan of half the vertical field of view.
        pub eye: [f32; 4],
        /// Camera right (unit), aspect ratio.
        pub right: [f32; 4],
        /// Camera up (unit), 0.
        pub up: [f32; 4],
        /// Camera forward (unit), 0.
        pub forward: [f32; 4],
        /// Half extent of the box x, y, z (the longest 0.5), step length.
        pub half_extent: [f32; 4],
        /// Volume shape x, y, z, whether results are loaded (1) or not (0).
        pub shape: [u32; 4],
        /// Mode (0 MIP, 1 DVR, 2 iso-surface), window low, high, iso level.
        pub params: [f32; 4],
        /// Uncertainty at the top of the colour bar, 0, 0, 0.
        pub params2: [f32; 4],
    }

    const _: () = assert!(std::mem::size_of::<RaycastUniforms>() == 128);
}

pub use gpu_data::RaycastUniforms;

/// Slots of the uniform buffer (the 3D view, maximised or not, and offscreen renders).
pub const RAYCAST_SLOTS: u32 = 4;

/// Bytes between slots.
const SLOT_STRIDE: u64 = 256;

/// Texels of the transfer function.
pub const TRANSFER_TEXELS: usize = 256;

/// What the 3D view shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RenderMode {
    /// Maximum intensity projection.
    Mip,
    /// Direct volume rendering through the transfer function.
    Dvr,
    /// The iso-surface of the mean probability at 0.5, coloured by uncertainty.
    Iso,
}

impl RenderMode {
    /// The mode's name in the UI.
    pub fn name(self) -> &'static str {
        match self {
            RenderMode::Mip => "MIP",
            RenderMode::Dvr => "Volume",
            RenderMode::Iso => "Iso-surface",
        }
    }
}

/// An orbit camera around a target near the volume's centre.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrbitCamera {
    /// Rotation about the vertical (z) axis, radians.
    pub yaw: f32,
    /// Elevation, radians, within ±89°.
    pub pitch: f32,
    /// Distance from the target, box units (the box's longest side is 1).
    pub distance: f32,
    /// The point looked at, box units from the box's centre.
    pub target: [f32; 3],
}

impl Default for OrbitCamera {
    fn default() -> Self {
        OrbitCamera {
            yaw: 0.8,
            pitch: 0.5,
            distance: 2.2,
            target: [0.0; 3],
        }
    }
}

impl OrbitCamera {
    /// Vertical field of view, radians.
    pub const FOV_Y: f32 = 0.7;

    /// Eye position and the right, up and forward unit vectors.
    pub fn basis(&self) -> ([f32; 3], [f32; 3], [f32; 3], [f32; 3]) {
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        let back = [cp * cy, cp * sy, sp];
        let eye = add(self.target, scale(back, self.distance));
        let forward = scale(back, -1.0);
        let right = normalize(cross(forward, [0.0, 0.0, 1.0]));
        let up = cross(right, forward);
        (eye, right, up, forward)
    }

    /// Turns by a drag of `dx`, `dy` points.
    pub fn orbit(&mut self, dx: f32, dy: f32) {
        self.yaw -= dx * 0.01;
        self.pitch = (self.pitch + dy * 0.01).clamp(-1.55, 1.55);
    }

    /// Moves the target in the view plane by a drag of `dx`, `dy` points in a view
    /// `height` points tall.
    pub fn pan(&mut self, dx: f32, dy: f32, height: f32) {
        let (_, right, up, _) = self.basis();
        let per_point = 2.0 * self.distance * (Self::FOV_Y * 0.5).tan() / height.max(1.0);
        self.target = add(self.target, scale(right, -dx * per_point));
        self.target = add(self.target, scale(up, dy * per_point));
    }

    /// Zooms by `factor` (above 1 comes closer).
    pub fn zoom(&mut self, factor: f32) {
        self.distance = (self.distance / factor.max(1e-3)).clamp(0.3, 10.0);
    }
}

/// Everything the 3D view passes to the renderer each frame, besides the camera.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RaycastStyle {
    /// The mode.
    pub mode: RenderMode,
    /// Window in normalised intensity.
    pub window: [f32; 2],
    /// Mean probability of the iso-surface.
    pub iso_level: f32,
    /// The uncertainty at the top of the colour bar.
    pub uncertainty_max: f32,
    /// Whether results are loaded (the iso-surface needs them).
    pub has_results: bool,
}

impl RaycastUniforms {
    /// The uniforms of a view of `size_points` of a volume of `shape` and voxel spacing
    /// `spacing_mm` (z, y, x).
    pub fn new(
        camera: &OrbitCamera,
        shape: Shape,
        spacing_mm: [f32; 3],
        size_points: [f32; 2],
        style: &RaycastStyle,
    ) -> RaycastUniforms {
        let (eye, right, up, forward) = camera.basis();
        let [d, h, w] = shape;
        let extent = [
            w as f32 * spacing_mm[2],
            h as f32 * spacing_mm[1],
            d as f32 * spacing_mm[0],
        ];
        let longest = extent[0].max(extent[1]).max(extent[2]).max(1e-6);
        let half = extent.map(|e| 0.5 * e / longest);
        let most_voxels = w.max(h).max(d).max(1) as f32;
        let aspect = size_points[0] / size_points[1].max(1.0);
        let mode = match style.mode {
            RenderMode::Mip => 0.0,
            RenderMode::Dvr => 1.0,
            RenderMode::Iso => 2.0,
        };
        RaycastUniforms {
            eye: [eye[0], eye[1], eye[2], (OrbitCamera::FOV_Y * 0.5).tan()],
            right: [right[0], right[1], right[2], aspect],
            up: [up[0], up[1], up[2], 0.0],
            forward: [forward[0], forward[1], forward[2], 0.0],
            half_extent: [half[0], half[1], half[2], 0.7 / most_voxels],
            shape: [w as u32, h as u32, d as u32, u32::from(style.has_results)],
            params: [mode, style.window[0], style.window[1], style.iso_level],
            params2: [style.uncertainty_max, 0.0, 0.0, 0.0],
        }
    }
}

/// A control point of the transfer function: at normalised (windowed) intensity `at`, this
/// colour and opacity.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferPoint {
    /// Position, 0 to 1.
    pub at: f32,
    /// Colour, sRGB bytes.
    pub color: [u8; 3],
    /// Opacity per 1/256 of the box, 0 to 1.
    pub opacity: f32,
}

/// A transfer function that shows bright material as warm and translucent.
pub fn default_transfer() -> Vec<TransferPoint> {
    vec![
        TransferPoint {
            at: 0.0,
            color: [0, 0, 0],
            opacity: 0.0,
        },
        TransferPoint {
            at: 0.35,
            color: [90, 60, 40],
            opacity: 0.0,
        },
        TransferPoint {
            at: 0.65,
            color: [200, 150, 100],
            opacity: 0.04,
        },
        TransferPoint {
            at: 1.0,
            color: [255, 240, 220],
            opacity: 0.3,
        },
    ]
}

/// The transfer function's texels: linear between control points (sorted by `at`), flat
/// beyond the ends.
pub fn transfer_texels(points: &[TransferPoint]) -> Vec<[u8; 4]> {
    let mut sorted: Vec<TransferPoint> = points.to_vec();
    sorted.sort_by(|a, b| a.at.total_cmp(&b.at));
    (0..TRANSFER_TEXELS)
        .map(|i| {
            let x = i as f32 / (TRANSFER_TEXELS - 1) as f32;
            let rgba = |p: &TransferPoint| {
                [
                    f32::from(p.color[0]),
                    f32::from(p.color[1]),
                    f32::from(p.color[2]),
                    p.opacity.clamp(0.0, 1.0) * 255.0,
                ]
            };
            let value = match sorted.iter().position(|p| p.at >= x) {
                None => sorted.last().map_or([0.0; 4], rgba),
                Some(0) => rgba(&sorted[0]),
                Some(k) => {
                    let (a, b) = (&sorted[k - 1], &sorted[k]);
                    let t = (x - a.at) / (b.at - a.at).max(1e-6);
                    let (ca, cb) = (rgba(a), rgba(b));
                    [0, 1, 2, 3].map(|c| ca[c] + (cb[c] - ca[c]) * t)
                }
            };
            value.map(|v| v.round().clamp(0.0, 255.0) as u8)
        })
        .collect()
}

// ----------------------------------------------------------------------------
// Renderer

/// Draws the 3D view; created once per wgpu device. Owns the transfer-function texture.
pub struct RaycastRenderer {
    pipeline: wgpu::RenderPipeline,
    bind_group_layout: wgpu::BindGroupLayout,
    uniforms: wgpu::Buffer,
    sampler: wgpu::Sampler,
    transfer: wgpu::Texture,
    transfer_view: wgpu::TextureView,
    transfer_points: Vec<TransferPoint>,
    bind_group: Option<(u64, wgpu::BindGroup)>,
}

impl RaycastRenderer {
    /// Builds the pipeline for targets of `format`.
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        format: wgpu::TextureFormat,
    ) -> RaycastRenderer {
        let source = super::shader_source(include_str!("../../shaders/raycast.wgsl"));
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("RaycastRenderer::shader"),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let texture =
            |binding, filterable, sample_type_uint: bool, dimension| wgpu::BindGroupLayoutEntry {
                binding,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: if sample_type_uint {
                        wgpu::TextureSampleType::Uint
                    } else {
                        wgpu::TextureSampleType::Float { filterable }
                    },
                    view_dimension: dimension,
                    multisampled: false,
                },
                count: None,
            };
        let d3 = wgpu::TextureViewDimension::D3;
        let d2 = wgpu::TextureViewDimension::D2;
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("RaycastRenderer::bind_group_layout"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: true,
                        min_binding_size: wgpu::BufferSize::new(
                            std::mem::size_of::<RaycastUniforms>() as u64,
                        ),
                    },
                    count: None,
                },
                texture(1, true, false, d3),
                texture(2, false, false, d3),
                texture(3, true, false, d3),
                texture(4, false, false, d2),
                texture(5, true, false, d2),
                wgpu::BindGroupLayoutEntry {
                    binding: 6,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("RaycastRenderer::pipeline_layout"),
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let pipeline =
            super::fullscreen_pipeline(device, &layout, &module, format, "RaycastRenderer");
        let uniforms = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("RaycastRenderer::uniforms"),
            size: SLOT_STRIDE * u64::from(RAYCAST_SLOTS),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("RaycastRenderer::sampler"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        let transfer = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("RaycastRenderer::transfer"),
            size: wgpu::Extent3d {
                width: TRANSFER_TEXELS as u32,
                height: 1,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        let transfer_view = transfer.create_view(&Default::default());
        let mut renderer = RaycastRenderer {
            pipeline,
            bind_group_layout,
            uniforms,
            sampler,
            transfer,
            transfer_view,
            transfer_points: Vec::new(),
            bind_group: None,
        };
        renderer.set_transfer(queue, &default_transfer());
        renderer
    }

    /// Uploads the transfer function if it changed.
    pub fn set_transfer(&mut self, queue: &wgpu::Queue, points: &[TransferPoint]) {
        if self.transfer_points == points {
            return;
        }
        let texels = transfer_texels(points);
        queue.write_texture(
            self.transfer.as_image_copy(),
            bytemuck::cast_slice(&texels),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(4 * TRANSFER_TEXELS as u32),
                rows_per_image: Some(1),
            },
            wgpu::Extent3d {
                width: TRANSFER_TEXELS as u32,
                height: 1,
                depth_or_array_layers: 1,
            },
        );
        self.transfer_points = points.to_vec();
    }

    /// Uploads the uniforms of slot `slot` and (re)binds the textures if they changed.
    pub fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        textures: &VolumeTextures,
        colormap: &wgpu::TextureView,
        slot: u32,
        uniforms: &RaycastUniforms,
    ) {
        if slot >= RAYCAST_SLOTS {
            tracing::error!("BUG: raycast slot {slot} out of {RAYCAST_SLOTS}");
            return;
        }
        if self.bind_group.as_ref().map(|(g, _)| *g) != Some(textures.generation) {
            let view = wgpu::BindingResource::TextureView;
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("RaycastRenderer::bind_group"),
                layout: &self.bind_group_layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: &self.uniforms,
                            offset: 0,
                            size: wgpu::BufferSize::new(
                                std::mem::size_of::<RaycastUniforms>() as u64
                            ),
                        }),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: view(&textures.intensity),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: view(&textures.uncertainty),
                    },
                    wgpu::BindGroupEntry {
                        binding: 3,
                        resource: view(&textures.probability),
                    },
                    wgpu::BindGroupEntry {
                        binding: 4,
                        resource: view(colormap),
                    },
                    wgpu::BindGroupEntry {
                        binding: 5,
                        resource: view(&self.transfer_view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 6,
                        resource: wgpu::BindingResource::Sampler(&self.sampler),
                    },
                ],
            });
            self.bind_group = Some((textures.generation, bind_group));
        }
        queue.write_buffer(
            &self.uniforms,
            u64::from(slot) * SLOT_STRIDE,
            bytemuck::bytes_of(uniforms),
        );
    }

    /// Draws slot `slot` into the pass's current viewport.
    pub fn paint(&self, render_pass: &mut wgpu::RenderPass<'_>, slot: u32) {
        let Some((_, bind_group)) = &self.bind_group else {
            return;
        };
        render_pass.set_pipeline(&self.pipeline);
        render_pass.set_bind_group(0, bind_group, &[(u64::from(slot) * SLOT_STRIDE) as u32]);
        render_pass.draw(0..3, 0..1);
    }
}

fn add(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn scale(a: [f32; 3], s: f32) -> [f32; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}

fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn normalize(a: [f32; 3]) -> [f32; 3] {
    let length = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt().max(1e-9);
    scale(a, 1.0 / length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_interpolates_between_points_and_is_flat_beyond() {
        let points = [
            TransferPoint {
                at: 0.5,
                color: [0, 0, 0],
                opacity: 0.0,
            },
            TransferPoint {
                at: 1.0,
                color: [200, 100, 0],
                opacity: 1.0,
            },
        ];
        let texels = transfer_texels(&points);
        assert_eq!(texels[0], [0, 0, 0, 0]);
        assert_eq!(texels[255], [200, 100, 0, 255]);
        let middle = texels[191];
        assert!((95..=105).contains(&middle[0]), "{middle:?}");
    }

    #[test]
    fn camera_basis_is_orthonormal_and_looks_at_the_target() {
        let camera = OrbitCamera::default();
        let (eye, right, up, forward) = camera.basis();
        let dot = |a: [f32; 3], b: [f32; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
        assert!(dot(right, up).abs() < 1e-5);
        assert!(dot(right, forward).abs() < 1e-5);
        assert!((dot(up, up) - 1.0).abs() < 1e-5);
        let to_target = normalize(scale(eye, -1.0));
        assert!((dot(to_target, forward) - 1.0).abs() < 1e-5);
    }
}
