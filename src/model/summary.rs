//! A Keras-style model summary: each layer with its output shape and parameter count, and the
//! totals, for a given chunk shape. Backs `ctuq model --variant bcnn|mcdn`.
//!
//! Computed from the configuration alone (no tensors are built), so it is instant even for the
//! full network; a test checks its totals against the real module's parameter count.

use std::fmt;

use super::{ModelConfig, ModelError, SIDE_MULTIPLE, Variant, check_chunk_shape};

/// One row of the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerRow {
    /// Dotted path, e.g. `decoder.stage1.conv_2`.
    pub name: String,
    /// What the layer does, e.g. `Flipout k3 + ReLU + GroupNorm`.
    pub kind: String,
    /// Output shape per example: channels, z, y, x (the batch axis is left out).
    pub output_shape: [usize; 4],
    /// Trainable parameters of this row.
    pub params: usize,
}

/// The layer table of a network for one chunk shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummary {
    /// The configuration summarized.
    pub config: ModelConfig,
    /// The chunk shape, z, y, x.
    pub chunk: [usize; 3],
    /// The rows, input first.
    pub rows: Vec<LayerRow>,
}

impl ModelSummary {
    /// Builds the summary of `config` for chunks of `chunk` voxels (z, y, x).
    pub fn new(config: &ModelConfig, chunk: [usize; 3]) -> Result<Self, ModelError> {
        config.validate()?;
        check_chunk_shape(chunk)?;
        let mut rows = Vec::new();
        let mut push = |name: String, kind: &str, channels: usize, side: [usize; 3], params| {
            rows.push(LayerRow {
                name,
                kind: kind.to_string(),
                output_shape: [channels, side[0], side[1], side[2]],
                params,
            });
        };
        let widths = config.widths;
        let half = |side: [usize; 3]| side.map(|s| s / 2);
        let double = |side: [usize; 3]| side.map(|s| s * 2);

        push("input".into(), "Input", 1, chunk, 0);
        let mut side = chunk;
        let mut channels = 1;
        for (i, &width) in widths.iter().enumerate() {
            for block in 0..2 {
                let params = plain_conv_params(channels, width, 3) + norm_params(width);
                let name = format!("encoder.stage{i}.block{block}");
                push(name, "Conv k3 + ReLU + GroupNorm", width, side, params);
                channels = width;
            }
            if i + 1 < widths.len() {
                side = half(side);
                push(
                    format!("encoder.stage{i}.pool"),
                    "MaxPool 2",
                    width,
                    side,
                    0,
                );
            }
        }

        let variant = config.variant;
        let conv_kind = match variant {
            Variant::Bcnn => "Flipout",
            Variant::Mcdn => "Conv",
        };
        let conv_params = |c_in, c_out, k| match variant {
            Variant::Bcnn => flipout_conv_params(c_in, c_out, k),
            Variant::Mcdn => plain_conv_params(c_in, c_out, k),
        };
        let dropout_kind = format!("SpatialDropout {}", config.dropout_rate);
        if variant == Variant::Mcdn {
            push(
                "decoder.bottleneck_dropout".into(),
                &dropout_kind,
                channels,
                side,
                0,
            );
        }
        for j in 0..3 {
            let c = widths[2 - j];
            let stage = format!("decoder.stage{j}");
            side = double(side);
            push(
                format!("{stage}.upsample"),
                "Upsample nearest 2",
                channels,
                side,
                0,
            );
            let params = conv_params(channels, c, 2) + norm_params(c);
            let kind = format!("{conv_kind} k2 + ReLU + GroupNorm");
            push(format!("{stage}.up_conv"), &kind, c, side, params);
            let kind = "Concatenate skip + GroupNorm";
            push(
                format!("{stage}.concat"),
                kind,
                2 * c,
                side,
                norm_params(2 * c),
            );
            let kind = format!("{conv_kind} k3 + ReLU + GroupNorm");
            let params = conv_params(2 * c, c, 3) + norm_params(c);
            push(format!("{stage}.conv_1"), &kind, c, side, params);
            let params = conv_params(c, c, 3) + norm_params(c);
            push(format!("{stage}.conv_2"), &kind, c, side, params);
            if variant == Variant::Mcdn {
                push(format!("{stage}.dropout"), &dropout_kind, c, side, 0);
            }
            channels = c;
        }
        let kind = format!("{conv_kind} k3 + ReLU");
        push(
            "head.conv".into(),
            &kind,
            1,
            side,
            conv_params(channels, 1, 3),
        );
        let kind = format!("{conv_kind} k1 + sigmoid");
        push("head.out".into(), &kind, 1, side, conv_params(1, 1, 1));
        debug_assert_eq!(
            side, chunk,
            "BUG: decoder does not return to the chunk size"
        );
        debug_assert!(chunk.iter().all(|s| s.is_multiple_of(SIDE_MULTIPLE)));

        Ok(Self {
            config: config.clone(),
            chunk,
            rows,
        })
    }

    /// Total trainable parameters (every parameter of this network is trainable).
    pub fn total_params(&self) -> usize {
        self.rows.iter().map(|row| row.params).sum()
    }
}

impl fmt::Display for ModelSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ModelSummary {
            config,
            chunk,
            rows,
        } = self;
        let name_width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(5);
        let kind_width = rows.iter().map(|r| r.kind.len()).max().unwrap_or(0).max(4);
        let shape = |s: [usize; 4]| format!("({}, {}, {}, {})", s[0], s[1], s[2], s[3]);
        let shape_width = rows
            .iter()
            .map(|r| shape(r.output_shape).len())
            .max()
            .unwrap_or(0);
        let shape_width = shape_width.max(12);
        let rule = "-".repeat(name_width + kind_width + shape_width + 16);

        writeln!(
            f,
            "Model: {} widths {:?}, chunk (z, y, x) {:?}",
            config.variant, config.widths, chunk
        )?;
        writeln!(f, "{rule}")?;
        writeln!(
            f,
            "{:name_width$}  {:kind_width$}  {:shape_width$}  {:>10}",
            "Layer", "Type", "Output shape", "Params"
        )?;
        writeln!(f, "{rule}")?;
        for row in rows {
            writeln!(
                f,
                "{:name_width$}  {:kind_width$}  {:shape_width$}  {:>10}",
                row.name,
                row.kind,
                shape(row.output_shape),
                group_thousands(row.params)
            )?;
        }
        writeln!(f, "{rule}")?;
        let total = group_thousands(self.total_params());
        writeln!(f, "Total params: {total}")?;
        writeln!(f, "Trainable params: {total}")?;
        writeln!(f, "Non-trainable params: 0")?;
        write!(f, "Output shapes are (channels, z, y, x) per example.")
    }
}

/// Parameters of a plain convolution with bias.
fn plain_conv_params(c_in: usize, c_out: usize, k: usize) -> usize {
    c_in * c_out * k * k * k + c_out
}

/// Parameters of a Flipout convolution: `mu` and `rho` per kernel element, plus the bias.
fn flipout_conv_params(c_in: usize, c_out: usize, k: usize) -> usize {
    2 * c_in * c_out * k * k * k + c_out
}

/// Parameters of a GroupNorm: a scale and a shift per channel.
fn norm_params(channels: usize) -> usize {
    2 * channels
}

/// Formats 1924964 as `1,924,964`.
pub fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::tensor::Device;

    #[test]
    fn summary_totals_match_the_real_modules() {
        let device = Device::flex();
        for widths in [[16, 32, 64, 128], [4, 8, 16, 32]] {
            for variant in Variant::ALL {
                let config = ModelConfig::new(variant).with_widths(widths);
                let summary = ModelSummary::new(&config, [32, 64, 64]).expect("valid");
                let network = config.init(&device).expect("valid");
                assert_eq!(
                    summary.total_params(),
                    network.num_params(),
                    "{variant} {widths:?}"
                );
            }
        }
    }

    #[test]
    fn summary_prints_the_paper_totals() {
        let bcnn = ModelSummary::new(&ModelConfig::new(Variant::Bcnn), [88, 176, 176]);
        let text = bcnn.expect("valid").to_string();
        assert!(text.contains("Total params: 1,924,964"), "{text}");
        assert!(text.contains("(16, 88, 176, 176)"), "{text}");
        let mcdn = ModelSummary::new(&ModelConfig::new(Variant::Mcdn), [32, 32, 32]);
        let mcdn = mcdn.expect("valid");
        assert_eq!(mcdn.total_params(), 1_403_059);
        assert!(mcdn.to_string().contains("SpatialDropout 0.5"));
        let last = mcdn.rows.last().expect("rows");
        assert_eq!(last.output_shape, [1, 32, 32, 32]);
    }

    #[test]
    fn summary_refuses_bad_chunks() {
        let config = ModelConfig::new(Variant::Bcnn);
        assert!(ModelSummary::new(&config, [30, 32, 32]).is_err());
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(1_924_964), "1,924,964");
    }
}
