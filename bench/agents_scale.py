#!/usr/bin/env python3
"""Issue 9's scale check: 10,000 agents × 3 published versions.

  python3 bench/agents_scale.py --binary build/agentry [--agents 10000] [--versions 3]

1. Starts `agentry serve` on a fresh SQLite file (temporary directory, port 0)
   and fills it through the API: every agent created with a realistic
   configuration (~1 KB: instructions, model settings, conversation starters),
   then patched and published `--versions` times (32 client threads).
2. Stops it (SIGTERM) and starts it again on the same file, timing from the
   exec to the first 200 from /readyz ("start to ready").
3. Reads every agent once by key (so that every one is in the agent cache)
   and reads VmRSS / VmHWM of the server from /proc.

Prints one table; exits 1 if a goal is missed (RSS ≤ 256 MiB, start ≤ 2 s).
"""
import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

RSS_GOAL_MIB = 256
START_GOAL_S = 2.0


def start(binary, db, key, log):
    env = dict(os.environ, AGENTRY_BOOTSTRAP_ADMIN_KEY=key)
    log.flush()
    offset = os.path.getsize(log.name)  # this start's lines only
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--store", f"sqlite://{db}",
         "--log-level", "info", "--rate-limit", "1000000:1000000"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    port = None
    deadline = time.monotonic() + 120
    while port is None and time.monotonic() < deadline:
        with open(log.name) as f:
            f.seek(offset)
            m = re.findall(r'"msg":"listening".*?"port":(\d+)', f.read())
        if m:
            port = int(m[-1])
        else:
            time.sleep(0.005)
    if port is None:
        proc.kill()
        sys.exit("the server did not start; see " + log.name)
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                return proc, port, time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.002)
    proc.kill()
    sys.exit("the server never became ready")


def config(i):
    return {
        "name": f"Support agent {i}",
        "key": f"agt_scale_{i:06d}",
        "description": "Answers customer questions about orders, returns and "
                       "billing; escalates to a human when unsure.",
        "instructions": ("You are the support agent of shop number %d. Greet the "
                         "customer, find the order by its number, explain its "
                         "status, offer a return when asked within 30 days, and "
                         "never promise a refund before the item is back. " % i) * 3,
        "model": {"name": "gpt-4o", "parameters": {"temperature": 0.2,
                                                     "max_tokens": 1024}},
        "conversation_starters": ["Where is my order?", "I need a refund",
                                  "Change my address"],
    }


def fill(port, key, agents, versions, threads=32):
    headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    errors = []
    nxt = [0]
    lock = threading.Lock()

    def worker():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def call(method, path, body):
            c.request(method, path, body=json.dumps(body), headers=headers)
            r = c.getresponse()
            data = r.read()
            if r.status >= 300:
                errors.append((method, path, r.status, data[:200]))
            return json.loads(data) if data else None

        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= agents or errors:
                return
            agent = call("POST", "/v1/agents", config(i))
            if not agent:
                return
            for v in range(versions):
                call("PATCH", f"/v1/agents/{agent['id']}",
                     {"description": f"Revision {v} of the support agent {i}."})
                call("POST", f"/v1/agents/{agent['id']}/publish", {"note": f"v{v + 1}"})

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        sys.exit(f"filling failed: {errors[:3]}")


def read_all(port, key, agents, threads=8):
    headers = {"Authorization": "Bearer " + key}
    bad = []

    def worker(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(k, agents, threads):
            c.request("GET", f"/v1/agents/agt_scale_{i:06d}", headers=headers)
            r = c.getresponse()
            body = r.read()
            if r.status != 200 or json.loads(body).get("version") != 3:
                bad.append((i, r.status))

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return bad


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/agentry")
    ap.add_argument("--agents", type=int, default=10000)
    ap.add_argument("--versions", type=int, default=3)
    ap.add_argument("--starts", type=int, default=3, help="timed restarts")
    ap.add_argument("--summary", help="also write the figures as JSON here")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="agentry-scale-")
    db = os.path.join(tmp, "agentry.db")
    key = "agk_" + secrets.token_hex(20)
    log = open(os.path.join(tmp, "server.log"), "w")
    try:
        proc, port, _ = start(args.binary, db, key, log)
        t0 = time.monotonic()
        fill(port, key, args.agents, args.versions)
        fill_s = time.monotonic() - t0
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        starts = []
        for _ in range(args.starts):
            proc, port, ready_s = start(args.binary, db, key, log)
            starts.append(ready_s)
            if len(starts) < args.starts:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
        rss_start = status_kib(proc.pid, "VmRSS")
        t0 = time.monotonic()
        bad = read_all(port, key, args.agents)
        read_s = time.monotonic() - t0
        rss = status_kib(proc.pid, "VmRSS")
        hwm = status_kib(proc.pid, "VmHWM")
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        db_mib = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp)
                     if f.startswith("agentry.db")) / 2**20
        starts.sort()
        median_start = starts[len(starts) // 2]
        print(f"| measure | value | goal |")
        print(f"|---|---:|---:|")
        print(f"| agents × published versions | {args.agents} × {args.versions} | 10000 × 3 |")
        print(f"| fill through the API (create, {args.versions} × patch+publish) | {fill_s:.1f} s | — |")
        print(f"| database size | {db_mib:.1f} MiB | — |")
        print(f"| start to ready (median of {len(starts)}: {', '.join(f'{s:.3f}' for s in starts)} s) | {median_start:.3f} s | ≤ {START_GOAL_S} s |")
        print(f"| RSS after start | {rss_start / 1024:.1f} MiB | — |")
        print(f"| RSS with every agent cached (read all {args.agents} in {read_s:.1f} s) | {rss / 1024:.1f} MiB | ≤ {RSS_GOAL_MIB} MiB |")
        print(f"| peak RSS (VmHWM) | {hwm / 1024:.1f} MiB | — |")
        if bad:
            print(f"reads that failed: {bad[:5]} ({len(bad)})")
        ok = (not bad and median_start <= START_GOAL_S and rss / 1024 <= RSS_GOAL_MIB)
        if args.summary:
            with open(args.summary, "w") as f:
                json.dump({"agents": args.agents, "versions": args.versions,
                           "start_s": median_start, "rss_mib": rss / 1024,
                           "failed_reads": len(bad), "ok": ok}, f)
        return 0 if ok else 1
    finally:
        log.close()
        if os.environ.get("KEEP"):
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
