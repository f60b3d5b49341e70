"""Black-box tests of Agentry's credential profiles, pools and leases (DESIGN
§5 "Profiles, pools and leases"; issue 6): profile CRUD with secrets that are
never answered, pools and their members, acquire (exclusive and shared, LRU
and MRU, the readers-writer rule across pools, wait_seconds), renew, release,
expiry, fencing tokens, scopes, tenancy, and no plaintext secret in the SQLite
files or the logs.

Run: python3 tests/integration/test_leases.py --binary build/agentry
"""

import base64
import concurrent.futures
import os
import secrets
import sys
import threading
import time
import urllib.parse
import unittest

import agentry_harness as harness
from test_foundation import (AgentryTestCase, TIMESTAMP_RE, UUID_RE, parse_rfc3339_ms,
                             unique, uuid7)

FILE_DEADLINE_S = 58.0
_started = time.monotonic()

PROFILE_FIELDS = {"id", "name", "description", "proxy", "sticky_ip",
                  "captcha_solver_active", "credentials", "cookies", "metadata",
                  "enabled", "created_at", "updated_at"}
COOKIE_FIELDS = {"name", "domain", "path", "expires_at", "secure", "http_only"}
POOL_FIELDS = {"id", "organization_id", "name", "selection_strategy",
               "allow_concurrent_use", "default_lease_ttl_seconds", "profile_count",
               "created_at", "updated_at"}
LEASE_FIELDS = {"id", "pool_id", "profile_id", "profile", "fencing_token", "holder",
                "acquired_at", "expires_at", "mode", "status"}
# Members a lease answer may carry beyond the contract's.
LEASE_OPTIONAL_FIELDS = {"released_at"}

LRU = "least_recently_used"
MRU = "most_recently_used"


def _watchdog():
    """Fails the whole file if it runs past FILE_DEADLINE_S."""
    def fire():
        print(f"\nFAIL: test_leases.py exceeded {FILE_DEADLINE_S:.0f} s", file=sys.stderr,
              flush=True)
        os._exit(1)
    timer = threading.Timer(FILE_DEADLINE_S, fire)
    timer.daemon = True
    timer.start()
    return timer


def marker(kind="SECRET"):
    """A long random string that cannot appear anywhere by chance."""
    return f"{kind}-{secrets.token_hex(20)}-MARK"


def ms(ts):
    """Milliseconds since the epoch of an RFC 3339 timestamp with milliseconds."""
    return int(round(parse_rfc3339_ms(ts).timestamp() * 1000))


def now_ms():
    return int(time.time() * 1000)


class LeaseTestCase(AgentryTestCase):
    """One server per class; helpers for profiles, pools and leases."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Credential data and cookie values given to the server. None may appear
        # in an answer (except a lease answer to a key with profiles:secrets) nor
        # in the logs.
        cls.profile_secrets = []
        cls._keys = {}

    @classmethod
    def tearDownClass(cls):
        server = cls.server
        leaked = []
        if server is not None and server.proc is not None:
            try:
                server.stop_term(timeout=15)
            except Exception:  # pylint: disable=broad-except
                pass
            logs = server.logs()
            leaked = [s for s in cls.profile_secrets if s in logs]
        super().tearDownClass()
        if leaked:
            raise AssertionError(f"{cls.__name__}: {len(leaked)} credential or cookie "
                                 f"values appear in the server's logs, e.g. {leaked[0]}")

    # ----------------------------------------------------------------- helpers

    def secret(self, kind="SECRET"):
        value = marker(kind)
        self.profile_secrets.append(value)
        return value

    def req(self, method, path, body=None, key=None, expect=None, headers=None,
            secrets_ok=False):
        """A checked request: no key value ever, no profile secret unless
        `secrets_ok`."""
        resp = self.call(method, path, body=body, headers=headers,
                         key=self.admin if key is None else key, expect=expect)
        if not secrets_ok:
            self.assert_no_profile_secret(resp, f"{method} {path}")
        return resp

    def assert_no_profile_secret(self, resp, what):
        for value in self.profile_secrets:
            self.assertNotIn(value, resp.raw, f"{what}: answer contains a secret: {resp!r}")
            for name, header in resp.headers.items():
                self.assertNotIn(value, header, f"{what}: header {name} has a secret")

    def fast_key(self, scopes, key=None):
        """A key with the scopes and (if the server takes it) a high rate limit."""
        cache_key = (tuple(sorted(scopes)), key)
        if cache_key in self._keys:
            return self._keys[cache_key]
        body = {"name": unique("k"), "scopes": list(scopes),
                "rate_limit": {"per_second": 100000, "burst": 100000}}
        resp = self.call("POST", "/v1/api-keys", body=body, key=key or self.admin)
        if resp.status == 400:
            del body["rate_limit"]
            resp = self.call("POST", "/v1/api-keys", body=body, key=key or self.admin)
        self.assertEqual(resp.status, 201, repr(resp))
        self.remember(resp.body["key"])
        self._keys[cache_key] = resp.body["key"]
        return resp.body["key"]

    @property
    def leaser(self):
        """leases:write and pools:read, without profiles:secrets."""
        return self.fast_key(["leases:write", "pools:read"])

    @property
    def secret_leaser(self):
        return self.fast_key(["leases:write", "pools:read", "profiles:secrets"])

    def create_profile(self, key=None, expect=201, **members):
        body = {"name": unique("profile")}
        body.update(members)
        resp = self.req("POST", "/v1/agent-profiles", body=body, key=key)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"POST profile {body} -> {resp!r}")
        if expect == 201:
            self.check_profile(resp.body)
            self.assertTrue(resp.headers.get("etag"), f"no ETag: {resp!r}")
            return resp.body
        return resp

    def create_profiles(self, n, key=None, **members):
        """n profiles, answered in ascending id order."""
        out = [self.create_profile(key=key, **members) for _ in range(n)]
        return sorted(out, key=lambda p: p["id"])

    def create_pool(self, key=None, expect=201, profiles=(), **members):
        body = {"name": unique("pool")}
        body.update(members)
        resp = self.req("POST", "/v1/agent-profile-pools", body=body, key=key)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"POST pool {body} -> {resp!r}")
        if expect != 201:
            return resp
        self.check_pool(resp.body)
        pool = resp.body
        if profiles:
            self.add_members(pool["id"], [p["id"] if isinstance(p, dict) else p
                                          for p in profiles], key=key)
        return pool

    def add_members(self, pool_id, ids, key=None, expect=200):
        resp = self.req("POST", f"/v1/agent-profile-pools/{pool_id}/profiles",
                        body={"profile_ids": list(ids)}, key=key)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"add members -> {resp!r}")
        return resp

    def acquire(self, pool_id, key=None, expect=201, secrets_ok=False, **body):
        resp = self.req("POST", f"/v1/agent-profile-pools/{pool_id}/leases", body=body,
                        key=key or self.leaser, secrets_ok=secrets_ok)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"acquire {pool_id} {body} -> {resp!r}")
        if expect == 201:
            self.check_lease(resp.body, pool_id=pool_id, status="active",
                             secrets_expected=secrets_ok)
            return resp.body
        if expect == 409:
            self.assert_no_profile_available(resp)
        return resp

    def release(self, lease_id, key=None, expect=204):
        return self.req("DELETE", f"/v1/leases/{lease_id}", key=key or self.leaser,
                        expect=expect)

    def get_lease(self, lease_id, key=None, expect=200):
        resp = self.req("GET", f"/v1/leases/{lease_id}", key=key or self.leaser,
                        expect=expect)
        if expect == 200:
            self.check_lease(resp.body)
            return resp.body
        return resp

    def renew(self, lease_id, body, key=None, expect=200):
        resp = self.req("POST", f"/v1/leases/{lease_id}/renew", body=body,
                        key=key or self.leaser, expect=expect)
        if expect == 200:
            self.check_lease(resp.body, status="active")
            return resp.body
        return resp

    def pool_leases(self, pool_id, key=None):
        return self.list_all(f"/v1/agent-profile-pools/{pool_id}/leases",
                             key=key or self.leaser)

    def list_all(self, path, key=None, limit=200):
        return self.list_pages(path, key=key, limit=limit, call=self.req)

    def cycle(self, pool_id, n, key=None, **body):
        """n times acquire + release; the profile ids granted, in order."""
        got = []
        for _ in range(n):
            lease = self.acquire(pool_id, key=key, **body)
            got.append(lease["profile_id"])
            self.release(lease["id"], key=key)
        return got

    # ------------------------------------------------------------- assertions

    def assert_no_profile_available(self, resp):
        self.assert_error(resp, 409, "no_profile_available")
        retry = resp.headers.get("retry-after")
        self.assertIsNotNone(retry, f"409 without Retry-After: {resp!r}")
        self.assertRegex(retry, r"^[0-9]+$", f"Retry-After is not integer seconds: {resp!r}")
        self.assertGreaterEqual(int(retry), 1, repr(resp))

    def assert_invalid(self, resp, fields):
        self.assertEqual(resp.status, 400, repr(resp))
        self.assert_error_shape(resp)
        self.assertEqual(resp.body["error"]["code"], "invalid_request", repr(resp))
        if isinstance(fields, tuple):
            self.assertIn(resp.body["error"].get("field"), fields, repr(resp))
        else:
            self.assertEqual(resp.body["error"].get("field"), fields, repr(resp))

    def assert_timestamps(self, view):
        for member in ("created_at", "updated_at"):
            self.assertRegex(view[member], TIMESTAMP_RE, view)
        self.assertLessEqual(ms(view["created_at"]), ms(view["updated_at"]), view)

    def check_profile(self, view, secrets_expected=False):
        self.assertIsInstance(view, dict, repr(view))
        self.assertEqual(set(view), PROFILE_FIELDS,
                         f"members differ: extra {set(view) - PROFILE_FIELDS}, "
                         f"missing {PROFILE_FIELDS - set(view)}")
        self.assertRegex(view["id"], UUID_RE)
        self.assertEqual(view["id"][14], "7", f"id is not a UUIDv7: {view['id']}")
        self.assertIsInstance(view["name"], str)
        self.assertIsInstance(view["description"], str)
        self.assertEqual(set(view["proxy"]), {"type", "country"}, view["proxy"])
        self.assertIn(view["proxy"]["type"], ("basic", "residential", "mobile"))
        if view["proxy"]["country"] is not None:
            self.assertRegex(view["proxy"]["country"], r"^[A-Z]{2}$")
        for member in ("sticky_ip", "captcha_solver_active", "enabled"):
            self.assertIsInstance(view[member], bool, member)
        self.assertIsInstance(view["metadata"], dict)
        cred_fields = {"name", "data"} if secrets_expected else {"name"}
        for i, cred in enumerate(view["credentials"]):
            self.assertEqual(set(cred), cred_fields, f"credentials[{i}]: {cred}")
        cookie_fields = COOKIE_FIELDS | {"value"} if secrets_expected else COOKIE_FIELDS
        for i, cookie in enumerate(view["cookies"]):
            self.assertEqual(set(cookie), cookie_fields, f"cookies[{i}]: {cookie}")
            self.assertIsInstance(cookie["path"], str)
            self.assertIsInstance(cookie["secure"], bool)
            self.assertIsInstance(cookie["http_only"], bool)
            if cookie["expires_at"] is not None:
                self.assertIsInstance(cookie["expires_at"], str)
        self.assert_timestamps(view)

    def check_pool(self, view):
        self.assertIsInstance(view, dict, repr(view))
        self.assertEqual(set(view), POOL_FIELDS,
                         f"members differ: extra {set(view) - POOL_FIELDS}, "
                         f"missing {POOL_FIELDS - set(view)}")
        self.assertRegex(view["id"], UUID_RE)
        self.assertRegex(view["organization_id"], UUID_RE)
        self.assertIn(view["selection_strategy"], (LRU, MRU))
        self.assertIsInstance(view["allow_concurrent_use"], bool)
        self.assertIs(type(view["default_lease_ttl_seconds"]), int, view)
        self.assertIs(type(view["profile_count"]), int, view)
        self.assert_timestamps(view)

    def check_lease(self, lease, pool_id=None, status=None, secrets_expected=False):
        self.assertIsInstance(lease, dict, repr(lease))
        members = set(lease)
        self.assertTrue(LEASE_FIELDS <= members,
                        f"lease lacks members {LEASE_FIELDS - members}: {lease}")
        self.assertTrue(members <= LEASE_FIELDS | LEASE_OPTIONAL_FIELDS,
                        f"lease has unexpected members "
                        f"{members - LEASE_FIELDS - LEASE_OPTIONAL_FIELDS}")
        self.assertRegex(lease["id"], UUID_RE)
        self.assertRegex(lease["pool_id"], UUID_RE)
        if pool_id is not None:
            self.assertEqual(lease["pool_id"], pool_id, lease)
        self.assertEqual(lease["profile_id"], lease["profile"]["id"], lease)
        self.check_profile(lease["profile"], secrets_expected=secrets_expected)
        self.assertIs(type(lease["fencing_token"]), int, lease)
        self.assertGreaterEqual(lease["fencing_token"], 1, lease)
        self.assertTrue(lease["holder"] is None or isinstance(lease["holder"], str), lease)
        self.assertRegex(lease["acquired_at"], TIMESTAMP_RE)
        self.assertRegex(lease["expires_at"], TIMESTAMP_RE)
        self.assertGreater(ms(lease["expires_at"]), ms(lease["acquired_at"]), lease)
        self.assertIn(lease["mode"], ("exclusive", "shared"))
        self.assertIn(lease["status"], ("active", "released", "expired"))
        if status is not None:
            self.assertEqual(lease["status"], status, lease)

    def run_parallel(self, fn, args_list, workers=None):
        """Runs fn(*args) for each args in parallel threads; results in order."""
        workers = workers or len(args_list)
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
            futures = [ex.submit(fn, *args) for args in args_list]
            return [f.result(timeout=30) for f in futures]

    def raw_acquire(self, pool_id, key, body, timeout=harness.REQUEST_TIMEOUT_S):
        """An unchecked acquire for worker threads (assertions happen later)."""
        return self.server.request("POST", f"/v1/agent-profile-pools/{pool_id}/leases",
                                   body=body, key=key, timeout=timeout)


# =========================================================================
class ProfilesTest(LeaseTestCase):

    def test_create_minimal_fills_defaults(self):
        name = unique("Minimal")
        before = time.time()
        profile = self.create_profile(name=name)
        self.assertEqual(profile["name"], name)
        self.assertEqual(profile["description"], "")
        self.assertEqual(profile["proxy"], {"type": "basic", "country": None})
        self.assertIs(profile["sticky_ip"], False)
        self.assertIs(profile["captcha_solver_active"], False)
        self.assertEqual(profile["credentials"], [])
        self.assertEqual(profile["cookies"], [])
        self.assertEqual(profile["metadata"], {})
        self.assertIs(profile["enabled"], True)
        self.assertLess(abs(ms(profile["created_at"]) / 1000 - before), 60)
        got = self.req("GET", f"/v1/agent-profiles/{profile['id']}", expect=200)
        self.assertEqual(got.body, profile)
        self.assertTrue(got.headers.get("etag"))

    def test_create_full_round_trips_without_secrets(self):
        pw, token, session = self.secret("PW"), self.secret("TOKEN"), self.secret("COOKIE")
        body = {
            "name": unique("Full"), "description": "A shopping account",
            "proxy": {"type": "residential", "country": "US"},
            "sticky_ip": True, "captcha_solver_active": True,
            "credentials": [{"name": "password", "data": pw},
                            {"name": "api_token", "data": token}],
            "cookies": [{"name": "session", "value": session, "domain": ".example.com",
                         "path": "/app", "expires_at": "2030-01-02T03:04:05.000Z",
                         "secure": True, "http_only": True},
                        {"name": "pref", "value": "dark-mode"}],
            "metadata": {"owner": "team-a", "tier": 3, "vip": True},
            "enabled": False,
        }
        profile = self.create_profile(**body)
        self.assertEqual(profile["name"], body["name"])
        self.assertEqual(profile["description"], body["description"])
        self.assertEqual(profile["proxy"], {"type": "residential", "country": "US"})
        self.assertIs(profile["sticky_ip"], True)
        self.assertIs(profile["captcha_solver_active"], True)
        self.assertEqual(profile["credentials"], [{"name": "password"},
                                                  {"name": "api_token"}])
        self.assertEqual(len(profile["cookies"]), 2)
        first, second = profile["cookies"]
        self.assertEqual(first["name"], "session")
        self.assertEqual(first["domain"], ".example.com")
        self.assertEqual(first["path"], "/app")
        self.assertEqual(ms(first["expires_at"]), ms("2030-01-02T03:04:05.000Z"))
        self.assertIs(first["secure"], True)
        self.assertIs(first["http_only"], True)
        self.assertEqual(second["name"], "pref")
        self.assertEqual(second["path"], "/")
        self.assertIsNone(second["expires_at"])
        self.assertNotIn("dark-mode", repr(profile))
        self.assertEqual(profile["metadata"], body["metadata"])
        self.assertIs(profile["enabled"], False)
        got = self.req("GET", f"/v1/agent-profiles/{profile['id']}", expect=200)
        self.assertEqual(got.body, profile)
        self.assertNotIn("dark-mode", got.raw)
        listed = [p for p in self.list_all("/v1/agent-profiles") if p["id"] == profile["id"]]
        self.assertEqual(listed, [profile])
        # A key with profiles:secrets reads no secret through GET either.
        both = self.fast_key(["profiles:read", "profiles:secrets"])
        got = self.req("GET", f"/v1/agent-profiles/{profile['id']}", key=both, expect=200)
        self.assertEqual(got.body, profile)
        self.req("GET", "/v1/agent-profiles?limit=200", key=both, expect=200)

    def test_limits_at_the_boundary_are_accepted(self):
        self.create_profile(name="n" * 255, description="d" * 1024,
                            credentials=[{"name": f"c{i}", "data": "x"} for i in range(64)],
                            cookies=[{"name": f"k{i}", "value": "v"} for i in range(256)],
                            metadata={f"m{i}": i for i in range(64)},
                            proxy={"type": "mobile", "country": None})
        profile = self.create_profile(name="é" * 255, proxy={"country": "DE"})
        self.assertEqual(profile["proxy"], {"type": "basic", "country": "DE"})
        self.assertEqual(profile["name"], "é" * 255)

    def test_create_validation(self):
        s = self.secret("VALIDATION")
        cred = {"name": "pw", "data": s}
        cases = [
            ({}, "name"),
            ({"name": ""}, "name"),
            ({"name": "n" * 256}, "name"),
            ({"name": 7}, "name"),
            ({"name": None}, "name"),
            ({"name": "x", "description": "d" * 1025}, "description"),
            ({"name": "x", "proxy": {"type": "tor"}}, "proxy.type"),
            ({"name": "x", "proxy": {"type": 1}}, "proxy.type"),
            ({"name": "x", "proxy": {"country": "us"}}, "proxy.country"),
            ({"name": "x", "proxy": {"country": "USA"}}, "proxy.country"),
            ({"name": "x", "proxy": {"country": "U1"}}, "proxy.country"),
            ({"name": "x", "proxy": {"country": 1}}, "proxy.country"),
            ({"name": "x", "proxy": {"colour": "red"}}, "proxy.colour"),
            ({"name": "x", "proxy": "basic"}, "proxy"),
            ({"name": "x", "sticky_ip": "yes"}, "sticky_ip"),
            ({"name": "x", "captcha_solver_active": 1}, "captcha_solver_active"),
            ({"name": "x", "enabled": "true"}, "enabled"),
            ({"name": "x", "credentials": [cred, {"name": "pw2"}]}, "credentials[1].data"),
            ({"name": "x", "credentials": [cred, {"name": "pw2", "data": 5}]},
             "credentials[1].data"),
            ({"name": "x", "credentials": [cred, {"data": s}]}, "credentials[1].name"),
            ({"name": "x", "credentials": [cred, {"name": "pw", "data": s}]},
             "credentials[1].name"),
            ({"name": "x", "credentials": [cred, {"name": "a", "data": s, "z": 1}]},
             "credentials[1].z"),
            ({"name": "x", "credentials": [{"name": f"c{i}", "data": s} for i in range(65)]},
             ("credentials", "credentials[64]")),
            ({"name": "x", "credentials": {"pw": s}}, "credentials"),
            ({"name": "x", "cookies": [{"name": "c", "value": s, "expires_at": "soon"}]},
             "cookies[0].expires_at"),
            ({"name": "x", "cookies": [{"name": "c", "value": s},
                                       {"name": "d", "value": s, "secure": "yes"}]},
             "cookies[1].secure"),
            ({"name": "x", "cookies": [{"name": "c", "value": s},
                                       {"name": "d", "value": s, "http_only": 0}]},
             "cookies[1].http_only"),
            ({"name": "x", "cookies": [{"name": "c"}]}, "cookies[0].value"),
            ({"name": "x", "cookies": [{"value": s}]}, "cookies[0].name"),
            ({"name": "x", "cookies": [{"name": "c", "value": s, "flavour": "oat"}]},
             "cookies[0].flavour"),
            ({"name": "x", "cookies": [{"name": f"k{i}", "value": s} for i in range(257)]},
             ("cookies", "cookies[256]")),
            ({"name": "x", "metadata": {f"m{i}": i for i in range(65)}}, "metadata"),
            ({"name": "x", "metadata": {"nested": {"a": 1}}}, "metadata.nested"),
            ({"name": "x", "metadata": {"list": [1]}}, "metadata.list"),
            ({"name": "x", "colour": "red"}, "colour"),
        ]
        before = len(self.list_all("/v1/agent-profiles"))
        for body, field in cases:
            with self.subTest(body=repr(body)[:120]):
                resp = self.req("POST", "/v1/agent-profiles", body=body)
                self.assert_invalid(resp, field)
        self.assertEqual(len(self.list_all("/v1/agent-profiles")), before,
                         "a refused profile was stored")

    def test_patch_merges_and_keeps_secrets(self):
        old_pw, cookie = self.secret("OLDPW"), self.secret("COOKIE")
        profile = self.create_profile(
            proxy={"type": "mobile", "country": "FR"}, metadata={"a": 1, "b": "x"},
            credentials=[{"name": "pw", "data": old_pw}],
            cookies=[{"name": "sid", "value": cookie, "domain": "example.com"}])
        path = f"/v1/agent-profiles/{profile['id']}"
        etag = self.req("GET", path, expect=200).headers["etag"]
        # 304 with the current ETag, 200 with another one.
        resp = self.req("GET", path, headers={"If-None-Match": etag}, expect=304)
        self.assertFalse(resp.raw)
        self.req("GET", path, headers={"If-None-Match": '"nope"'}, expect=200)

        resp = self.req("PATCH", path, expect=200,
                        body={"description": "changed", "proxy": {"country": "DE"},
                              "metadata": {"a": None, "c": True}, "sticky_ip": True})
        patched = resp.body
        self.check_profile(patched)
        self.assertEqual(patched["description"], "changed")
        self.assertEqual(patched["proxy"], {"type": "mobile", "country": "DE"})
        self.assertEqual(patched["metadata"], {"b": "x", "c": True})
        self.assertIs(patched["sticky_ip"], True)
        self.assertEqual(patched["credentials"], [{"name": "pw"}])
        self.assertEqual([c["name"] for c in patched["cookies"]], ["sid"])
        self.assertEqual(patched["created_at"], profile["created_at"])
        self.assertGreaterEqual(ms(patched["updated_at"]), ms(profile["updated_at"]))
        new_etag = resp.headers.get("etag")
        self.assertTrue(new_etag, repr(resp))
        self.assertNotEqual(new_etag, etag)
        self.assertEqual(self.req("GET", path, expect=200).body, patched)

        # The secrets were kept: a secrets key leasing the profile reads them.
        pool = self.create_pool(profiles=[profile])
        lease = self.acquire(pool["id"], key=self.secret_leaser, secrets_ok=True)
        self.assertEqual(lease["profile"]["credentials"], [{"name": "pw", "data": old_pw}])
        self.assertEqual(lease["profile"]["cookies"][0]["value"], cookie)
        self.release(lease["id"])

        # Stale If-Match: 412 and nothing changes.
        resp = self.req("PATCH", path, body={"description": "lost"},
                        headers={"If-Match": etag})
        self.assert_error(resp, 412, "precondition_failed")
        self.assertEqual(self.req("GET", path, expect=200).body["description"], "changed")
        resp = self.req("DELETE", path, headers={"If-Match": etag})
        self.assert_error(resp, 412, "precondition_failed")

        # Arrays are replaced when present.
        new_pw = self.secret("NEWPW")
        resp = self.req("PATCH", path, headers={"If-Match": new_etag}, expect=200,
                        body={"credentials": [{"name": "token", "data": new_pw}],
                              "cookies": []})
        self.assertEqual(resp.body["credentials"], [{"name": "token"}])
        self.assertEqual(resp.body["cookies"], [])
        lease = self.acquire(pool["id"], key=self.secret_leaser, secrets_ok=True)
        self.assertEqual(lease["profile"]["credentials"], [{"name": "token", "data": new_pw}])
        self.assertEqual(lease["profile"]["cookies"], [])
        self.assertNotIn(old_pw, lease["profile"].__repr__())
        self.release(lease["id"])

        # An invalid patch is refused with its field and changes nothing.
        before = self.req("GET", path, expect=200).body
        for patch, field in [({"proxy": {"type": "satellite"}}, "proxy.type"),
                             ({"proxy": {"country": "xx"}}, "proxy.country"),
                             ({"name": ""}, "name"),
                             ({"credentials": [{"name": "a", "data": new_pw}, {"name": "b"}]},
                              "credentials[1].data"),
                             ({"id": uuid7()}, "id")]:
            with self.subTest(patch=patch):
                self.assert_invalid(self.req("PATCH", path, body=patch), field)
        self.assertEqual(self.req("GET", path, expect=200).body, before)

    def test_list_pages_in_id_order(self):
        org = self.create_org()
        key = org["admin_key"]
        made = self.create_profiles(7, key=key)
        seen, cursor, pages = [], None, 0
        while True:
            path = "/v1/agent-profiles?limit=3" + (f"&cursor={cursor}" if cursor else "")
            resp = self.req("GET", path, key=key, expect=200)
            self.assertLessEqual(len(resp.body["data"]), 3)
            for p in resp.body["data"]:
                self.check_profile(p)
            seen.extend(resp.body["data"])
            pages += 1
            cursor = resp.body["next_cursor"]
            if cursor is None:
                break
            self.assertLess(pages, 10)
        self.assertEqual([p["id"] for p in seen], [p["id"] for p in made])
        self.assertEqual(seen, made)
        self.assertGreaterEqual(pages, 3)
        for bad in ("limit=0", "limit=201", "limit=x"):
            self.assertEqual(self.req("GET", f"/v1/agent-profiles?{bad}", key=key).status,
                             400, bad)

    def test_delete(self):
        profile = self.create_profile()
        path = f"/v1/agent-profiles/{profile['id']}"
        pool = self.create_pool(profiles=[profile])
        lease = self.acquire(pool["id"])
        # Not while a lease holds it.
        self.assert_error(self.req("DELETE", path), 409, "conflict")
        self.req("GET", path, expect=200)
        self.release(lease["id"])
        self.req("DELETE", path, expect=204)
        self.assert_error(self.req("GET", path), 404, "not_found")
        self.assert_error(self.req("DELETE", path), 404, "not_found")
        self.assert_error(self.req("PATCH", path, body={"name": "z"}), 404, "not_found")
        listed = self.list_all(f"/v1/agent-profile-pools/{pool['id']}/profiles")
        self.assertNotIn(profile["id"], [p["id"] for p in listed])
        self.acquire(pool["id"], expect=409)
        self.assert_error(self.req("GET", f"/v1/agent-profiles/{uuid7()}"), 404, "not_found")

    def test_scopes(self):
        profile = self.create_profile()
        path = f"/v1/agent-profiles/{profile['id']}"
        reader = self.fast_key(["profiles:read"])
        writer = self.fast_key(["profiles:write"])
        other = self.fast_key(["pools:read", "pools:write", "leases:write"])
        self.req("GET", path, key=reader, expect=200)
        self.req("GET", "/v1/agent-profiles", key=reader, expect=200)
        for method, p, body in [("POST", "/v1/agent-profiles", {"name": "x"}),
                                ("PATCH", path, {"name": "y"}), ("DELETE", path, None)]:
            self.assert_error(self.req(method, p, body=body, key=reader), 403, "forbidden")
        self.req("POST", "/v1/agent-profiles", body={"name": "w"}, key=writer, expect=201)
        self.req("PATCH", path, body={"description": "w"}, key=writer, expect=200)
        for method, p, body in [("GET", path, None), ("GET", "/v1/agent-profiles", None),
                                ("POST", "/v1/agent-profiles", {"name": "x"}),
                                ("PATCH", path, {"name": "y"}), ("DELETE", path, None)]:
            self.assert_error(self.req(method, p, body=body, key=other), 403, "forbidden")
            resp = self.call(method, p, body=body, key=None)
            self.assert_error(resp, 401, "unauthorized")
            resp = self.call(method, p, body=body, key=harness.random_key())
            self.assert_error(resp, 401, "unauthorized")
        self.req("GET", path, expect=200)


# =========================================================================
class PoolsTest(LeaseTestCase):

    def test_create_defaults_and_round_trip(self):
        name = unique("Pool")
        pool = self.create_pool(name=name)
        self.assertEqual(pool["name"], name)
        self.assertEqual(pool["selection_strategy"], LRU)
        self.assertIs(pool["allow_concurrent_use"], False)
        self.assertEqual(pool["default_lease_ttl_seconds"], 300)
        self.assertEqual(pool["profile_count"], 0)
        self.assertEqual(pool["id"][14], "7", pool["id"])
        path = f"/v1/agent-profile-pools/{pool['id']}"
        got = self.req("GET", path, expect=200)
        self.assertEqual(got.body, pool)
        etag = got.headers.get("etag")
        self.assertTrue(etag)
        self.req("GET", path, headers={"If-None-Match": etag}, expect=304)
        full = self.create_pool(name=unique("Full"), selection_strategy=MRU,
                                allow_concurrent_use=True, default_lease_ttl_seconds=86400)
        self.assertEqual(full["selection_strategy"], MRU)
        self.assertIs(full["allow_concurrent_use"], True)
        self.assertEqual(full["default_lease_ttl_seconds"], 86400)
        self.assertEqual(full["organization_id"], pool["organization_id"])
        self.create_pool(name="n" * 255, default_lease_ttl_seconds=1)
        listed = {p["id"]: p for p in self.list_all("/v1/agent-profile-pools")}
        self.assertEqual(listed[pool["id"]], pool)
        self.assertEqual(listed[full["id"]], full)
        ids = [p["id"] for p in self.list_all("/v1/agent-profile-pools?limit=2")]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(ids), len(set(ids)))

    def test_validation(self):
        cases = [
            ({}, "name"), ({"name": ""}, "name"), ({"name": "n" * 256}, "name"),
            ({"name": 3}, "name"),
            ({"name": "x", "selection_strategy": "random"}, "selection_strategy"),
            ({"name": "x", "selection_strategy": "LEAST_RECENTLY_USED"}, "selection_strategy"),
            ({"name": "x", "allow_concurrent_use": "yes"}, "allow_concurrent_use"),
            ({"name": "x", "default_lease_ttl_seconds": 0}, "default_lease_ttl_seconds"),
            ({"name": "x", "default_lease_ttl_seconds": 86401}, "default_lease_ttl_seconds"),
            ({"name": "x", "default_lease_ttl_seconds": 1.5}, "default_lease_ttl_seconds"),
            ({"name": "x", "default_lease_ttl_seconds": "300"}, "default_lease_ttl_seconds"),
            ({"name": "x", "default_lease_ttl_seconds": -1}, "default_lease_ttl_seconds"),
            ({"name": "x", "profile_count": 3}, "profile_count"),
            ({"name": "x", "colour": "red"}, "colour"),
        ]
        before = len(self.list_all("/v1/agent-profile-pools"))
        for body, field in cases:
            with self.subTest(body=body):
                self.assert_invalid(self.req("POST", "/v1/agent-profile-pools", body=body),
                                    field)
        self.assertEqual(len(self.list_all("/v1/agent-profile-pools")), before)

    def test_name_unique_per_organization(self):
        name = unique("Same")
        pool = self.create_pool(name=name)
        resp = self.req("POST", "/v1/agent-profile-pools", body={"name": name})
        self.assert_error(resp, 409, "conflict", field="name")
        other = self.create_pool(name=unique("Other"))
        resp = self.req("PATCH", f"/v1/agent-profile-pools/{other['id']}",
                        body={"name": name})
        self.assert_error(resp, 409, "conflict", field="name")
        # Another organization may use the same name.
        org = self.create_org()
        theirs = self.create_pool(name=name, key=org["admin_key"])
        self.assertNotEqual(theirs["organization_id"], pool["organization_id"])
        # A deleted pool's name is free again.
        self.req("DELETE", f"/v1/agent-profile-pools/{pool['id']}", expect=204)
        self.create_pool(name=name)

    def test_patch_and_delete(self):
        pool = self.create_pool()
        path = f"/v1/agent-profile-pools/{pool['id']}"
        etag = self.req("GET", path, expect=200).headers["etag"]
        resp = self.req("PATCH", path, expect=200,
                        body={"selection_strategy": MRU, "default_lease_ttl_seconds": 60})
        self.check_pool(resp.body)
        self.assertEqual(resp.body["selection_strategy"], MRU)
        self.assertEqual(resp.body["default_lease_ttl_seconds"], 60)
        self.assertEqual(resp.body["name"], pool["name"])
        self.assertIs(resp.body["allow_concurrent_use"], False)
        self.assertEqual(self.req("GET", path, expect=200).body, resp.body)
        self.assert_error(self.req("PATCH", path, body={"name": "late"},
                                   headers={"If-Match": etag}), 412, "precondition_failed")
        self.assert_error(self.req("DELETE", path, headers={"If-Match": etag}), 412,
                          "precondition_failed")
        for patch, field in [({"selection_strategy": "fifo"}, "selection_strategy"),
                             ({"default_lease_ttl_seconds": 0}, "default_lease_ttl_seconds"),
                             ({"name": None}, "name"), ({"colour": 1}, "colour")]:
            with self.subTest(patch=patch):
                self.assert_invalid(self.req("PATCH", path, body=patch), field)
        # The new default TTL applies to leases.
        profile = self.create_profile()
        self.add_members(pool["id"], [profile["id"]])
        lease = self.acquire(pool["id"])
        self.assertEqual(ms(lease["expires_at"]) - ms(lease["acquired_at"]), 60000, lease)
        self.release(lease["id"])
        self.req("DELETE", path, expect=204)
        self.assert_error(self.req("GET", path), 404, "not_found")
        self.assert_error(self.req("DELETE", path), 404, "not_found")
        self.assert_error(self.req("PATCH", path, body={"name": "x"}), 404, "not_found")
        self.assert_error(self.req("POST", path + "/leases", body={}, key=self.leaser),
                          404, "not_found")
        # The profile itself survives its pool.
        self.req("GET", f"/v1/agent-profiles/{profile['id']}", expect=200)

    def test_members(self):
        pool = self.create_pool()
        pid = pool["id"]
        path = f"/v1/agent-profile-pools/{pid}/profiles"
        s = self.secret("MEMBER")
        profiles = self.create_profiles(5, credentials=[{"name": "pw", "data": s}])
        ids = [p["id"] for p in profiles]
        resp = self.add_members(pid, ids[:3])
        self.assertEqual(resp.body, {"added": 3, "profile_count": 3})
        resp = self.add_members(pid, ids[1:4])  # two are members already
        self.assertEqual(resp.body, {"added": 1, "profile_count": 4})
        self.assertEqual(self.req("GET", f"/v1/agent-profile-pools/{pid}",
                                  expect=200).body["profile_count"], 4)
        listed = self.list_all(path, limit=3)
        self.assertEqual([p["id"] for p in listed], ids[:4])
        for p in listed:
            self.check_profile(p)
        self.assertEqual(listed, profiles[:4])

        # One id that is not a profile of the organization: 404, nothing added.
        org = self.create_org()
        foreign = self.create_profile(key=org["admin_key"])
        for bad in (foreign["id"], uuid7()):
            with self.subTest(bad=bad):
                resp = self.add_members(pid, [ids[4], bad], expect=None)
                self.assert_error(resp, 404, "not_found")
                self.assertEqual(len(self.list_all(path)), 4)
        self.assertEqual(self.req("GET", f"/v1/agent-profile-pools/{pid}",
                                  expect=200).body["profile_count"], 4)

        # Removal.
        self.req("DELETE", f"{path}/{ids[0]}", expect=204)
        self.assert_error(self.req("DELETE", f"{path}/{ids[0]}"), 404, "not_found")
        self.assert_error(self.req("DELETE", f"{path}/{ids[4]}"), 404, "not_found")
        self.assert_error(self.req("DELETE", f"{path}/{foreign['id']}"), 404, "not_found")
        self.assertEqual([p["id"] for p in self.list_all(path)], ids[1:4])
        self.assertEqual(self.req("GET", f"/v1/agent-profile-pools/{pid}",
                                  expect=200).body["profile_count"], 3)
        # The removed profile still exists.
        self.req("GET", f"/v1/agent-profiles/{ids[0]}", expect=200)

        # A profile may sit in several pools.
        other = self.create_pool(profiles=ids[1:3])
        self.assertEqual([p["id"] for p in self.list_all(
            f"/v1/agent-profile-pools/{other['id']}/profiles")], ids[1:3])
        self.assertEqual(len(self.list_all(path)), 3)

        # Body validation.
        for body, field in [({"profile_ids": []}, "profile_ids"),
                            ({}, "profile_ids"),
                            ({"profile_ids": "x"}, "profile_ids"),
                            ({"profile_ids": [uuid7() for _ in range(501)]}, "profile_ids"),
                            ({"profile_ids": ids[:1], "x": 1}, "x")]:
            with self.subTest(body=repr(body)[:60]):
                self.assert_invalid(self.req("POST", path, body=body), field)
        self.assertEqual(len(self.list_all(path)), 3)
        # 500 ids are accepted by count (here all unknown: 404).
        resp = self.add_members(pid, [ids[4]] + [uuid7() for _ in range(499)], expect=None)
        self.assert_error(resp, 404, "not_found")
        self.assertEqual(len(self.list_all(path)), 3)

        # Bulk removal: members among the ids go, the others are ignored.
        resp = self.req("DELETE", path, body={"profile_ids": [ids[1], ids[2], ids[4],
                                                              foreign["id"]]},
                        expect=200)
        self.assertEqual(resp.body, {"removed": 2, "profile_count": 1})
        self.assertEqual([p["id"] for p in self.list_all(path)], ids[3:4])
        for body, field in [({"profile_ids": []}, "profile_ids"),
                            ({"profile_ids": ["nope"]}, "profile_ids[0]"),
                            ({"ids": [ids[3]]}, "ids")]:
            with self.subTest(remove=repr(body)[:60]):
                self.assert_invalid(self.req("DELETE", path, body=body), field)
        self.assertEqual([p["id"] for p in self.list_all(path)], ids[3:4])
        # Another organization's pool: 404, nothing removed.
        resp = self.req("DELETE", path, body={"profile_ids": [ids[3]]},
                        key=org["admin_key"])
        self.assert_error(resp, 404, "not_found")
        self.assertEqual([p["id"] for p in self.list_all(path)], ids[3:4])

    def test_scopes(self):
        pool = self.create_pool()
        path = f"/v1/agent-profile-pools/{pool['id']}"
        profile = self.create_profile()
        reader = self.fast_key(["pools:read"])
        writer = self.fast_key(["pools:write"])
        self.req("GET", path, key=reader, expect=200)
        self.req("GET", "/v1/agent-profile-pools", key=reader, expect=200)
        self.req("GET", path + "/profiles", key=reader, expect=200)
        self.req("GET", path + "/leases", key=reader, expect=200)
        writes = [("POST", "/v1/agent-profile-pools", {"name": unique("x")}),
                  ("PATCH", path, {"default_lease_ttl_seconds": 5}),
                  ("POST", path + "/profiles", {"profile_ids": [profile["id"]]}),
                  ("DELETE", path + "/profiles/" + profile["id"], None),
                  ("DELETE", path, None)]
        for method, p, body in writes:
            with self.subTest(method=method, path=p):
                self.assert_error(self.req(method, p, body=body, key=reader), 403,
                                  "forbidden")
                self.assert_error(self.call(method, p, body=body), 401, "unauthorized")
        self.assert_error(self.req("GET", path, key=writer), 403, "forbidden")
        self.req("PATCH", path, key=writer, body={"default_lease_ttl_seconds": 5},
                 expect=200)
        self.req("POST", path + "/profiles", key=writer,
                 body={"profile_ids": [profile["id"]]}, expect=200)
        self.assert_error(self.req("POST", path + "/leases", body={}, key=writer), 403,
                          "forbidden")
        self.assert_error(self.req("POST", path + "/leases", body={}, key=reader), 403,
                          "forbidden")
        self.assert_error(self.call("POST", path + "/leases", body={}), 401, "unauthorized")
        self.req("DELETE", path, key=writer, expect=204)


# =========================================================================
class LeasesTest(LeaseTestCase):

    def test_acquire_answer_get_list_release(self):
        profile = self.create_profile(credentials=[{"name": "pw", "data": self.secret()}])
        pool = self.create_pool(profiles=[profile], default_lease_ttl_seconds=120)
        before = now_ms()
        lease = self.acquire(pool["id"], holder="worker-7")
        after = now_ms()
        self.assertEqual(lease["profile_id"], profile["id"])
        self.assertEqual(lease["profile"], profile)
        self.assertEqual(lease["holder"], "worker-7")
        self.assertEqual(lease["mode"], "exclusive")
        self.assertEqual(lease["status"], "active")
        self.assertEqual(lease["fencing_token"], 1)
        self.assertEqual(lease["id"][14], "7", lease["id"])
        self.assertGreaterEqual(ms(lease["acquired_at"]), before - 1000)
        self.assertLessEqual(ms(lease["acquired_at"]), after + 1000)
        self.assertEqual(ms(lease["expires_at"]) - ms(lease["acquired_at"]), 120000, lease)

        got = self.get_lease(lease["id"])
        self.assertEqual(got, lease)
        self.assertEqual(self.get_lease(lease["id"], key=self.fast_key(["pools:read"])),
                         lease)
        self.assert_error(self.req("GET", f"/v1/leases/{lease['id']}",
                                   key=self.fast_key(["profiles:read"])), 403, "forbidden")
        listed = self.pool_leases(pool["id"])
        self.assertEqual(listed, [lease])
        self.assertEqual(self.pool_leases(pool["id"], key=self.fast_key(["pools:read"])),
                         [lease])
        self.assertEqual(self.pool_leases(pool["id"], key=self.fast_key(["leases:write"])),
                         [lease])

        self.release(lease["id"])
        self.release(lease["id"])  # idempotent
        got = self.get_lease(lease["id"])
        self.assertEqual(got["status"], "released")
        self.assertEqual(got["fencing_token"], 1)
        self.assertEqual(self.pool_leases(pool["id"]), [])
        self.assert_error(self.renew(lease["id"], {"fencing_token": 1}, expect=None), 409,
                          "conflict")
        # A lease without holder and with its own TTL.
        second = self.acquire(pool["id"], ttl_seconds=7)
        self.assertIsNone(second["holder"])
        self.assertEqual(second["fencing_token"], 2)
        self.assertEqual(ms(second["expires_at"]) - ms(second["acquired_at"]), 7000)
        self.release(second["id"])
        # No body at all is an empty request.
        resp = self.server.request("POST", f"/v1/agent-profile-pools/{pool['id']}/leases",
                                   key=self.leaser)
        self.assertIn(resp.status, (201, 415), repr(resp))
        if resp.status == 201:
            self.release(resp.body["id"])
        for method, path, body in [("GET", f"/v1/leases/{uuid7()}", None),
                                   ("POST", f"/v1/leases/{uuid7()}/renew",
                                    {"fencing_token": 1})]:
            self.assert_error(self.req(method, path, body=body), 404, "not_found")
        self.assert_error(self.req("DELETE", f"/v1/leases/{uuid7()}", key=self.leaser),
                          404, "not_found")
        self.assert_error(self.req("POST", f"/v1/agent-profile-pools/{uuid7()}/leases",
                                   body={}, key=self.leaser), 404, "not_found")

    def test_request_validation(self):
        pool = self.create_pool(profiles=[self.create_profile()])
        path = f"/v1/agent-profile-pools/{pool['id']}/leases"
        cases = [({"ttl_seconds": 0}, "ttl_seconds"), ({"ttl_seconds": 86401}, "ttl_seconds"),
                 ({"ttl_seconds": 1.5}, "ttl_seconds"), ({"ttl_seconds": "5"}, "ttl_seconds"),
                 ({"wait_seconds": -1}, "wait_seconds"), ({"wait_seconds": 61}, "wait_seconds"),
                 ({"wait_seconds": "1"}, "wait_seconds"),
                 ({"holder": "h" * 256}, "holder"), ({"holder": 5}, "holder"),
                 ({"profile_id": uuid7()}, "profile_id")]
        for body, field in cases:
            with self.subTest(body=body):
                self.assert_invalid(self.req("POST", path, body=body, key=self.leaser),
                                    field)
        self.assertEqual(self.pool_leases(pool["id"]), [])
        lease = self.acquire(pool["id"], holder="h" * 255, ttl_seconds=86400,
                             wait_seconds=0)
        self.assertEqual(ms(lease["expires_at"]) - ms(lease["acquired_at"]), 86400000)
        rpath = f"/v1/leases/{lease['id']}/renew"
        for body, field in [({}, "fencing_token"), ({"fencing_token": "1"}, "fencing_token"),
                            ({"fencing_token": 1, "ttl_seconds": 0}, "ttl_seconds"),
                            ({"fencing_token": 1, "ttl_seconds": 86401}, "ttl_seconds"),
                            ({"fencing_token": 1, "holder": "x"}, "holder")]:
            with self.subTest(renew=body):
                self.assert_invalid(self.req("POST", rpath, body=body, key=self.leaser),
                                    field)
        self.release(lease["id"])

    def test_parallel_exclusive_grants(self):
        n, attempts = 8, 48
        profiles = self.create_profiles(n)
        pool = self.create_pool(profiles=profiles)
        key = self.leaser
        barrier = threading.Barrier(attempts)

        def attempt(i):
            barrier.wait(timeout=10)
            return self.raw_acquire(pool["id"], key, {"holder": f"t{i}", "ttl_seconds": 60})

        results = self.run_parallel(attempt, [(i,) for i in range(attempts)])
        granted = [r for r in results if r.status == 201]
        refused = [r for r in results if r.status != 201]
        for r in results:
            self.check_common(r, "parallel acquire")
            self.assert_no_profile_secret(r, "parallel acquire")
        self.assertEqual(len(granted), n, [r.status for r in results])
        got = [r.body["profile_id"] for r in granted]
        self.assertEqual(sorted(got), [p["id"] for p in profiles], "profiles granted twice")
        for r in granted:
            self.check_lease(r.body, pool_id=pool["id"], status="active")
            self.assertEqual(r.body["mode"], "exclusive")
            self.assertEqual(r.body["fencing_token"], 1, r.body)
        for r in refused:
            self.assert_no_profile_available(r)
        self.assertEqual(sorted(l["id"] for l in self.pool_leases(pool["id"])),
                         sorted(r.body["id"] for r in granted))
        self.acquire(pool["id"], expect=409)
        self.run_parallel(lambda lid: self.server.request(
            "DELETE", f"/v1/leases/{lid}", key=key).status, [(r.body["id"],) for r in granted])
        self.assertEqual(self.pool_leases(pool["id"]), [])

        # A second round: again exactly n, each token now 2.
        barrier = threading.Barrier(attempts)
        results = self.run_parallel(attempt, [(i,) for i in range(attempts)])
        granted = [r for r in results if r.status == 201]
        self.assertEqual(len(granted), n, [r.status for r in results])
        self.assertEqual(sorted(r.body["profile_id"] for r in granted),
                         [p["id"] for p in profiles])
        self.assertEqual({r.body["fencing_token"] for r in granted}, {2})
        for r in results:
            if r.status != 201:
                self.assert_no_profile_available(r)
        for r in granted:
            self.release(r.body["id"])

    def test_lru_cycles_through_profiles_in_id_order(self):
        profiles = self.create_profiles(5)
        ids = [p["id"] for p in profiles]
        pool = self.create_pool(profiles=profiles, selection_strategy=LRU)
        got = self.cycle(pool["id"], 15)
        self.assertEqual(got, ids * 3)
        # Never-leased first: a new member is picked before the others.
        newcomer = self.create_profile()
        self.add_members(pool["id"], [newcomer["id"]])
        self.assertEqual(self.cycle(pool["id"], 1), [newcomer["id"]])
        # Then the least recently used again.
        self.assertEqual(self.cycle(pool["id"], 3), ids[:3])

    def test_lru_holds_skip_leased_profiles(self):
        profiles = self.create_profiles(3)
        ids = [p["id"] for p in profiles]
        pool = self.create_pool(profiles=profiles)
        first = self.acquire(pool["id"])
        self.assertEqual(first["profile_id"], ids[0])
        self.assertEqual(self.cycle(pool["id"], 4), [ids[1], ids[2], ids[1], ids[2]])
        self.release(first["id"])
        self.assertEqual(self.cycle(pool["id"], 3), [ids[0], ids[1], ids[2]])

    def test_mru_reuses_the_same_profile(self):
        profiles = self.create_profiles(4)
        ids = [p["id"] for p in profiles]
        pool = self.create_pool(profiles=profiles, selection_strategy=MRU)
        got = self.cycle(pool["id"], 6)
        self.assertEqual(len(set(got)), 1, got)
        self.assertEqual(got[0], ids[0], "ties among never-leased profiles go by id")
        # While it is held, another one; then that one is the most recent.
        held = self.acquire(pool["id"])
        self.assertEqual(held["profile_id"], ids[0])
        other = self.acquire(pool["id"])
        self.assertEqual(other["profile_id"], ids[1])
        self.release(held["id"])
        self.release(other["id"])
        self.assertEqual(self.cycle(pool["id"], 3), [ids[1]] * 3)
        self.assertEqual(self.get_lease(held["id"])["fencing_token"], 7)

    def test_use_order_is_shared_by_the_pools_of_a_profile(self):
        profiles = self.create_profiles(4)
        ids = [p["id"] for p in profiles]
        lru_a = self.create_pool(profiles=profiles[:3])
        lru_b = self.create_pool(profiles=profiles)
        mru = self.create_pool(profiles=profiles[1:], selection_strategy=MRU)
        # A grant through one pool makes the profile recent in every pool.
        self.assertEqual(self.cycle(lru_a["id"], 2), ids[:2])
        self.assertEqual(self.cycle(lru_b["id"], 2), [ids[2], ids[3]])
        self.assertEqual(self.cycle(mru["id"], 1), [ids[3]])
        self.assertEqual(self.cycle(lru_a["id"], 3), [ids[0], ids[1], ids[2]])
        self.assertEqual(self.cycle(lru_b["id"], 1), [ids[3]])
        # A member removed and added again keeps its place in the order.
        self.req("DELETE", f"/v1/agent-profile-pools/{lru_b['id']}/profiles/{ids[0]}",
                 expect=204)
        self.assertEqual(self.cycle(lru_b["id"], 1), [ids[1]])
        self.add_members(lru_b["id"], [ids[0]])
        self.assertEqual(self.cycle(lru_b["id"], 2), [ids[0], ids[2]])

    def test_fencing_tokens_count_grants_across_pools(self):
        profile = self.create_profile()
        a = self.create_pool(profiles=[profile])
        b = self.create_pool(profiles=[profile], selection_strategy=MRU)
        tokens = []
        for pool in (a, b, b, a, b):
            lease = self.acquire(pool["id"])
            tokens.append(lease["fencing_token"])
            # Held through one pool, it is not available through the other.
            self.acquire(a["id"], expect=409)
            self.acquire(b["id"], expect=409)
            self.release(lease["id"])
        self.assertEqual(tokens, [1, 2, 3, 4, 5])

    def test_disabled_profiles_are_not_candidates(self):
        profile = self.create_profile(enabled=False)
        pool = self.create_pool(profiles=[profile])
        self.acquire(pool["id"], expect=409)
        self.req("PATCH", f"/v1/agent-profiles/{profile['id']}", body={"enabled": True},
                 expect=200)
        lease = self.acquire(pool["id"])
        self.assertEqual(lease["fencing_token"], 1)
        self.release(lease["id"])
        empty = self.create_pool()
        self.acquire(empty["id"], expect=409)

    def test_shared_pool_and_waiting_exclusive_lease(self):
        profile = self.create_profile()
        shared = self.create_pool(profiles=[profile], allow_concurrent_use=True)
        exclusive = self.create_pool(profiles=[profile])
        readers = [self.acquire(shared["id"], holder=f"r{i}") for i in range(5)]
        for i, lease in enumerate(readers):
            self.assertEqual(lease["profile_id"], profile["id"])
            self.assertEqual(lease["mode"], "shared")
            self.assertEqual(lease["fencing_token"], i + 1)
        self.assertEqual(len(self.pool_leases(shared["id"])), 5)

        key = self.leaser
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as ex:
            started = time.monotonic()
            waiter = ex.submit(self.raw_acquire, exclusive["id"], key,
                               {"holder": "writer", "wait_seconds": 20}, 30)
            time.sleep(0.4)
            for lease in readers:
                if waiter.done():
                    self.fail(f"exclusive lease answered beside shared ones: "
                              f"{waiter.result()!r}")
                self.release(lease["id"])
                if lease is not readers[-1]:
                    time.sleep(0.15)
            released = time.monotonic()
            resp = waiter.result(timeout=25)
            answered = time.monotonic()
        self.check_common(resp, "waiting acquire")
        self.assertEqual(resp.status, 201, repr(resp))
        self.check_lease(resp.body, pool_id=exclusive["id"], status="active")
        self.assertEqual(resp.body["mode"], "exclusive")
        self.assertEqual(resp.body["fencing_token"], 6)
        self.assertLess(answered - released, 1.5,
                        "the waiter was not woken promptly by the last release")
        self.assertLess(answered - started, 10)
        # While it is held, no shared lease.
        self.acquire(shared["id"], expect=409)
        self.release(resp.body["id"])
        again = self.acquire(shared["id"])
        self.assertEqual(again["fencing_token"], 7)
        self.release(again["id"])

    def test_readers_writer_rule_through_two_pools(self):
        p, q = self.create_profiles(2)
        exclusive = self.create_pool(profiles=[p, q])
        shared = self.create_pool(profiles=[p], allow_concurrent_use=True)
        # Exclusive holds p: no shared lease of p.
        w = self.acquire(exclusive["id"])
        self.assertEqual(w["profile_id"], p["id"])
        self.acquire(shared["id"], expect=409)
        self.release(w["id"])
        # Shared holds p: an exclusive lease goes to q, then none.
        r1 = self.acquire(shared["id"])
        r2 = self.acquire(shared["id"])
        self.assertEqual({r1["mode"], r2["mode"]}, {"shared"})
        self.assertEqual((r1["fencing_token"], r2["fencing_token"]), (2, 3))
        w = self.acquire(exclusive["id"])
        self.assertEqual(w["profile_id"], q["id"])
        self.acquire(exclusive["id"], expect=409)
        self.release(r1["id"])
        self.acquire(exclusive["id"], expect=409)
        self.release(r2["id"])
        w2 = self.acquire(exclusive["id"])
        self.assertEqual(w2["profile_id"], p["id"])
        self.assertEqual(w2["fencing_token"], 4)
        self.release(w["id"])
        self.release(w2["id"])

    def test_expiry_frees_the_profile(self):
        profile = self.create_profile()
        pool = self.create_pool(profiles=[profile])
        lease = self.acquire(pool["id"], ttl_seconds=1)
        self.assertEqual(ms(lease["expires_at"]) - ms(lease["acquired_at"]), 1000)
        self.acquire(pool["id"], expect=409)
        deadline = time.monotonic() + 4
        while True:
            resp = self.acquire(pool["id"], expect=None)
            if resp.status == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(resp.status, 201, f"the expired lease still holds: {resp!r}")
        self.assertGreaterEqual(now_ms(), ms(lease["expires_at"]) - 50)
        self.assertEqual(resp.body["fencing_token"], 2)
        self.assertEqual(self.get_lease(lease["id"])["status"], "expired")
        self.assertEqual([l["id"] for l in self.pool_leases(pool["id"])], [resp.body["id"]])
        # The expired lease cannot be renewed; its release changes nothing.
        self.assert_error(self.renew(lease["id"], {"fencing_token": 1}, expect=None), 409,
                          "conflict")
        self.release(lease["id"])
        self.assertEqual(self.get_lease(resp.body["id"])["status"], "active")
        self.release(resp.body["id"])

    def test_waiter_woken_by_expiry(self):
        profile = self.create_profile()
        pool = self.create_pool(profiles=[profile])
        lease = self.acquire(pool["id"], ttl_seconds=1)
        started = time.monotonic()
        resp = self.raw_acquire(pool["id"], self.leaser, {"wait_seconds": 10}, timeout=20)
        elapsed = time.monotonic() - started
        self.assertEqual(resp.status, 201, repr(resp))
        self.assertEqual(resp.body["fencing_token"], 2)
        self.assertLess(elapsed, 3.0, "a waiter was not woken when a lease expired")
        self.assertGreaterEqual(ms(resp.body["acquired_at"]), ms(lease["expires_at"]))
        self.release(resp.body["id"])

    def test_wait_seconds_woken_by_release_in_arrival_order(self):
        profile = self.create_profile()
        pool = self.create_pool(profiles=[profile])
        held = self.acquire(pool["id"])
        key = self.leaser
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
            first = ex.submit(self.raw_acquire, pool["id"], key,
                              {"holder": "first", "wait_seconds": 20}, 30)
            time.sleep(0.3)
            second = ex.submit(self.raw_acquire, pool["id"], key,
                               {"holder": "second", "wait_seconds": 20}, 30)
            time.sleep(0.4)
            self.assertFalse(first.done(), repr(first.result()) if first.done() else "")
            self.assertFalse(second.done(), repr(second.result()) if second.done() else "")
            self.release(held["id"])
            released = time.monotonic()
            got = first.result(timeout=25)
            woken = time.monotonic()
            self.assertEqual(got.status, 201, repr(got))
            self.assertEqual(got.body["holder"], "first")
            self.assertEqual(got.body["fencing_token"], 2)
            self.assertLess(woken - released, 1.5, "the waiter was not woken promptly")
            time.sleep(0.3)
            self.assertFalse(second.done(), "the second waiter got a profile held by "
                             f"the first: {second.result()!r}" if second.done() else "")
            self.release(got.body["id"])
            released = time.monotonic()
            got2 = second.result(timeout=25)
            woken = time.monotonic()
        self.assertEqual(got2.status, 201, repr(got2))
        self.assertEqual(got2.body["holder"], "second")
        self.assertEqual(got2.body["fencing_token"], 3)
        self.assertLess(woken - released, 1.5)
        self.release(got2.body["id"])

    def test_wait_seconds_times_out(self):
        pool = self.create_pool(profiles=[self.create_profile()])
        held = self.acquire(pool["id"])
        started = time.monotonic()
        resp = self.raw_acquire(pool["id"], self.leaser, {"wait_seconds": 1}, timeout=10)
        elapsed = time.monotonic() - started
        self.check_common(resp, "acquire wait 1")
        self.assert_no_profile_available(resp)
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 3.0)
        self.release(held["id"])

    def test_renew(self):
        pool = self.create_pool(profiles=[self.create_profile()], default_lease_ttl_seconds=30)
        lease = self.acquire(pool["id"], ttl_seconds=2)
        before = now_ms()
        renewed = self.renew(lease["id"], {"fencing_token": 1, "ttl_seconds": 60})
        after = now_ms()
        self.assertEqual(renewed["id"], lease["id"])
        self.assertEqual(renewed["fencing_token"], 1)
        self.assertEqual(renewed["acquired_at"], lease["acquired_at"])
        self.assertEqual(renewed["profile_id"], lease["profile_id"])
        self.assertGreaterEqual(ms(renewed["expires_at"]), before + 60000 - 1000)
        self.assertLessEqual(ms(renewed["expires_at"]), after + 60000 + 1000)
        self.assertEqual(self.get_lease(lease["id"])["expires_at"], renewed["expires_at"])
        again = self.renew(lease["id"], {"fencing_token": 1})
        self.assertGreater(ms(again["expires_at"]), ms(lease["expires_at"]))
        # A token that differs: 409, and the lease is unchanged.
        for token in (2, 1000):
            with self.subTest(token=token):
                self.assert_error(self.renew(lease["id"], {"fencing_token": token},
                                             expect=None), 409, "conflict")
        self.assertEqual(self.get_lease(lease["id"])["expires_at"], again["expires_at"])
        self.release(lease["id"])
        self.assert_error(self.renew(lease["id"], {"fencing_token": 1}, expect=None), 409,
                          "conflict")

    def test_renew_with_stale_token_after_expiry(self):
        pool = self.create_pool(profiles=[self.create_profile()])
        stale = self.acquire(pool["id"], ttl_seconds=1)
        time.sleep(1.2)
        fresh = self.acquire(pool["id"], ttl_seconds=30)
        self.assertEqual(fresh["fencing_token"], 2)
        # The old holder's renew fails whatever token it sends.
        for token in (1, 2):
            self.assert_error(self.renew(stale["id"], {"fencing_token": token},
                                         expect=None), 409, "conflict")
        # A stale token on the new lease fails too.
        self.assert_error(self.renew(fresh["id"], {"fencing_token": 1}, expect=None), 409,
                          "conflict")
        self.assertEqual(self.renew(fresh["id"], {"fencing_token": 2})["fencing_token"], 2)
        self.release(fresh["id"])

    def test_secrets_only_for_profiles_secrets_scope(self):
        pw, cookie = self.secret("PW"), self.secret("COOKIE")
        profile = self.create_profile(
            credentials=[{"name": "pw", "data": pw}, {"name": "otp", "data": "123456"}],
            cookies=[{"name": "sid", "value": cookie, "domain": "shop.example",
                      "secure": True}])
        pool = self.create_pool(profiles=[profile])
        plain = self.acquire(pool["id"], key=self.leaser)
        self.assertEqual(plain["profile"]["credentials"], [{"name": "pw"}, {"name": "otp"}])
        self.assertEqual(set(plain["profile"]["cookies"][0]), COOKIE_FIELDS)
        self.release(plain["id"])
        resp = self.req("POST", f"/v1/agent-profile-pools/{pool['id']}/leases", body={},
                        key=self.secret_leaser, secrets_ok=True, expect=201)
        lease = resp.body
        self.check_lease(lease, secrets_expected=True)
        self.assertEqual(lease["profile"]["credentials"],
                         [{"name": "pw", "data": pw}, {"name": "otp", "data": "123456"}])
        sid = lease["profile"]["cookies"][0]
        self.assertEqual(sid["value"], cookie)
        self.assertEqual(sid["domain"], "shop.example")
        self.assertIs(sid["secure"], True)
        # Reading the lease or listing leases with other keys shows no secret.
        for key in (self.leaser, self.fast_key(["pools:read"])):
            got = self.get_lease(lease["id"], key=key)
            self.assertEqual(got["profile"]["credentials"], [{"name": "pw"}, {"name": "otp"}])
            self.pool_leases(pool["id"], key=key)
        self.req("GET", f"/v1/agent-profiles/{profile['id']}", expect=200)
        self.list_all(f"/v1/agent-profile-pools/{pool['id']}/profiles")
        self.list_all("/v1/agent-profiles")
        renewed = self.renew(lease["id"], {"fencing_token": lease["fencing_token"]})
        self.assertEqual(renewed["profile"]["credentials"], [{"name": "pw"}, {"name": "otp"}])
        self.release(lease["id"])
        # A changed secret is what the next lease carries (the opened
        # profile is remembered per revision).
        new_pw = self.secret("PW2")
        self.req("PATCH", f"/v1/agent-profiles/{profile['id']}",
                 body={"credentials": [{"name": "pw", "data": new_pw}]}, expect=200)
        resp = self.req("POST", f"/v1/agent-profile-pools/{pool['id']}/leases", body={},
                        key=self.secret_leaser, secrets_ok=True, expect=201)
        self.assertEqual(resp.body["profile"]["credentials"], [{"name": "pw", "data": new_pw}])
        self.release(resp.body["id"])
        # A key cannot grant profiles:secrets it lacks.
        writer = self.fast_key(["keys:write", "leases:write"])
        resp = self.call("POST", "/v1/api-keys", key=writer,
                         body={"name": "x", "scopes": ["profiles:secrets"]})
        self.assert_error(resp, 403, "forbidden")

    def test_scopes_and_auth_on_lease_routes(self):
        pool = self.create_pool(profiles=[self.create_profile()])
        lease = self.acquire(pool["id"])
        routes = [("POST", f"/v1/agent-profile-pools/{pool['id']}/leases", {}),
                  ("GET", f"/v1/agent-profile-pools/{pool['id']}/leases", None),
                  ("GET", f"/v1/leases/{lease['id']}", None),
                  ("POST", f"/v1/leases/{lease['id']}/renew", {"fencing_token": 1}),
                  ("DELETE", f"/v1/leases/{lease['id']}", None)]
        nobody = self.fast_key(["profiles:read", "profiles:write", "pools:write"])
        for method, path, body in routes:
            with self.subTest(method=method, path=path):
                self.assert_error(self.call(method, path, body=body), 401, "unauthorized")
                self.assert_error(self.call(method, path, body=body,
                                            key=harness.random_key()), 401, "unauthorized")
                self.assert_error(self.req(method, path, body=body, key=nobody), 403,
                                  "forbidden")
        reader = self.fast_key(["pools:read"])
        for method, path, body in routes:
            if method != "GET":
                self.assert_error(self.req(method, path, body=body, key=reader), 403,
                                  "forbidden")
        self.assertEqual(self.get_lease(lease["id"])["status"], "active")
        self.release(lease["id"])

    def test_other_organizations_see_404(self):
        mine = self.create_profile(credentials=[{"name": "pw", "data": self.secret()}])
        pool = self.create_pool(profiles=[mine])
        lease = self.acquire(pool["id"])
        org = self.create_org()
        theirs = org["admin_key"]
        pp, lp = f"/v1/agent-profile-pools/{pool['id']}", f"/v1/leases/{lease['id']}"
        routes = [
            ("GET", f"/v1/agent-profiles/{mine['id']}", None),
            ("PATCH", f"/v1/agent-profiles/{mine['id']}", {"name": "stolen"}),
            ("DELETE", f"/v1/agent-profiles/{mine['id']}", None),
            ("GET", pp, None), ("PATCH", pp, {"name": "stolen"}), ("DELETE", pp, None),
            ("GET", pp + "/profiles", None),
            ("POST", pp + "/profiles", {"profile_ids": [mine["id"]]}),
            ("DELETE", pp + f"/profiles/{mine['id']}", None),
            ("GET", pp + "/leases", None), ("POST", pp + "/leases", {"wait_seconds": 0}),
            ("GET", lp, None), ("POST", lp + "/renew", {"fencing_token": 1}),
            ("DELETE", lp, None),
        ]
        for method, path, body in routes:
            with self.subTest(method=method, path=path):
                self.assert_error(self.req(method, path, body=body, key=theirs), 404,
                                  "not_found")
        # Their own pool cannot take our profile.
        their_pool = self.create_pool(key=theirs)
        resp = self.add_members(their_pool["id"], [mine["id"]], key=theirs, expect=None)
        self.assert_error(resp, 404, "not_found")
        self.assertEqual(self.list_all(f"/v1/agent-profile-pools/{their_pool['id']}/profiles",
                                       key=theirs), [])
        self.acquire(their_pool["id"], key=self.fast_key(["leases:write"], key=theirs),
                     expect=409)
        # Their listings do not show ours.
        self.assertNotIn(mine["id"], [p["id"] for p in self.list_all("/v1/agent-profiles",
                                                                      key=theirs)])
        self.assertNotIn(pool["id"], [p["id"] for p in self.list_all(
            "/v1/agent-profile-pools", key=theirs)])
        # Ours are unchanged.
        self.assertEqual(self.req("GET", f"/v1/agent-profiles/{mine['id']}",
                                  expect=200).body, mine)
        self.assertEqual(self.req("GET", pp, expect=200).body["name"], pool["name"])
        self.assertEqual(self.get_lease(lease["id"])["status"], "active")
        self.assertEqual(self.pool_leases(pool["id"]), [self.get_lease(lease["id"])])
        self.release(lease["id"])
        # And ours cannot reach theirs.
        self.assert_error(self.req("GET", f"/v1/agent-profile-pools/{their_pool['id']}"),
                          404, "not_found")


# =========================================================================
class SecretsAtRestTest(LeaseTestCase):
    """No plaintext secret in the SQLite files (nor the logs) of a server."""

    def files_containing(self, needles):
        """{needle: [file names]} for needles found in any file of the store's
        directory (database, -wal, -shm, logs and anything else)."""
        found = {}
        for name in sorted(os.listdir(self.server.tmpdir)):
            path = os.path.join(self.server.tmpdir, name)
            if not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            for needle in needles:
                if needle in data:
                    found.setdefault(needle, []).append(name)
        return found

    def needles(self, values):
        out = []
        for v in values:
            raw = v.encode()
            out += [raw, raw.hex().encode(), base64.b64encode(raw),
                    base64.urlsafe_b64encode(raw).rstrip(b"="), v.encode("utf-16-le")]
        return out

    @unittest.skipIf(harness.PG_ADMIN_URL, "reads the SQLite files; secrets are sealed "
                     "before any store sees them, so the SQLite run covers both")
    def test_zz_no_plaintext_in_database_or_logs(self):
        values = []
        pool = self.create_pool()
        ids = []
        for i in range(20):
            creds = [{"name": f"c{j}", "data": self.secret(f"DATA{i}x{j}")} for j in range(2)]
            cookies = [{"name": "sid", "value": self.secret(f"COOKIE{i}"),
                        "domain": "example.com"}]
            values += [c["data"] for c in creds] + [c["value"] for c in cookies]
            ids.append(self.create_profile(credentials=creds, cookies=cookies)["id"])
        self.add_members(pool["id"], ids)
        # Patches with new secrets, and an invalid one (refused) carrying one.
        for pid in ids[:5]:
            value = self.secret("PATCHED")
            values.append(value)
            self.req("PATCH", f"/v1/agent-profiles/{pid}", expect=200,
                     body={"credentials": [{"name": "pw", "data": value}]})
        refused = self.secret("REFUSED")
        values.append(refused)
        self.assert_invalid(self.req("PATCH", f"/v1/agent-profiles/{ids[0]}",
                                     body={"credentials": [{"name": "a", "data": refused},
                                                           {"name": "a", "data": refused}]}),
                            "credentials[1].name")
        # Leases with decrypted answers.
        for _ in range(6):
            lease = self.acquire(pool["id"], key=self.secret_leaser, secrets_ok=True)
            self.release(lease["id"])
        self.assertTrue(os.path.exists(self.server.db_path), self.server.db_path)

        needles = self.needles(values)
        found = self.files_containing(needles)
        self.assertFalse(found, f"plaintext secrets while running: "
                         f"{ {k[:24]: v for k, v in list(found.items())[:5]} }")
        # After a clean stop (WAL checkpointed) too, and in the logs.
        self.assertEqual(self.server.stop_term(timeout=15), 0)
        found = self.files_containing(needles)
        self.assertFalse(found, f"plaintext secrets after stop: "
                         f"{ {k[:24]: v for k, v in list(found.items())[:5]} }")
        # The secrets are really stored: after a restart a secrets key reads them.
        self.server.start()
        self._keys.clear()
        lease = self.acquire(pool["id"], key=self.secret_leaser, secrets_ok=True)
        creds = [c["data"] for c in lease["profile"]["credentials"]]
        self.assertTrue(set(creds) <= set(values), creds)
        self.assertTrue(creds)
        self.release(lease["id"])


def load_tests(loader, tests, pattern):
    """Runs the classes in source order."""
    suite = unittest.TestSuite()
    for cls in (ProfilesTest, PoolsTest, LeasesTest, SecretsAtRestTest):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    _watchdog()
    harness.run_tests()
