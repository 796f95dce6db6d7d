# Shared by the e2e scripts (sourced from the repository root, not run).

# e2e_setup NAME: finds the binaries (ROLLUP_BIN, DEVNET_BIN; default the release builds in
# $CARGO_TARGET_DIR, as `just build-rollup` makes them), skips the script with a message where
# `rollup` is not built (it needs network: reth is a git dependency), builds `rollup-devnet` and
# installs anvil/cast from npm where missing.
e2e_setup() {
    local target=${CARGO_TARGET_DIR:-$HOME/.cache/rollup-target}
    export ROLLUP_BIN=${ROLLUP_BIN:-$target/release/rollup}
    export DEVNET_BIN=${DEVNET_BIN:-$target/release/rollup-devnet}
    if [ ! -x "$ROLLUP_BIN" ]; then
        echo "SKIP $1: no rollup binary at $ROLLUP_BIN (build it with 'just build-rollup'; needs network for reth)"
        exit 0
    fi
    [ -x "$DEVNET_BIN" ] || cargo build --release --locked -p rollup-devnet || exit 1
    [ -x tests/node_modules/.bin/cast ] || npm ci --prefix tests --no-audit --no-fund --silent
    CAST=tests/node_modules/.bin/cast
    passed=0 failed=0
}

# sequencer_e2e_setup NAME: finds reth (RETH_BIN, default `reth` on PATH) and `sequencer`
# (SEQUENCER_BIN, default the release build in $CARGO_TARGET_DIR), skips the script with a message
# where no reth binary is given, builds `sequencer` and installs cast from npm where missing.
sequencer_e2e_setup() {
    local target=${CARGO_TARGET_DIR:-$HOME/.cache/rollup-target}
    export RETH_BIN=${RETH_BIN:-$(command -v reth || true)}
    export SEQUENCER_BIN=${SEQUENCER_BIN:-$target/release/sequencer}
    if [ -z "$RETH_BIN" ] || [ ! -x "$RETH_BIN" ]; then
        echo "SKIP $1: no reth binary (set RETH_BIN to a reth v1.6.0 binary)"
        exit 0
    fi
    [ -x "$SEQUENCER_BIN" ] || cargo build --release --locked --manifest-path bin/sequencer/Cargo.toml || exit 1
    [ -x tests/node_modules/.bin/cast ] || npm ci --prefix tests --no-audit --no-fund --silent
    CAST=tests/node_modules/.bin/cast
    passed=0 failed=0
}

# check NAME COMMAND...: runs one check, prints ok/FAIL and counts it.
check() {
    local name=$1; shift
    if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}

# sync_head URL LABEL: block number of unsafe_l2 / safe_l2 / finalized_l2 from the kona RPC at URL
# (optimism_syncStatus); -1 when it does not answer.
sync_head() {
    curl -s -X POST -H 'content-type: application/json' \
        --data '{"jsonrpc":"2.0","id":1,"method":"optimism_syncStatus","params":[]}' "$1" |
        python3 -c "import json,sys; print(json.load(sys.stdin)['result']['$2']['number'])" 2>/dev/null || echo -1
}
