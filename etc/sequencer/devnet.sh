#!/usr/bin/env bash
# One-command local sequencer devnet: reth (Ethereum, v1.6.0) as the execution client and
# `sequencer run` driving it through the Engine API, posting to the local Celestia-compatible DA
# node (`sequencer da`, celestia-node's JSON-RPC) through the same Celestia client as a real network.
#
# VALIDATORS=N (default 1) runs a validator set: N sequencers agreeing through Simplex over their
# authenticated p2p, each with its own reth; the reths are peered over devp2p (that is how a
# transaction sent to one validator reaches the next leaders); all post to the one local DA node.
# Validator i uses the ports below plus 10*i; its state is in $SEQ_DEVNET_DIR/v<i> (with one
# validator: the folder itself).
#
# CLOCK_SKEW="1:-5 2:+5" runs validator 1's sequencer with its clock 5 s behind and validator
# 2's 5 s ahead (libfaketime, Debian package faketime): how a validator set is tried against
# skewed clocks. Only the sequencer's clock is shifted, not reth's.
#
# GAS_LIMIT sets a new devnet's block gas limit (default 30M: 1 428 transfers a block).
#
# Needs a reth binary: RETH_BIN (default: `reth` on PATH), e.g. from reth's v1.6.0 release.
# State lives in $SEQ_DEVNET_DIR (default .devnet-sequencer/): Ctrl-C stops, running again resumes
# from reth's heads; delete the folder to start over.
set -euo pipefail
cd "$(dirname "$0")/../.."

STATE=${SEQ_DEVNET_DIR:-.devnet-sequencer}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/rollup-target}
RETH=${RETH_BIN:-$(command -v reth || true)}
SEQUENCER=${SEQUENCER_BIN:-$TARGET/release/sequencer}
VALIDATORS=${VALIDATORS:-1}
CHAIN_ID=${CHAIN_ID:-1337}
BLOCK_TIME_MS=${BLOCK_TIME_MS:-1000}
DA_BLOCK_TIME_MS=${DA_BLOCK_TIME_MS:-6000}
MAX_SOFT_AHEAD=${MAX_SOFT_AHEAD:-64}
RETH_HTTP_PORT=${RETH_HTTP_PORT:-18545}
RETH_AUTH_PORT=${RETH_AUTH_PORT:-18551}
RETH_P2P_PORT=${RETH_P2P_PORT:-30313}
RETH_METRICS_PORT=${RETH_METRICS_PORT:-19001}
SEQ_RPC_PORT=${SEQ_RPC_PORT:-18547}
SEQ_METRICS_PORT=${SEQ_METRICS_PORT:-19002}
SEQ_P2P_PORT=${SEQ_P2P_PORT:-26656}
DA_RPC_PORT=${DA_RPC_PORT:-26658}
# anvil's first five development accounts, funded at genesis (never use them anywhere real).
DEV_ACCOUNTS=(0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC 0x90F79bf6EB2c4f870365E785982E1f101E93b906
    0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65)

LOG_TAG=sequencer-devnet
# shellcheck source=etc/devnet-lib.sh
. etc/devnet-lib.sh

[ -n "$RETH" ] && [ -x "$RETH" ] || { log "no reth binary: set RETH_BIN (reth v1.6.0)"; exit 1; }
[ -x "$SEQUENCER" ] || { log "missing $SEQUENCER: run 'just sequencer-devnet' or 'cargo build --release --locked --manifest-path bin/sequencer/Cargo.toml'"; exit 1; }
[[ "$VALIDATORS" =~ ^[1-9][0-9]*$ ]] || { log "VALIDATORS=$VALIDATORS: a count of at least 1"; exit 1; }
if [ "$VALIDATORS" -gt 1 ] && [ $((BLOCK_TIME_MS % 1000)) -ne 0 ]; then
    log "BLOCK_TIME_MS=$BLOCK_TIME_MS: a validator set needs whole seconds"; exit 1
fi
CLOCK_SKEW=${CLOCK_SKEW:-}
FAKETIME_LIB=${FAKETIME_LIB:-/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1}
for skew in $CLOCK_SKEW; do
    [[ "$skew" =~ ^[0-9]+:[+-][0-9]+$ ]] || { log "CLOCK_SKEW: '$skew' is not <validator>:<+|-><seconds>"; exit 1; }
    [ -f "$FAKETIME_LIB" ] || { log "CLOCK_SKEW needs libfaketime ($FAKETIME_LIB): apt-get install faketime"; exit 1; }
done
# The command prefix that runs validator i's sequencer with its clock shifted, if it is.
clock_of() {
    local skew
    for skew in $CLOCK_SKEW; do
        [ "${skew%%:*}" = "$1" ] && echo "env LD_PRELOAD=$FAKETIME_LIB FAKETIME=${skew#*:} FAKETIME_DONT_FAKE_MONOTONIC=1"
    done
    return 0
}
mkdir -p "$STATE"

# Validator i's folder, and a port of validator i.
vdir() { if [ "$VALIDATORS" -eq 1 ]; then echo "$STATE"; else echo "$STATE/v$1"; fi; }
port() { echo $(($1 + 10 * $2)); }
last=$((VALIDATORS - 1))

write_config() { # i, validators (TOML array), peers (TOML array items)
    local dir genesis_path
    dir=$(vdir "$1")
    genesis_path=genesis.json
    [ "$VALIDATORS" -eq 1 ] || genesis_path=../genesis.json
    cat > "$dir/config.toml" <<TOML
chain_id = $CHAIN_ID
genesis_path = "$genesis_path"

[consensus]
validators = $2
private_key_path = "validator.key"
listen_addr = "127.0.0.1:$(port "$SEQ_P2P_PORT" "$1")"
peers = [$3]

[celestia]
network = "local"
namespace = "0x726f6c6c7570" # "rollup"
rpc_url = "http://127.0.0.1:$DA_RPC_PORT"

[execution]
reth_url = "http://127.0.0.1:$(port "$RETH_AUTH_PORT" "$1")"
jwt_secret_path = "jwt.hex"
rpc_url = "http://127.0.0.1:$(port "$RETH_HTTP_PORT" "$1")"

[rpc]
listen_addr = "127.0.0.1:$(port "$SEQ_RPC_PORT" "$1")"

[sequencer]
block_time_ms = $BLOCK_TIME_MS
max_soft_ahead = $MAX_SOFT_AHEAD

[metrics]
listen_addr = "127.0.0.1:$(port "$SEQ_METRICS_PORT" "$1")"
TOML
}

if [ ! -f "$STATE/genesis.json" ]; then
    pubkeys=()
    for i in $(seq 0 "$last"); do
        mkdir -p "$(vdir "$i")"
        pubkeys+=("$("$SEQUENCER" keygen --output "$(vdir "$i")/validator.key")")
    done
    validators=$(printf '"%s", ' "${pubkeys[@]}")
    validators="[${validators%, }]"
    {
        echo "chain_id = $CHAIN_ID"
        echo "validators = $validators"
        [ -z "${GAS_LIMIT:-}" ] || echo "gas_limit = $GAS_LIMIT"
        for account in "${DEV_ACCOUNTS[@]}"; do
            printf '[[accounts]]\naddress = "%s"\nbalance = "1000000000000000000000000"\n' "$account"
        done
    } > "$STATE/genesis-config.toml"
    "$SEQUENCER" genesis --config "$STATE/genesis-config.toml" --output "$STATE/genesis.json"
    for i in $(seq 0 "$last"); do
        ( umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$(vdir "$i")/jwt.hex" )
        peers=""
        for j in $(seq 0 "$last"); do
            [ "$j" -eq "$i" ] || peers+="\"${pubkeys[j]}@127.0.0.1:$(port "$SEQ_P2P_PORT" "$j")\", "
        done
        write_config "$i" "$validators" "${peers%, }"
    done
    log "genesis and config written: $STATE/genesis.json, $VALIDATORS validator config(s)"
else
    log "resuming from $STATE"
fi

pids=()
stop() {
    trap - INT TERM EXIT
    log "stopping"
    for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; wait "${pids[i]}" 2>/dev/null || true; done
    log "stopped"
}
trap stop INT TERM EXIT

"$SEQUENCER" da --listen "127.0.0.1:$DA_RPC_PORT" --block-time-ms "$DA_BLOCK_TIME_MS" \
    --data-dir "$STATE/da" >> "$STATE/da.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$DA_RPC_PORT" header.NetworkHead "local DA node"
log "local DA node up: http://127.0.0.1:$DA_RPC_PORT (${DA_BLOCK_TIME_MS} ms blocks, blobs in $STATE/da)"

# reth's HTTP serves the eth namespace for reads (cast, the sequencer's nonce lookups); its
# eth_sendRawTransaction answers too, and a transaction sent there skips the sequencer's mempool
# rules (it is still included and counted as foreign). Send transactions to the sequencer's RPC.
# A validator set's reths also serve admin (on loopback) so this script can read their enodes:
# each reth trusts the ones started before it, which peers every pair.
# Every block is persisted before the next: with reth's defaults the newest blocks live only in
# memory, a restart loses them, and the sequencer would rebuild heights it already posted to DA.
# Every reth builds at the genesis gas limit: a block's gas limit is its parent's (a protocol
# rule), and reth's builder would otherwise move it towards its own default (36M).
# Every reth rebuilds the payload it is building every 100 ms (reth: once a second) while the
# sequencer waits out its build time, so a block takes the transactions that arrived until
# shortly before it is sealed, not only those there when the build started.
gas_limit=$(python3 -c 'import json,sys; v = json.load(open(sys.argv[1]))["gasLimit"]; print(int(v, 0) if isinstance(v, str) else v)' "$STATE/genesis.json")
enodes=()
for i in $(seq 0 "$last"); do
    dir=$(vdir "$i")
    api=eth,net,web3
    trusted=()
    txpool=()
    if [ "$VALIDATORS" -gt 1 ]; then
        api=eth,net,web3,admin
        # A validator's transactions reach the other validators' reths over devp2p, where reth
        # holds at most 16 a sender (--txpool.max-account-slots) of those it did not get over
        # RPC: it drops the rest, and the nonce gap then keeps that sender's later transactions
        # out of every other validator's blocks. Take as many as the sequencer's mempool holds
        # a sender (64).
        txpool=(--txpool.max-account-slots 64)
        [ ${#enodes[@]} -eq 0 ] || trusted=(--trusted-peers "$(IFS=,; echo "${enodes[*]}")")
    fi
    "$RETH" node --chain "$STATE/genesis.json" --datadir "$dir/reth" \
        --http --http.addr 127.0.0.1 --http.port "$(port "$RETH_HTTP_PORT" "$i")" --http.api "$api" \
        --authrpc.addr 127.0.0.1 --authrpc.port "$(port "$RETH_AUTH_PORT" "$i")" --authrpc.jwtsecret "$dir/jwt.hex" \
        --port "$(port "$RETH_P2P_PORT" "$i")" --disable-discovery --ipcdisable "${trusted[@]}" \
        --engine.persistence-threshold 0 --engine.memory-block-buffer-target 0 \
        --builder.gaslimit "$gas_limit" --builder.interval 100ms "${txpool[@]}" \
        --metrics "127.0.0.1:$(port "$RETH_METRICS_PORT" "$i")" >> "$dir/reth.log" 2>&1 &
    pids+=($!)
    wait_for "http://127.0.0.1:$(port "$RETH_HTTP_PORT" "$i")" eth_chainId "reth $i"
    if [ "$VALIDATORS" -gt 1 ]; then
        enodes+=("$(rpc "http://127.0.0.1:$(port "$RETH_HTTP_PORT" "$i")" admin_nodeInfo | python3 -c 'import json,sys
key = json.load(sys.stdin)["result"]["enode"].split("//")[1].split("@")[0]
print("enode://%s@127.0.0.1:%s" % (key, sys.argv[1]))' "$(port "$RETH_P2P_PORT" "$i")")")
    fi
    log "reth $i up: http://127.0.0.1:$(port "$RETH_HTTP_PORT" "$i")"
done

sequencers=()
for i in $(seq 0 "$last"); do
    dir=$(vdir "$i")
    # shellcheck disable=SC2046 # the prefix is words
    $(clock_of "$i") "$SEQUENCER" run --config "$dir/config.toml" >> "$dir/sequencer.log" 2>&1 &
    pids+=($!)
    sequencers+=($!)
done
for i in $(seq 0 "$last"); do
    wait_for "http://127.0.0.1:$(port "$SEQ_RPC_PORT" "$i")" sequencer_status "sequencer $i"
    log "sequencer $i RPC http://127.0.0.1:$(port "$SEQ_RPC_PORT" "$i") (eth_sendRawTransaction, sequencer_status), metrics http://127.0.0.1:$(port "$SEQ_METRICS_PORT" "$i")"
done
log "logs          sequencer.log and reth.log in $(vdir 0)$([ "$VALIDATORS" -eq 1 ] || echo " ... $(vdir "$last")"), $STATE/da.log; Ctrl-C stops everything"
wait "${sequencers[0]}"
