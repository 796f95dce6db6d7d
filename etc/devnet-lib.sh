# Shell helpers shared by the devnet scripts (sourced, not run). Callers set LOG_TAG and STATE.

log() { printf '\033[1m[%s]\033[0m %s\n' "$LOG_TAG" "$*"; }

# JSON-RPC call without parameters: rpc URL METHOD
rpc() { curl -s -X POST -H 'content-type: application/json' --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":[]}" "$1"; }

# JSON-RPC call with parameters (a JSON array): rpc_with URL METHOD PARAMS
rpc_with() { curl -s -X POST -H 'content-type: application/json' --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}" "$1"; }

# Waits up to 60 s for METHOD to answer with a result: wait_for URL METHOD WHAT
wait_for() {
    for _ in $(seq 1 300); do
        if rpc "$1" "$2" | grep -q '"result"'; then return 0; fi
        sleep 0.2
    done
    log "$3 did not come up; see $STATE/*.log"; exit 1
}

# Moves a previous run's log out of the way (FILE -> FILE.1, .2, ...) so that a restart keeps
# the evidence of the run before it: keep_log FILE
keep_log() {
    [ -s "$1" ] || return 0
    local n=1
    while [ -e "$1.$n" ]; do n=$((n + 1)); done
    mv "$1" "$1.$n"
}
