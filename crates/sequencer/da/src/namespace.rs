use std::{fmt, str::FromStr};

/// Number of user-chosen bytes in a Celestia version-0 namespace.
pub const NAMESPACE_USER_BYTES: usize = 10;
/// Full size of a Celestia namespace: 1 version byte + 28 id bytes.
pub const NAMESPACE_SIZE: usize = 29;

/// A Celestia version-0 namespace.
///
/// Version-0 namespace ids are 28 bytes whose first 18 are zero, so a user picks 10 bytes.
/// Configs write them as hex (`0x` optional); shorter values are left-padded with zeros.
/// Ids of the form `00…00XX` are reserved by Celestia and refused.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Namespace([u8; NAMESPACE_USER_BYTES]);

/// Why a namespace string is not a usable namespace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamespaceError {
    /// Not hex.
    #[error("not hex: {0}")]
    NotHex(String),
    /// Empty.
    #[error("empty")]
    Empty,
    /// More than 10 bytes.
    #[error("{0} bytes is too long (a version-0 namespace holds at most 10 bytes)")]
    TooLong(usize),
    /// In Celestia's reserved range.
    #[error("0x{0} is reserved by Celestia (first 9 bytes all zero)")]
    Reserved(String),
}

impl Namespace {
    /// The 10 user bytes.
    pub const fn user_bytes(&self) -> &[u8; NAMESPACE_USER_BYTES] {
        &self.0
    }

    /// The full 29-byte Celestia namespace (version 0).
    pub fn to_celestia_bytes(&self) -> [u8; NAMESPACE_SIZE] {
        let mut out = [0u8; NAMESPACE_SIZE];
        out[NAMESPACE_SIZE - NAMESPACE_USER_BYTES..].copy_from_slice(&self.0);
        out
    }
}

impl FromStr for Namespace {
    type Err = NamespaceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let hex_str = s.strip_prefix("0x").unwrap_or(s);
        if hex_str.is_empty() {
            return Err(NamespaceError::Empty);
        }
        let padded =
            if hex_str.len() % 2 == 1 { format!("0{hex_str}") } else { hex_str.to_owned() };
        let bytes = hex::decode(&padded).map_err(|e| NamespaceError::NotHex(e.to_string()))?;
        if bytes.len() > NAMESPACE_USER_BYTES {
            return Err(NamespaceError::TooLong(bytes.len()));
        }
        let mut out = [0u8; NAMESPACE_USER_BYTES];
        out[NAMESPACE_USER_BYTES - bytes.len()..].copy_from_slice(&bytes);
        if out[..NAMESPACE_USER_BYTES - 1].iter().all(|b| *b == 0) {
            return Err(NamespaceError::Reserved(hex::encode(out)));
        }
        Ok(Self(out))
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Namespace({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_pads() {
        let ns: Namespace = "0x0102030405".parse().unwrap();
        assert_eq!(ns.user_bytes(), &[0, 0, 0, 0, 0, 1, 2, 3, 4, 5]);
        assert_eq!(ns.to_string(), "0x00000000000102030405");
        assert_eq!(ns.to_celestia_bytes()[..19], [0u8; 19]);
        assert_eq!("0102030405".parse::<Namespace>().unwrap(), ns);
    }

    #[test]
    fn rejects_bad() {
        assert_eq!("".parse::<Namespace>(), Err(NamespaceError::Empty));
        assert_eq!("0x".parse::<Namespace>(), Err(NamespaceError::Empty));
        assert!(matches!("zz".parse::<Namespace>(), Err(NamespaceError::NotHex(_))));
        assert_eq!(
            "0x0102030405060708090a0b".parse::<Namespace>(),
            Err(NamespaceError::TooLong(11))
        );
        assert!(matches!("0x05".parse::<Namespace>(), Err(NamespaceError::Reserved(_))));
    }
}
