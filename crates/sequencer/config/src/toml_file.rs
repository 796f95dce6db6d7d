//! TOML reading that names the field at fault. (Crash-safe writes live in `rollup-fs`, shared
//! with the rest of the project.)

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
