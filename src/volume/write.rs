//! Writing outputs so that nothing is lost: every file goes to a temporary file in the same
//! folder first and is renamed into place only when complete.

use std::io::{BufWriter, Write};
use std::path::Path;

use super::VolumeError;

pub use super::tiff_write::write_tiff;

/// Writes a file atomically: `write` fills a temporary file beside `path`, which is flushed,
/// synced and renamed over `path`. On any error the temporary file is removed and an
/// existing `path` is left as it was.
pub fn write_atomically<F>(path: &Path, write: F) -> Result<(), VolumeError>
where
    F: FnOnce(&mut BufWriter<&std::fs::File>) -> Result<(), VolumeError>,
{
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let temporary = tempfile::Builder::new()
        .prefix(".ctuq-")
        .suffix(".partial")
        .tempfile_in(folder)
        .map_err(|e| VolumeError::io(path, e))?;

    {
        let mut writer = BufWriter::new(temporary.as_file());
        write(&mut writer)?;
        writer.flush().map_err(|e| VolumeError::io(path, e))?;
    }
    temporary
        .as_file()
        .sync_all()
        .map_err(|e| VolumeError::io(path, e))?;
    temporary
        .persist(path)
        .map_err(|e| VolumeError::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_the_old_file() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("out.bin");
        std::fs::write(&path, b"old").unwrap();
        let result = write_atomically(&path, |writer| {
            writer.write_all(b"half of the new").unwrap();
            Err(VolumeError::invalid("out.bin", "stopped half way"))
        });
        assert!(result.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(
            std::fs::read_dir(folder.path()).unwrap().count(),
            1,
            "temporary file left"
        );
    }
}
