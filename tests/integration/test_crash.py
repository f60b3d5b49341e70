"""Crash test: kill -9 the server while writes are in flight, restart it on the
same database, and check that every acknowledged (201) write survived.

Run: python3 tests/integration/test_crash.py --binary build/agentry
"""

import os
import queue
import random
import sys
import threading
import time
import unittest

import agentry_harness as harness
from agentry_harness import Server

WRITERS = 16
CYCLES = 3
VERIFY_THREADS = 8
# Keys from earlier cycles re-checked for authentication in later cycles (all
# of them are re-checked in the listing).
RECHECK_SAMPLE = 300
FILE_DEADLINE_S = 58.0

_started = time.monotonic()


def _watchdog(servers):
    """Fails the whole file if it runs past FILE_DEADLINE_S."""
    def fire():
        print(f"\nFAIL: test_crash.py exceeded {FILE_DEADLINE_S:.0f} s", file=sys.stderr,
              flush=True)
        for server in servers:
            server.close()
        os._exit(1)
    timer = threading.Timer(max(1.0, FILE_DEADLINE_S - (time.monotonic() - _started)),
                            fire)
    timer.daemon = True
    timer.start()
    return timer


class CrashTest(unittest.TestCase):

    def setUp(self):
        self.server = Server()
        self.admin = self.server.admin_key
        self.timer = _watchdog([self.server])

    def tearDown(self):
        self.timer.cancel()
        self.server.close()

    # ---------------------------------------------------------------- helpers

    def make_writer_keys(self):
        """One keys:write key per writer thread, with a generous rate limit."""
        keys = []
        for i in range(WRITERS):
            body = {"name": f"writer-{i}", "scopes": ["keys:write"],
                    "rate_limit": {"per_second": 100000, "burst": 100000}}
            resp = self.server.request("POST", "/v1/api-keys", body=body, key=self.admin)
            if resp.status == 400:  # rate_limit refused: use the default one
                del body["rate_limit"]
                resp = self.server.request("POST", "/v1/api-keys", body=body,
                                           key=self.admin)
            self.assertEqual(resp.status, 201, repr(resp))
            keys.append((resp.body["id"], resp.body["key"]))
        return keys

    def write_until_killed(self, cycle, writer_keys):
        """Runs WRITERS threads of POST /v1/api-keys; kill -9 mid-flight.

        Returns ({id: key} of every 201 received, {status: count} of others).
        """
        stop = threading.Event()
        acked = queue.Queue()
        others = queue.Queue()
        port = self.server.port

        def writer(t, key):
            n = 0
            session = harness.Session(port, timeout=5)
            try:
                while not stop.is_set():
                    n += 1
                    body = {"name": f"crash-{cycle}-{t}-{n}", "scopes": ["keys:write"]}
                    try:
                        resp = session.request("POST", "/v1/api-keys", body=body, key=key)
                    except Exception:  # pylint: disable=broad-except
                        session.close()
                        if stop.is_set() or not self.server.running():
                            return
                        session = harness.Session(port, timeout=5)
                        continue
                    if resp.status == 201:
                        acked.put((resp.body["id"], resp.body["key"]))
                    else:
                        others.put(resp.status)
                        if resp.status == 429:
                            time.sleep(0.01)
            finally:
                session.close()

        threads = [threading.Thread(target=writer, args=(t, k), daemon=True)
                   for t, (_, k) in enumerate(writer_keys)]
        for thread in threads:
            thread.start()
        time.sleep(random.uniform(0.5, 1.5))
        self.server.kill9()
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
            self.assertFalse(thread.is_alive(), "a writer thread hung")

        result = {}
        while not acked.empty():
            key_id, key = acked.get()
            result[key_id] = key
        counts = {}
        while not others.empty():
            status = others.get()
            counts[status] = counts.get(status, 0) + 1
        return result, counts

    def create_victims(self, writer_keys, count):
        """Creates `count` keys:write keys in parallel; returns [(id, key)]."""
        out = queue.Queue()
        errors = queue.Queue()
        port = self.server.port
        per_thread = count // len(writer_keys)

        def creator(t, key):
            with harness.Session(port, timeout=5) as session:
                for i in range(per_thread):
                    resp = session.request("POST", "/v1/api-keys", key=key,
                                           body={"name": f"victim-{t}-{i}",
                                                 "scopes": ["keys:write"]})
                    if resp.status != 201:
                        errors.put(repr(resp))
                        return
                    out.put((resp.body["id"], resp.body["key"]))

        threads = [threading.Thread(target=creator, args=(t, k), daemon=True)
                   for t, (_, k) in enumerate(writer_keys)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        self.assertTrue(errors.empty(), list(errors.queue)[:3])
        return list(out.queue)

    def listed_ids(self):
        ids, cursor = set(), None
        with self.server.session() as session:
            for _ in range(10000):
                path = "/v1/api-keys?limit=200" + (f"&cursor={cursor}" if cursor else "")
                resp = session.request("GET", path, key=self.admin)
                self.assertEqual(resp.status, 200, repr(resp))
                ids.update(k["id"] for k in resp.body["data"])
                cursor = resp.body["next_cursor"]
                if cursor is None:
                    return ids
        self.fail("listing did not end")

    def failing_keys(self, keys):
        """Keys (of `keys`) that do not get 200 on GET /v1/api-keys?limit=1."""
        work = queue.Queue()
        for item in keys:
            work.put(item)
        failures = queue.Queue()
        port = self.server.port

        def checker():
            session = harness.Session(port, timeout=5)
            try:
                while True:
                    try:
                        key_id, key = work.get_nowait()
                    except queue.Empty:
                        return
                    for attempt in range(3):
                        try:
                            resp = session.request("GET", "/v1/api-keys?limit=1", key=key)
                        except Exception as e:  # pylint: disable=broad-except
                            session.close()
                            session = harness.Session(port, timeout=5)
                            resp = e
                            continue
                        if getattr(resp, "status", None) == 429 and attempt < 2:
                            time.sleep(0.5)
                            continue
                        break
                    if getattr(resp, "status", None) != 200:
                        failures.put((key_id, repr(resp)[:300]))
            finally:
                session.close()

        threads = [threading.Thread(target=checker, daemon=True)
                   for _ in range(VERIFY_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return list(failures.queue)

    # ------------------------------------------------------------------- test

    def test_kill9_loses_no_acknowledged_write(self):
        writer_keys = self.make_writer_keys()
        acknowledged = dict(writer_keys)
        total_new = 0
        for cycle in range(CYCLES):
            acked, others = self.write_until_killed(cycle, writer_keys)
            total_new += len(acked)
            print(f"cycle {cycle + 1}: {len(acked)} writes acknowledged before kill -9"
                  f"{'; other answers ' + str(others) if others else ''}", flush=True)
            self.assertGreater(len(acked), 0, f"no write succeeded; answers {others}")
            self.assertFalse({s for s in others if s >= 500},
                             f"server errors while writing: {others}")
            acknowledged.update(acked)

            self.server.restart()
            listed = self.listed_ids()
            missing = set(acknowledged) - listed
            self.assertFalse(missing, f"cycle {cycle + 1}: {len(missing)} acknowledged "
                             f"keys missing after restart, e.g. {sorted(missing)[:5]}")

            earlier = [kv for kv in acknowledged.items() if kv[0] not in acked]
            recheck = random.sample(earlier, min(RECHECK_SAMPLE, len(earlier)))
            failures = self.failing_keys(list(acked.items()) + recheck)
            self.assertFalse(failures, f"cycle {cycle + 1}: {len(failures)} acknowledged "
                             f"keys do not authenticate, e.g. {failures[:3]}")
        print(f"verified {len(acknowledged)} acknowledged writes "
              f"({total_new} made under kill -9, {CYCLES} cycles) in "
              f"{time.monotonic() - _started:.1f} s", flush=True)

    def test_kill9_loses_no_acknowledged_revocation(self):
        """A 204 to DELETE /v1/api-keys/{id} survives kill -9."""
        writer_keys = self.make_writer_keys()
        victims = self.create_victims(writer_keys, 4000)

        work = queue.Queue()
        for victim in victims:
            work.put(victim)
        revoked = queue.Queue()
        stop = threading.Event()
        port = self.server.port

        def revoker(key):
            session = harness.Session(port, timeout=5)
            try:
                while not stop.is_set():
                    try:
                        key_id, secret = work.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        resp = session.request("DELETE", f"/v1/api-keys/{key_id}", key=key)
                    except Exception:  # pylint: disable=broad-except
                        return
                    if resp.status == 204:
                        revoked.put((key_id, secret))
            finally:
                session.close()

        threads = [threading.Thread(target=revoker, args=(k,), daemon=True)
                   for _, k in writer_keys]
        for thread in threads:
            thread.start()
        time.sleep(random.uniform(0.05, 0.3))
        self.server.kill9()
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        acked = list(revoked.queue)
        print(f"{len(acked)} of {len(victims)} revocations acknowledged before kill -9",
              flush=True)

        self.server.restart()
        listed = self.listed_ids()
        still_listed = [key_id for key_id, _ in acked if key_id in listed]
        self.assertFalse(still_listed, f"{len(still_listed)} revoked keys listed again")
        with self.server.session() as session:
            for key_id, secret in acked:
                resp = session.request("GET", "/v1/api-keys?limit=1", key=secret)
                self.assertEqual(resp.status, 401, f"revoked key {key_id}: {resp!r}")


if __name__ == "__main__":
    harness.run_tests()
