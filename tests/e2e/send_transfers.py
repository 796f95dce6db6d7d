#!/usr/bin/env python3
"""Signed-transfer load for the sequencer benchmark, faster than one `cast` per transaction.

Usage: send_transfers.py RPC_URL CHAIN_ID TX_PER_SEC SECONDS
Signs TX_PER_SEC x SECONDS EIP-1559 transfers up front, round-robin over anvil's first five
development keys (funded in the sequencer devnet's genesis; one sender alone would hit the
mempool's per-sender limit of 64), then sends them with eth_sendRawTransaction at the given rate
over one keep-alive HTTP connection. Prints how many were accepted and the rate achieved.
Needs the PyPI package eth-account (the benchmark script installs it).
"""
import http.client, json, sys, time
from urllib.parse import urlparse
from eth_account import Account

KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
]


def main():
    url, chain_id, tps, secs = urlparse(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    accounts = [Account.from_key(k) for k in KEYS]
    total = tps * secs
    raws = []
    for i in range(total):
        acct = accounts[i % len(accounts)]
        tx = {
            "type": 2, "chainId": chain_id, "nonce": i // len(accounts), "gas": 21000,
            "maxFeePerGas": 10 * 10**9, "maxPriorityFeePerGas": 10**9,
            "to": bytes.fromhex("00" * 19 + "aa"), "value": 1, "data": b"",
        }
        raws.append("0x" + acct.sign_transaction(tx).raw_transaction.hex().removeprefix("0x"))
    print(f"signed {total} transfers from {len(accounts)} senders; sending {tps}/s for {secs} s", flush=True)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    accepted, refused = 0, {}
    start = time.monotonic()
    for i, raw in enumerate(raws):
        body = json.dumps({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]})
        conn.request("POST", "/", body, {"content-type": "application/json"})
        answer = json.loads(conn.getresponse().read())
        if "result" in answer:
            accepted += 1
        else:
            message = answer.get("error", {}).get("message", "?")[:60]
            refused[message] = refused.get(message, 0) + 1
        due = start + (i + 1) / tps
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    elapsed = time.monotonic() - start
    print(f"sent {total} in {elapsed:.1f} s = {total / elapsed:.1f}/s; accepted {accepted}; refused {refused}")


main()
