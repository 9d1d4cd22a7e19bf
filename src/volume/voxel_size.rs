//! The size of a voxel in space, with its unit, or an explicit "unknown".

use std::fmt;

/// Voxel size per axis (z, y, x) and its unit.
///
/// Each axis is `None` when the file does not say. ctuq never fills in a silent 1.0: a wrong
/// spacing makes anisotropic volumes look right and measure wrong.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VoxelSize {
    /// Spacing along z, y and x, in `unit`.
    pub zyx: [Option<f64>; 3],
    /// The length unit (`um`, `mm`, ...), `None` when the file gives numbers but no unit.
    pub unit: Option<String>,
}

impl VoxelSize {
    /// A voxel size nobody stated.
    pub fn unknown() -> VoxelSize {
        VoxelSize::default()
    }

    /// A fully known voxel size.
    pub fn new(zyx: [f64; 3], unit: &str) -> VoxelSize {
        VoxelSize {
            zyx: zyx.map(Some),
            unit: Some(unit.to_string()),
        }
    }

    /// Whether all three axes are known.
    pub fn is_known(&self) -> bool {
        self.zyx.iter().all(Option::is_some)
    }

    /// Whether no axis is known.
    pub fn is_unknown(&self) -> bool {
        self.zyx.iter().all(Option::is_none)
    }
}

/// Normalizes the many spellings of micrometres and friends to one short form.
pub(crate) fn normalize_unit(unit: &str) -> String {
    match unit.trim() {
        "micron" | "microns" | "um" | "\u{b5}m" | "\u{3bc}m" | "micrometer" | "micrometre" => {
            "um".to_string()
        }
        "millimeter" | "millimetre" | "mm" => "mm".to_string(),
        "nanometer" | "nanometre" | "nm" => "nm".to_string(),
        "centimeter" | "centimetre" | "cm" => "cm".to_string(),
        other => other.to_string(),
    }
}

impl fmt::Display for VoxelSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unknown() {
            return f.write_str("unknown");
        }
        let axes: Vec<String> = self
            .zyx
            .iter()
            .map(|axis| match axis {
                Some(value) => format!("{value}"),
                None => "?".to_string(),
            })
            .collect();
        let unit = self.unit.as_deref().unwrap_or("(unit unknown)");
        write!(f, "{} {unit} (z, y, x)", axes.join(" x "))?;
        if !self.is_known() {
            f.write_str("; ? = not stated in the file")?;
        }
        Ok(())
    }
}
