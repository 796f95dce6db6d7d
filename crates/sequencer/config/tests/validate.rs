//! Config validation: one row per bad field, each error names its field.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use sequencer_config::{Config, GenesisConfig, ValidatorKey};
use std::{fs, os::unix::fs::PermissionsExt};

struct Fixture {
    dir: tempfile::TempDir,
    key: ValidatorKey,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = ValidatorKey::from_secret_bytes([5; 32]);
        key.write_new(&dir.path().join("validator.key")).unwrap();
        let jwt = dir.path().join("jwt.hex");
        fs::write(&jwt, format!("0x{}\n", "ab".repeat(32))).unwrap();
        fs::set_permissions(&jwt, fs::Permissions::from_mode(0o600)).unwrap();
        Self { dir, key }
    }

    fn good(&self) -> String {
        format!(
            r#"
chain_id = 1337

[consensus]
validators = ["{pk}"]
private_key_path = "validator.key"
listen_addr = "127.0.0.1:26656"

[celestia]
network = "local"
namespace = "0xc0ffee"

[execution]
reth_url = "http://127.0.0.1:8551"
jwt_secret_path = "jwt.hex"

[rpc]
listen_addr = "127.0.0.1:8547"
"#,
            pk = self.key.public()
        )
    }

    fn check(
        &self,
        text: &str,
    ) -> Result<sequencer_config::ValidatedConfig, sequencer_config::ConfigErrors> {
        let path = self.dir.path().join("config.toml");
        fs::write(&path, text).unwrap();
        Config::load_validated(&path)
    }
}

#[test]
fn good_config_validates() {
    let f = Fixture::new();
    let c = f.check(&f.good()).unwrap();
    assert_eq!(c.chain_id, 1337);
    assert_eq!(c.consensus.key.public(), f.key.public());
    assert_eq!(c.execution.reth_url.as_str(), "http://127.0.0.1:8551/");
    assert_eq!(c.sequencer.max_soft_ahead, 64);
    assert_eq!(c.sequencer.block_time.as_millis(), 1000);
    assert_eq!(c.sequencer.state_path, f.dir.path().join("sequencer-state.json"));
    assert!(c.execution.prague);
}

#[test]
fn each_bad_field_is_named() {
    let f = Fixture::new();
    let good = f.good();
    let pk = f.key.public().to_string();
    // (replace this, with that, expected field in the error, expected text in the message)
    let table: &[(&str, &str, &str, &str)] = &[
        ("chain_id = 1337", "chain_id = 0", "chain_id", "non-zero"),
        (
            "reth_url = \"http://127.0.0.1:8551\"",
            "reth_url = \"not a url\"",
            "execution.reth_url",
            "not a URL",
        ),
        (
            "reth_url = \"http://127.0.0.1:8551\"",
            "reth_url = \"ws://127.0.0.1:8551\"",
            "execution.reth_url",
            "scheme",
        ),
        (
            "jwt_secret_path = \"jwt.hex\"",
            "jwt_secret_path = \"missing.hex\"",
            "execution.jwt_secret_path",
            "missing.hex",
        ),
        (
            "private_key_path = \"validator.key\"",
            "private_key_path = \"nope.key\"",
            "consensus.private_key_path",
            "nope.key",
        ),
        (
            "namespace = \"0xc0ffee\"",
            "namespace = \"0x0102030405060708090a0b\"",
            "celestia.namespace",
            "too long",
        ),
        ("namespace = \"0xc0ffee\"", "namespace = \"0x01\"", "celestia.namespace", "reserved"),
        ("namespace = \"0xc0ffee\"", "namespace = \"xyz\"", "celestia.namespace", "not hex"),
        ("network = \"local\"", "network = \"moon\"", "celestia.network", "unknown network"),
        (
            "network = \"local\"",
            "network = \"mocha\"",
            "celestia.rpc_url",
            "required for a Celestia network",
        ),
        (
            "namespace = \"0xc0ffee\"",
            "namespace = \"0xc0ffee\"\nrpc_url = \"ftp://da\"",
            "celestia.rpc_url",
            "scheme",
        ),
        (
            "namespace = \"0xc0ffee\"",
            "namespace = \"0xc0ffee\"\ngas_price = -1.0",
            "celestia.gas_price",
            "positive",
        ),
        (
            "namespace = \"0xc0ffee\"",
            "namespace = \"0xc0ffee\"\ngas_price = 0.01\nmax_gas_price = 0.001",
            "celestia.max_gas_price",
            "below gas_price",
        ),
        (
            "namespace = \"0xc0ffee\"",
            "namespace = \"0xc0ffee\"\nresubmit_after_ms = 0",
            "celestia.resubmit_after_ms",
            "at least 1",
        ),
        (
            "namespace = \"0xc0ffee\"",
            "namespace = \"0xc0ffee\"\nauth_token_path = \"no-token\"",
            "celestia.auth_token_path",
            "no-token",
        ),
        (
            "listen_addr = \"127.0.0.1:8547\"",
            "listen_addr = \"nowhere\"",
            "rpc.listen_addr",
            "host:port",
        ),
        (
            "listen_addr = \"127.0.0.1:26656\"",
            "listen_addr = \"127.0.0.1\"",
            "consensus.listen_addr",
            "host:port",
        ),
        (
            "listen_addr = \"127.0.0.1:26656\"",
            "listen_addr = \"127.0.0.1:26656\"\npeers = [\"10.0.0.2:26656\"]",
            "consensus.peers[0]",
            "<validator public key>@host:port",
        ),
        (
            "listen_addr = \"127.0.0.1:26656\"",
            &format!("listen_addr = \"127.0.0.1:26656\"\npeers = [\"{pk}@10.0.0.2\"]"),
            "consensus.peers[0]",
            "host:port",
        ),
        (
            "listen_addr = \"127.0.0.1:26656\"",
            &format!("listen_addr = \"127.0.0.1:26656\"\npeers = [\"{pk}@10.0.0.2:26656\"]"),
            "consensus.peers[0]",
            "is this validator",
        ),
        (
            "listen_addr = \"127.0.0.1:26656\"",
            &format!(
                "listen_addr = \"127.0.0.1:26656\"\npeers = [\"{}@10.0.0.2:26656\"]",
                ValidatorKey::from_secret_bytes([6; 32]).public()
            ),
            "consensus.peers[0]",
            "not in consensus.validators",
        ),
        (&pk, "0x1234", "consensus.validators[0]", "32"),
        (&format!("validators = [\"{pk}\"]"), "validators = []", "consensus.validators", "empty"),
        (
            &format!("validators = [\"{pk}\"]"),
            &format!("validators = [\"{pk}\", \"{pk}\"]"),
            "consensus.validators[1]",
            "duplicate",
        ),
        (
            &format!("validators = [\"{pk}\"]"),
            &format!("validators = [\"{}\"]", ValidatorKey::from_secret_bytes([6; 32]).public()),
            "consensus.private_key_path",
            "not in consensus.validators",
        ),
        (
            "[rpc]",
            "[sequencer]\nmax_soft_ahead = 0\n[rpc]",
            "sequencer.max_soft_ahead",
            "at least 1",
        ),
        ("[rpc]", "[sequencer]\nblock_time_ms = 0\n[rpc]", "sequencer.block_time_ms", "at least 1"),
        (
            "[rpc]",
            "[sequencer]\nstate_path = \"no/such/dir/state.json\"\n[rpc]",
            "sequencer.state_path",
            "does not exist",
        ),
        (
            "[rpc]",
            "[sequencer]\nstate_path = \".\"\n[rpc]",
            "sequencer.state_path",
            "is a directory",
        ),
        (
            "jwt_secret_path = \"jwt.hex\"",
            "jwt_secret_path = \"jwt.hex\"\nrpc_url = \"nope\"",
            "execution.rpc_url",
            "not a URL",
        ),
        (
            "jwt_secret_path = \"jwt.hex\"",
            "jwt_secret_path = \"jwt.hex\"\nfee_recipient = \"0x12\"",
            "execution.fee_recipient",
            "not an address",
        ),
        (
            "chain_id = 1337",
            "chain_id = 1337\ngenesis_path = \"nope.json\"",
            "genesis_path",
            "nope.json",
        ),
        ("chain_id = 1337", "chain_id = 1337\ntypo = 1", "config", "unknown field"),
    ];
    for (from, to, field, text) in table {
        assert!(good.contains(from), "fixture lacks {from:?}");
        let bad = good.replacen(from, to, 1);
        let err = f.check(&bad).expect_err(&format!("{field} accepted"));
        assert!(err.has(field), "{field}: got {err}");
        let line = err.errors.iter().find(|e| e.field == *field).unwrap();
        assert!(line.message.contains(text), "{field}: {line} lacks {text:?}");
        // One line per problem, each naming the config file and the field.
        for l in err.to_string().lines() {
            assert!(l.contains("config.toml: "), "{l}");
        }
    }
}

#[test]
fn key_permissions_and_garbage_are_named() {
    let f = Fixture::new();
    let key = f.dir.path().join("validator.key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o640)).unwrap();
    let err = f.check(&f.good()).unwrap_err();
    let line = err.errors.iter().find(|e| e.field == "consensus.private_key_path").unwrap();
    assert!(line.message.contains("0640") && line.message.contains("validator.key"), "{line}");

    fs::write(f.dir.path().join("jwt.hex"), "short").unwrap();
    let err = f.check(&f.good()).unwrap_err();
    assert!(err.has("execution.jwt_secret_path"), "{err}");
    // Both problems are reported at once.
    assert!(err.has("consensus.private_key_path"));
}

#[test]
fn a_jwt_secret_others_can_read_is_refused() {
    let f = Fixture::new();
    f.check(&f.good()).unwrap();
    fs::set_permissions(f.dir.path().join("jwt.hex"), fs::Permissions::from_mode(0o644)).unwrap();
    let err = f.check(&f.good()).unwrap_err();
    let line = err.errors.iter().find(|e| e.field == "execution.jwt_secret_path").unwrap();
    assert!(line.message.contains("0644") && line.message.contains("chmod 600"), "{line}");
}

#[test]
fn genesis_cross_checks() {
    let f = Fixture::new();
    let write_genesis = |chain_id: u64, validator: String, name: &str| {
        let g = GenesisConfig {
            chain_id,
            validators: vec![validator],
            gas_limit: None,
            timestamp: None,
            prague: Some(false),
            accounts: vec![],
        };
        g.write(&f.dir.path().join(name)).unwrap();
    };
    write_genesis(1337, f.key.public().to_string(), "g1.json");
    let c = f
        .check(&f.good().replacen(
            "chain_id = 1337",
            "chain_id = 1337\ngenesis_path = \"g1.json\"",
            1,
        ))
        .unwrap();
    assert!(!c.execution.prague, "fork taken from the genesis");

    write_genesis(1, ValidatorKey::from_secret_bytes([9; 32]).public().to_string(), "g2.json");
    let err = f
        .check(&f.good().replacen(
            "chain_id = 1337",
            "chain_id = 1337\ngenesis_path = \"g2.json\"",
            1,
        ))
        .unwrap_err();
    assert!(err.has("chain_id"), "{err}");
    assert!(err.has("consensus.validators"), "{err}");
}

#[test]
fn genesis_is_post_merge_with_validators() {
    let dir = tempfile::tempdir().unwrap();
    let pk = ValidatorKey::from_secret_bytes([5; 32]).public();
    let toml_path = dir.path().join("genesis.toml");
    fs::write(
        &toml_path,
        format!(
            "chain_id = 4242\nvalidators = [\"{pk}\"]\n[[accounts]]\naddress = \"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\"\nbalance = \"1000000000000000000000\"\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("genesis.json");
    let g = GenesisConfig::load(&toml_path).unwrap().write(&out).unwrap();
    assert_eq!(g.config.chain_id, 4242);
    assert_eq!(g.config.terminal_total_difficulty, Some(alloy_primitives::U256::ZERO));
    assert!(g.config.terminal_total_difficulty_passed);
    assert_eq!(
        (g.config.shanghai_time, g.config.cancun_time, g.config.prague_time),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(g.config.london_block, Some(0));
    // Funded account + 4 system contracts (beacon roots, history, withdrawals, consolidations).
    assert_eq!(g.alloc.len(), 5);
    let back: alloy_genesis::Genesis =
        serde_json::from_str(&fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        sequencer_config::SequencerGenesisInfo::from_genesis(&back).unwrap().validators,
        vec![pk]
    );
    assert!(GenesisConfig::load(&toml_path).unwrap().write(&out).is_err(), "refuses to overwrite");
    let bad = GenesisConfig::load(&toml_path).unwrap();
    let mut bad2 = bad.clone();
    bad2.accounts[0].balance = "lots".into();
    assert!(bad2.build().unwrap_err().to_string().starts_with("accounts[0].balance"));
    let mut bad3 = bad;
    bad3.validators = vec!["0x00".into()];
    assert!(bad3.build().unwrap_err().to_string().starts_with("validators[0]"));
}

#[test]
fn the_celestia_token_must_be_private_and_is_never_printed() {
    let f = Fixture::new();
    let token = f.dir.path().join("celestia.token");
    fs::write(&token, "secret-token-value\n").unwrap();
    fs::set_permissions(&token, fs::Permissions::from_mode(0o644)).unwrap();
    let text = f.good().replace(
        "namespace = \"0xc0ffee\"",
        "namespace = \"0xc0ffee\"\nauth_token_path = \"celestia.token\"",
    );
    let err = f.check(&text).unwrap_err().to_string();
    assert!(err.contains("celestia.auth_token_path") && err.contains("0644"), "{err}");

    fs::set_permissions(&token, fs::Permissions::from_mode(0o600)).unwrap();
    let c = f.check(&text).unwrap();
    let token = c.da.auth_token.as_ref().expect("token read");
    assert_eq!(token.expose(), "secret-token-value");
    assert!(!format!("{c:?}").contains("secret-token-value"), "the token stays out of Debug");
    assert_eq!(c.da.rpc_url.as_str(), "http://127.0.0.1:26658/", "local default");
}

#[test]
fn a_validator_set_needs_every_peers_address_and_whole_second_blocks() {
    let f = Fixture::new();
    let other = ValidatorKey::from_secret_bytes([6; 32]).public();
    let third = ValidatorKey::from_secret_bytes([7; 32]).public();
    let set = f.good().replace(
        &format!("validators = [\"{}\"]", f.key.public()),
        &format!("validators = [\"{}\", \"{other}\", \"{third}\"]", f.key.public()),
    );
    let err = f.check(&set).unwrap_err().to_string();
    assert!(err.contains(&format!("consensus.peers: no address for validator {other}")), "{err}");
    assert!(err.contains(&format!("no address for validator {third}")), "{err}");

    let with_peers = set.replace(
        "listen_addr = \"127.0.0.1:26656\"",
        &format!(
            "listen_addr = \"127.0.0.1:26656\"\npeers = [\"{other}@127.0.0.1:26657\", \"{third}@localhost:26658\"]"
        ),
    );
    let c = f.check(&with_peers).unwrap();
    assert_eq!(c.consensus.validators.len(), 3);
    assert_eq!(c.consensus.peers[0], (other, "127.0.0.1:26657".parse().unwrap()));
    assert_eq!(c.consensus.peers[1].0, third);
    assert_eq!(c.consensus.peers[1].1.port(), 26658);

    let fast = format!("{with_peers}\n[sequencer]\nblock_time_ms = 500\n");
    let err = f.check(&fast).unwrap_err().to_string();
    assert!(
        err.contains("sequencer.block_time_ms: 500: a validator set needs whole seconds"),
        "{err}"
    );
    let uneven = format!("{with_peers}\n[sequencer]\nblock_time_ms = 1500\n");
    let err = f.check(&uneven).unwrap_err().to_string();
    assert!(err.contains("sequencer.block_time_ms: 1500: a validator set needs whole seconds"));
    f.check(&format!("{with_peers}\n[sequencer]\nblock_time_ms = 2000\n")).unwrap();
}

/// Node URLs often carry credentials (`?token=`, `user:password@`): a refused one is quoted
/// redacted, and an accepted one never shows them either (the validated config's `Debug`).
#[test]
fn urls_with_credentials_are_shown_redacted() {
    let f = Fixture::new();
    let reth = "reth_url = \"http://127.0.0.1:8551\"";
    let secrets = ["hunter2", "s3cr3t", "t0ken"];

    let refused = f
        .good()
        .replace(reth, "reth_url = \"ftp://reth:hunter2@127.0.0.1:8551/?apikey=s3cr3t\"")
        .replace(
            "namespace = \"0xc0ffee\"",
            "namespace = \"0xc0ffee\"\nrpc_url = \"unix://da:t0ken@/socket\"",
        );
    let err = f.check(&refused).unwrap_err().to_string();
    assert!(err.contains("execution.reth_url") && err.contains("celestia.rpc_url"), "{err}");
    assert!(err.contains("ftp://***@127.0.0.1:8551/?apikey=***"), "{err}");
    for secret in secrets {
        assert!(!err.contains(secret), "{secret} in: {err}");
    }

    let accepted = f
        .good()
        .replace(reth, "reth_url = \"http://reth:hunter2@127.0.0.1:8551/?apikey=s3cr3t\"")
        .replace(
            "namespace = \"0xc0ffee\"",
            "namespace = \"0xc0ffee\"\nrpc_url = \"https://celestia.example/?token=t0ken\"",
        );
    let shown = format!("{:?}", f.check(&accepted).unwrap());
    assert!(shown.contains("https://celestia.example/?token=***"), "{shown}");
    assert!(shown.contains("http://***@127.0.0.1:8551/?apikey=***"), "{shown}");
    for secret in secrets {
        assert!(!shown.contains(secret), "{secret} in: {shown}");
    }
}
