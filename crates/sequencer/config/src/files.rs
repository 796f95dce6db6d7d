//! Crash-safe file writes (a reader, or the next start after a crash, sees the old file or the
//! complete new one, never a torn write) and TOML reading that names the field at fault.

use std::{
    fs::{self, OpenOptions},
    io::{self, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

/// Writes `contents` to a temporary file beside `path` (mode `mode`, fsynced) and hands it to
/// `publish`, which moves it into place; the temporary file is gone afterwards either way.
fn via_temp_file(
    path: &Path,
    contents: &[u8],
    mode: u32,
    publish: impl FnOnce(&Path, &Path) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        // `mode` is filtered by the umask; make the result exact.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(contents)?;
        f.sync_all()?;
        publish(&tmp, path)?;
        // Make the new directory entry durable too.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// Creates `path` with `contents` and `mode`, atomically; fails with
/// [`io::ErrorKind::AlreadyExists`] if `path` exists (it is never overwritten).
pub fn write_new_atomically(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    // A hard link, unlike a rename, refuses an existing target.
    via_temp_file(path, contents, mode, |tmp, path| fs::hard_link(tmp, path))
}

/// Replaces (or creates) `path` with `contents` and `mode`, atomically.
pub fn replace_atomically(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    via_temp_file(path, contents, mode, |tmp, path| fs::rename(tmp, path))
}

/// Parses TOML into `T`. An error is one line naming the field (`consensus.validators[1]`), what
/// is wrong with it and the line it is on, e.g. `chain_id: invalid type: string "x", expected
/// u64 (line 1)`.
pub fn parse_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let line = inner
            .span()
            .map(|s| format!(" (line {})", text[..s.start].matches('\n').count() + 1))
            .unwrap_or_default();
        // serde_path_to_error says "." for the document itself (a syntax error, say).
        let field = if field == "." { String::new() } else { format!("{field}: ") };
        format!("{field}{}{line}", inner.message())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_refuses_existing_and_replace_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_new_atomically(&path, b"one", 0o600).unwrap();
        let err = write_new_atomically(&path, b"two", 0o600).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"one");
        replace_atomically(&path, b"three", 0o644).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"three");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        chain_id: u64,
        inner: Inner,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        keys: Vec<u32>,
    }

    #[test]
    fn toml_errors_name_the_field_and_line() {
        let err = parse_toml::<Doc>("chain_id = \"x\"\n[inner]\nkeys = [1]\n").unwrap_err();
        assert_eq!(err, "chain_id: invalid type: string \"x\", expected u64 (line 1)");
        let err = parse_toml::<Doc>("chain_id = 1\n[inner]\nkeys = [1, \"y\"]\n").unwrap_err();
        assert!(err.starts_with("inner.keys[1]: invalid type: string \"y\""), "{err}");
        assert!(err.ends_with("(line 3)"), "{err}");
        let err = parse_toml::<Doc>("chain_id = \n").unwrap_err();
        assert!(!err.starts_with(':') && err.contains("(line 1)"), "a syntax error: {err}");
    }
}
