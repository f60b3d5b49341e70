"""Global rate limits with --redis (DESIGN §7; issue 8): two nodes on one
store share one token bucket per key through a throwaway redis-server; when
Redis goes away each node keeps serving with its local bucket, says so once
in its log, in /readyz and in /metrics, and goes back to the shared bucket
when Redis is back.

Run: python3 tests/integration/test_redis_limits.py --binary build/agentry
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import agentry_harness as harness
from agentry_harness import Server

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A throwaway redis-server on 127.0.0.1, nothing saved to disk."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="agentry-redis-")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--protected-mode", "yes", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"


def counter(metrics_text, name):
    m = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", metrics_text, re.M)
    return float(m.group(1)) if m else None


class GlobalRateLimitTest(unittest.TestCase):

    def setUp(self):
        self.redis = Redis().start()
        self.addCleanup(self.redis.close)
        args = ("--redis", self.redis.url)
        self.a = Server(extra_args=args)
        self.addCleanup(self.a.close)
        status, _, org = self.a.request("POST", "/v1/organizations", {"name": "limits"},
                                        key=self.a.admin_key)
        self.assertEqual(status, 201, org)
        self.org_key = org["admin_key"]
        status, _, key = self.a.request(
            "POST", "/v1/api-keys", {"name": "slow", "scopes": ["agents:read"],
                                     "rate_limit": {"per_second": 0.01, "burst": 6}},
            key=self.org_key)
        self.assertEqual(status, 201, key)
        self.slow = key["key"]
        status, _, _ = self.a.request("POST", "/v1/agents",
                                      {"name": "Limited", "key": "agt_limited"},
                                      key=self.org_key)
        self.assertEqual(status, 201)
        # A second node on the same store (it loads the keys at start).
        self.b = Server(admin_key=self.a.admin_key, extra_args=args, start=False)
        self.b.db_path = self.a.db_path
        self.b.start()
        self.addCleanup(self.b.close)

    def get(self, node):
        return node.request("GET", "/v1/agents/agt_limited", key=self.slow).status

    def test_one_bucket_per_key_across_nodes(self):
        statuses = [self.get(self.a if i % 2 == 0 else self.b) for i in range(14)]
        self.assertEqual(statuses.count(200), 6, statuses)
        self.assertEqual(statuses[:6], [200] * 6, statuses)
        self.assertTrue(all(s == 429 for s in statuses[6:]), statuses)
        for node in (self.a, self.b):
            status, _, body = node.request("GET", "/readyz")
            self.assertEqual((status, body["checks"]["redis"]), (200, "ok"), body)
            _, _, metrics = node.request("GET", "/metrics")
            self.assertEqual(counter(metrics, "agentry_redis_up"), 1.0)
            self.assertEqual(counter(metrics, "agentry_rate_limit_local_decisions_total"), 0)

    def test_redis_going_away_degrades_to_local_buckets_and_back(self):
        # Use up the shared bucket on both nodes.
        for i in range(8):
            self.get(self.a if i % 2 == 0 else self.b)
        self.assertEqual(self.get(self.a), 429)
        self.redis.stop()
        # Each node now decides alone, with a fresh local bucket: served.
        statuses = [self.get(self.a) for _ in range(10)]
        self.assertEqual(statuses.count(200), 6, statuses)
        status, _, body = self.a.request("GET", "/readyz")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["checks"], {"store": "ok", "redis": "unreachable"})
        _, _, metrics = self.a.request("GET", "/metrics")
        self.assertEqual(counter(metrics, "agentry_redis_up"), 0.0)
        self.assertGreaterEqual(counter(metrics, "agentry_rate_limit_local_decisions_total"), 10)
        # Other keys are still served normally while Redis is away.
        status, _, _ = self.a.request("GET", "/v1/agents/agt_limited", key=self.org_key)
        self.assertEqual(status, 200)
        self.assertEqual(self.a.logs().count("redis unreachable"), 1, self.a.logs()[-2000:])

        # Back on the same port: within a retry interval the shared bucket
        # (a fresh one: Redis lost its memory) decides again.
        self.redis.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.get(self.b)
            _, _, body = self.b.request("GET", "/readyz")
            if body["checks"].get("redis") == "ok":
                break
            time.sleep(0.2)
        self.assertEqual(body["checks"].get("redis"), "ok", body)
        self.assertIn("redis reachable again", self.b.logs())
        for node in (self.a, self.b):
            self.assertNotIn(self.slow, node.logs())
            self.assertNotIn(self.redis.url, node.logs())

    def test_a_malformed_redis_url_stops_the_start(self):
        bad = Server(extra_args=("--redis", "http://nope"), start=False)
        self.addCleanup(bad.close)
        with self.assertRaises(RuntimeError):
            bad.start(timeout=5)
        self.assertIn("redis", bad.logs())


if __name__ == "__main__":
    harness.run_tests()
