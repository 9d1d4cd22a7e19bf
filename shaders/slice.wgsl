// One slice of the volume with its overlays. Twin of `render::slice::gpu_data::SliceUniforms`.

struct SliceUniforms {
    // axis (0 axial, 1 coronal, 2 sagittal), slice index, refine mode, 0
    plane: vec4<u32>,
    // volume shape x, y, z, 0
    shape: vec4<u32>,
    // view width and height (points), mm per point, pixels per point
    view: vec4<f32>,
    // plane centre u, v (mm), voxel spacing along u, v (mm)
    center: vec4<f32>,
    // window low, high (normalised intensity), refine threshold, uncertainty at the top of
    // the colour bar
    window: vec4<f32>,
    // per layer: colour (rgb)
    layer_color: array<vec4<f32>, 8>,
    // per layer: opacity (0 hidden), contour (1) or fill (0), line width (pixels), 0
    layer_style: array<vec4<f32>, 8>,
}

// Layers, as `render::slice::Layer`.
const LAYER_LABEL: u32 = 0u;
const LAYER_PREDICTION: u32 = 1u;
const LAYER_BOUNDS: u32 = 2u;
const LAYER_UNCERTAINTY: u32 = 3u;
const LAYER_REFINED: u32 = 4u;
// Colour of the upper-bound contour (the lower one uses LAYER_BOUNDS' colour).
const COLOR_UPPER: u32 = 5u;

// Segmentations the shader can test.
const SEG_LABEL: u32 = 0u;
const SEG_PREDICTION: u32 = 1u;
const SEG_LOWER: u32 = 2u;
const SEG_UPPER: u32 = 3u;
const SEG_REFINED: u32 = 4u;
const SEG_BAND: u32 = 5u;

@group(0) @binding(0) var<uniform> u: SliceUniforms;
@group(0) @binding(1) var intensity_texture: texture_3d<f32>;
@group(0) @binding(2) var uncertainty_texture: texture_3d<f32>;
@group(0) @binding(3) var flags_texture: texture_3d<u32>;
@group(0) @binding(4) var colormap_texture: texture_2d<f32>;

// The voxel (x, y, z) at in-plane cell (u, v) of the current slice.
fn voxel_of(cell: vec2<i32>) -> vec3<i32> {
    let slice = i32(u.plane.y);
    switch u.plane.x {
        case 0u: { return vec3<i32>(cell.x, cell.y, slice); }
        case 1u: { return vec3<i32>(cell.x, slice, cell.y); }
        default: { return vec3<i32>(slice, cell.x, cell.y); }
    }
}

fn inside(voxel: vec3<i32>) -> bool {
    return all(voxel >= vec3<i32>(0)) && all(voxel < vec3<i32>(u.shape.xyz));
}

fn segmented(seg: u32, voxel: vec3<i32>) -> bool {
    if !inside(voxel) {
        return false;
    }
    let flags = textureLoad(flags_texture, voxel, 0).r;
    switch seg {
        case 0u: { return (flags & FLAG_LABEL) != 0u; }
        case 1u: { return (flags & FLAG_PREDICTION) != 0u; }
        case 2u: { return (flags & FLAG_LOWER) != 0u; }
        case 3u: { return (flags & FLAG_UPPER) != 0u; }
        case 5u: { return (flags & FLAG_UPPER) != 0u && (flags & FLAG_LOWER) == 0u; }
        default: {
            let uncertainty = textureLoad(uncertainty_texture, voxel, 0).r;
            return refine_voxel((flags & FLAG_PREDICTION) != 0u, uncertainty, u.window.z,
                u.plane.z);
        }
    }
}

// Whether this fragment lies on the inner edge of segmentation `seg`: within `width` pixels
// of a face of its voxel whose neighbour is outside the segmentation.
fn on_edge(seg: u32, cell: vec2<i32>, frac: vec2<f32>, pixels_per_voxel: vec2<f32>,
    width: f32) -> bool {
    if !segmented(seg, voxel_of(cell)) {
        return false;
    }
    let near_low = frac * pixels_per_voxel < vec2<f32>(width);
    let near_high = (vec2<f32>(1.0) - frac) * pixels_per_voxel < vec2<f32>(width);
    return (near_low.x && !segmented(seg, voxel_of(cell - vec2<i32>(1, 0))))
        || (near_high.x && !segmented(seg, voxel_of(cell + vec2<i32>(1, 0))))
        || (near_low.y && !segmented(seg, voxel_of(cell - vec2<i32>(0, 1))))
        || (near_high.y && !segmented(seg, voxel_of(cell + vec2<i32>(0, 1))));
}

// Blends layer `layer` (segmentation `seg`) over `color`, as fill or contour.
fn blend_segmentation(color: vec3<f32>, layer: u32, seg: u32, color_index: u32,
    cell: vec2<i32>, frac: vec2<f32>, pixels_per_voxel: vec2<f32>, contour: bool) -> vec3<f32> {
    let style = u.layer_style[layer];
    if style.x <= 0.0 {
        return color;
    }
    var hit = false;
    if contour {
        hit = on_edge(seg, cell, frac, pixels_per_voxel, style.z);
    } else {
        hit = segmented(seg, voxel_of(cell));
    }
    if hit {
        return mix(color, u.layer_color[color_index].rgb, style.x);
    }
    return color;
}

@fragment
fn fs_main(in: FullscreenOut) -> @location(0) vec4<f32> {
    let offset_points = (in.uv - vec2<f32>(0.5)) * u.view.xy;
    let plane_mm = u.center.xy + offset_points * u.view.z;
    let pos_in_voxels = plane_mm / u.center.zw;
    let cell = vec2<i32>(floor(pos_in_voxels));
    let voxel = voxel_of(cell);
    if !inside(voxel) {
        return vec4<f32>(0.05, 0.05, 0.06, 1.0);
    }
    let frac = pos_in_voxels - floor(pos_in_voxels);
    let pixels_per_voxel = u.center.zw / u.view.z * u.view.w;

    let intensity = textureLoad(intensity_texture, voxel, 0).r;
    var color = vec3<f32>(window_grey(intensity, u.window.x, u.window.y));

    let uncertainty_style = u.layer_style[LAYER_UNCERTAINTY];
    if uncertainty_style.x > 0.0 {
        let uncertainty = textureLoad(uncertainty_texture, voxel, 0).r;
        let t = clamp(uncertainty / max(u.window.w, 1e-6), 0.0, 1.0);
        // Certain voxels stay clear so that the image shows through.
        let alpha = uncertainty_style.x * smoothstep(0.0, 0.08, t);
        color = mix(color, colormap_at(colormap_texture, t), alpha);
    }

    let label_contour = u.layer_style[LAYER_LABEL].y > 0.5;
    color = blend_segmentation(color, LAYER_LABEL, SEG_LABEL, LAYER_LABEL, cell, frac,
        pixels_per_voxel, label_contour);
    let prediction_contour = u.layer_style[LAYER_PREDICTION].y > 0.5;
    color = blend_segmentation(color, LAYER_PREDICTION, SEG_PREDICTION, LAYER_PREDICTION, cell,
        frac, pixels_per_voxel, prediction_contour);
    if u.layer_style[LAYER_BOUNDS].y > 0.5 {
        // Two contours: the band between them is the confidence interval.
        color = blend_segmentation(color, LAYER_BOUNDS, SEG_UPPER, COLOR_UPPER, cell, frac,
            pixels_per_voxel, true);
        color = blend_segmentation(color, LAYER_BOUNDS, SEG_LOWER, LAYER_BOUNDS, cell, frac,
            pixels_per_voxel, true);
    } else {
        color = blend_segmentation(color, LAYER_BOUNDS, SEG_BAND, LAYER_BOUNDS, cell, frac,
            pixels_per_voxel, false);
    }
    let refined_contour = u.layer_style[LAYER_REFINED].y > 0.5;
    color = blend_segmentation(color, LAYER_REFINED, SEG_REFINED, LAYER_REFINED, cell, frac,
        pixels_per_voxel, refined_contour);
    return vec4<f32>(color, 1.0);
}
