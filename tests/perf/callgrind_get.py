"""Instructions per GET of an agent, counted by callgrind: a regression check
that noise cannot fool (issue 9).

Starts the real server under `valgrind --tool=callgrind` with collection
off, creates and publishes an agent, warms each surface's read path, then
for each surface (native /v1, Vectara /v2, Odeus /agent/v1/get) turns
collection on, sends N GETs over one keep-alive connection, and dumps the
counters. Instructions per GET = the dump's total / N (every thread of the
server: parsing, auth, rate limit, routing, the answer, the socket calls).

Compares each figure with tests/perf/callgrind_baseline.json and fails when
one is more than 25 % above its baseline. Prints the figures either way;
`--update` rewrites the baseline (commit it with the change that moved it).

Run: python3 tests/perf/callgrind_get.py --binary build/agentry [--update]
"""

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINE = os.path.join(HERE, "callgrind_baseline.json")
REQUESTS = 1000
TOLERANCE = 1.25
STARTUP_TIMEOUT_S = 120


def random_key():
    alphabet = string.ascii_letters + string.digits
    return "agk_" + "".join(secrets.choice(alphabet) for _ in range(36))


def wait_listening(stdout_path, proc):
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("agentry under valgrind exited early")
        with open(stdout_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if o.get("msg") == "listening":
                    return o["port"]
        time.sleep(0.2)
    raise RuntimeError("agentry under valgrind did not start in time")


def call(conn, method, path, body=None, key=None):
    headers = {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    return resp.status, raw


def total_instructions(dump_path):
    with open(dump_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"^(?:summary|totals):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    raise RuntimeError(f"no totals in {dump_path}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(HERE, "..", "..", "build", "agentry"))
    parser.add_argument("--update", action="store_true")
    args = parser.parse_args()
    valgrind = shutil.which("valgrind")
    control = shutil.which("callgrind_control")
    if not valgrind or not control:
        print("FAIL: valgrind (callgrind) is not installed (scripts/install-deps.sh)")
        return 1
    tmp = tempfile.mkdtemp(prefix="agentry-callgrind-")
    admin = random_key()
    out_path = os.path.join(tmp, "stdout.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTRY_")}
    env["AGENTRY_BOOTSTRAP_ADMIN_KEY"] = admin
    cg_out = os.path.join(tmp, "callgrind.out")
    cmd = [valgrind, "--tool=callgrind", "--instr-atstart=no",
           f"--callgrind-out-file={cg_out}", os.path.abspath(args.binary), "serve",
           "--listen", "127.0.0.1:0", "--store", f"sqlite://{tmp}/agentry.db",
           "--log-level", "warn", "--threads", "1", "--workers", "2",
           "--rate-limit", "1000000000:1000000000"]
    # The "listening" line is logged at info; keep warn for everything else
    # by reading the line before the level applies: use info, it is one line.
    cmd[cmd.index("--log-level") + 1] = "info"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, cwd=tmp, env=env)
    try:
        port = wait_listening(out_path, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        status, raw = call(conn, "POST", "/v1/agents", key=admin, body={
            "name": "Customer Support Agent", "key": "agt_customer_support_001",
            "description": "Answers customer questions using the knowledge base.",
            "instructions": "You are a helpful customer support agent.",
            "model": {"name": "gpt-4", "parameters": {"temperature": 0.1,
                                                      "max_tokens": 1500, "top_p": 0.9}},
            "metadata": {"department": "customer_service"}})
        assert status == 201, raw
        agent_id = json.loads(raw)["id"]
        status, raw = call(conn, "POST", "/v1/agents/agt_customer_support_001/publish",
                           key=admin, body={})
        assert status == 201, raw
        paths = {
            "v1": "/v1/agents/agt_customer_support_001",
            "vectara": "/v2/agents/agt_customer_support_001",
            "odeus": f"/agent/v1/get?agentId={agent_id}",
        }
        for path in paths.values():  # warm: caches and lazy views filled
            for _ in range(20):
                status, raw = call(conn, "GET", path, key=admin)
                assert status == 200, (path, raw)
        figures = {}
        subprocess.run([control, "-i", "on", str(proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([control, "-z", str(proc.pid)], check=True, stdout=subprocess.DEVNULL)
        for name, path in paths.items():
            for _ in range(REQUESTS):
                status, raw = call(conn, "GET", path, key=admin)
                if status != 200:
                    raise RuntimeError(f"GET {path} answered {status}")
            before = set(os.listdir(tmp))
            subprocess.run([control, "-d", name, str(proc.pid)], check=True,
                           stdout=subprocess.DEVNULL)
            dump = None
            deadline = time.monotonic() + 30
            while dump is None and time.monotonic() < deadline:
                new = [f for f in set(os.listdir(tmp)) - before if f.startswith("callgrind.out")]
                if new:
                    dump = os.path.join(tmp, sorted(new)[-1])
                else:
                    time.sleep(0.1)
            if dump is None:
                raise RuntimeError("callgrind wrote no dump")
            time.sleep(0.3)  # the dump is written in one go; let it finish
            figures[name] = round(total_instructions(dump) / REQUESTS)
        conn.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    print("instructions per GET (callgrind, server side, %d requests each):" % REQUESTS)
    if args.update:
        with open(BASELINE, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=2, sort_keys=True)
            f.write("\n")
        for name, n in figures.items():
            print(f"  {name:8s} {n:>10,}  (new baseline)")
        return 0
    with open(BASELINE, encoding="utf-8") as f:
        baseline = json.load(f)
    failed = 0
    for name, n in figures.items():
        base = baseline.get(name)
        if base is None:
            print(f"  {name:8s} {n:>10,}  (no baseline: run with --update)")
            failed += 1
            continue
        ratio = n / base
        verdict = "ok" if ratio <= TOLERANCE else "REGRESSION"
        if ratio > TOLERANCE:
            failed += 1
        print(f"  {name:8s} {n:>10,}  baseline {base:>10,}  ×{ratio:.2f}  {verdict}")
    print(f"{len(figures) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
