#!/usr/bin/env bash
# End-to-end test of `sequencer run` against a real reth: transactions sent with cast become SOFT
# (reth head and safe) and then FIRM (reth finalized); a restart resumes from reth's heads.
# Needs a reth v1.6.0 binary in RETH_BIN; without one the test is skipped with a message.
# Run: RETH_BIN=/path/to/reth ./tests/e2e/sequencer_e2e.sh
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh
sequencer_e2e_setup "sequencer e2e"

export SEQ_DEVNET_DIR=$(mktemp -d) BLOCK_TIME_MS=500 DA_BLOCK_TIME_MS=2000
# Ports below the kernel's ephemeral range (32768-60999), which outgoing connections use.
export RETH_HTTP_PORT=23545 RETH_AUTH_PORT=23551 RETH_P2P_PORT=23303 RETH_METRICS_PORT=24001
export SEQ_RPC_PORT=23547 SEQ_METRICS_PORT=24002 SEQ_P2P_PORT=23656
RETH="http://127.0.0.1:$RETH_HTTP_PORT"
SEQ="http://127.0.0.1:$SEQ_RPC_PORT"
# anvil's first development key; its account is funded by the devnet genesis.
DEV_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
RECIPIENT=0x70997970C51812dc3A010C7aebd7d7D2e4FC0f0E
tx_block=-1
rpc() { curl -s -X POST -H 'content-type: application/json' --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":[${3:-}]}" "$1"; }
block_of() { "$CAST" block "$1" --field number --rpc-url "$RETH" 2>/dev/null || echo -1; }
start_devnet() {
    ./etc/sequencer/devnet.sh > "$SEQ_DEVNET_DIR/devnet.out" 2>&1 &
    devnet_pid=$!
    for _ in $(seq 1 300); do
        grep -q "Ctrl-C stops everything" "$SEQ_DEVNET_DIR/devnet.out" 2>/dev/null && return 0
        kill -0 "$devnet_pid" 2>/dev/null || break
        sleep 0.2
    done
    echo "devnet did not start:"; cat "$SEQ_DEVNET_DIR/devnet.out"; tail -20 "$SEQ_DEVNET_DIR"/*.log; return 1
}
cleanup() {
    kill -TERM "$devnet_pid" 2>/dev/null; wait "$devnet_pid" 2>/dev/null
    [ "$failed" -eq 0 ] || { echo "--- sequencer.log (tail)"; tail -30 "$SEQ_DEVNET_DIR/sequencer.log"; }
    rm -rf "$SEQ_DEVNET_DIR"
}
trap cleanup EXIT

start_devnet || exit 1

# Sign against reth's state (nonce, fees), submit to the sequencer's RPC.
send_transfers() { # count
    local nonce raw
    nonce=$("$CAST" nonce "${DEV_ADDR:-0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266}" --rpc-url "$RETH")
    hashes=()
    for i in $(seq 0 $(($1 - 1))); do
        raw=$("$CAST" mktx --private-key "$DEV_KEY" --rpc-url "$RETH" --nonce $((nonce + i)) \
            --gas-limit 21000 "$RECIPIENT" --value 1gwei) || return 1
        hashes+=("$("$CAST" publish --async --rpc-url "$SEQ" "$raw")") || return 1
    done
}

transfers_become_soft() {
    send_transfers 5 || return 1
    local receipt status
    for h in "${hashes[@]}"; do
        receipt=$(timeout 30 "$CAST" receipt "$h" --rpc-url "$RETH" --json) || return 1
        status=$(echo "$receipt" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
        [ "$status" = "0x1" ] || { echo "     $h status $status"; return 1; }
    done
    tx_block=$(echo "$receipt" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["blockNumber"],16))')
    local safe
    safe=$(block_of safe)
    echo "     5 transfers included by block $tx_block; reth safe = $safe"
    [ "$safe" -ge "$tx_block" ]
}
check "transfers sent with cast are included and SOFT (reth head and safe)" transfers_become_soft

transfers_become_firm() {
    local finalized=-1
    for _ in $(seq 1 60); do
        finalized=$(block_of finalized)
        [ "$finalized" -ge "$tx_block" ] && break
        sleep 0.5
    done
    echo "     reth finalized = $finalized (transfers in $tx_block)"
    [ "$finalized" -ge "$tx_block" ] && grep -q "FIRM" "$SEQ_DEVNET_DIR/sequencer.log"
}
check "the block holding them becomes FIRM (reth finalized)" transfers_become_firm

head_order_holds() {
    local latest safe finalized
    # Read in the order the heads trail each other: each moves only forward, so a block made
    # between two reads cannot make a later-read head look behind an earlier one.
    finalized=$(block_of finalized); safe=$(block_of safe); latest=$(block_of latest)
    echo "     latest $latest >= safe $safe >= finalized $finalized"
    [ "$latest" -ge "$safe" ] && [ "$safe" -ge "$finalized" ] && [ "$finalized" -ge 1 ]
}
check "reth heads satisfy latest >= safe >= finalized" head_order_holds

bad_transactions_rejected() {
    local wrong_chain out
    wrong_chain=$("$CAST" mktx --private-key "$DEV_KEY" --chain 999 --nonce 0 --gas-limit 21000 \
        --gas-price 1gwei --priority-gas-price 1gwei "$RECIPIENT" --value 1) || return 1
    out=$(rpc "$SEQ" eth_sendRawTransaction "\"$wrong_chain\"")
    echo "     wrong chain id: $(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["error"]["message"])')"
    echo "$out" | grep -q '"error"'
}
check "a transaction for another chain id is refused with an error" bad_transactions_rejected

restart_resumes() {
    local firm_before soft_before
    firm_before=$(block_of finalized); soft_before=$(block_of latest)
    # Stopping the devnet stops the sequencer (SIGTERM), then reth; both come back from disk.
    # (SIGTERM, not SIGINT: a non-interactive shell's background jobs ignore SIGINT.)
    kill -TERM "$devnet_pid"; wait "$devnet_pid"
    grep -q "stopped cleanly\|in-flight work abandoned" "$SEQ_DEVNET_DIR/sequencer.log" ||
        { echo "     no shutdown line in sequencer.log"; return 1; }
    start_devnet || return 1
    send_transfers 1 || return 1
    timeout 30 "$CAST" receipt "${hashes[0]}" --rpc-url "$RETH" > /dev/null || return 1
    local finalized=-1 latest=-1
    for _ in $(seq 1 60); do
        finalized=$(block_of finalized); latest=$(block_of latest)
        [ "$finalized" -gt "$firm_before" ] && [ "$latest" -gt "$soft_before" ] && break
        sleep 0.5
    done
    echo "     before restart: latest $soft_before finalized $firm_before; after: latest $latest finalized $finalized"
    [ "$(grep -c "resumed from execution client heads" "$SEQ_DEVNET_DIR/sequencer.log")" -ge 2 ] &&
        [ "$latest" -gt "$soft_before" ] && [ "$finalized" -gt "$firm_before" ]
}
check "SIGTERM stops cleanly; a restart resumes from reth's heads and keeps finalizing" restart_resumes

echo "sequencer e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
