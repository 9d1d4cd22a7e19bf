// Shared helpers of the slice and raycast shaders; prepended to each by the renderers.

// Maps a normalised intensity to grey through the window [low, high].
fn window_grey(value: f32, low: f32, high: f32) -> f32 {
    return clamp((value - low) / max(high - low, 1e-6), 0.0, 1.0);
}

// The colormap (256 x 1, sRGB bytes) at t in [0, 1].
fn colormap_at(colormap: texture_2d<f32>, t: f32) -> vec3<f32> {
    let texel = i32(clamp(t, 0.0, 1.0) * 255.0 + 0.5);
    return textureLoad(colormap, vec2<i32>(texel, 0), 0).rgb;
}

// The refined segmentation of one voxel, exactly as `refine::refine_voxel`:
// mode 0 remove, 1 add, 2 flag.
fn refine_voxel(predicted: bool, uncertainty: f32, threshold: f32, mode: u32) -> bool {
    let uncertain = uncertainty > threshold;
    switch mode {
        case 0u: { return predicted && !uncertain; }
        case 1u: { return predicted || uncertain; }
        default: { return uncertain; }
    }
}

// Flag bits of the segmentation texture.
const FLAG_LABEL: u32 = 1u;
const FLAG_PREDICTION: u32 = 2u;
const FLAG_LOWER: u32 = 4u;
const FLAG_UPPER: u32 = 8u;

// A triangle covering the viewport; uv is (0, 0) at the top left, (1, 1) at the bottom right.
struct FullscreenOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
}

@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> FullscreenOut {
    let uv = vec2<f32>(f32((index << 1u) & 2u), f32(index & 2u));
    var out: FullscreenOut;
    out.position = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.uv = uv;
    return out;
}
