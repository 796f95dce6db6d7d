//! Writing devnet files: all or nothing, never over an existing file unless forced.

use crate::DevnetError;
use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

/// Writes every `(path, contents)` pair atomically (temporary file in the same directory, fsync,
/// rename). Without `force`, refuses before writing anything if any target exists.
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
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
