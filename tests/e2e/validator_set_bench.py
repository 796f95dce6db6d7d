#!/usr/bin/env python3
"""Load and measurement for the validator-set benchmark (tests/e2e/validator_set_bench.sh).

Usage: validator_set_bench.py STATE_DIR CHAIN_ID TX_PER_SEC SECONDS SEQ_RPC_PORT RETH_HTTP_PORT VALIDATORS

Funds 40 fresh accounts from anvil's first development key (one transfer each, waited for), signs
TX_PER_SEC x SECONDS transfers from them up front (round-robin; at most a few per second per
sender, so the mempool's per-sender limits are not what is measured), sends them at that rate with eth_sendRawTransaction, each sender's to one validator's RPC
(sender k to validator k mod VALIDATORS, as a wallet talks to one endpoint; validator i listens on
SEQ_RPC_PORT + 10 i), noting when each was sent. Then it reads every
validator's `sequencer run` log (STATE_DIR/v<i>/sequencer.log) for the wall-clock time each block
became SOFT there, and validator 0's reth (RETH_HTTP_PORT) for the block holding each transfer.
Prints one summary: decided blocks/s over the load window, transfers included of those sent, and
the latency from eth_sendRawTransaction to SOFT on every validator (p50/p99: the latest of the
validators' SOFT lines for its block), and the views skipped (nullifications) on validator 0.
Its last line, `RESULT tps=… senders=… sent=… accepted=… included=… send_s=… blocks_per_s=… p50=…
p99=… max=…`, is for scripts (tests/e2e/validator_set_ceiling.sh): send_s is the wall time the
sending took, so sent / send_s is the rate the generator really reached (BENCH_SEND_THREADS
concurrent connections, default 4, each one request at a time; BENCH_SEND_BATCH, default 1, due
transfers a batch request when a connection fell behind).
BENCH_KEEP_LOGS=DIR also writes DIR/transfers.csv (the validator it was sent to, send time, block,
SOFT on the first and on the last validator, per transfer). BENCH_SENDERS (default 40) and BENCH_MAX_FEE_GWEI (the transfers' fee cap, default 10) let the
ceiling search keep the mempool's 64 transactions per sender and a base fee rising over blocks
fuller than the gas target out of what it measures.
Needs the PyPI package eth-account (the benchmark script installs it).
"""
import http.client, json, os, re, statistics, sys, threading, time
from datetime import datetime, timezone
from eth_account import Account

# anvil's first development key, funded in the devnet genesis: it funds the senders.
FUNDER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SENDERS = int(os.environ.get("BENCH_SENDERS", "40"))
# Concurrent senders of the load: one Python thread tops out near 1 700 requests/s here, below
# what one validator takes. Each owns a fixed share of the senders (nonce order kept).
SEND_THREADS = int(os.environ.get("BENCH_SEND_THREADS", "4"))
if SEND_THREADS < 1:
    sys.exit(f"BENCH_SEND_THREADS={SEND_THREADS}: at least one connection sends the load")
# Transfers a connection may send in one JSON-RPC batch when it fell behind its schedule
# (default 1: one request a transfer). Each transfer's send time is when its batch was answered.
SEND_BATCH = int(os.environ.get("BENCH_SEND_BATCH", "1"))
if SEND_BATCH < 1:
    sys.exit(f"BENCH_SEND_BATCH={SEND_BATCH}: at least one transfer a request")
MAX_FEE = int(os.environ.get("BENCH_MAX_FEE_GWEI", "10")) * 10**9
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SOFT = re.compile(r"^(\S+?)Z? .*SOFT number=(\d+) ")


def rpc(conn, method, params):
    conn.request("POST", "/", json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
                 {"content-type": "application/json"})
    return json.loads(conn.getresponse().read())


def rpc_batch(conn, calls):
    """One JSON-RPC batch request; the answers in the order of `calls`."""
    body = [{"jsonrpc": "2.0", "id": j, "method": m, "params": p} for j, (m, p) in enumerate(calls)]
    conn.request("POST", "/", json.dumps(body), {"content-type": "application/json"})
    answers = json.loads(conn.getresponse().read())
    if not isinstance(answers, list):
        return [answers] * len(calls)
    return sorted(answers, key=lambda a: a.get("id", 0))


def log_time(s):
    return datetime.fromisoformat(s.rstrip("Z")[:26]).replace(tzinfo=timezone.utc).timestamp()


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    state, chain_id, tps, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    seq_port, reth_port, n = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
    reth = http.client.HTTPConnection("127.0.0.1", reth_port, timeout=10)
    funder = Account.from_key(FUNDER_KEY)
    accounts = [Account.create() for _ in range(SENDERS)]
    first = int(rpc(reth, "eth_getTransactionCount", [funder.address, "latest"])["result"], 16)
    seq0 = http.client.HTTPConnection("127.0.0.1", seq_port, timeout=10)
    # In rounds of 64: the mempool holds at most 64 transactions of one sender (the funder).
    for c in range(0, len(accounts), 64):
        funding = []
        for j, a in enumerate(accounts[c:c + 64], c):
            tx = {"type": 2, "chainId": chain_id, "nonce": first + j, "gas": 21000,
                  "maxFeePerGas": 10 * 10**9, "maxPriorityFeePerGas": 10**9,
                  "to": a.address, "value": 10**21, "data": b""}
            raw = "0x" + funder.sign_transaction(tx).raw_transaction.hex().removeprefix("0x")
            funding.append(rpc(seq0, "eth_sendRawTransaction", [raw])["result"])
        deadline = time.time() + 60
        while any(rpc(reth, "eth_getTransactionReceipt", [h]).get("result") is None for h in funding):
            if time.time() > deadline:
                sys.exit("funding transfers not included within 60 s")
            time.sleep(0.5)
    print(f"funded {len(accounts)} senders", flush=True)
    nonces = [0] * len(accounts)
    raws = []
    for i in range(tps * secs):
        k = i % len(accounts)
        tx = {"type": 2, "chainId": chain_id, "nonce": nonces[k] + i // len(accounts), "gas": 21000,
              "maxFeePerGas": MAX_FEE, "maxPriorityFeePerGas": 10**9,
              "to": bytes.fromhex("00" * 19 + "aa"), "value": 1, "data": b""}
        raws.append("0x" + accounts[k].sign_transaction(tx).raw_transaction.hex().removeprefix("0x"))
    sent = {}  # hash -> wall-clock send time
    sent_to = {}  # hash -> the validator it was sent to
    refused = {}
    lock = threading.Lock()
    start_wall, start = time.time(), time.monotonic()

    def send(worker):
        # Each worker owns the senders k with k % SEND_THREADS == worker, so every sender's
        # nonces still go out in order, and keeps the common schedule (transfer i at i / tps).
        # It sends what is due: one transfer a request while it keeps up, and when it fell
        # behind, up to SEND_BATCH due transfers a validator in one JSON-RPC batch.
        conns = [http.client.HTTPConnection("127.0.0.1", seq_port + 10 * v, timeout=10) for v in range(n)]
        mine = [i for i in range(len(raws)) if (i % len(accounts)) % SEND_THREADS == worker]
        pos = 0
        while pos < len(mine):
            delay = start + mine[pos] / tps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now, end = time.monotonic(), pos + 1
            while end < len(mine) and end - pos < SEND_BATCH and start + mine[end] / tps <= now:
                end += 1
            per_validator = {}
            for i in mine[pos:end]:
                per_validator.setdefault(i % len(accounts) % n, []).append(i)
            pos = end
            for v, batch in per_validator.items():
                if len(batch) == 1:
                    answers = [rpc(conns[v], "eth_sendRawTransaction", [raws[batch[0]]])]
                else:
                    answers = rpc_batch(conns[v], [("eth_sendRawTransaction", [raws[i]]) for i in batch])
                at = time.time()
                with lock:
                    for answer in answers:
                        if "result" in answer:
                            sent[answer["result"]] = at
                            sent_to[answer["result"]] = v
                        else:
                            m = re.sub(r"0x[0-9a-fA-F]+|\d+", "N", answer.get("error", {}).get("message", "?"))[:80]
                            refused[m] = refused.get(m, 0) + 1

    workers = [threading.Thread(target=send, args=(w,)) for w in range(SEND_THREADS)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    end_wall = time.time()
    time.sleep(8)  # let the last transfers reach SOFT everywhere

    soft_at = [{} for _ in range(n)]  # per validator: block number -> time it became SOFT there
    for v in range(n):
        # devnet.sh keeps a single validator's files in the state folder itself, not in v0/.
        log = f"{state}/sequencer.log" if n == 1 else f"{state}/v{v}/sequencer.log"
        for raw in open(log, encoding="utf-8", errors="replace"):
            if m := SOFT.search(ANSI.sub("", raw)):
                soft_at[v].setdefault(int(m[2]), log_time(m[1]))
    latencies, included, rows = [], 0, []
    for h, at in sent.items():
        r = rpc(reth, "eth_getTransactionReceipt", [h]).get("result")
        if not r:
            continue
        included += 1
        b = int(r["blockNumber"], 16)
        everywhere = [s.get(b) for s in soft_at]
        if all(everywhere):
            latencies.append(max(everywhere) - at)
            rows.append(f"{h},{sent_to[h]},{at:.6f},{b},{min(everywhere):.6f},{max(everywhere):.6f}")
    if keep := os.environ.get("BENCH_KEEP_LOGS"):
        # One line a transfer: when it was sent, its block, when that block was SOFT on the
        # first and on the last validator (where its latency went, read with the logs).
        os.makedirs(keep, exist_ok=True)
        with open(os.path.join(keep, "transfers.csv"), "w") as f:
            f.write("hash,validator,sent,block,soft_first,soft_all\n" + "\n".join(rows) + "\n")
    in_window = [b for b, t in soft_at[0].items() if start_wall <= t <= end_wall]
    blocks_per_s = len(in_window) / (end_wall - start_wall)
    print(f"load: {len(sent)} transfers accepted of {len(raws)} sent at {tps}/s over {secs} s, "
          f"from {len(accounts)} senders spread over {n} validators; refused {refused}")
    print(f"decided blocks/s (validator 0, during the load): {blocks_per_s:.2f}")
    print(f"transfers included: {included}/{len(sent)}")
    if latencies:
        print(f"eth_sendRawTransaction -> SOFT on all {n} validators: p50 {pct(latencies, 50):.2f} s, "
              f"p99 {pct(latencies, 99):.2f} s, max {max(latencies):.2f} s ({len(latencies)} transfers)")
    lat = {p: f"{pct(latencies, p):.3f}" if latencies else "nan" for p in (50, 99, 100)}
    print(f"RESULT tps={tps} senders={len(accounts)} sent={len(raws)} accepted={len(sent)} "
          f"included={included} send_s={end_wall - start_wall:.3f} blocks_per_s={blocks_per_s:.3f} "
          f"p50={lat[50]} p99={lat[99]} max={lat[100]}")


main()
