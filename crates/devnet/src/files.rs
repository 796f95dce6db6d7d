//! Writing devnet files: all or nothing, never over an existing file unless forced.

use crate::DevnetError;
use std::{
    fs,
    path::{Path, PathBuf},
};

/// Writes every `(path, contents)` pair atomically (`rollup_fs::replace`). Without `force`, refuses before writing anything if any target exists.
pub fn write_all_atomically(files: &[(PathBuf, Vec<u8>)], force: bool) -> Result<(), DevnetError> {
    if !force && let Some((path, _)) = files.iter().find(|(path, _)| path.exists()) {
        return Err(DevnetError::Exists(path.clone()));
    }
    for (path, contents) in files {
        write_atomically(path, contents)
            .map_err(|source| DevnetError::Write { path: path.clone(), source })?;
    }
    Ok(())
}

fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    rollup_fs::replace(path, contents, 0o644)
}
