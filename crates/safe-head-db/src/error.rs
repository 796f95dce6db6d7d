//! [`SafeHeadDbError`]: why the safe-head database could not be opened or written.

use std::{io, path::PathBuf};

/// Errors of the safe-head database.
#[derive(Debug, thiserror::Error)]
pub enum SafeHeadDbError {
    /// A file system operation failed.
    #[error("safe head database {}: cannot {action}: {source}", .path.display())]
    Io {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file does not start with the database's magic: it is something else, and is left
    /// alone.
    #[error("{} is not a safe head database (unknown file header); move it away or pick another path", .path.display())]
    NotASafeHeadDb {
        /// The file.
        path: PathBuf,
    },
    /// The file is a safe-head database in a format this build does not read.
    #[error("safe head database {} has format version {found}; this build reads version {supported}", .path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A retention of zero entries would keep nothing.
    #[error("safe head database retention must be at least one entry")]
    ZeroRetention,
}

impl SafeHeadDbError {
    /// A failed `action` on `path`, for `map_err`.
    pub(crate) fn io(
        path: &std::path::Path,
        action: &'static str,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| Self::Io { path, action, source }
    }
}
