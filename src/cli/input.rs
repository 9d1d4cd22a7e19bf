//! Options shared by every command that reads a volume: how to read raw binary files and
//! which channel of a hyperstack to take.

use anyhow::{Context, bail};
use clap::Args;

use crate::volume::{ByteOrder, RawSpec, ReadOptions, SampleType, VoxelSize};

/// How to read inputs whose files do not say everything.
#[derive(Debug, Clone, Default, Args)]
pub struct InputArgs {
    /// Read raw binary with this shape, Z,Y,X (x fastest), e.g. 100,512,512.
    #[arg(long, value_name = "Z,Y,X")]
    pub raw_shape: Option<String>,

    /// Sample type of a raw file: u8, u16, u32, u64, i8, i16, i32, i64, f32, f64.
    #[arg(long, value_name = "TYPE", requires = "raw_shape")]
    pub raw_type: Option<String>,

    /// Byte order of a raw file.
    #[arg(long, value_name = "ORDER", default_value = "little", value_parser = ["little", "big"])]
    pub raw_endian: String,

    /// Bytes to skip at the start of a raw file.
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub raw_offset: u64,

    /// Voxel size of a raw file, Z,Y,X.
    #[arg(long, value_name = "Z,Y,X", requires = "raw_shape")]
    pub voxel_size: Option<String>,

    /// Unit of --voxel-size (um, mm, ...).
    #[arg(long, default_value = "um", requires = "voxel_size")]
    pub unit: String,

    /// Channel of an ImageJ hyperstack to read (0-based).
    #[arg(long)]
    pub channel: Option<usize>,

    /// Time point of an ImageJ hyperstack to read (0-based).
    #[arg(long)]
    pub frame: Option<usize>,
}

impl InputArgs {
    /// Checks the options into [`ReadOptions`].
    pub fn read_options(&self) -> anyhow::Result<ReadOptions> {
        let raw = match &self.raw_shape {
            None => None,
            Some(shape) => {
                let shape = parse_triple::<usize>(shape).context("--raw-shape")?;
                if shape.contains(&0) {
                    bail!("--raw-shape {shape:?} has a zero side");
                }
                let Some(type_name) = &self.raw_type else {
                    bail!("--raw-shape needs --raw-type (u8, u16, i16, f32, ...)");
                };
                let sample_type = SampleType::parse(type_name).with_context(|| {
                    format!(
                        "--raw-type {type_name}: use u8, u16, u32, u64, i8, i16, i32, i64, \
                             f32 or f64"
                    )
                })?;
                let voxel_size = match &self.voxel_size {
                    None => VoxelSize::unknown(),
                    Some(text) => {
                        let zyx = parse_triple::<f64>(text).context("--voxel-size")?;
                        if zyx.iter().any(|&side| !(side.is_finite() && side > 0.0)) {
                            bail!(
                                "--voxel-size {text}: every side must be a positive number, \
                                 e.g. 0.65,0.65,0.65"
                            );
                        }
                        VoxelSize::new(zyx, &self.unit)
                    }
                };
                let byte_order = if self.raw_endian == "big" {
                    ByteOrder::Big
                } else {
                    ByteOrder::Little
                };
                Some(RawSpec {
                    shape,
                    sample_type,
                    byte_order,
                    offset: self.raw_offset,
                    voxel_size,
                })
            }
        };
        Ok(ReadOptions {
            raw,
            channel: self.channel,
            frame: self.frame,
        })
    }
}

/// Parses `A,B,C`.
pub fn parse_triple<T: std::str::FromStr>(text: &str) -> anyhow::Result<[T; 3]> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [a, b, c] = parts.as_slice() else {
        bail!("expected three comma-separated numbers (Z,Y,X), got {text:?}");
    };
    let parse = |part: &str| {
        part.parse::<T>()
            .map_err(|_| anyhow::anyhow!("{part:?} is not a valid number in {text:?}"))
    };
    Ok([parse(a)?, parse(b)?, parse(c)?])
}
