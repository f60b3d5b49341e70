#!/usr/bin/env python3
"""Issue 8's measure: three nodes on PostgreSQL against one node on SQLite, in
the same run.

  bash bench/run.sh cluster
  (= bash tests/pg/with_postgres.sh python3 bench/cluster_bench.py --build build)

Starts a fresh database in the throwaway PostgreSQL that with_postgres.sh
runs (AGENTRY_TEST_PG_URL), three `agentry serve` on it and one on a SQLite
file, every server pinned to CPU 0 and every load generator to CPU 1
(`taskset`; PostgreSQL itself is not pinned: on 2 cores it shares them).
Per target, alternating, ROUNDS rounds of DURATION seconds:

  - GET /v1/agents/{key} (published agent, valid key), 32 connections:
    one `wrk` on the SQLite node; three `wrk` at once (11 + 11 + 10
    connections), one per PostgreSQL node, summed (no load balancer in
    between, so nginx's cost is not measured).
  - lease acquire + release on an exclusive pool of 128 profiles, 32
    connections: `bench/lease_load` likewise (one, or three at once on the
    same pool through the three nodes).

Prints one table of medians (requests/s or pairs/s, p50, p99; the cluster's
p99 is the worst of its three generators) and the ratio to one node on
SQLite.
"""
import argparse
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

SERVER_CPU, CLIENT_CPU = "0", "1"
MASTER_KEY = "YWdlbnRyeS10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM="
AGENT_KEY = "agt_bench_cluster"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, key, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


class Node:
    def __init__(self, binary, store, key, tmp, name):
        self.log = open(os.path.join(tmp, name + ".log"), "w+")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTRY_")}
        env.update(AGENTRY_BOOTSTRAP_ADMIN_KEY=key, AGENTRY_MASTER_KEY=MASTER_KEY)
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, binary, "serve", "--listen",
             f"127.0.0.1:{self.port}", "--store", store, "--log-level", "warn",
             "--threads", "1", "--rate-limit", "1000000000:1000000000"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=tmp)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()  # never left running behind a failed start
                self.log.seek(0)
                sys.exit(f"{name} did not start:\n{self.log.read()[-2000:]}")
            time.sleep(0.02)
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def setup(node, key):
    agent = http("POST", node.base + "/v1/agents", key,
                 {"name": "Bench", "key": AGENT_KEY, "instructions": "Be brief."})
    http("POST", f"{node.base}/v1/agents/{agent['id']}/publish", key, {})
    ids = [http("POST", node.base + "/v1/agent-profiles", key,
                {"name": f"p{i}", "credentials": [{"name": "pw", "data": f"s{i}"}]})["id"]
           for i in range(128)]
    pool = http("POST", node.base + "/v1/agent-profile-pools", key, {"name": "bench"})
    http("POST", f"{node.base}/v1/agent-profile-pools/{pool['id']}/profiles", key,
         {"profile_ids": ids})
    return pool["id"]


def ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    v = float(m.group(1))
    return {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]


def run_wrk(nodes, key, seconds, conns):
    procs = [subprocess.Popen(
        ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{c}", f"-d{seconds}s", "--latency",
         "-H", f"Authorization: Bearer {key}", f"{n.base}/v1/agents/{AGENT_KEY}"],
        stdout=subprocess.PIPE, text=True) for n, c in zip(nodes, conns)]
    rps, p50, p99 = 0.0, [], []
    for p in procs:
        out = p.communicate()[0]
        if "Non-2xx" in out or "Socket errors" in out:
            sys.exit("wrk saw errors:\n" + out)
        rps += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        p50.append(ms(re.search(r"50%\s+(\S+)", out).group(1)))
        p99.append(ms(re.search(r"99%\s+(\S+)", out).group(1)))
    return rps, max(p50), max(p99)


def run_leases(lease_load, nodes, key, pool, seconds, conns):
    env = dict(os.environ, LEASE_LOAD_KEY=key)
    procs = [subprocess.Popen(
        ["taskset", "-c", CLIENT_CPU, lease_load, "--target", f"127.0.0.1:{n.port}",
         "--pool", pool, "--connections", str(c), "--duration", str(seconds)],
        stdout=subprocess.PIPE, text=True, env=env) for n, c in zip(nodes, conns)]
    pairs, p50, p99 = 0.0, [], []
    for p in procs:
        out = p.communicate()[0]
        kv = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        if p.returncode != 0 or kv.get("non2xx", "0") != "0":
            sys.exit(f"lease_load failed ({p.returncode}):\n{out}")
        pairs += float(kv["pairs/s"])
        p50.append(float(kv["pair_p50_ms"]))
        p99.append(float(kv["pair_p99_ms"]))
    return pairs, max(p50), max(p99)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", 3)))
    ap.add_argument("--duration", type=int, default=int(os.environ.get("DURATION", 10)))
    args = ap.parse_args()
    pg = os.environ.get("AGENTRY_TEST_PG_URL")
    if not pg:
        sys.exit("run through tests/pg/with_postgres.sh (bash bench/run.sh cluster)")
    binary = os.path.abspath(os.path.join(args.build, "agentry"))
    lease_load = os.path.abspath(os.path.join(args.build, "bench", "lease_load"))
    tmp = tempfile.mkdtemp(prefix="agentry-cluster-bench-")
    db = "agentry_bench_" + secrets.token_hex(4)
    subprocess.run(["psql", "-q", pg, "-c", f"CREATE DATABASE {db}"], check=True)
    key = "agk_" + secrets.token_hex(20)
    nodes = []
    try:
        sqlite = Node(binary, f"sqlite://{tmp}/one.db", key, tmp, "sqlite")
        nodes.append(sqlite)
        url = pg.rsplit("/", 1)[0] + "/" + db
        cluster = [Node(binary, url, key, tmp, f"pg{i}") for i in range(3)]
        nodes += cluster
        pools = {"sqlite": setup(sqlite, key), "cluster": setup(cluster[0], key)}
        time.sleep(0.5)  # announced to the other two nodes
        targets = {
            "sqlite": ([sqlite], [32]),
            "cluster": (cluster, [11, 11, 10]),
        }
        results = {(t, w): [] for t in targets for w in ("get", "lease")}
        for _ in range(args.rounds):
            for t, (ns, conns) in targets.items():
                results[(t, "get")].append(run_wrk(ns, key, args.duration, conns))
                results[(t, "lease")].append(
                    run_leases(lease_load, ns, key, pools[t], args.duration, conns))

        def med(t, w, i):
            return statistics.median(r[i] for r in results[(t, w)])

        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], text=True,
                             capture_output=True).stdout.strip()
        print(f"commit {rev}; {args.rounds} rounds × {args.duration} s per target, "
              "alternating; servers on CPU 0, generators on CPU 1, PostgreSQL unpinned")
        print()
        print("| path | target | median per second | median p50 ms | median p99 ms | ÷ one node on SQLite |")
        print("|---|---|---:|---:|---:|---:|")
        for w, label in (("get", "GET /v1/agents/{key}, 32 connections"),
                         ("lease", "acquire + release pairs, 128 exclusive profiles, 32 connections")):
            base = med("sqlite", w, 0)
            for t, name in (("sqlite", "1 node, SQLite"), ("cluster", "3 nodes, PostgreSQL")):
                print(f"| {label} | {name} | {med(t, w, 0):.0f} | {med(t, w, 1):.3f} | "
                      f"{med(t, w, 2):.3f} | {med(t, w, 0) / base:.2f} |")
    finally:
        for n in nodes:
            n.stop()
        subprocess.run(["psql", "-q", pg, "-c", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
