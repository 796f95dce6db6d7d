//! ed25519 validator keys.
//!
//! A key file holds the 32-byte ed25519 secret key as hex and a newline. `keygen` writes it
//! atomically (temporary file with mode `0600` in the target directory, fsync, hard link to the
//! target — which fails if the target exists —, remove the temporary file, fsync the directory).
//! Loading refuses a file any group or other user can read or write.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use std::{
    fmt, fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    str::FromStr,
};

/// Errors of key generation and loading. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The target exists; keygen never overwrites a key.
    #[error("{0}: already exists, refusing to overwrite a key")]
    Exists(PathBuf),
    /// I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Group/other permission bits are set.
    #[error(
        "{path}: mode {mode:04o} is too open, the key must be readable by its owner only (chmod 600)"
    )]
    Permissions {
        /// Key file.
        path: PathBuf,
        /// Its mode (permission bits).
        mode: u32,
    },
    /// The file does not hold a 32-byte hex secret key.
    #[error("{path}: not an ed25519 secret key (expected 64 hex characters): {reason}")]
    Malformed {
        /// Key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A validator's public identity: its ed25519 verifying key, written as 0x-prefixed hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValidatorPublicKey(VerifyingKey);

impl ValidatorPublicKey {
    /// From the 32 key bytes; refuses bytes that are not a point on the curve.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, String> {
        VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| "not a valid ed25519 public key (not a curve point)".to_owned())
    }

    /// The 32 key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Verifies `sig` over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> bool {
        self.0.verify_strict(msg, sig).is_ok()
    }
}

impl FromStr for ValidatorPublicKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let h = s.trim().strip_prefix("0x").unwrap_or(s.trim());
        let bytes = hex::decode(h).map_err(|e| format!("not hex: {e}"))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("{} bytes, an ed25519 public key has 32", b.len()))?;
        Self::from_bytes(&arr)
    }
}

impl fmt::Display for ValidatorPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for ValidatorPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValidatorPublicKey({self})")
    }
}

/// A validator's signing key.
#[derive(Clone)]
pub struct ValidatorKey(SigningKey);

impl fmt::Debug for ValidatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValidatorKey({})", self.public())
    }
}

impl ValidatorKey {
    /// A fresh key from the operating system's RNG.
    pub fn generate() -> Self {
        Self(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// A key from its 32 secret bytes (tests and fixtures).
    pub fn from_secret_bytes(bytes: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&bytes))
    }

    /// The 32 secret bytes (for the consensus engine's own key type; never log them).
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public identity.
    pub fn public(&self) -> ValidatorPublicKey {
        ValidatorPublicKey(self.0.verifying_key())
    }

    /// Signs `msg`.
    pub fn sign(&self, msg: &[u8]) -> Signature {
        self.0.sign(msg)
    }

    /// Writes the key to `path` atomically with mode `0600`; fails if `path` exists.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io { path: path.to_path_buf(), source };
        if path.exists() {
            return Err(KeyError::Exists(path.to_path_buf()));
        }
        let mut contents = hex::encode(self.0.to_bytes());
        contents.push('\n');
        rollup_fs::write_new(path, contents.as_bytes(), 0o600).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists(path.to_path_buf())
            } else {
                io(e)
            }
        })
    }

    /// Loads a key written by [`Self::write_new`], refusing group/other-accessible files.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io { path: path.to_path_buf(), source };
        let meta = fs::metadata(path).map_err(io)?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions { path: path.to_path_buf(), mode });
        }
        let text = fs::read_to_string(path).map_err(io)?;
        let malformed = |reason: String| KeyError::Malformed { path: path.to_path_buf(), reason };
        let t = text.trim();
        let bytes =
            hex::decode(t.strip_prefix("0x").unwrap_or(t)).map_err(|e| malformed(e.to_string()))?;
        let arr: [u8; 32] =
            bytes.try_into().map_err(|b: Vec<u8>| malformed(format!("{} bytes", b.len())))?;
        Ok(Self::from_secret_bytes(arr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_load_roundtrip_and_refuse_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("validator.key");
        let key = ValidatorKey::generate();
        key.write_new(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(ValidatorKey::load(&path).unwrap().public(), key.public());
        assert!(matches!(ValidatorKey::generate().write_new(&path), Err(KeyError::Exists(_))));
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(ValidatorKey::load(&path).unwrap().public(), key.public());
    }

    /// A temporary file a crashed `keygen` left under the name this process would use (same
    /// pid, as in a container) is not taken for the key existing, and not touched.
    #[test]
    fn a_leftover_temporary_file_does_not_block_keygen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("validator.key");
        let stale = dir.path().join(format!(".validator.key.tmp-{}", std::process::id()));
        fs::write(&stale, "torn").unwrap();
        let key = ValidatorKey::generate();
        key.write_new(&path).unwrap();
        assert_eq!(ValidatorKey::load(&path).unwrap().public(), key.public());
        assert_eq!(fs::read_to_string(&stale).unwrap(), "torn");
    }

    #[test]
    fn load_refuses_open_permissions_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        ValidatorKey::generate().write_new(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = ValidatorKey::load(&path).unwrap_err();
        assert!(matches!(err, KeyError::Permissions { mode: 0o644, .. }));
        assert!(err.to_string().contains("0644"), "{err}");
        fs::write(&path, "nope").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(ValidatorKey::load(&path), Err(KeyError::Malformed { .. })));
    }

    #[test]
    fn public_key_parse_display() {
        let key = ValidatorKey::from_secret_bytes([7; 32]);
        let s = key.public().to_string();
        assert_eq!(s.parse::<ValidatorPublicKey>().unwrap(), key.public());
        assert!("0x1234".parse::<ValidatorPublicKey>().is_err());
        let sig = key.sign(b"m");
        assert!(key.public().verify(b"m", &sig));
        assert!(!key.public().verify(b"n", &sig));
    }
}
