"""Three nodes on one PostgreSQL database (DESIGN §7; issue 8): whatever node a
request reaches, the answer is the one a single node would give.

Three `agentry serve` processes share one database of the PostgreSQL server
given by AGENTRY_TEST_PG_URL (tests/pg/with_postgres.sh starts a throwaway
one) and one throwaway redis-server. Checked: create on one node, read on the
others; publish and key revocation seen by the others, timed; exclusive
leases raced from all three (exactly N grants); fencing tokens growing per
profile across nodes; a waiting acquisition woken by a release on another
node; one rate bucket across nodes; another organization's ids 404 on every
node; the listening connections dropped and re-established; one node killed
with -9 while the others go on serving and writing, then restarted.

Run: bash tests/pg/with_postgres.sh env AGENTRY_TEST_BACKEND=postgres \\
       python3 tests/integration/test_cluster.py --binary build/agentry
"""

import concurrent.futures
import re
import statistics
import threading
import time
import unittest

import agentry_harness as harness
from agentry_harness import Server
from test_redis_limits import Redis, counter

VISIBLE_MEDIAN_S = 0.100  # the bound, on the median
VISIBLE_MAX_S = 1.0       # and no single change slower than this


def require_postgres():
    if not harness.PG_ADMIN_URL:
        raise RuntimeError("run through tests/pg/with_postgres.sh with "
                           "AGENTRY_TEST_BACKEND=postgres (three nodes need "
                           "one PostgreSQL database)")


class ClusterTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_postgres()
        cls.redis = Redis().start()
        args = ("--redis", cls.redis.url)
        first = Server(extra_args=args)
        cls.nodes = [first] + [
            Server(admin_key=first.admin_key, extra_args=args, share_store_of=first)
            for _ in range(2)]
        cls.admin = first.admin_key
        status, _, org = first.request("POST", "/v1/organizations",
                                       {"name": "cluster-other"}, key=cls.admin)
        assert status == 201, org
        cls.other_admin = org["admin_key"]
        cls.counter = 0

    @classmethod
    def tearDownClass(cls):
        for node in reversed(cls.nodes):  # the owner of the database last
            node.close()
        cls.redis.close()

    # ------------------------------------------------------------ helpers

    def call(self, node, method, path, body=None, key=None, expect=None):
        resp = node.request(method, path, body, key=key or self.admin)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"{method} {path} -> {resp!r}")
        return resp

    def unique(self, prefix):
        type(self).counter += 1
        return f"{prefix}_{type(self).counter}_{int(time.time() * 1000) % 100000}"

    def create_agent(self, node):
        key = "agt_" + self.unique("cluster")
        agent = self.call(node, "POST", "/v1/agents", {"name": "Cluster", "key": key},
                          expect=201).body
        return agent

    def make_pool(self, node, profiles, **config):
        ids = [self.call(node, "POST", "/v1/agent-profiles",
                         {"name": self.unique("profile")}, expect=201).body["id"]
               for _ in range(profiles)]
        pool = self.call(node, "POST", "/v1/agent-profile-pools",
                         dict(name=self.unique("pool"), **config), expect=201).body
        self.call(node, "POST", f"/v1/agent-profile-pools/{pool['id']}/profiles",
                  {"profile_ids": ids}, expect=200)
        return pool, ids

    def acquire(self, node, pool_id, **body):
        return node.request("POST", f"/v1/agent-profile-pools/{pool_id}/leases", body,
                            key=self.admin, timeout=30)

    def wait_until(self, check, limit=VISIBLE_MAX_S * 5):
        """Seconds until check() is true (polled every 2 ms), or fails."""
        t0 = time.monotonic()
        while not check():
            elapsed = time.monotonic() - t0
            self.assertLess(elapsed, limit, "never became visible")
            time.sleep(0.002)
        return time.monotonic() - t0

    def assert_timely(self, what, delays):
        median = statistics.median(delays)
        print(f"\n  {what}: median {median * 1000:.1f} ms, "
              f"max {max(delays) * 1000:.1f} ms over {len(delays)}")
        self.assertLessEqual(median, VISIBLE_MEDIAN_S, delays)
        self.assertLessEqual(max(delays), VISIBLE_MAX_S, delays)

    # -------------------------------------------------------------- tests

    def test_created_on_one_node_read_on_the_others(self):
        a, b, c = self.nodes
        agent = self.create_agent(a)
        self.call(a, "POST", f"/v1/agents/{agent['id']}/publish", {}, expect=201)
        for node in (b, c):
            for ref in (agent["id"], agent["key"]):
                got = self.call(node, "GET", f"/v1/agents/{ref}", expect=200).body
                self.assertEqual((got["id"], got["version"]), (agent["id"], 1))
            vectara = self.call(node, "GET", f"/v2/agents/{agent['key']}", expect=200)
            self.assertEqual(vectara.body["id"], agent["key"])  # Vectara's key is its id
            odeus = self.call(node, "GET", f"/agent/v1/get?agentId={agent['id']}",
                              expect=200)
            self.assertEqual(odeus.body["agent"]["id"], agent["id"])
        # Written on the second node, read on the third and the first.
        tool_id = self.unique("tol")
        self.call(b, "POST", "/v1/tools",
                  {"id": tool_id, "name": "lookup", "description": "d",
                   "parameters": {"type": "object", "properties": {}}}, expect=201)
        for node in (c, a):
            self.call(node, "GET", f"/v1/tools/{tool_id}", expect=200)

    def test_a_publish_is_served_by_the_other_nodes_within_100_ms(self):
        a, b, c = self.nodes
        agent = self.create_agent(a)
        self.call(a, "POST", f"/v1/agents/{agent['id']}/publish", {}, expect=201)
        for node in (b, c):  # cached everywhere first
            self.call(node, "GET", f"/v1/agents/{agent['key']}", expect=200)
        delays = []
        for i in range(12):
            writer = self.nodes[i % 3]
            self.call(writer, "PATCH", f"/v1/agents/{agent['id']}",
                      {"description": f"revision {i}"}, expect=200)
            version = self.call(writer, "POST", f"/v1/agents/{agent['id']}/publish", {},
                                expect=201).body["version"]
            for reader in self.nodes:
                if reader is writer:
                    continue
                delays.append(self.wait_until(
                    lambda: self.call(reader, "GET", f"/v1/agents/{agent['key']}")
                    .body.get("version") == version))
                got = self.call(reader, "GET", f"/v1/agents/{agent['key']}").body
                self.assertEqual(got["description"], f"revision {i}")
        self.assert_timely("publish visible on the other nodes", delays)

    def test_a_revoked_key_is_refused_everywhere_within_100_ms(self):
        delays = []
        for i in range(6):
            key = self.call(self.nodes[0], "POST", "/v1/api-keys",
                            {"name": self.unique("victim"), "scopes": ["agents:read"]},
                            expect=201).body
            # Known and used everywhere: a new key reaches the other nodes by
            # the same announcement, within milliseconds (not instantly: a
            # request can beat the NOTIFY on a fast machine).
            for node in self.nodes:
                self.wait_until(lambda: self.call(node, "GET", "/v1/agents",
                                                  key=key["key"]).status == 200)
            revoker = self.nodes[i % 3]
            self.call(revoker, "DELETE", f"/v1/api-keys/{key['id']}", expect=204)
            for node in self.nodes:
                if node is revoker:
                    self.assertEqual(self.call(node, "GET", "/v1/agents",
                                               key=key["key"]).status, 401)
                    continue
                delays.append(self.wait_until(
                    lambda: self.call(node, "GET", "/v1/agents",
                                      key=key["key"]).status == 401))
        self.assert_timely("revocation refused on the other nodes", delays)

    def test_exclusive_leases_raced_from_three_nodes(self):
        pool, ids = self.make_pool(self.nodes[0], 8)
        with concurrent.futures.ThreadPoolExecutor(48) as ex:
            answers = list(ex.map(lambda i: self.acquire(self.nodes[i % 3], pool["id"]),
                                  range(48)))
        granted = [r.body for r in answers if r.status == 201]
        refused = [r for r in answers if r.status != 201]
        self.assertEqual(len(granted), 8, [r.status for r in answers])
        self.assertEqual(sorted(g["profile_id"] for g in granted), sorted(ids))
        for r in refused:
            self.assertEqual((r.status, r.body["error"]["code"]),
                             (409, "no_profile_available"), r)
        # The pool's leases, seen from every node.
        for node in self.nodes:
            listed = self.call(node, "GET",
                               f"/v1/agent-profile-pools/{pool['id']}/leases?limit=50",
                               expect=200).body
            self.assertEqual(sorted(x["id"] for x in listed["data"]),
                             sorted(g["id"] for g in granted))
        for i, g in enumerate(granted):
            self.call(self.nodes[(i + 1) % 3], "DELETE", f"/v1/leases/{g['id']}",
                      expect=204)

    def test_fencing_tokens_grow_per_profile_across_nodes(self):
        pool, _ = self.make_pool(self.nodes[1], 1)
        tokens = []
        for i in range(15):
            lease = self.acquire(self.nodes[i % 3], pool["id"])
            self.assertEqual(lease.status, 201, lease)
            tokens.append(lease.body["fencing_token"])
            # A stale token is refused on any node.
            if i > 0:
                stale = self.call(self.nodes[(i + 2) % 3], "POST",
                                  f"/v1/leases/{lease.body['id']}/renew",
                                  {"fencing_token": tokens[-2]})
                self.assertEqual(stale.status, 409, stale)
            self.call(self.nodes[(i + 1) % 3], "DELETE", f"/v1/leases/{lease.body['id']}",
                      expect=204)
        self.assertEqual(tokens, list(range(1, 16)))

    def test_a_waiting_acquisition_is_woken_by_a_release_on_another_node(self):
        pool, _ = self.make_pool(self.nodes[0], 1)
        held = self.acquire(self.nodes[0], pool["id"])
        self.assertEqual(held.status, 201, held)
        result = {}

        def wait():
            t0 = time.monotonic()
            result["resp"] = self.acquire(self.nodes[1], pool["id"], wait_seconds=20)
            result["at"] = time.monotonic()
            result["t0"] = t0

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.5)
        released = time.monotonic()
        self.call(self.nodes[2], "DELETE", f"/v1/leases/{held.body['id']}", expect=204)
        waiter.join(30)
        resp = result["resp"]
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.body["fencing_token"], held.body["fencing_token"] + 1)
        woke = result["at"] - released
        print(f"\n  waiter on node 2 answered {woke * 1000:.1f} ms after the "
              "release on node 3")
        self.assertLess(woke, 2.0)  # woken, not timed out (20 s) nor polled late

    def test_one_rate_bucket_across_nodes(self):
        key = self.call(self.nodes[0], "POST", "/v1/api-keys",
                        {"name": self.unique("slow"), "scopes": ["agents:read"],
                         "rate_limit": {"per_second": 0.01, "burst": 6}},
                        expect=201).body
        time.sleep(0.3)  # announced to the other nodes (without spending a token)
        statuses = [self.call(self.nodes[i % 3], "GET", "/v1/agents",
                              key=key["key"]).status for i in range(15)]
        self.assertEqual(statuses[:6], [200] * 6, statuses)
        self.assertTrue(all(s == 429 for s in statuses[6:]), statuses)

    def test_another_organizations_ids_are_404_on_every_node(self):
        agent = self.create_agent(self.nodes[0])
        pool, _ = self.make_pool(self.nodes[0], 1)
        lease = self.acquire(self.nodes[0], pool["id"])
        self.assertEqual(lease.status, 201)
        for node in self.nodes:
            for method, path in (("GET", f"/v1/agents/{agent['id']}"),
                                 ("GET", f"/v1/agents/{agent['key']}"),
                                 ("GET", f"/v1/agent-profile-pools/{pool['id']}"),
                                 ("POST", f"/v1/agent-profile-pools/{pool['id']}/leases"),
                                 ("GET", f"/v1/leases/{lease.body['id']}"),
                                 ("DELETE", f"/v1/leases/{lease.body['id']}")):
                resp = self.call(node, method, path, {} if method == "POST" else None,
                                 key=self.other_admin)
                self.assertEqual(resp.status, 404, f"{method} {path} -> {resp!r}")
        self.call(self.nodes[1], "DELETE", f"/v1/leases/{lease.body['id']}", expect=204)

    def test_lost_listening_connections_drop_the_caches_and_come_back(self):
        a, b, c = self.nodes
        agent = self.create_agent(a)
        self.call(a, "POST", f"/v1/agents/{agent['id']}/publish", {}, expect=201)
        for node in (b, c):
            self.call(node, "GET", f"/v1/agents/{agent['key']}", expect=200)
        resets = [counter(n.request("GET", "/metrics").body,
                          "agentry_store_change_resets_total") for n in self.nodes]
        harness._psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'agentry-listener'")
        for i, node in enumerate(self.nodes):
            self.wait_until(lambda: counter(node.request("GET", "/metrics").body,
                                            "agentry_store_change_resets_total")
                            >= resets[i] + 2, limit=15)
            ready = self.call(node, "GET", "/readyz", expect=200).body
            self.assertEqual(ready["checks"]["changes"], "listening")
        # Changes are heard again.
        version = self.call(a, "POST", f"/v1/agents/{agent['id']}/publish", {},
                            expect=201).body["version"]
        for node in (b, c):
            self.wait_until(lambda: self.call(node, "GET", f"/v1/agents/{agent['key']}")
                            .body.get("version") == version)

    def test_zz_a_node_killed_with_minus_9_while_the_others_serve_and_write(self):
        a, b, c = self.nodes
        pool, _ = self.make_pool(a, 16)
        stop = threading.Event()
        outcomes = {"agents": [], "leases": [], "statuses": []}
        lock = threading.Lock()

        def writer(node, n):
            while not stop.is_set():
                key = f"agt_kill_{n}_{len(outcomes['agents'])}_{time.monotonic_ns()}"
                r = node.request("POST", "/v1/agents", {"name": "during", "key": key},
                                 key=self.admin)
                lease = self.acquire(node, pool["id"], ttl_seconds=30)
                with lock:
                    outcomes["statuses"] += [r.status, lease.status]
                    if r.status == 201:
                        outcomes["agents"].append(key)
                    if lease.status == 201:
                        outcomes["leases"].append(lease.body["id"])
                if lease.status == 201:
                    rel = self.call(node, "DELETE", f"/v1/leases/{lease.body['id']}")
                    with lock:
                        outcomes["statuses"].append(rel.status)

        threads = [threading.Thread(target=writer, args=(node, i))
                   for i, node in enumerate((a, b, a, b))]
        for t in threads:
            t.start()
        time.sleep(1.0)
        c.kill9()
        time.sleep(1.5)
        stop.set()
        for t in threads:
            t.join(30)
        statuses = outcomes["statuses"]
        self.assertGreater(len(outcomes["agents"]), 10, statuses[:20])
        self.assertGreater(len(outcomes["leases"]), 10, statuses[:20])
        self.assertFalse([s for s in statuses if s >= 500], statuses)
        self.assertTrue(all(s in (201, 204) for s in statuses), set(statuses))
        # The killed node comes back and serves what was written meanwhile.
        c.start()
        for key in outcomes["agents"][-5:] + outcomes["agents"][:5]:
            self.call(c, "GET", f"/v1/agents/{key}", expect=200)
        for lease_id in outcomes["leases"][-5:]:
            got = self.call(c, "GET", f"/v1/leases/{lease_id}", expect=200).body
            self.assertEqual(got["status"], "released")
        self.assertEqual(self.call(c, "GET", "/readyz", expect=200).body["checks"],
                         {"store": "ok", "changes": "listening", "redis": "ok"})


if __name__ == "__main__":
    harness.run_tests()
