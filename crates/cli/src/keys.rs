//! Loading and creating the secp256k1 keys named on the command line.

use crate::CliError;
use alloy_primitives::B256;
use std::{fs, io, path::Path, str::FromStr};

/// Parses a hex-encoded 32-byte key, as written by kona-node, op-node and `cast wallet`.
fn parse_hex_key(flag: &'static str, text: &str) -> Result<B256, CliError> {
    B256::from_str(text.trim())
        .map_err(|e| CliError::Key { flag, why: format!("expected 32 bytes of hex: {e}") })
}

/// Reads a hex key file. With `private`, the file must not be readable by group or others.
pub(crate) fn read_key_file(
    flag: &'static str,
    path: &Path,
    private: bool,
) -> Result<B256, CliError> {
    let text = fs::read_to_string(path).map_err(|source| CliError::Read {
        flag,
        path: path.to_path_buf(),
        source,
    })?;
    if private {
        check_private(flag, path)?;
    }
    parse_hex_key(flag, &text)
}

#[cfg(unix)]
fn check_private(flag: &'static str, path: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)
        .map_err(|source| CliError::Read { flag, path: path.to_path_buf(), source })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(CliError::KeyPermissions {
            flag,
            path: path.to_path_buf(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_flag: &'static str, _path: &Path) -> Result<(), CliError> {
    Ok(())
}

/// Returns the P2P identity stored at `path`, creating a fresh one (mode 0600, written
/// atomically) when the file does not exist yet.
pub(crate) fn load_or_create_identity(
    flag: &'static str,
    path: &Path,
) -> Result<libp2p::identity::Keypair, CliError> {
    match fs::metadata(path) {
        Ok(_) => {
            let key = read_key_file(flag, path, false)?;
            identity_from_bytes(flag, key)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let keypair = libp2p::identity::secp256k1::Keypair::generate();
            let hex = alloy_primitives::hex::encode(keypair.secret().to_bytes());
            rollup_fs::write_new(path, hex.as_bytes(), 0o600)
                .map_err(|source| CliError::Write { flag, path: path.to_path_buf(), source })?;
            tracing::info!(target: "rollup::cli", path = %path.display(), "created a new P2P identity key");
            Ok(keypair.into())
        }
        Err(source) => Err(CliError::Read { flag, path: path.to_path_buf(), source }),
    }
}

/// A libp2p secp256k1 identity from raw key bytes.
pub(crate) fn identity_from_bytes(
    flag: &'static str,
    key: B256,
) -> Result<libp2p::identity::Keypair, CliError> {
    let mut bytes = key.0;
    let secret = libp2p::identity::secp256k1::SecretKey::try_from_bytes(&mut bytes)
        .map_err(|e| CliError::Key { flag, why: e.to_string() })?;
    Ok(libp2p::identity::secp256k1::Keypair::from(secret).into())
}
