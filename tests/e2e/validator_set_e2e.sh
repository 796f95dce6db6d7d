#!/usr/bin/env bash
# End-to-end test of a validator set: four `sequencer run` validators agreeing through Simplex,
# each on its own real reth (peered over devp2p), all posting to one local DA node. Transfers
# sent to each validator are included (on every reth, same blocks), become FIRM everywhere; a
# validator killed with SIGKILL is replaced as leader and the chain goes on; restarted, it
# catches up; DA alone proves every block with the set's signatures (`sequencer da-history`).
# Needs a reth v1.6.0 binary in RETH_BIN; without one the test is skipped with a message.
# Run: RETH_BIN=/path/to/reth ./tests/e2e/validator_set_e2e.sh
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh
sequencer_e2e_setup "validator set e2e"

# Ports below the kernel's ephemeral range (32768-60999): four reths and four sequencers open
# many outgoing connections, and one of them can take a port in that range before its server.
export SEQ_DEVNET_DIR=$(mktemp -d) VALIDATORS=4 BLOCK_TIME_MS=1000 DA_BLOCK_TIME_MS=2000
export RETH_HTTP_PORT=21545 RETH_AUTH_PORT=21551 RETH_P2P_PORT=21303 RETH_METRICS_PORT=22001
export SEQ_RPC_PORT=21547 SEQ_METRICS_PORT=22002 SEQ_P2P_PORT=21656 DA_RPC_PORT=21658
reth_url() { echo "http://127.0.0.1:$((RETH_HTTP_PORT + 10 * $1))"; }
seq_url() { echo "http://127.0.0.1:$((SEQ_RPC_PORT + 10 * $1))"; }
# anvil's first development key; its account is funded by the devnet genesis.
DEV_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
DEV_ADDR=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
RECIPIENT=0x70997970C51812dc3A010C7aebd7d7D2e4FC0f0E
tx_block=-1
block_of() { # validator, tag
    "$CAST" block "$2" --field number --rpc-url "$(reth_url "$1")" 2>/dev/null || echo -1
}
hash_at() { # validator, number
    "$CAST" block "$2" --field hash --rpc-url "$(reth_url "$1")" 2>/dev/null || echo none
}
cleanup() {
    [ -n "${restarted_pid:-}" ] && kill -TERM "$restarted_pid" 2>/dev/null && wait "$restarted_pid" 2>/dev/null
    kill -TERM "$devnet_pid" 2>/dev/null; wait "$devnet_pid" 2>/dev/null
    if [ "$failed" -ne 0 ]; then
        for i in 0 3; do echo "--- v$i/sequencer.log (tail)"; tail -20 "$SEQ_DEVNET_DIR/v$i/sequencer.log"; done
    fi
    rm -rf "$SEQ_DEVNET_DIR"
}
trap cleanup EXIT

./etc/sequencer/devnet.sh > "$SEQ_DEVNET_DIR/devnet.out" 2>&1 &
devnet_pid=$!
for _ in $(seq 1 600); do
    grep -q "Ctrl-C stops everything" "$SEQ_DEVNET_DIR/devnet.out" 2>/dev/null && break
    kill -0 "$devnet_pid" 2>/dev/null || {
        echo "devnet did not start:"; cat "$SEQ_DEVNET_DIR/devnet.out"; tail -n 5 "$SEQ_DEVNET_DIR"/v*/sequencer.log; exit 1
    }
    sleep 0.2
done

transfers_are_included_on_every_reth() {
    local nonce raw hash receipt status block hashes
    nonce=$("$CAST" nonce "$DEV_ADDR" --rpc-url "$(reth_url 0)")
    # One transfer to each validator (consecutive nonces of one sender: each validator holds one
    # nonce, the reths' pools bring them together); each read back from the next validator's reth.
    for v in 0 1 2 3; do
        raw=$("$CAST" mktx --private-key "$DEV_KEY" --rpc-url "$(reth_url "$v")" --nonce $((nonce + v)) \
            --gas-limit 21000 "$RECIPIENT" --value 1gwei) || return 1
        hashes[v]=$("$CAST" publish --async --rpc-url "$(seq_url "$v")" "$raw") || return 1
    done
    for v in 0 1 2 3; do
        receipt=$(timeout 60 "$CAST" receipt "${hashes[v]}" --rpc-url "$(reth_url $(((v + 1) % 4)))" --json) || return 1
        status=$(echo "$receipt" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
        block=$(echo "$receipt" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["blockNumber"],16))')
        [ "$status" = "0x1" ] || { echo "     transfer to validator $v: status $status"; return 1; }
        [ "$block" -gt "$tx_block" ] && tx_block=$block
        local seen=()
        for i in 0 1 2 3; do
            for _ in $(seq 1 40); do [ "$(block_of "$i" safe)" -ge "$block" ] && break; sleep 0.5; done
            seen+=("$(hash_at "$i" "$block")")
        done
        echo "     sent to validator $v, read on reth $(((v + 1) % 4)): block $block, its hash on the four reths: ${seen[*]}"
        [ "${seen[0]}" != none ] && [ "${seen[0]}" = "${seen[1]}" ] && [ "${seen[0]}" = "${seen[2]}" ] &&
            [ "${seen[0]}" = "${seen[3]}" ] || return 1
    done
}
check "transfers sent to each of the four validators are included, the same blocks on all four reths (SOFT)" transfers_are_included_on_every_reth

firm_everywhere() {
    local all
    for _ in $(seq 1 60); do
        all=1
        for i in 0 1 2 3; do [ "$(block_of "$i" finalized)" -ge "$tx_block" ] || all=0; done
        [ "$all" -eq 1 ] && break
        sleep 0.5
    done
    echo "     finalized: $(for i in 0 1 2 3; do printf '%s ' "$(block_of "$i" finalized)"; done)(transfer in $tx_block)"
    [ "$all" -eq 1 ]
}
check "the block becomes FIRM (reth finalized) on every validator" firm_everywhere

validator_pid() { pgrep -f "sequencer run --config $SEQ_DEVNET_DIR/v$1/config.toml" | head -1; }

killed_leader_is_replaced() {
    local pid before after
    pid=$(validator_pid 3)
    [ -n "$pid" ] || { echo "     no process for validator 3"; return 1; }
    kill -KILL "$pid"
    before=$(block_of 0 safe)
    sleep 15
    after=$(block_of 0 safe)
    echo "     validator 3 killed (SIGKILL); safe head on validator 0: $before -> $after in 15 s"
    [ "$after" -ge $((before + 4)) ]
}
check "with one of four validators killed, the others go on (its views time out)" killed_leader_is_replaced

restarted_validator_catches_up() {
    local behind target mine
    behind=$(block_of 3 safe)
    "$SEQUENCER_BIN" run --config "$SEQ_DEVNET_DIR/v3/config.toml" >> "$SEQ_DEVNET_DIR/v3/sequencer.log" 2>&1 &
    restarted_pid=$!
    target=$(block_of 0 safe)
    for _ in $(seq 1 60); do
        mine=$(block_of 3 safe)
        [ "$mine" -ge "$target" ] && break
        sleep 0.5
    done
    echo "     validator 3 restarted at safe $behind; network at $target; validator 3 now at $mine ($(hash_at 3 "$target") vs $(hash_at 0 "$target"))"
    [ "$mine" -ge "$target" ] && [ "$(hash_at 3 "$target")" = "$(hash_at 0 "$target")" ]
}
check "the killed validator restarts, catches up and agrees" restarted_validator_catches_up

da_history_proves_it() {
    local out
    sleep 6
    out=$("$SEQUENCER_BIN" da-history --config "$SEQ_DEVNET_DIR/v0/config.toml" 2>&1)
    echo "$out" | sed 's/^/     /'
    echo "$out" | grep -q "^ok: every block once" && echo "$out" | grep -q "uncovered \[\]"
}
check "DA alone holds every block once per validator, each proven by a quorum's signatures" da_history_proves_it

echo "validator set e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
