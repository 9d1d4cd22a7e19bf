//! The built-in sample and models: where to find them.
//!
//! They live in `assets/` of the source tree. A binary run from the checkout finds them
//! there; an installed binary looks beside itself (`assets/` next to the executable or one
//! level up), so that packaging can copy the folder along.

use std::path::PathBuf;

/// The built-in CT sample: cement with air voids, 128^3, uint8 (qim3d, MIT licence).
pub const SAMPLE_IMAGE: &str = "cement.tif";

/// The label of the built-in sample: the air voids.
pub const SAMPLE_LABEL: &str = "cement_voids_label.tif";

/// The built-in Bayesian model, trained on the sample with [`SAMPLE_HELD_OUT_Z`] held out.
pub const BCNN_MODEL: &str = "bcnn.ctuq";

/// The built-in Monte Carlo dropout model, trained the same way.
pub const MCDN_MODEL: &str = "mcdn.ctuq";

/// The z slices of the sample that the built-in models never saw in training.
pub const SAMPLE_HELD_OUT_Z: std::ops::Range<usize> = 96..128;

/// Finds a built-in asset by file name, or says where it looked.
pub fn find(name: &str) -> Result<PathBuf, String> {
    let mut candidates = vec![
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join(name),
    ];
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join("assets").join(name));
        if let Some(parent) = dir.parent() {
            candidates.push(parent.join("assets").join(name));
        }
    }
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .ok_or_else(|| {
            let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            format!(
                "the built-in asset {name} is not installed (looked in {})",
                looked.join(", ")
            )
        })
}
