//! Redaction of credentials in URLs, for every URL the sequencer logs or puts in an error.
//!
//! Node URLs carry credentials more often than not: Celestia RPC providers take their token as
//! `?token=…` or as userinfo (`https://user:token@host`), hosted execution RPCs as `?apikey=…`.
//! Logs and error messages (some of which reach RPC callers) must show where the sequencer
//! connects, never with what. This lives here, in the crate every sequencer crate naming a
//! remote node depends on, so that there is one implementation.

/// What stands in for a removed secret.
const MASK: &str = "***";

/// Query parameter names (lowercased, `-` as `_`) whose values are secrets when they contain
/// one of these.
const SENSITIVE_PARAMS: &[&str] =
    &["token", "auth", "key", "pass", "pwd", "secret", "signature", "credential", "session", "jwt"];

/// `url` without its secrets: userinfo (`user:password@`) replaced by `***@`, the values of
/// sensitive query (and fragment) parameters — token, auth, key, password, apikey, secret … —
/// replaced by `***`, a parameter without a value (a bare key) masked whole. Everything else
/// (scheme, host, port, path, other parameters) is kept, so the message still says where.
///
/// Works on text that does not parse as a URL too (a config value being refused), and never
/// fails: it only ever removes.
pub fn redact_url(url: &str) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (url, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let (scheme, after_scheme) = match rest.find("://") {
        Some(i) => rest.split_at(i + 3),
        None => ("", rest),
    };
    let (authority, path) = match after_scheme.find('/') {
        Some(i) => after_scheme.split_at(i),
        None => (after_scheme, ""),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    // The last `@` ends the userinfo (a password may itself hold an unescaped `@`).
    match authority.rsplit_once('@') {
        Some((_, host)) => {
            out.push_str(MASK);
            out.push('@');
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    out.push_str(path);
    if let Some(query) = query {
        out.push('?');
        out.push_str(&redact_params(query));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(&redact_params(fragment));
    }
    out
}

/// `text` with every URL in it (`scheme://…` up to whitespace or a quote, bracket or
/// parenthesis) passed through [`redact_url`]: for messages of other libraries that quote the
/// URL they failed on (an HTTP client's "error sending request for url (…)").
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // The scheme: the letters, digits, `+`, `-` and `.` right before `://`.
        let scheme_start = rest[..i]
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |(j, c)| j + c.len_utf8());
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '(' | ')'))
            .map_or(rest.len(), |j| i + j);
        out.push_str(&rest[..scheme_start]);
        out.push_str(&redact_url(&rest[scheme_start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `a=1&token=x` → `a=1&token=***`.
fn redact_params(params: &str) -> String {
    params
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, _)) if is_sensitive(name) => format!("{name}={MASK}"),
            Some(_) => param.to_owned(),
            // A value without a name is often the key itself (`?0123abcd`).
            None if param.is_empty() => String::new(),
            None => MASK.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn is_sensitive(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('-', "_");
    SENSITIVE_PARAMS.iter().any(|s| name.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_and_secret_parameters_are_masked() {
        for (url, redacted) in [
            ("http://127.0.0.1:26658", "http://127.0.0.1:26658"),
            ("http://127.0.0.1:26658/", "http://127.0.0.1:26658/"),
            ("https://user:pa@ss@rpc.example:443/v1", "https://***@rpc.example:443/v1"),
            ("wss://token123@rpc.example", "wss://***@rpc.example"),
            (
                "https://rpc.example/path?token=abc&network=mocha",
                "https://rpc.example/path?token=***&network=mocha",
            ),
            (
                "http://h:1/?auth=a&apiKey=b&api-key=c&password=d&x_auth_token=e&sig=f",
                "http://h:1/?auth=***&apiKey=***&api-key=***&password=***&x_auth_token=***&sig=f",
            ),
            ("http://h/?Signature=s&jwt=j", "http://h/?Signature=***&jwt=***"),
            ("http://h/?0123abcd", "http://h/?***"),
            ("http://h/#access_token=t&state=s", "http://h/#access_token=***&state=s"),
            // Not a URL, still redacted: a refused config value may be quoted.
            ("user:secret@host:8545/?key=k", "***@host:8545/?key=***"),
            ("", ""),
        ] {
            assert_eq!(redact_url(url), redacted, "{url}");
        }
    }

    #[test]
    fn urls_inside_messages_are_redacted() {
        let message = "error sending request for url (http://u:p@reth:8545/?apikey=s3cret): \
                       connection refused; retried \"wss://t0ken@da.example/ws\"";
        let redacted = redact_urls(message);
        assert_eq!(
            redacted,
            "error sending request for url (http://***@reth:8545/?apikey=***): connection \
             refused; retried \"wss://***@da.example/ws\""
        );
        assert_eq!(redact_urls("no url here"), "no url here");
        assert_eq!(redact_urls("ends with ://"), "ends with ://");
        assert_eq!(redact_urls("é://u:p@h"), "é://***@h");
    }
}
