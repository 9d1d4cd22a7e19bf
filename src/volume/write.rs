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
    if !folder.is_dir() {
        return Err(VolumeError::invalid(
            path,
            format!(
                "cannot be written: the folder {} does not exist",
                folder.display()
            ),
        ));
    }
    let mut builder = tempfile::Builder::new();
    builder.prefix(".ctuq-").suffix(".partial");
    // A temporary file is private (0600) by default; the output it becomes should get the
    // permissions any new file gets (0666 less the umask), so that colleagues can read it.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let temporary = builder
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

    #[cfg(unix)]
    #[test]
    fn outputs_get_the_permissions_of_any_new_file() {
        use std::os::unix::fs::PermissionsExt as _;

        let folder = tempfile::tempdir().unwrap();
        let plain = folder.path().join("plain.bin");
        std::fs::write(&plain, b"plain").unwrap();
        let atomic = folder.path().join("atomic.bin");
        write_atomically(&atomic, |writer| {
            writer
                .write_all(b"atomic")
                .map_err(|e| VolumeError::io(&atomic, e))
        })
        .unwrap();

        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&atomic), mode(&plain));
    }

    #[test]
    fn a_missing_folder_is_named_without_temporary_names() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("no such folder").join("out.tif");
        let error = write_atomically(&path, |_| Ok(())).unwrap_err().to_string();
        assert!(
            error.contains("no such folder") && error.contains("does not exist"),
            "{error}"
        );
        assert!(!error.contains(".partial"), "{error}");
    }

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
