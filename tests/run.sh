#!/usr/bin/env bash
# The project's test command (see README). Installs what the tests need on a fresh Debian machine,
# then runs every test of the reth-free workspace with the committed lock.
set -euo pipefail
cd "$(dirname "$0")/.."

# anvil (a real L1) from npm, into a project-local folder; tests find it through ANVIL_BIN.
if [ ! -x tests/node_modules/.bin/anvil ]; then
    npm ci --prefix tests --no-audit --no-fund --silent
fi
export ANVIL_BIN="$PWD/tests/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"

if ! command -v cargo-nextest >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi
exec cargo nextest run --workspace --locked --no-fail-fast "$@"
