#!/usr/bin/env bash
# One-command local OP Stack devnet: anvil as L1, the beacon adapter kona needs in front of it,
# `rollup node` sequencing L2 blocks with its built-in batcher posting them to L1, and validator
# `rollup node`s deriving the chain from L1 (and following the sequencer over P2P). Builds what is
# missing first. State lives in $DEVNET_DIR (default .devnet/): stop with Ctrl-C and run again to
# resume from the same L1 and L2 heads; delete the folder to start over.
#
# Settings (environment): VALIDATORS (default 1), NO_P2P_VALIDATORS (validator numbers that
# derive from L1 only, e.g. "2"), BATCHER (1: on), BATCHER_DA (calldata or blobs: how the batcher
# posts; blobs are served to kona by the beacon adapter with real KZG proofs), L2_BLOCK_TIME, L1_BLOCK_TIME,
# L1_SLOTS_PER_EPOCH (anvil finalizes latest - 2 x this), L1_HISTORY_SECS (a fresh devnet whose
# L1 and L2 start that long ago: the sequencer catches up as fast as it builds), ISTHMUS_DELAY
# (seconds after L2 genesis, default 180; 0 = at genesis), BATCHER_KEY (hex key the batcher posts
# with; default anvil's second dev key, the genesis batcher), PROPOSER (1: a node proposes output
# roots to the L2OutputOracle), PROPOSER_NODE (which: 0 the sequencer, N validator N),
# PROPOSER_HEAD (finalized or safe), SEQ_WINDOW_SIZE (L1 blocks; for histories longer than the
# default 3600), SEQUENCER_FLAGS
# (extra `rollup node` flags), ROLLUP_BIN, DEVNET_BIN, and the ports below; validator N uses each
# sequencer port + 10 x N.
set -euo pipefail
cd "$(dirname "$0")/../.."

STATE=${DEVNET_DIR:-.devnet}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/rollup-target}
ROLLUP=${ROLLUP_BIN:-$TARGET/release/rollup}
DEVNET=${DEVNET_BIN:-$TARGET/release/rollup-devnet}
VALIDATORS=${VALIDATORS:-1}
NO_P2P_VALIDATORS=${NO_P2P_VALIDATORS:-}
BATCHER=${BATCHER:-1}
BATCHER_DA=${BATCHER_DA:-calldata}
L2_BLOCK_TIME=${L2_BLOCK_TIME:-2}
L1_BLOCK_TIME=${L1_BLOCK_TIME:-2}
L1_SLOTS_PER_EPOCH=${L1_SLOTS_PER_EPOCH:-2}
L1_HISTORY_SECS=${L1_HISTORY_SECS:-0}
# Seconds after L2 genesis at which Isthmus activates (0: at genesis; the forks before it are
# active at genesis). The default lets the chain run on Holocene first, as live chains did.
ISTHMUS_DELAY=${ISTHMUS_DELAY:-180}
SEQUENCER_FLAGS=${SEQUENCER_FLAGS:-}
L1_PORT=${L1_PORT:-8545}
BEACON_PORT=${BEACON_PORT:-5052}
L2_HTTP_PORT=${L2_HTTP_PORT:-9545}
KONA_RPC_PORT=${KONA_RPC_PORT:-9546}
METRICS_PORT=${METRICS_PORT:-9001}
L2_P2P_PORT=${L2_P2P_PORT:-30303}
L2_AUTH_PORT=${L2_AUTH_PORT:-8551}
# kona drives reth in-process, so reth's engine API server (auth RPC, JWT) is off unless asked
# for (AUTH_SERVER=1, e.g. to attach another consensus client or a debugging tool).
AUTH_SERVER=${AUTH_SERVER:-0}
# KONA_NODE_BIN=<kona-node binary> runs the sequencer as the pair `rollup` replaces, for
# comparison: the same binary as plain op-reth (no --kona flags, auth server with a JWT) plus
# kona-node (crates.io, 1.0.0-rc.1) driving it over the engine API. No batcher, no validators.
KONA_NODE_BIN=${KONA_NODE_BIN:-}
KONA_P2P_PORT=${KONA_P2P_PORT:-9222}
# anvil's first development key: the devnet's sequencer (never use it anywhere real).
DEV_SEQUENCER_KEY=ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
DEV_SEQUENCER_ADDRESS=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
# anvil's second development key: the devnet's batcher (the genesis system config's batcher).
DEV_BATCHER_KEY=59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
# The key the built-in batcher posts with: after `SystemConfig.setBatcherHash` to another
# account, restart with BATCHER_KEY=<its hex key> (the batcher posts only while L1 names it).
BATCHER_KEY=${BATCHER_KEY:-$DEV_BATCHER_KEY}
# anvil's third development key: the proposer the devnet's L2OutputOracle names.
DEV_PROPOSER_KEY=5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
PROPOSER=${PROPOSER:-1}
PROPOSER_NODE=${PROPOSER_NODE:-0}
PROPOSER_HEAD=${PROPOSER_HEAD:-finalized}
# How far back the nodes answer eth_getProof (reth: the latest block only, by default); proving a
# withdrawal reads the message passer's storage proof at the block of its output. A week of L2
# blocks at the default block time.
ETH_PROOF_WINDOW=${ETH_PROOF_WINDOW:-302400}

LOG_TAG=devnet
# shellcheck source=etc/devnet-lib.sh
. etc/devnet-lib.sh
[[ "${SEQ_WINDOW_SIZE:-1}" =~ ^[1-9][0-9]*$ ]] ||
    { log "SEQ_WINDOW_SIZE=$SEQ_WINDOW_SIZE: a number of L1 blocks (a positive integer)"; exit 1; }

# Build what is missing (only where the caller did not name a binary).
if [ ! -x "$ROLLUP" ]; then
    [ -z "${ROLLUP_BIN:-}" ] || { log "ROLLUP_BIN=$ROLLUP_BIN is not an executable"; exit 1; }
    command -v cargo > /dev/null || { log "cargo not found: install Rust (rustup.rs)"; exit 1; }
    if ! ldconfig -p 2>/dev/null | grep -q 'libclang'; then
        log "reth's database bindings need libclang: apt-get install libclang-dev (then run again)"
        exit 1
    fi
    log "building rollup into $TARGET/release (reth comes from GitHub by git; the first build takes 15 min or more on 2 cores)"
    (cd bin/rollup && CARGO_TARGET_DIR="$TARGET" cargo build --release --locked)
fi
if [ ! -x "$DEVNET" ]; then
    [ -z "${DEVNET_BIN:-}" ] || { log "DEVNET_BIN=$DEVNET_BIN is not an executable"; exit 1; }
    log "building rollup-devnet into $TARGET/release"
    CARGO_TARGET_DIR="$TARGET" cargo build --release --locked -p rollup-devnet
fi
{ [ -x tests/node_modules/.bin/anvil ] && [ -f tests/node_modules/@eth-optimism/contracts-bedrock/package.json ]; } \
    || npm ci --prefix tests --no-audit --no-fund --silent
mkdir -p "$STATE"

pids=()
stop() {
    trap - INT TERM EXIT
    log "stopping"
    for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; wait "${pids[i]}" 2>/dev/null || true; done
    log "stopped"
}
trap stop INT TERM EXIT

anvil=(tests/node_modules/.bin/anvil --host 127.0.0.1 --port "$L1_PORT"
    --slots-in-an-epoch "$L1_SLOTS_PER_EPOCH" --state "$STATE/anvil-state.json")
# The beacon adapter pins anvil to the slot grid (every block its parent + one slot, also the
# blocks anvil_reorg re-mines): kona asks for blobs by slot, and a slot holding two blocks could
# never be served. It starts before anvil mines on its own clock.
start_beacon_adapter() {
    keep_log "$STATE/beacon.log"
    "$DEVNET" beacon --l1-rpc "http://127.0.0.1:$L1_PORT" --listen "127.0.0.1:$BEACON_PORT" \
        --seconds-per-slot "$L1_BLOCK_TIME" > "$STATE/beacon.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 300); do
        curl -sf "http://127.0.0.1:$BEACON_PORT/eth/v1/config/spec" > /dev/null && break
        kill -0 "${pids[-1]}" 2>/dev/null || { log "beacon adapter failed: $(tail -n 1 "$STATE/beacon.log")"; exit 1; }
        sleep 0.2
    done
    log "beacon adapter: http://127.0.0.1:$BEACON_PORT (anvil pinned to ${L1_BLOCK_TIME}s slots)"
}

# init_devnet: deploy the OP L1 contracts and write genesis.json, rollup.json, addresses.json.
init_devnet() {
    "$DEVNET" init --l1-rpc "http://127.0.0.1:$L1_PORT" --out "$STATE" --block-time "$L2_BLOCK_TIME" \
        --isthmus-delay "$ISTHMUS_DELAY"
    if [ -n "${SEQ_WINDOW_SIZE:-}" ]; then
        # A history longer than the sequencing window (3600 L1 blocks) would have its old batches
        # land past their window: derivation would replace those blocks with deposits-only ones.
        python3 - "$STATE/rollup.json" "$SEQ_WINDOW_SIZE" <<'PY'
import json, os, sys
path, size = sys.argv[1], int(sys.argv[2])
config = json.load(open(path))
config["seq_window_size"] = size
with open(path + ".tmp", "w") as f:
    json.dump(config, f, indent=2)
os.replace(path + ".tmp", path)
PY
        log "sequencing window: $SEQ_WINDOW_SIZE L1 blocks"
    fi
    log "OP contracts deployed on L1 ($STATE/addresses.json); genesis written: $STATE/genesis.json, $STATE/rollup.json"
}

if [ "$L1_HISTORY_SECS" -gt 0 ] && [ ! -f "$STATE/rollup.json" ]; then
    # L1 blocks every L1_BLOCK_TIME from L1_HISTORY_SECS ago until now, then on the clock. The
    # OP contracts go in first: the L2 chain starts right after them, at the start of the history.
    keep_log "$STATE/anvil.log"
    "${anvil[@]}" --timestamp "$(( $(date +%s) - L1_HISTORY_SECS ))" > "$STATE/anvil.log" 2>&1 &
    pids+=($!)
    wait_for "http://127.0.0.1:$L1_PORT" eth_chainId "L1 (anvil)"
    init_devnet
    rpc_with "http://127.0.0.1:$L1_PORT" anvil_mine "[\"$(printf '0x%x' $((L1_HISTORY_SECS / L1_BLOCK_TIME)))\",\"$(printf '0x%x' "$L1_BLOCK_TIME")\"]" > /dev/null
    start_beacon_adapter
    rpc_with "http://127.0.0.1:$L1_PORT" evm_setIntervalMining "[$L1_BLOCK_TIME]" > /dev/null
    log "L1 history: $((L1_HISTORY_SECS / L1_BLOCK_TIME)) blocks over the last ${L1_HISTORY_SECS}s; L2 starts after the contracts, at its beginning"
else
    keep_log "$STATE/anvil.log"
    "${anvil[@]}" --block-time "$L1_BLOCK_TIME" > "$STATE/anvil.log" 2>&1 &
    pids+=($!)
    wait_for "http://127.0.0.1:$L1_PORT" eth_chainId "L1 (anvil)"
    start_beacon_adapter
    if [ ! -f "$STATE/rollup.json" ]; then init_devnet; else log "resuming from $STATE"; fi
fi
log "L1 up: http://127.0.0.1:$L1_PORT (anvil, ${L1_BLOCK_TIME}s blocks, finalized = latest - $((2 * L1_SLOTS_PER_EPOCH)))"
( umask 077; printf '%s' "$DEV_SEQUENCER_KEY" > "$STATE/sequencer.key"; printf '%s' "$BATCHER_KEY" > "$STATE/batcher.key"
  printf '%s' "$DEV_PROPOSER_KEY" > "$STATE/proposer.key" )

# start_node NAME INDEX EXTRA_FLAGS...: one `rollup node`, its ports offset by 10 x INDEX.
start_node() {
    local name=$1 index=$2; shift 2
    local dir="$STATE/$name" off=$((10 * index))
    local auth_flags=(--disable-auth-server)
    [ "$AUTH_SERVER" = 1 ] && auth_flags=(--authrpc.port "$((L2_AUTH_PORT + off))")
    mkdir -p "$dir"
    [ -d "$dir/data/db" ] || "$ROLLUP" init --chain "$STATE/genesis.json" --datadir "$dir/data" > "$dir/init.log" 2>&1
    keep_log "$dir/rollup.log"
    "$ROLLUP" node --chain "$STATE/genesis.json" --datadir "$dir/data" \
        --http --http.port "$((L2_HTTP_PORT + off))" --http.api eth,net,web3,admin --metrics "127.0.0.1:$((METRICS_PORT + off))" --ipcdisable \
        --port "$((L2_P2P_PORT + off))" --disable-discovery "${auth_flags[@]}" \
        --engine.persistence-threshold 0 --engine.memory-block-buffer-target 0 \
        --rpc.eth-proof-window "$ETH_PROOF_WINDOW" \
        --kona.config-file "$STATE/rollup.json" \
        --kona.l1-eth-rpc "http://127.0.0.1:$L1_PORT" --kona.l1-beacon "http://127.0.0.1:$BEACON_PORT" \
        --kona.l1-trust-rpc --kona.p2p.priv.path "$dir/p2p.key" \
        --kona.p2p.no-discovery --kona.p2p.listen.ip 127.0.0.1 \
        --kona.p2p.listen.tcp "$((KONA_P2P_PORT + off))" --kona.p2p.listen.udp "$((KONA_P2P_PORT + off + 1))" \
        --kona.rpc.port "$((KONA_RPC_PORT + off))" "$@" > "$dir/rollup.log" 2>&1 &
    pids+=($!)
    wait_for "http://127.0.0.1:$((L2_HTTP_PORT + off))" eth_chainId "$name"
}

batcher_flags=()
[ "$BATCHER" = 1 ] && batcher_flags=(--batcher.key.path "$STATE/batcher.key" --batcher.data-availability-type "$BATCHER_DA")
# The proposer looks every L1 block (op-proposer's 6 s default is for 12 s L1 blocks).
proposer_flags=()
[ "$PROPOSER" = 1 ] && proposer_flags=(--proposer.key.path "$STATE/proposer.key" --proposer.head "$PROPOSER_HEAD" --proposer.poll-interval "$((L1_BLOCK_TIME * 1000))")
# start_two_process_sequencer: op-reth (this binary without --kona flags) + kona-node.
start_two_process_sequencer() {
    local dir="$STATE/sequencer"
    mkdir -p "$dir"
    [ -d "$dir/data/db" ] || "$ROLLUP" init --chain "$STATE/genesis.json" --datadir "$dir/data" > "$dir/init.log" 2>&1
    [ -f "$dir/jwt.hex" ] || ( umask 077; python3 -c 'import secrets; print(secrets.token_hex(32))' > "$dir/jwt.hex" )
    keep_log "$dir/reth.log"; keep_log "$dir/rollup.log"
    "$ROLLUP" node --chain "$STATE/genesis.json" --datadir "$dir/data" \
        --http --http.port "$L2_HTTP_PORT" --http.api eth,net,web3,admin --metrics "127.0.0.1:$METRICS_PORT" --ipcdisable \
        --port "$L2_P2P_PORT" --disable-discovery --authrpc.port "$L2_AUTH_PORT" --authrpc.jwtsecret "$dir/jwt.hex" \
        --engine.persistence-threshold 0 --engine.memory-block-buffer-target 0 > "$dir/reth.log" 2>&1 &
    pids+=($!)
    wait_for "http://127.0.0.1:$L2_HTTP_PORT" eth_chainId "sequencer (op-reth)"
    "$KONA_NODE_BIN" --chain "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["l2_chain_id"])' "$STATE/rollup.json")" \
        node --mode sequencer --l1-eth-rpc "http://127.0.0.1:$L1_PORT" --l1-beacon "http://127.0.0.1:$BEACON_PORT" \
        --l2-engine-rpc "http://127.0.0.1:$L2_AUTH_PORT" --l2-engine-jwt-secret "$dir/jwt.hex" \
        --l2-config-file "$STATE/rollup.json" --p2p.sequencer.key "$DEV_SEQUENCER_KEY" \
        --p2p.no-discovery --p2p.listen.ip 127.0.0.1 --p2p.listen.tcp "$KONA_P2P_PORT" --p2p.listen.udp "$((KONA_P2P_PORT + 1))" \
        --rpc.addr 127.0.0.1 --port "$KONA_RPC_PORT" > "$dir/rollup.log" 2>&1 &
    pids+=($!)
    log "sequencer: op-reth + kona-node ($KONA_NODE_BIN), engine API over http://127.0.0.1:$L2_AUTH_PORT with a JWT"
}

node_proposer_flags=(); [ "$PROPOSER_NODE" = 0 ] && node_proposer_flags=("${proposer_flags[@]}")
if [ -n "$KONA_NODE_BIN" ]; then
    start_two_process_sequencer
else
    # shellcheck disable=SC2086 # SEQUENCER_FLAGS is a list of flags
    start_node sequencer 0 --kona.mode sequencer --kona.p2p.sequencer.key.path "$STATE/sequencer.key" "${batcher_flags[@]}" "${node_proposer_flags[@]}" $SEQUENCER_FLAGS
fi
# The first run's logs stay where the e2e tests and benchmarks have always read them.
ln -sf sequencer/rollup.log "$STATE/rollup.log"
sequencer_pid=${pids[-1]}
start=$(rpc "http://127.0.0.1:$L2_HTTP_PORT" eth_blockNumber | sed 's/.*"result":"\(0x[0-9a-f]*\)".*/\1/')
for _ in $(seq 1 100); do
    now=$(rpc "http://127.0.0.1:$L2_HTTP_PORT" eth_blockNumber | sed 's/.*"result":"\(0x[0-9a-f]*\)".*/\1/')
    [ "$((now))" -gt "$((start))" ] && break
    sleep 0.2
done
log "L2 producing blocks: head $((now)) (${L2_BLOCK_TIME}s blocks)$([ "$BATCHER" = 1 ] && echo ", batcher on ($BATCHER_DA)")$([ "$PROPOSER" = 1 ] && echo ", proposer on node $PROPOSER_NODE ($PROPOSER_HEAD blocks)")"

peer_id=
for _ in $(seq 1 50); do
    peer_id=$(rpc "http://127.0.0.1:$KONA_RPC_PORT" opp2p_self | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["peerID"])' 2>/dev/null) && break
    sleep 0.2
done
sequencer_peer="/ip4/127.0.0.1/tcp/$KONA_P2P_PORT/p2p/$peer_id"
# The sequencer's reth, for the validators' reths: gossip only carries new blocks, and a validator
# that missed some (it started later, or was down) has its execution layer fetch them over devp2p,
# as op-node + op-reth validators do.
sequencer_enode=$(rpc "http://127.0.0.1:$L2_HTTP_PORT" admin_nodeInfo | python3 -c 'import json,sys
key = json.load(sys.stdin)["result"]["enode"].split("//")[1].split("@")[0]
print("enode://%s@127.0.0.1:%s" % (key, sys.argv[1]))' "$L2_P2P_PORT")
for i in $(seq 1 "$VALIDATORS"); do
    p2p=(--kona.p2p.static-peers "$sequencer_peer" --trusted-peers "$sequencer_enode")
    case " $NO_P2P_VALIDATORS " in *" $i "*) p2p=();; esac
    node_proposer_flags=(); [ "$PROPOSER_NODE" = "$i" ] && node_proposer_flags=("${proposer_flags[@]}")
    start_node "validator-$i" "$i" --kona.mode validator --kona.p2p.unsafe.block.signer "$DEV_SEQUENCER_ADDRESS" "${p2p[@]}" "${node_proposer_flags[@]}"
    log "validator-$i: http://127.0.0.1:$((L2_HTTP_PORT + 10 * i)), kona RPC :$((KONA_RPC_PORT + 10 * i))$([ ${#p2p[@]} -eq 0 ] && echo " (L1 only, no P2P)")"
done

log "L2 JSON-RPC   http://127.0.0.1:$L2_HTTP_PORT (sequencer)"
log "kona RPC      http://127.0.0.1:$KONA_RPC_PORT (optimism_syncStatus)"
log "metrics       http://127.0.0.1:$METRICS_PORT"
log "logs          $STATE/<node>/rollup.log (earlier runs: rollup.log.1, .2, ...); Ctrl-C stops everything"

# Heads of every node, now and every 20 s while the sequencer runs. A node whose blob fetches
# fail (reth_rollup_beacon_failures_total{endpoint="blob_sidecars"}) while its safe head stands
# still is flagged: it is stuck on L1 data, and its rollup.log says why.
heads() {
    rpc "http://127.0.0.1:$1" optimism_syncStatus | python3 -c 'import json,sys
r = json.load(sys.stdin)["result"]
print("unsafe %d safe %d finalized %d" % tuple(r[k]["number"] for k in ("unsafe_l2", "safe_l2", "finalized_l2")))' 2>/dev/null || echo "not answering"
}
blob_fetch_failures() {
    curl -s "http://127.0.0.1:$1/metrics" | awk '/^(reth_)?rollup_beacon_failures_total\{/ && /endpoint="blob_sidecars"/ { n += $NF } END { print n + 0 }'
}
declare -A last_failures=() last_safe=()
# node_status NAME INDEX: appends NAME's heads (and a stuck flag) to $line.
node_status() {
    local name=$1 off=$((10 * $2)) sync safe failures new
    sync=$(heads "$((KONA_RPC_PORT + off))")
    safe=$(sed -n 's/.* safe \([0-9]*\) .*/\1/p' <<< "$sync")
    failures=$(blob_fetch_failures "$((METRICS_PORT + off))")
    line+="$name: $sync"
    new=$((failures - ${last_failures[$name]:-$failures}))
    if [ "$new" -gt 0 ] && [ -n "$safe" ] && [ "$safe" = "${last_safe[$name]:-}" ]; then
        line+=" STUCK on L1 blob data ($new failed blob fetches since the last line, safe head still; see $STATE/$name/rollup.log)"
    elif [ "$new" -gt 0 ]; then
        line+=" ($new failed blob fetches since the last line)"
    fi
    last_failures[$name]=$failures
    last_safe[$name]=$safe
}
while kill -0 "$sequencer_pid" 2>/dev/null; do
    line=
    node_status sequencer 0
    for i in $(seq 1 "$VALIDATORS"); do line+=" | "; node_status "validator-$i" "$i"; done
    log "$line"
    for _ in $(seq 1 100); do kill -0 "$sequencer_pid" 2>/dev/null || break; sleep 0.2; done
done
wait "$sequencer_pid"
