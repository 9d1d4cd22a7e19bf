//! The slice renderer: one slice of any axis, with its overlays, drawn from the shared 3D
//! textures by `shaders/slice.wgsl`.
//!
//! The renderer owns its pipeline and a uniform buffer with one slot per view drawn in a frame;
//! the views pass [`gpu_data::SliceUniforms`] only (see [`super::SliceCallback`]).

use eframe::egui_wgpu::wgpu;
use serde::{Deserialize, Serialize};

use super::textures::VolumeTextures;
use crate::refine::RefineMode;
use crate::volume::Shape;

/// Slots of the uniform buffer: views that can be drawn in one frame.
pub const SLICE_SLOTS: u32 = 8;

/// Bytes between slots (a multiple of the 256-byte dynamic-offset alignment).
const SLOT_STRIDE: u64 = 512;

/// The WGSL twins of the slice renderer's uniforms.
pub mod gpu_data {
    /// `SliceUniforms` in `shaders/slice.wgsl`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct SliceUniforms {
        /// Axis (0 axial, 1 coronal, 2 sagittal), slice index, refine mode, 0.
        pub plane: [u32; 4],
        /// Volume shape x, y, z, 0.
        pub shape: [u32; 4],
        /// View width and height (points), mm per point, pixels per point.
        pub view: [f32; 4],
        /// Plane centre u, v (mm), voxel spacing along u, v (mm).
        pub center: [f32; 4],
        /// Window low, high (normalised intensity), threshold, top of the colour bar.
        pub window: [f32; 4],
        /// Colour of each layer (rgb, 0..1 in sRGB); index 5 is the upper-bound contour.
        pub layer_color: [[f32; 4]; 8],
        /// Per layer: opacity (0 hidden), contour (1) or fill (0), line width (pixels), 0.
        pub layer_style: [[f32; 4]; 8],
    }

    const _: () = assert!(std::mem::size_of::<SliceUniforms>() == 336);
    const _: () = assert!(std::mem::size_of::<SliceUniforms>() as u64 <= super::SLOT_STRIDE);
}

pub use gpu_data::SliceUniforms;

// ----------------------------------------------------------------------------
// Geometry

/// The three slice orientations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SliceAxis {
    /// A z slice, showing y down and x across.
    Axial,
    /// A y slice, showing z down and x across.
    Coronal,
    /// An x slice, showing z down and y across.
    Sagittal,
}

impl SliceAxis {
    /// All three, in the order of the 2x2 grid.
    pub const ALL: [SliceAxis; 3] = [SliceAxis::Axial, SliceAxis::Coronal, SliceAxis::Sagittal];

    /// The (z, y, x) component this axis fixes: 0 for axial, 1 coronal, 2 sagittal.
    #[inline]
    pub fn index(self) -> usize {
        match self {
            SliceAxis::Axial => 0,
            SliceAxis::Coronal => 1,
            SliceAxis::Sagittal => 2,
        }
    }

    /// The (z, y, x) components shown across (u) and down (v).
    #[inline]
    pub fn plane_axes(self) -> [usize; 2] {
        match self {
            SliceAxis::Axial => [2, 1],
            SliceAxis::Coronal => [2, 0],
            SliceAxis::Sagittal => [1, 0],
        }
    }

    /// The view's name.
    pub fn name(self) -> &'static str {
        match self {
            SliceAxis::Axial => "Axial (z)",
            SliceAxis::Coronal => "Coronal (y)",
            SliceAxis::Sagittal => "Sagittal (x)",
        }
    }
}

/// Where a slice view looks: the mapping between its rectangle (points, from the centre,
/// y down) and the volume's voxels, honouring the voxel spacing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SliceGeometry {
    /// The orientation.
    pub axis: SliceAxis,
    /// Volume shape z, y, x.
    pub shape: Shape,
    /// Voxel spacing z, y, x in mm (or any one unit; 1 when unknown).
    pub spacing_mm: [f32; 3],
    /// View size in points.
    pub size_points: [f32; 2],
    /// Magnification over "fit the slice in the view".
    pub zoom: f32,
    /// Pan of the plane centre, mm along u and v.
    pub pan_mm: [f32; 2],
}

impl SliceGeometry {
    /// The slice's size along u and v in mm.
    pub fn extent_mm(&self) -> [f32; 2] {
        let [u, v] = self.axis.plane_axes();
        [
            self.shape[u] as f32 * self.spacing_mm[u],
            self.shape[v] as f32 * self.spacing_mm[v],
        ]
    }

    /// Millimetres per point of the view.
    pub fn mm_per_point(&self) -> f32 {
        let [eu, ev] = self.extent_mm();
        let fit = (eu / self.size_points[0].max(1.0)).max(ev / self.size_points[1].max(1.0));
        fit / self.zoom.max(1e-3)
    }

    /// The plane position (mm along u, v) at the view's centre.
    pub fn center_mm(&self) -> [f32; 2] {
        let [eu, ev] = self.extent_mm();
        [eu * 0.5 + self.pan_mm[0], ev * 0.5 + self.pan_mm[1]]
    }

    /// The voxel (z, y, x) under a point of the view (offset from its centre, in points) on
    /// slice `slice`, or `None` outside the volume.
    pub fn voxel_at(&self, offset_points: [f32; 2], slice: usize) -> Option<[usize; 3]> {
        let [u, v] = self.axis.plane_axes();
        let center = self.center_mm();
        let scale = self.mm_per_point();
        let pos_u = (center[0] + offset_points[0] * scale) / self.spacing_mm[u];
        let pos_v = (center[1] + offset_points[1] * scale) / self.spacing_mm[v];
        if pos_u < 0.0 || pos_v < 0.0 {
            return None;
        }
        let (cell_u, cell_v) = (pos_u as usize, pos_v as usize);
        if cell_u >= self.shape[u] || cell_v >= self.shape[v] {
            return None;
        }
        let mut voxel = [0; 3];
        voxel[self.axis.index()] = slice;
        voxel[u] = cell_u;
        voxel[v] = cell_v;
        Some(voxel)
    }

    /// The view offset (points from the centre) of the centre of voxel `voxel` (z, y, x).
    pub fn offset_of(&self, voxel: [usize; 3]) -> [f32; 2] {
        let [u, v] = self.axis.plane_axes();
        let center = self.center_mm();
        let scale = self.mm_per_point();
        [
            ((voxel[u] as f32 + 0.5) * self.spacing_mm[u] - center[0]) / scale,
            ((voxel[v] as f32 + 0.5) * self.spacing_mm[v] - center[1]) / scale,
        ]
    }
}

// ----------------------------------------------------------------------------
// Layers

/// The overlays of a slice view, in drawing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Layer {
    /// The label (ground truth) loaded with the image.
    Label,
    /// The network's prediction (mean probability above 0.5).
    Prediction,
    /// The lower and upper bound segmentations: the band between is the confidence interval.
    Bounds,
    /// The uncertainty map, through the colormap.
    Uncertainty,
    /// The prediction refined by uncertainty at the current threshold.
    Refined,
}

impl Layer {
    /// All layers, in drawing order.
    pub const ALL: [Layer; 5] = [
        Layer::Label,
        Layer::Prediction,
        Layer::Bounds,
        Layer::Uncertainty,
        Layer::Refined,
    ];

    /// The layer's name in the UI.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Label => "Label",
            Layer::Prediction => "Prediction",
            Layer::Bounds => "Lower / upper bound",
            Layer::Uncertainty => "Uncertainty",
            Layer::Refined => "Refined",
        }
    }

    /// The layer's colour (sRGB bytes); for the bounds, the lower contour and the band.
    pub fn color(self) -> [u8; 3] {
        match self {
            Layer::Label => [255, 214, 10],
            Layer::Prediction => [60, 220, 90],
            Layer::Bounds => [70, 150, 255],
            Layer::Uncertainty => [255, 255, 255],
            Layer::Refined => [240, 70, 160],
        }
    }

    /// The upper-bound contour's colour.
    pub const UPPER_COLOR: [u8; 3] = [255, 120, 30];

    /// The default style: label and bounds as contours, the rest as fills.
    pub fn default_style(self) -> LayerStyle {
        LayerStyle {
            visible: !matches!(self, Layer::Prediction),
            opacity: match self {
                Layer::Uncertainty => 0.75,
                Layer::Refined => 0.45,
                _ => 0.9,
            },
            contour: matches!(self, Layer::Label | Layer::Bounds),
        }
    }
}

/// How one layer is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerStyle {
    /// Drawn at all.
    pub visible: bool,
    /// Opacity, 0 to 1.
    pub opacity: f32,
    /// Draw the outline instead of filling (segmentation layers).
    pub contour: bool,
}

/// What a slice view needs besides its geometry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SliceStyle {
    /// Window in normalised intensity (0 = the volume's minimum, 1 its maximum).
    pub window: [f32; 2],
    /// Refinement threshold.
    pub threshold: f32,
    /// Refinement mode.
    pub mode: RefineMode,
    /// The uncertainty at the top of the colour bar.
    pub uncertainty_max: f32,
    /// One style per [`Layer::ALL`]; layers with no data must come in hidden.
    pub layers: [LayerStyle; 5],
    /// Pixels per point of the screen.
    pub pixels_per_point: f32,
}

impl SliceUniforms {
    /// The uniforms of slice `slice` of a view.
    pub fn new(geometry: &SliceGeometry, slice: usize, style: &SliceStyle) -> SliceUniforms {
        let [u, v] = geometry.axis.plane_axes();
        let center = geometry.center_mm();
        let mut layer_color = [[0.0; 4]; 8];
        let mut layer_style = [[0.0; 4]; 8];
        let rgb = |c: [u8; 3]| {
            [
                c[0] as f32 / 255.0,
                c[1] as f32 / 255.0,
                c[2] as f32 / 255.0,
                1.0,
            ]
        };
        for (i, layer) in Layer::ALL.iter().enumerate() {
            let s = style.layers[i];
            layer_color[i] = rgb(layer.color());
            layer_style[i] = [
                if s.visible {
                    s.opacity.clamp(0.0, 1.0)
                } else {
                    0.0
                },
                if s.contour { 1.0 } else { 0.0 },
                1.5 * style.pixels_per_point,
                0.0,
            ];
        }
        layer_color[5] = rgb(Layer::UPPER_COLOR);
        let [d, h, w] = geometry.shape;
        SliceUniforms {
            plane: [
                geometry.axis.index() as u32,
                slice as u32,
                mode_index(style.mode),
                0,
            ],
            shape: [w as u32, h as u32, d as u32, 0],
            view: [
                geometry.size_points[0],
                geometry.size_points[1],
                geometry.mm_per_point(),
                style.pixels_per_point,
            ],
            center: [
                center[0],
                center[1],
                geometry.spacing_mm[u],
                geometry.spacing_mm[v],
            ],
            window: [
                style.window[0],
                style.window[1],
                style.threshold,
                style.uncertainty_max,
            ],
            layer_color,
            layer_style,
        }
    }
}

/// The shader's number for a refinement mode.
pub fn mode_index(mode: RefineMode) -> u32 {
    match mode {
        RefineMode::Remove => 0,
        RefineMode::Add => 1,
        RefineMode::Flag => 2,
    }
}

// ----------------------------------------------------------------------------
// Renderer

/// Draws slices; created once per wgpu device.
pub struct SliceRenderer {
    pipeline: wgpu::RenderPipeline,
    bind_group_layout: wgpu::BindGroupLayout,
    uniforms: wgpu::Buffer,
    bind_group: Option<(u64, wgpu::BindGroup)>,
}

impl SliceRenderer {
    /// Builds the pipeline for targets of `format`.
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> SliceRenderer {
        let source = super::shader_source(include_str!("../../shaders/slice.wgsl"));
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("SliceRenderer::shader"),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let texture = |binding, sample_type, dimension| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type,
                view_dimension: dimension,
                multisampled: false,
            },
            count: None,
        };
        let unfiltered = wgpu::TextureSampleType::Float { filterable: false };
        let d3 = wgpu::TextureViewDimension::D3;
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("SliceRenderer::bind_group_layout"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: true,
                        min_binding_size: wgpu::BufferSize::new(
                            std::mem::size_of::<SliceUniforms>() as u64,
                        ),
                    },
                    count: None,
                },
                texture(1, unfiltered, d3),
                texture(2, unfiltered, d3),
                texture(3, wgpu::TextureSampleType::Uint, d3),
                texture(4, unfiltered, wgpu::TextureViewDimension::D2),
            ],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("SliceRenderer::pipeline_layout"),
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let pipeline =
            super::fullscreen_pipeline(device, &layout, &module, format, "SliceRenderer");
        let uniforms = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("SliceRenderer::uniforms"),
            size: SLOT_STRIDE * u64::from(SLICE_SLOTS),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        SliceRenderer {
            pipeline,
            bind_group_layout,
            uniforms,
            bind_group: None,
        }
    }

    /// Uploads the uniforms of slot `slot` and (re)binds the textures if they changed.
    pub fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        textures: &VolumeTextures,
        colormap: &wgpu::TextureView,
        slot: u32,
        uniforms: &SliceUniforms,
    ) {
        if slot >= SLICE_SLOTS {
            tracing::error!("BUG: slice slot {slot} out of {SLICE_SLOTS}");
            return;
        }
        if self.bind_group.as_ref().map(|(g, _)| *g) != Some(textures.generation) {
            let bind_group =
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("SliceRenderer::bind_group"),
                    layout: &self.bind_group_layout,
                    entries: &[
                        wgpu::BindGroupEntry {
                            binding: 0,
                            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer: &self.uniforms,
                                offset: 0,
                                size: wgpu::BufferSize::new(
                                    std::mem::size_of::<SliceUniforms>() as u64
                                ),
                            }),
                        },
                        wgpu::BindGroupEntry {
                            binding: 1,
                            resource: wgpu::BindingResource::TextureView(&textures.intensity),
                        },
                        wgpu::BindGroupEntry {
                            binding: 2,
                            resource: wgpu::BindingResource::TextureView(&textures.uncertainty),
                        },
                        wgpu::BindGroupEntry {
                            binding: 3,
                            resource: wgpu::BindingResource::TextureView(&textures.flags),
                        },
                        wgpu::BindGroupEntry {
                            binding: 4,
                            resource: wgpu::BindingResource::TextureView(colormap),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(axis: SliceAxis) -> SliceGeometry {
        SliceGeometry {
            axis,
            shape: [10, 20, 40],
            spacing_mm: [2.0, 1.0, 1.0],
            size_points: [400.0, 400.0],
            zoom: 1.0,
            pan_mm: [0.0, 0.0],
        }
    }

    #[test]
    fn voxel_at_inverts_offset_of() {
        for axis in SliceAxis::ALL {
            let g = geometry(axis);
            let voxel = [3, 7, 11];
            let offset = g.offset_of(voxel);
            let back = g.voxel_at(offset, voxel[axis.index()]);
            assert_eq!(back, Some(voxel), "{axis:?}");
        }
    }

    #[test]
    fn anisotropic_voxels_keep_their_physical_aspect() {
        // Coronal: x across (40 voxels of 1 mm), z down (10 voxels of 2 mm).
        let g = geometry(SliceAxis::Coronal);
        assert_eq!(g.extent_mm(), [40.0, 20.0]);
        let a = g.offset_of([0, 0, 0]);
        let b = g.offset_of([1, 0, 1]);
        // One z step is twice as tall on screen as one x step is wide.
        assert!(((b[1] - a[1]) - 2.0 * (b[0] - a[0])).abs() < 1e-4);
        assert_eq!(g.voxel_at([-1000.0, 0.0], 0), None);
    }
}
