//! The volume and its result maps as wgpu 3D textures, shared by the slice and raycast
//! renderers.
//!
//! | texture       | format      | holds                                                     |
//! |---------------|-------------|-----------------------------------------------------------|
//! | `intensity`   | R16Float    | the image, normalised to [0, 1] by its range (filterable)  |
//! | `uncertainty` | R32Float    | the uncertainty map, exact, so that refinement matches CPU |
//! | `probability` | Rgba8Unorm  | mean, lower and upper probability (filterable)             |
//! | `flags`       | R8Uint      | bits: label, prediction, lower and upper bound segmentation|
//!
//! The refined segmentation is no texture: the shaders compute it from the prediction and
//! uncertainty, so that it follows the threshold slider at no upload cost.

use eframe::egui_wgpu::wgpu;

use crate::volume::Shape;

/// Flag bit of the label in the `flags` texture.
pub const FLAG_LABEL: u8 = 1;
/// Flag bit of the prediction.
pub const FLAG_PREDICTION: u8 = 2;
/// Flag bit of the lower-bound segmentation.
pub const FLAG_LOWER: u8 = 4;
/// Flag bit of the upper-bound segmentation.
pub const FLAG_UPPER: u8 = 8;

/// Most bytes sent to the GPU in one `write_texture` call: big volumes go up in slabs.
const MAX_UPLOAD_BYTES: usize = 64 << 20;

/// The 3D textures of one volume.
pub struct VolumeTextures {
    /// Shape z, y, x.
    pub shape: Shape,
    /// Changes whenever a texture is replaced, so that renderers rebuild their bind groups.
    pub generation: u64,
    /// Normalised intensity.
    pub intensity: wgpu::TextureView,
    /// Uncertainty.
    pub uncertainty: wgpu::TextureView,
    /// Mean, lower, upper probability.
    pub probability: wgpu::TextureView,
    /// Segmentation bits.
    pub flags: wgpu::TextureView,
    textures: [wgpu::Texture; 4],
}

impl VolumeTextures {
    /// Creates the textures of a volume of `shape` (all zero, which reads as "no label and no
    /// results") and uploads the normalised intensity as f16 bits.
    ///
    /// # Errors
    /// A shape the device cannot hold as a 3D texture.
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        shape: Shape,
        intensity_f16: &[u16],
        generation: u64,
    ) -> Result<VolumeTextures, String> {
        let limit = device.limits().max_texture_dimension_3d as usize;
        if shape.iter().any(|&side| side == 0 || side > limit) {
            return Err(format!(
                "a volume of shape {shape:?} does not fit in a 3D texture \
                 (at most {limit} per side)"
            ));
        }
        let make = |label: &str, format: wgpu::TextureFormat| {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size: extent(shape),
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D3,
                format,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            })
        };
        let textures = [
            make("VolumeTextures::intensity", wgpu::TextureFormat::R16Float),
            make("VolumeTextures::uncertainty", wgpu::TextureFormat::R32Float),
            make(
                "VolumeTextures::probability",
                wgpu::TextureFormat::Rgba8Unorm,
            ),
            make("VolumeTextures::flags", wgpu::TextureFormat::R8Uint),
        ];
        let view = |texture: &wgpu::Texture| texture.create_view(&Default::default());
        let this = VolumeTextures {
            shape,
            generation,
            intensity: view(&textures[0]),
            uncertainty: view(&textures[1]),
            probability: view(&textures[2]),
            flags: view(&textures[3]),
            textures,
        };
        this.write_intensity(queue, intensity_f16);
        Ok(this)
    }

    /// Uploads the normalised intensity (f16 bits, one per voxel).
    pub fn write_intensity(&self, queue: &wgpu::Queue, intensity_f16: &[u16]) {
        write_3d(
            queue,
            &self.textures[0],
            bytemuck::cast_slice(intensity_f16),
            self.shape,
            2,
        );
    }

    /// Uploads the uncertainty map.
    pub fn write_uncertainty(&self, queue: &wgpu::Queue, uncertainty: &[f32]) {
        write_3d(
            queue,
            &self.textures[1],
            bytemuck::cast_slice(uncertainty),
            self.shape,
            4,
        );
    }

    /// Uploads mean, lower and upper probability, four bytes per voxel (the fourth unused).
    pub fn write_probability(&self, queue: &wgpu::Queue, rgba: &[[u8; 4]]) {
        write_3d(
            queue,
            &self.textures[2],
            bytemuck::cast_slice(rgba),
            self.shape,
            4,
        );
    }

    /// Uploads the segmentation bits ([`FLAG_LABEL`] ...).
    pub fn write_flags(&self, queue: &wgpu::Queue, flags: &[u8]) {
        write_3d(queue, &self.textures[3], flags, self.shape, 1);
    }
}

/// The texture size of a volume of shape z, y, x.
fn extent(shape: Shape) -> wgpu::Extent3d {
    wgpu::Extent3d {
        width: shape[2] as u32,
        height: shape[1] as u32,
        depth_or_array_layers: shape[0] as u32,
    }
}

/// Uploads a whole 3D texture from z, y, x ordered texels, in slabs of whole z slices. A
/// wrong length is a bug in the caller and is logged, not uploaded.
fn write_3d(
    queue: &wgpu::Queue,
    texture: &wgpu::Texture,
    bytes: &[u8],
    shape: Shape,
    bytes_per_texel: usize,
) {
    let [depth, height, width] = shape;
    let slice_bytes = width * height * bytes_per_texel;
    if bytes.len() != slice_bytes * depth {
        tracing::error!(
            "BUG: {} bytes for a texture of shape {shape:?} with {bytes_per_texel} bytes a texel",
            bytes.len()
        );
        return;
    }
    let slices_per_slab = (MAX_UPLOAD_BYTES / slice_bytes.max(1)).max(1);
    let mut z = 0;
    while z < depth {
        let count = slices_per_slab.min(depth - z);
        let slab = &bytes[z * slice_bytes..(z + count) * slice_bytes];
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: wgpu::Origin3d {
                    x: 0,
                    y: 0,
                    z: z as u32,
                },
                aspect: wgpu::TextureAspect::All,
            },
            slab,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some((width * bytes_per_texel) as u32),
                rows_per_image: Some(height as u32),
            },
            wgpu::Extent3d {
                width: width as u32,
                height: height as u32,
                depth_or_array_layers: count as u32,
            },
        );
        z += count;
    }
}
