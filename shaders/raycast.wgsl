// The 3D view: rays through the volume's box. Twin of
// `render::raycast::gpu_data::RaycastUniforms`.

struct RaycastUniforms {
    // camera position (box units), tan of half the vertical field of view
    eye: vec4<f32>,
    // camera right (unit), aspect ratio (width / height)
    right: vec4<f32>,
    // camera up (unit), 0
    up: vec4<f32>,
    // camera forward (unit), 0
    forward: vec4<f32>,
    // half extent of the box (x, y, z; the longest is 0.5), step length (box units)
    half_extent: vec4<f32>,
    // volume shape x, y, z, whether results are loaded
    shape: vec4<u32>,
    // mode (0 MIP, 1 DVR, 2 iso-surface), window low, high (normalised), iso level
    params: vec4<f32>,
    // uncertainty at the top of the colour bar, 0, 0, 0
    params2: vec4<f32>,
}

@group(0) @binding(0) var<uniform> r: RaycastUniforms;
@group(0) @binding(1) var intensity_texture: texture_3d<f32>;
@group(0) @binding(2) var uncertainty_texture: texture_3d<f32>;
@group(0) @binding(3) var probability_texture: texture_3d<f32>;
@group(0) @binding(4) var colormap_texture: texture_2d<f32>;
@group(0) @binding(5) var transfer_texture: texture_2d<f32>;
@group(0) @binding(6) var linear_sampler: sampler;

const BACKGROUND: vec3<f32> = vec3<f32>(0.05, 0.05, 0.06);

// Entry and exit distances of a ray through the box, or (1, 0) when it misses.
fn ray_box(origin: vec3<f32>, direction: vec3<f32>, half_extent: vec3<f32>) -> vec2<f32> {
    let inverse = 1.0 / direction;
    let t_low = (-half_extent - origin) * inverse;
    let t_high = (half_extent - origin) * inverse;
    let t_near = min(t_low, t_high);
    let t_far = max(t_low, t_high);
    let enter = max(max(t_near.x, t_near.y), max(t_near.z, 0.0));
    let exit = min(min(t_far.x, t_far.y), t_far.z);
    return vec2<f32>(enter, exit);
}

// Texture coordinates of a point of the box.
fn tex_coord(point: vec3<f32>) -> vec3<f32> {
    return (point + r.half_extent.xyz) / (2.0 * r.half_extent.xyz);
}

fn intensity_at(point: vec3<f32>) -> f32 {
    return textureSampleLevel(intensity_texture, linear_sampler, tex_coord(point), 0.0).r;
}

fn mean_at(point: vec3<f32>) -> f32 {
    return textureSampleLevel(probability_texture, linear_sampler, tex_coord(point), 0.0).r;
}

fn uncertainty_at(point: vec3<f32>) -> f32 {
    let shape = vec3<i32>(r.shape.xyz);
    let voxel = clamp(vec3<i32>(tex_coord(point) * vec3<f32>(shape)), vec3<i32>(0),
        shape - vec3<i32>(1));
    return textureLoad(uncertainty_texture, voxel, 0).r;
}

@fragment
fn fs_main(in: FullscreenOut) -> @location(0) vec4<f32> {
    let tan_half = r.eye.w;
    let ndc = vec2<f32>(in.uv.x * 2.0 - 1.0, 1.0 - in.uv.y * 2.0);
    let direction = normalize(r.forward.xyz + ndc.x * tan_half * r.right.w * r.right.xyz
        + ndc.y * tan_half * r.up.xyz);
    let origin = r.eye.xyz;
    let span = ray_box(origin, direction, r.half_extent.xyz);
    if span.x >= span.y {
        return vec4<f32>(BACKGROUND, 1.0);
    }
    let step_length = r.half_extent.w;
    let steps = min(u32((span.y - span.x) / step_length) + 1u, 4096u);
    let mode = u32(r.params.x);
    let low = r.params.y;
    let high = r.params.z;

    if mode == 0u {
        var peak = 0.0;
        for (var i = 0u; i < steps; i++) {
            let point = origin + direction * (span.x + f32(i) * step_length);
            peak = max(peak, intensity_at(point));
        }
        let grey = window_grey(peak, low, high);
        return vec4<f32>(mix(BACKGROUND, vec3<f32>(grey), grey), 1.0);
    }

    if mode == 1u {
        var color = vec3<f32>(0.0);
        var alpha = 0.0;
        // Opacity per sample is defined for a step of 1/256 of the box.
        let exponent = step_length * 256.0;
        for (var i = 0u; i < steps && alpha < 0.98; i++) {
            let point = origin + direction * (span.x + f32(i) * step_length);
            let s = window_grey(intensity_at(point), low, high);
            let tf = textureSampleLevel(transfer_texture, linear_sampler, vec2<f32>(s, 0.5),
                0.0);
            let a = 1.0 - pow(1.0 - clamp(tf.a, 0.0, 0.999), exponent);
            color += (1.0 - alpha) * a * tf.rgb;
            alpha += (1.0 - alpha) * a;
        }
        return vec4<f32>(color + (1.0 - alpha) * BACKGROUND, 1.0);
    }

    // Iso-surface of the mean probability, coloured by uncertainty.
    if r.shape.w == 0u {
        return vec4<f32>(BACKGROUND, 1.0);
    }
    let level = r.params.w;
    // First find the first sample at or above the level, in a loop that does nothing else:
    // software rasterizers run it far faster without the shading inside.
    var hit = steps;
    for (var i = 0u; i < steps; i++) {
        if mean_at(origin + direction * (span.x + f32(i) * step_length)) >= level {
            hit = i;
            break;
        }
    }
    if hit == steps {
        return vec4<f32>(BACKGROUND, 1.0);
    }

    // Bisect between the last sample below the level and the hit.
    var below = span.x + f32(max(hit, 1u) - 1u) * step_length;
    var above = span.x + f32(hit) * step_length;
    for (var k = 0; k < 6; k++) {
        let middle = 0.5 * (below + above);
        if mean_at(origin + direction * middle) >= level {
            above = middle;
        } else {
            below = middle;
        }
    }
    let point = origin + direction * above;
    let h = 1.0 / f32(max(max(r.shape.x, r.shape.y), r.shape.z));
    let gradient = vec3<f32>(
        mean_at(point + vec3<f32>(h, 0.0, 0.0)) - mean_at(point - vec3<f32>(h, 0.0, 0.0)),
        mean_at(point + vec3<f32>(0.0, h, 0.0)) - mean_at(point - vec3<f32>(0.0, h, 0.0)),
        mean_at(point + vec3<f32>(0.0, 0.0, h)) - mean_at(point - vec3<f32>(0.0, 0.0, h)),
    );
    var normal = -direction;
    if length(gradient) > 1e-6 {
        normal = -normalize(gradient);
    }
    let diffuse = abs(dot(normal, -direction));
    let t_color = uncertainty_at(point) / max(r.params2.x, 1e-6);
    let base = colormap_at(colormap_texture, t_color);
    return vec4<f32>(base * (0.25 + 0.75 * diffuse), 1.0);
}
