# Routine actions. `just --list` shows them. Install just with `cargo install just --locked`.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Keep the build cache outside the clone so fresh clones (CI) reuse it.
export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") + "/.cache/rollup-target")

default:
    @just --list

# Build the reth-free workspaces (everything CI builds): the root one and the sequencer's.
build:
    cargo build --workspace --locked
    cargo build --workspace --locked --manifest-path bin/sequencer/Cargo.toml

# Build the `rollup` binary (op-reth + kona ExEx). Needs network access: reth comes from GitHub by git.
build-rollup:
    cd bin/rollup && cargo build --release --locked
    @echo "built: $CARGO_TARGET_DIR/release/rollup"

# Local devnet (anvil L1 + beacon adapter + rollup sequencer with batcher + validators); Ctrl-C stops, rerun resumes.
devnet: build-rollup
    cargo build --release --locked -p rollup-devnet
    ./etc/devnet/devnet.sh

# End-to-end devnet test against the built `rollup` binary (skips when it is not built).
e2e: build-rollup
    cargo build --release --locked -p rollup-devnet
    ./tests/e2e/devnet_e2e.sh

# Rust harness on a sequencer, a P2P validator and an L1-only validator: portal, bridge, contract-creating
# and reverting deposits, SystemConfig gas limit, fee scalars and batcher, Isthmus mid-chain; derivation
# through an L1 reorg, a validator SIGKILL and a devnet restart. FILTER picks tests.

# A real OP chain end to end (tests/op-chain-e2e). DA=blobs has the batcher post blobs.
e2e-op-chain DA="calldata" FILTER="": build-rollup
    cargo build --release --locked -p rollup-devnet
    ROLLUP_BIN="$CARGO_TARGET_DIR/release/rollup" DEVNET_BIN="$CARGO_TARGET_DIR/release/rollup-devnet" BATCHER_DA={{DA}} \
        cargo nextest run --locked -p rollup-op-chain-e2e --run-ignored ignored-only --no-capture {{FILTER}}

# Derivation end to end (the Rust harness's derivation test). DA=blobs has the batcher post blobs.
derivation-e2e DA="calldata": (e2e-op-chain DA "derivation")

# Withdrawals end to end: the built-in proposer (SIGKILLed once), prove and finalize, safe-head DB.
withdrawals-e2e DA="calldata": (e2e-op-chain DA "withdrawals")

# Prove, then finalize, the withdrawal L2 transaction TX started, on the running devnet.
devnet-withdraw TX:
    cargo build --release --locked -p rollup-devnet
    "$CARGO_TARGET_DIR/release/rollup-devnet" withdraw prove --tx {{TX}}
    "$CARGO_TARGET_DIR/release/rollup-devnet" withdraw finalize --tx {{TX}}

# The devnet started from an empty state folder RUNS times in a row; each start's first blocks are checked.
devnet-fresh-starts RUNS="20": build-rollup
    cargo build --release --locked -p rollup-devnet
    ./tests/e2e/devnet_fresh_starts.sh {{RUNS}}

# Devnet block production at 1 s blocks for 10 minutes: missed slots and build latency.
bench-devnet: build-rollup
    cargo build --release --locked -p rollup-devnet
    rm -rf .devnet-bench
    -DEVNET_DIR=.devnet-bench L2_BLOCK_TIME=1 timeout -s INT 620 ./etc/devnet/devnet.sh
    python3 tests/e2e/slot_bench.py .devnet-bench/rollup.log 1 10

# Per-block engine overhead, typed in-process path vs kona's HTTP engine client, at 0/100/1000/5000 transfers.
bench-engine:
    cargo bench --locked -p rollup-engine --bench engine_overhead

# Sequencer build latency at 1 s blocks, empty and at 100 transfers/s: in-process `rollup` against
# op-reth + kona-node (KONA_NODE_BIN=…, `cargo install kona-node --version 1.0.0-rc.1 --locked`) and
# an earlier build (ROLLUP_BEFORE_BIN=…), each when given.
bench-build-latency: build-rollup
    cargo build --release --locked -p rollup-devnet
    ./tests/e2e/build_latency_bench.sh 60 100

# Validator derivation throughput: an L1 holding BLOCKS L2 blocks of batches, then fresh validators syncing.
bench-derivation BLOCKS="5000" ROUNDS="1": build-rollup
    cargo build --release --locked -p rollup-devnet
    ./tests/e2e/derivation_bench.sh {{BLOCKS}} {{ROUNDS}}

# The same, each round also by op-reth + crates.io kona-node 1.0.0-rc.1 (installed on first use): ratio.
bench-derivation-vs-anchor BLOCKS="5000" ROUNDS="2": build-rollup
    cargo build --release --locked -p rollup-devnet
    INSTALL_ANCHOR=1 ./tests/e2e/derivation_bench.sh {{BLOCKS}} {{ROUNDS}}

# Sequencer devnet: reth (RETH_BIN, v1.6.0) + `sequencer run` with local DA; Ctrl-C stops, rerun resumes.
# VALIDATORS=4 just sequencer-devnet: a validator set, each validator with its own reth.
sequencer-devnet:
    cargo build --release --locked --manifest-path bin/sequencer/Cargo.toml
    ./etc/sequencer/devnet.sh

# Sequencer end to end against a real reth (RETH_BIN): cast transfers become SOFT then FIRM; restart.
sequencer-e2e:
    cargo build --release --locked --manifest-path bin/sequencer/Cargo.toml
    ./tests/e2e/sequencer_e2e.sh

# Four validators on four real reths (RETH_BIN): agreement, FIRM, a killed validator, catch-up, DA proof.
validator-set-e2e:
    cargo build --release --locked --manifest-path bin/sequencer/Cargo.toml
    ./tests/e2e/validator_set_e2e.sh

# Four validators on real reths (RETH_BIN), 60 s of transfers at 200 and at 500 per second.
bench-validator-set:
    cargo build --release --locked --manifest-path bin/sequencer/Cargo.toml
    ./tests/e2e/validator_set_bench.sh 60 200
    ./tests/e2e/validator_set_bench.sh 60 500

# Throughput ceiling on real reths (RETH_BIN): highest transfers/s with send -> SOFT p99 <= 2 blocks, one validator, then four; four / (one / 4).
bench-validator-set-ceiling SECONDS="30":
    cargo build --release --locked --manifest-path bin/sequencer/Cargo.toml
    ./tests/e2e/validator_set_ceiling.sh {{SECONDS}}

# Two sequencer builds (BASE_BIN, NEW_BIN) under the same four-validator load (RETH_BIN), alternating: ratios.
bench-validator-set-compare SECONDS="60" TPS="500" ROUNDS="1":
    ./tests/e2e/validator_set_bench_compare.sh {{SECONDS}} {{TPS}} {{ROUNDS}}

# Sequencer against a real reth (RETH_BIN) for 2 minutes at 1 s and at 100 ms blocks: blocks/s, SOFT latency.
bench-sequencer:
    cargo build --release --locked --manifest-path bin/sequencer/Cargo.toml
    ./tests/e2e/sequencer_bench.sh 1000 120
    ./tests/e2e/sequencer_bench.sh 100 120

# Run the test suite exactly as CI does (installs anvil from npm on first use).
test *ARGS:
    ./tests/run.sh {{ARGS}}

# Formatting and clippy, warnings as errors, on both reth-free workspaces.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cargo fmt --all --check --manifest-path bin/sequencer/Cargo.toml
    cargo clippy --workspace --all-targets --locked --manifest-path bin/sequencer/Cargo.toml -- -D warnings

# Format the code.
fmt:
    cargo fmt --all
    cargo fmt --all --manifest-path bin/sequencer/Cargo.toml
    cd bin/rollup && cargo fmt

# Benchmarks (release). They print ratios measured in one run.
bench:
    cargo bench --workspace --locked
    cargo bench --workspace --locked --manifest-path bin/sequencer/Cargo.toml

# Run the CI script locally.
ci:
    bash .ci/run
