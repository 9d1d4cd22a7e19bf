//! GPU rendering of the viewer: the volume and its maps in 3D textures, a slice renderer and a
//! raycast renderer, each owning its pipeline, and the egui paint callbacks that carry only
//! parameters to them.
//!
//! All GPU objects live in one [`ViewerGpu`] kept in egui_wgpu's callback resources. The same
//! renderers draw offscreen ([`offscreen`]) for the tests and the frame-time benchmark.

pub mod offscreen;
pub mod raycast;
pub mod slice;
pub mod textures;

use eframe::egui;
use eframe::egui_wgpu::{self, wgpu};

pub use raycast::{OrbitCamera, RaycastRenderer, RaycastStyle, RaycastUniforms, RenderMode};
pub use slice::SliceUniforms;
pub use slice::{Layer, LayerStyle, SliceAxis, SliceGeometry, SliceRenderer, SliceStyle};
pub use textures::VolumeTextures;

/// Colours of the uncertainty colormap (perceptually uniform), as sRGB bytes.
pub const COLORMAP: colorous::Gradient = colorous::VIRIDIS;

/// Texels of the colormap texture.
pub const COLORMAP_TEXELS: usize = 256;

/// The colormap at `t` in [0, 1], sRGB bytes.
pub fn colormap_rgb(t: f32) -> [u8; 3] {
    let color = COLORMAP.eval_continuous(f64::from(t.clamp(0.0, 1.0)));
    [color.r, color.g, color.b]
}

/// A renderer's WGSL with the shared helpers of `shaders/common.wgsl` in front.
pub fn shader_source(own: &str) -> String {
    format!("{}\n{}", include_str!("../../shaders/common.wgsl"), own)
}

/// A pipeline drawing the full-screen triangle of `shaders/common.wgsl` with the fragment
/// shader `fs_main` of `module`.
fn fullscreen_pipeline(
    device: &wgpu::Device,
    layout: &wgpu::PipelineLayout,
    module: &wgpu::ShaderModule,
    format: wgpu::TextureFormat,
    name: &str,
) -> wgpu::RenderPipeline {
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(&format!("{name}::pipeline")),
        layout: Some(layout),
        vertex: wgpu::VertexState {
            module,
            entry_point: Some("vs_main"),
            compilation_options: Default::default(),
            buffers: &[],
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module,
            entry_point: Some("fs_main"),
            compilation_options: Default::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format,
                blend: None,
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    })
}

// ----------------------------------------------------------------------------

/// Every GPU object of the viewer, kept in egui_wgpu's callback resources.
pub struct ViewerGpu {
    /// The volume's textures, once a volume is loaded.
    pub textures: Option<VolumeTextures>,
    /// The slice renderer.
    pub slice: SliceRenderer,
    /// The raycast renderer.
    pub raycast: RaycastRenderer,
    colormap: wgpu::TextureView,
}

impl ViewerGpu {
    /// Creates the renderers for targets of `format`.
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue, format: wgpu::TextureFormat) -> Self {
        let size = wgpu::Extent3d {
            width: COLORMAP_TEXELS as u32,
            height: 1,
            depth_or_array_layers: 1,
        };
        let colormap = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("ViewerGpu::colormap"),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        let texels: Vec<[u8; 4]> = (0..COLORMAP_TEXELS)
            .map(|i| {
                let [r, g, b] = colormap_rgb(i as f32 / (COLORMAP_TEXELS - 1) as f32);
                [r, g, b, 255]
            })
            .collect();
        queue.write_texture(
            colormap.as_image_copy(),
            bytemuck::cast_slice(&texels),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(4 * COLORMAP_TEXELS as u32),
                rows_per_image: Some(1),
            },
            size,
        );
        ViewerGpu {
            textures: None,
            slice: SliceRenderer::new(device, format),
            raycast: RaycastRenderer::new(device, queue, format),
            colormap: colormap.create_view(&Default::default()),
        }
    }

    /// Creates the renderers for egui's target and keeps them in its callback resources.
    pub fn install(render_state: &egui_wgpu::RenderState) {
        let gpu = ViewerGpu::new(
            &render_state.device,
            &render_state.queue,
            render_state.target_format,
        );
        render_state.renderer.write().callback_resources.insert(gpu);
    }

    /// Uploads a slice view's uniforms into `slot`.
    pub fn prepare_slice(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        slot: u32,
        uniforms: &SliceUniforms,
    ) {
        if let Some(textures) = &self.textures {
            self.slice
                .prepare(device, queue, textures, &self.colormap, slot, uniforms);
        }
    }

    /// Uploads the 3D view's uniforms into `slot` and its transfer function.
    pub fn prepare_raycast(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        slot: u32,
        uniforms: &RaycastUniforms,
        transfer: &[raycast::TransferPoint],
    ) {
        self.raycast.set_transfer(queue, transfer);
        if let Some(textures) = &self.textures {
            self.raycast
                .prepare(device, queue, textures, &self.colormap, slot, uniforms);
        }
    }
}

// ----------------------------------------------------------------------------

/// The paint callback of a slice view: parameters only.
pub struct SliceCallback {
    /// Uniform slot of the view.
    pub slot: u32,
    /// The view's uniforms.
    pub uniforms: SliceUniforms,
}

impl egui_wgpu::CallbackTrait for SliceCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen_descriptor: &egui_wgpu::ScreenDescriptor,
        _egui_encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(gpu) = resources.get_mut::<ViewerGpu>() {
            gpu.prepare_slice(device, queue, self.slot, &self.uniforms);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(gpu) = resources.get::<ViewerGpu>()
            && gpu.textures.is_some()
        {
            gpu.slice.paint(render_pass, self.slot);
        }
    }
}

/// The paint callback of the 3D view: parameters only.
pub struct RaycastCallback {
    /// Uniform slot of the view.
    pub slot: u32,
    /// The view's uniforms.
    pub uniforms: RaycastUniforms,
    /// The transfer function's control points (uploaded when they change).
    pub transfer: Vec<raycast::TransferPoint>,
}

impl egui_wgpu::CallbackTrait for RaycastCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen_descriptor: &egui_wgpu::ScreenDescriptor,
        _egui_encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(gpu) = resources.get_mut::<ViewerGpu>() {
            gpu.prepare_raycast(device, queue, self.slot, &self.uniforms, &self.transfer);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(gpu) = resources.get::<ViewerGpu>()
            && gpu.textures.is_some()
        {
            gpu.raycast.paint(render_pass, self.slot);
        }
    }
}
