#!/usr/bin/env bash
# The project's test command (see README). Installs what the tests need on a fresh Debian machine,
# then, for each reth-free workspace with its committed lock — the root workspace (kona's frozen
# dependency set) and bin/sequencer (the PoA sequencer's own) — checks formatting, runs clippy
# with warnings as errors and runs every test. Arguments go to both test runs (e.g. a filter).
set -euo pipefail
cd "$(dirname "$0")/.."

# anvil (a real L1) and the OP contracts' forge artifacts from npm, into a project-local folder;
# tests find anvil through ANVIL_BIN.
if [ ! -x tests/node_modules/.bin/anvil ] \
    || [ ! -f tests/node_modules/@eth-optimism/contracts-bedrock/package.json ]; then
    npm ci --prefix tests --no-audit --no-fund --silent
fi
export ANVIL_BIN="$PWD/tests/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"

if ! command -v cargo-nextest >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi

status=0
for manifest in Cargo.toml bin/sequencer/Cargo.toml; do
    echo "== workspace $manifest"
    cargo fmt --all --check --manifest-path "$manifest" || status=1
    cargo clippy --workspace --all-targets --locked --manifest-path "$manifest" -- -D warnings || status=1
    cargo nextest run --workspace --locked --no-fail-fast --manifest-path "$manifest" "$@" || status=1
done
exit "$status"
