//! The forge artifacts of the npm package `@eth-optimism/contracts-bedrock`.

use crate::OpContractsError;
use alloy_primitives::{B256, Bytes, U256};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The package version this crate deploys: the constructor and `initialize` signatures in
/// [`crate::bindings`] are this version's. It is pinned in `tests/package.json` as well; the
/// package is the last one published to npm (2024-05-29), so it predates Isthmus.
pub const PINNED_VERSION: &str = "0.17.3";

/// Where `npm ci --prefix tests` puts the package, relative to the repository root.
pub const DEFAULT_PACKAGE_DIR: &str = "tests/node_modules/@eth-optimism/contracts-bedrock";

/// One contract's artifact: its code and storage layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Contract name.
    pub name: String,
    /// Creation code (constructor arguments are appended to it).
    pub bytecode: Bytes,
    /// Runtime code as compiled, immutables left as zeros.
    pub deployed_bytecode: Bytes,
    /// Byte ranges of `deployed_bytecode` that the constructor fills with immutables.
    pub immutable_ranges: Vec<(usize, usize)>,
    /// Storage variables by label.
    pub storage: Vec<StorageEntry>,
}

/// One storage variable of a contract's layout.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StorageEntry {
    /// Variable name.
    pub label: String,
    /// Slot, as a decimal string in the artifact.
    #[serde(deserialize_with = "decimal_u256")]
    pub slot: U256,
    /// Byte offset inside the slot.
    pub offset: u8,
}

impl Artifact {
    /// The slot of storage variable `label`.
    pub fn slot(&self, label: &str) -> Result<B256, OpContractsError> {
        self.storage.iter().find(|entry| entry.label == label).map(|e| e.slot.into()).ok_or_else(
            || OpContractsError::Artifact {
                name: self.name.clone(),
                why: format!("no storage variable {label}"),
            },
        )
    }

    /// Whether `code` is this contract's runtime code, immutables aside.
    pub fn matches_runtime(&self, code: &[u8]) -> bool {
        if code.len() != self.deployed_bytecode.len() {
            return false;
        }
        let mut masked = code.to_vec();
        for &(start, length) in &self.immutable_ranges {
            if let Some(range) = masked.get_mut(start..start + length) {
                range.copy_from_slice(&self.deployed_bytecode[start..start + length]);
            }
        }
        masked == self.deployed_bytecode.as_ref()
    }
}

/// The unpacked npm package.
#[derive(Debug, Clone)]
pub struct ContractsPackage {
    dir: PathBuf,
}

#[derive(Deserialize)]
struct PackageJson {
    name: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ForgeArtifact {
    bytecode: ForgeCode,
    deployed_bytecode: ForgeCode,
    storage_layout: Option<ForgeLayout>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ForgeCode {
    object: Bytes,
    #[serde(default)]
    immutable_references: std::collections::BTreeMap<String, Vec<ForgeRange>>,
}

#[derive(Deserialize)]
struct ForgeRange {
    start: usize,
    length: usize,
}

#[derive(Deserialize)]
struct ForgeLayout {
    storage: Vec<StorageEntry>,
}

impl ContractsPackage {
    /// Opens the package at `dir` (the folder holding its `package.json`), refusing any version
    /// but [`PINNED_VERSION`].
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, OpContractsError> {
        let dir = dir.into();
        let manifest = dir.join("package.json");
        let text =
            std::fs::read_to_string(&manifest).map_err(|source| OpContractsError::Package {
                dir: dir.clone(),
                why: format!(
                    "cannot read {}: {source} (install it with `npm ci --prefix tests`)",
                    manifest.display()
                ),
            })?;
        let package: PackageJson = serde_json::from_str(&text).map_err(|e| {
            OpContractsError::Package { dir: dir.clone(), why: format!("package.json: {e}") }
        })?;
        if package.name != "@eth-optimism/contracts-bedrock" || package.version != PINNED_VERSION {
            return Err(OpContractsError::Package {
                dir,
                why: format!(
                    "is {}@{}; this build deploys @eth-optimism/contracts-bedrock@{PINNED_VERSION}",
                    package.name, package.version
                ),
            });
        }
        Ok(Self { dir })
    }

    /// The package's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The artifact of contract `name` (`forge-artifacts/<name>.sol/<name>.json`).
    pub fn artifact(&self, name: &str) -> Result<Artifact, OpContractsError> {
        let path = self
            .dir
            .join("forge-artifacts")
            .join(format!("{name}.sol"))
            .join(format!("{name}.json"));
        let fail = |why: String| OpContractsError::Artifact { name: name.to_string(), why };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
        let forge: ForgeArtifact =
            serde_json::from_str(&text).map_err(|e| fail(format!("{}: {e}", path.display())))?;
        if forge.bytecode.object.is_empty() || forge.deployed_bytecode.object.is_empty() {
            return Err(fail("has no bytecode (an interface or abstract contract?)".into()));
        }
        let immutable_ranges = forge
            .deployed_bytecode
            .immutable_references
            .values()
            .flatten()
            .map(|range| (range.start, range.length))
            .collect::<Vec<_>>();
        let code_len = forge.deployed_bytecode.object.len();
        if let Some(&(start, length)) = immutable_ranges.iter().find(|(s, l)| s + l > code_len) {
            return Err(fail(format!("immutable at {start}+{length} is outside its code")));
        }
        Ok(Artifact {
            name: name.to_string(),
            bytecode: forge.bytecode.object,
            deployed_bytecode: forge.deployed_bytecode.object,
            immutable_ranges,
            storage: forge.storage_layout.map(|layout| layout.storage).unwrap_or_default(),
        })
    }
}

fn decimal_u256<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<U256, D::Error> {
    let text = String::deserialize(deserializer)?;
    U256::from_str_radix(&text, 10).map_err(serde::de::Error::custom)
}
