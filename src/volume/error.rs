//! What can go wrong reading or writing a volume. Every error names the file.

use std::path::PathBuf;

/// An error reading, checking or writing a volume or label file.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// The file could not be opened, read or written.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause, shown in the message (not as a separate source, which would print it
        /// twice in an error chain).
        cause: std::io::Error,
    },

    /// The file is empty.
    #[error("{}: the file is empty (0 bytes)", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },

    /// The file is not in a format ctuq reads, or its content is corrupt.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what to do about it.
        reason: String,
    },

    /// The file describes more data than it holds or than memory can take. Raised before any
    /// large allocation.
    #[error("{}: {reason}", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The sizes involved.
        reason: String,
    },

    /// Two files that must have the same shape do not.
    #[error(
        "{} has shape {} but {} has shape {} (z, y, x); they must match voxel for voxel",
        image.display(), fmt_shape(*image_shape), label.display(), fmt_shape(*label_shape)
    )]
    ShapeMismatch {
        /// The image file.
        image: PathBuf,
        /// Its shape.
        image_shape: [usize; 3],
        /// The label file.
        label: PathBuf,
        /// Its shape.
        label_shape: [usize; 3],
    },
}

impl VolumeError {
    /// Shorthand for [`VolumeError::Invalid`].
    pub(crate) fn invalid(path: impl Into<PathBuf>, reason: impl Into<String>) -> VolumeError {
        VolumeError::Invalid {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`VolumeError::Io`].
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> VolumeError {
        VolumeError::Io {
            path: path.into(),
            cause: source,
        }
    }
}

/// Formats a shape as `Z x Y x X`.
pub fn fmt_shape(shape: [usize; 3]) -> String {
    format!("{} x {} x {}", shape[0], shape[1], shape[2])
}
