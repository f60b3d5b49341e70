#!/usr/bin/env python3
"""Group-commit evidence: many clients create agents at once against a running
server, then /metrics tells how many transactions carried those writes.

  python3 bench/write_burst.py --port 8080 --key $ADMIN [--clients 32] [--per-client 100]
"""
import argparse
import http.client
import json
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--per-client", type=int, default=100)
    args = ap.parse_args()
    headers = {"Authorization": "Bearer " + args.key, "Content-Type": "application/json"}

    def metric(name):
        c = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    before_tx = metric("agentry_store_commit_batch_size_count")
    before_w = metric("agentry_store_commit_batch_size_sum")
    created = [0] * args.clients

    def client(i):
        c = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        for j in range(args.per_client):
            c.request("POST", "/v1/agents", body=json.dumps({"name": f"burst-{i}-{j}"}),
                      headers=headers)
            r = c.getresponse()
            r.read()
            created[i] += r.status == 201

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.time() - t0
    tx = metric("agentry_store_commit_batch_size_count") - before_tx
    writes = metric("agentry_store_commit_batch_size_sum") - before_w
    n = sum(created)
    print(f"{n} agents created (201) by {args.clients} clients in {dt:.2f} s = {n / dt:.0f}/s; "
          f"{writes:.0f} writes committed in {tx:.0f} transactions "
          f"(mean batch {writes / max(tx, 1):.1f})")


if __name__ == "__main__":
    main()
