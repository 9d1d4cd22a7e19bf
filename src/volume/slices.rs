//! Reading a folder of single-page TIFF slices, the way many scanners export a volume.

use std::path::{Path, PathBuf};

use super::read::ReadOptions;
use super::tiff_read::read_tiff;
use super::{RawVolume, VolumeError};

/// The TIFF files of a folder, sorted naturally (`img2` before `img10`).
pub(crate) fn slice_files(folder: &Path) -> Result<Vec<PathBuf>, VolumeError> {
    let entries = std::fs::read_dir(folder).map_err(|e| VolumeError::io(folder, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| VolumeError::io(folder, e))?.path();
        let is_tiff = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("tif") || e.eq_ignore_ascii_case("tiff"));
        if is_tiff && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| {
        natord::compare(
            &a.file_name().unwrap_or_default().to_string_lossy(),
            &b.file_name().unwrap_or_default().to_string_lossy(),
        )
    });
    Ok(files)
}

/// Reads a folder of slices as one volume. Every slice must have the same size and type;
/// the first that does not is named in the error. The voxel size comes from the first slice.
pub(crate) fn read_slices(folder: &Path, options: &ReadOptions) -> Result<RawVolume, VolumeError> {
    let files = slice_files(folder)?;
    let Some(first_path) = files.first() else {
        return Err(VolumeError::invalid(
            folder,
            "the folder holds no .tif or .tiff slices",
        ));
    };
    let first = read_tiff(first_path, options)?;
    let [depth, height, width] = first.shape;
    let sample_type = first.samples.sample_type();
    super::read::check_memory(folder, files.len() * height * width * depth, sample_type)?;

    let mut volume = first;
    for path in &files[1..] {
        let slice = read_tiff(path, options)?;
        if slice.shape[1..] != volume.shape[1..] {
            return Err(VolumeError::invalid(
                path,
                format!(
                    "this slice is {} x {} pixels but {} is {width} x {height}; all slices of \
                     a folder must have the same size",
                    slice.shape[2],
                    slice.shape[1],
                    file_name(first_path),
                ),
            ));
        }
        let slice_type = slice.samples.sample_type();
        if !volume.samples.append(slice.samples) {
            return Err(VolumeError::invalid(
                path,
                format!(
                    "this slice is {slice_type} but {} is {sample_type}",
                    file_name(first_path)
                ),
            ));
        }
        volume.shape[0] += slice.shape[0];
    }
    tracing::debug!(folder = %folder.display(), slices = files.len(), "read slice folder");
    Ok(volume)
}

/// The file name of a path, for messages.
fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn natural_order_puts_2_before_10() {
        let mut names = vec!["img10.tif", "img2.tif", "img1.tif"];
        names.sort_by(|a, b| natord::compare(a, b));
        assert_eq!(names, vec!["img1.tif", "img2.tif", "img10.tif"]);
    }
}
