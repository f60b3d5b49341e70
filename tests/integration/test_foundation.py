"""Black-box tests of Agentry's foundation: ops endpoints, request ids and
errors, organizations, API keys (auth, scopes, revocation, expiry, listing),
strict JSON, routing, limits, graceful shutdown and log hygiene.

Run: python3 tests/integration/test_foundation.py --binary build/agentry
"""

import datetime
import http.client
import json
import os
import re
import secrets
import socket
import time
import unittest
import urllib.parse

import agentry_harness as harness
from agentry_harness import Server, random_key

UUID_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
KEY_RE = re.compile(r"^agk_[A-Za-z0-9_-]{16,}$")

_MISSING = object()


def uuid7():
    """A random UUIDv7 string (the id format the server uses)."""
    ms = int(time.time() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def rfc3339_ms(dt):
    dt = dt.astimezone(datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_rfc3339_ms(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def unique(prefix):
    return f"{prefix}-{secrets.token_hex(4)}"


class AgentryTestCase(unittest.TestCase):
    """Base class: one server per test class and checked request helpers."""

    server = None

    extra_args = ("--allow-origin", "https://app.example")

    @classmethod
    def setUpClass(cls):
        cls.server = Server(extra_args=cls.extra_args)
        cls.admin = cls.server.admin_key
        # Every key value the server has shown us (or we invented). None may
        # appear in any later answer, nor in the logs.
        cls.secrets = [cls.admin]
        cls.sent_request_ids = []

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.close()

    # ----------------------------------------------------------------- helpers

    def call(self, method, path, body=None, headers=None, key=None, expect=None,
             retry_429=True):
        """One request; checks the properties every answer must have."""
        for _ in range(5):
            resp = self.server.request(method, path, body=body, headers=headers, key=key)
            if resp.status != 429 or expect == 429 or not retry_429:
                break
            # Rate limits are not under test here: wait and try again.
            time.sleep(min(2.0, float(resp.headers.get("retry-after", "1") or 1)))
        self.check_common(resp, f"{method} {path}")
        if expect is not None:
            self.assertEqual(resp.status, expect, f"{method} {path} -> {resp!r}")
        return resp

    def post_raw(self, path, raw, content_type="application/json", key=None):
        headers = {} if content_type is None else {"Content-Type": content_type}
        return self.call("POST", path, body=raw, headers=headers, key=key)

    def check_common(self, resp, what):
        status, headers, body = resp
        rid = headers.get("x-request-id")
        self.assertTrue(rid, f"{what}: no X-Request-Id header: {resp!r}")
        if status >= 400:
            self.assert_error_shape(resp, what)
        for secret in self.secrets:
            self.assertNotIn(secret, resp.raw, f"{what}: answer contains a key value")
            for name, value in headers.items():
                self.assertNotIn(secret, value, f"{what}: header {name} contains a key")

    def assert_error_shape(self, resp, what=""):
        """The error body in the shape of the surface `what` ("METHOD /path")
        names: Asteroid, Odeus, Vectara, else native."""
        status, headers, body = resp
        self.assertIsInstance(body, dict, f"{what}: error body is not JSON: {resp!r}")
        path = what.split(" ", 1)[1] if " " in what else ""
        if path.startswith("/agents/v2"):
            self.assertEqual(body.get("code"), status, f"{what}: not Asteroid's shape: {resp!r}")
            self.assertIsInstance(body.get("message"), str, f"{what}: {resp!r}")
            return
        if path.startswith(("/agent/v1", "/api/public/agent/v1")):
            self.assertEqual(body.get("status"), "error", f"{what}: not Odeus' shape: {resp!r}")
            self.assertIsInstance(body.get("code"), str, f"{what}: {resp!r}")
            self.assertIsInstance(body.get("message"), str, f"{what}: {resp!r}")
            return
        if path.startswith("/v2/"):
            self.assertIsInstance(body.get("error_code"), str,
                                  f"{what}: not Vectara's shape: {resp!r}")
            self.assertIsInstance(body.get("messages"), list, f"{what}: {resp!r}")
            self.assertEqual(body.get("request_id"), headers.get("x-request-id"),
                             f"{what}: {resp!r}")
            return
        err = body.get("error")
        self.assertIsInstance(err, dict, f"{what}: no error object: {resp!r}")
        self.assertIsInstance(err.get("code"), str, f"{what}: {resp!r}")
        self.assertIsInstance(err.get("message"), str, f"{what}: {resp!r}")
        self.assertTrue(err["message"], f"{what}: empty message: {resp!r}")
        self.assertEqual(err.get("request_id"), headers.get("x-request-id"),
                         f"{what}: body request_id differs from header: {resp!r}")

    def assert_error(self, resp, status, code, field=_MISSING):
        self.assertEqual(resp.status, status, repr(resp))
        self.assert_error_shape(resp)
        err = resp.body["error"]
        self.assertEqual(err["code"], code, repr(resp))
        if field is not _MISSING:
            self.assertEqual(err.get("field"), field, repr(resp))

    def remember(self, secret):
        if secret and secret not in self.secrets:
            self.secrets.append(secret)

    def create_key(self, scopes, key=None, name=None, expect=201, **extra):
        body = {"name": name or unique("key"), "scopes": scopes, **extra}
        resp = self.call("POST", "/v1/api-keys", body=body, key=key or self.admin)
        if resp.status == 201 and isinstance(resp.body, dict):
            self.remember(resp.body.get("key"))
        if expect is not None:
            self.assertEqual(resp.status, expect, f"create key {body} -> {resp!r}")
        return resp.body if expect == 201 else resp

    def create_org(self, name=None, expect=201):
        resp = self.call("POST", "/v1/organizations", body={"name": name or unique("org")},
                         key=self.admin)
        if resp.status == 201 and isinstance(resp.body, dict):
            self.remember(resp.body.get("admin_key"))
        if expect is not None:
            self.assertEqual(resp.status, expect, repr(resp))
        return resp.body if expect == 201 else resp

    def list_pages(self, path, key=None, limit=200, params=None, call=None):
        """Every item a list route answers, following next_cursor: checks
        the page shape ({data: [...], next_cursor}) on every page. `call`
        makes the request (default self.call with the key, or the admin's)."""
        call = call or (lambda method, p, **kw: self.call(
            method, p, key=kw.pop("key") or self.admin, **kw))
        items, cursor = [], None
        sep = "&" if "?" in path else "?"
        for _ in range(1000):
            query = dict(params or {}, limit=limit)
            if cursor is not None:
                query["cursor"] = cursor
            resp = call("GET", path + sep + urllib.parse.urlencode(query), key=key,
                        expect=200)
            self.assertIsInstance(resp.body, dict, repr(resp))
            self.assertIsInstance(resp.body.get("data"), list, repr(resp))
            self.assertIn("next_cursor", resp.body, f"no next_cursor: {resp!r}")
            self.assertLessEqual(len(resp.body["data"]), limit, repr(resp))
            items.extend(resp.body["data"])
            cursor = resp.body["next_cursor"]
            if cursor is None:
                return items
            self.assertIsInstance(cursor, str, repr(resp))
        self.fail("listing did not end after 1000 pages")

    def list_keys(self, key=None, limit=200):
        """All keys visible to `key`, following next_cursor."""
        return self.list_pages("/v1/api-keys", key=key, limit=limit)

    def key_count(self):
        return len(self.list_keys())

    def works(self, key):
        """Status of an authenticated request that needs keys:write."""
        return self.call("GET", "/v1/api-keys?limit=1", key=key).status


class FoundationTest(AgentryTestCase):

    # ------------------------------------------------------------ ops endpoints

    def test_healthz(self):
        resp = self.call("GET", "/healthz", expect=200)
        self.assertEqual(resp.body, {"status": "ok"})

    def test_readyz(self):
        resp = self.call("GET", "/readyz", expect=200)
        # No --redis here: only the store is checked.
        self.assertEqual(resp.body, {"status": "ready", "checks": {"store": "ok"}})

    def test_metrics(self):
        self.create_key(["agents:read"])  # at least one store commit
        resp = self.call("GET", "/metrics", expect=200)
        self.assertIsInstance(resp.body, str)
        self.assertIn("agentry_http_requests_total", resp.body)
        self.assertIn("agentry_store_commit_batch_size", resp.body)

    def test_openapi(self):
        resp = self.call("GET", "/openapi.json", expect=200)
        self.assertIsInstance(resp.body, dict, repr(resp))
        self.assertEqual(resp.body.get("openapi"), "3.1.0")
        self.assertIn("/v1/api-keys", resp.body.get("paths", {}))

    # --------------------------------------------------------------- request id

    def test_request_id_on_every_answer(self):
        for method, path, key in [("GET", "/healthz", None),
                                  ("GET", "/v1/api-keys", self.admin),
                                  ("GET", "/v1/api-keys", None),
                                  ("GET", "/no/such/path", None)]:
            resp = self.call(method, path, key=key)
            self.assertTrue(resp.headers.get("x-request-id"), repr(resp))

    def test_request_ids_are_distinct(self):
        ids = {self.call("GET", "/healthz").headers["x-request-id"] for _ in range(5)}
        self.assertEqual(len(ids), 5, ids)

    def test_sane_request_id_is_echoed(self):
        self.sent_request_ids.append("req-abc_123")
        resp = self.call("GET", "/healthz", headers={"X-Request-Id": "req-abc_123"},
                         expect=200)
        self.assertEqual(resp.headers["x-request-id"], "req-abc_123")
        resp = self.call("GET", "/v1/api-keys", headers={"X-Request-Id": "req-abc_123"})
        self.assert_error(resp, 401, "unauthorized")
        self.assertEqual(resp.headers["x-request-id"], "req-abc_123")
        self.assertEqual(resp.body["error"]["request_id"], "req-abc_123")

    def test_insane_request_id_is_replaced(self):
        for bad in ['evil"id\\{}', "x" * 600, "new\\nline"]:
            resp = self.call("GET", "/healthz", headers={"X-Request-Id": bad}, expect=200)
            self.assertNotEqual(resp.headers["x-request-id"], bad)

    # ---------------------------------------------------------------- bootstrap

    def test_bootstrap_admin_key_is_listed(self):
        resp = self.call("GET", "/v1/api-keys", key=self.admin, expect=200)
        self.assertIn("data", resp.body)
        self.assertIn("next_cursor", resp.body)
        admins = [k for k in self.list_keys() if k.get("prefix") == self.admin[:12]]
        self.assertEqual(len(admins), 1, admins)
        admin = admins[0]
        self.assertEqual(sorted(admin["scopes"]), ["*", "admin"])
        self.assertIsInstance(admin.get("name"), str)
        self.assertNotIn("key", admin)
        self.assertRegex(admin["id"], UUID_RE)

    # ------------------------------------------------------------ organizations

    def test_create_organization(self):
        name = unique("acme")
        before = datetime.datetime.now(datetime.timezone.utc)
        org = self.create_org(name)
        self.assertEqual(set(org), {"id", "name", "created_at", "admin_key"}, org)
        self.assertRegex(org["id"], UUID_RE)
        self.assertEqual(org["id"][14], "7", "id is not a UUIDv7")
        self.assertEqual(org["name"], name)
        self.assertRegex(org["created_at"], TIMESTAMP_RE)
        created = parse_rfc3339_ms(org["created_at"])
        self.assertLess(abs((created - before).total_seconds()), 60)
        self.assertRegex(org["admin_key"], KEY_RE)

        org_key = org["admin_key"]
        keys = self.list_keys(key=org_key)
        self.assertEqual(len(keys), 1, keys)
        self.assertEqual(keys[0]["scopes"], ["*"])
        self.assertEqual(keys[0]["prefix"], org_key[:12])

        resp = self.call("POST", "/v1/organizations", body={"name": unique("sub")},
                         key=org_key)
        self.assert_error(resp, 403, "forbidden")

    def test_organization_needs_admin_scope(self):
        star = self.create_key(["*"])
        resp = self.call("POST", "/v1/organizations", body={"name": unique("o")},
                         key=star["key"])
        self.assert_error(resp, 403, "forbidden")
        resp = self.call("POST", "/v1/organizations", body={"name": unique("o")})
        self.assert_error(resp, 401, "unauthorized")

    def test_organization_duplicate_name(self):
        name = unique("dup")
        self.create_org(name)
        resp = self.create_org(name, expect=409)
        self.assert_error(resp, 409, "conflict", field="name")

    def test_organization_name_validation(self):
        resp = self.call("POST", "/v1/organizations", body={}, key=self.admin)
        self.assert_error(resp, 400, "invalid_request", field="name")
        resp = self.call("POST", "/v1/organizations", body={"name": 42}, key=self.admin)
        self.assert_error(resp, 400, "invalid_request", field="name")
        resp = self.call("POST", "/v1/organizations", body={"name": "n" * 256},
                         key=self.admin)
        self.assert_error(resp, 400, "invalid_request", field="name")
        resp = self.call("POST", "/v1/organizations",
                         body={"name": unique("o"), "plan": "gold"}, key=self.admin)
        self.assert_error(resp, 400, "invalid_request", field="plan")
        # 255 characters is still fine.
        self.create_org(secrets.token_hex(4) + "n" * 247)

    # ------------------------------------------------------------- create keys

    def test_create_key_answer(self):
        name = unique("ci")
        body = self.create_key(["agents:read", "keys:write"], name=name)
        self.assertTrue({"id", "name", "key", "prefix", "scopes", "agent_ids",
                         "expires_at", "created_at", "rate_limit"} <= set(body), body)
        self.assertRegex(body["id"], UUID_RE)
        self.assertEqual(body["name"], name)
        self.assertRegex(body["key"], KEY_RE)
        self.assertEqual(len(body["prefix"]), 12, body)
        self.assertTrue(body["key"].startswith(body["prefix"]), body)
        self.assertEqual(sorted(body["scopes"]), ["agents:read", "keys:write"])
        self.assertIsNone(body["agent_ids"])
        self.assertIsNone(body["expires_at"])
        self.assertRegex(body["created_at"], TIMESTAMP_RE)
        self.assertEqual(self.works(body["key"]), 200)

        listed = [k for k in self.list_keys() if k["id"] == body["id"]]
        self.assertEqual(len(listed), 1)
        self.assertNotIn("key", listed[0])
        self.assertEqual(listed[0]["prefix"], body["prefix"])
        self.assertEqual(listed[0]["name"], name)

    def test_create_key_with_options(self):
        agent = uuid7()
        expires = rfc3339_ms(datetime.datetime.now(datetime.timezone.utc)
                             + datetime.timedelta(days=1))
        body = self.create_key(["agents:read"], agent_ids=[agent], expires_at=expires,
                               rate_limit={"per_second": 5, "burst": 10})
        self.assertEqual(body["agent_ids"], [agent])
        self.assertEqual(body["expires_at"], expires)
        self.assertEqual(body["rate_limit"], {"per_second": 5, "burst": 10})

    def test_keys_are_unique(self):
        a = self.create_key(["agents:read"])
        b = self.create_key(["agents:read"])
        self.assertNotEqual(a["key"], b["key"])
        self.assertNotEqual(a["prefix"], b["prefix"])
        self.assertNotEqual(a["id"], b["id"])

    def test_agent_api_scope_accepted(self):
        self.create_key(["AGENT_API"])

    def test_create_key_validation(self):
        cases = [
            ({"name": "x", "scopes": ["agents:read", "agents:fly"]}, "scopes[1]"),
            ({"name": "x", "scopes": []}, "scopes"),
            ({"name": "x", "scopes": "agents:read"}, "scopes"),
            ({"name": "x"}, "scopes"),
            ({"name": "x", "scopes": ["agents:read"], "colour": "red"}, "colour"),
            ({"name": "x", "scopes": ["agents:read"], "expires_at": "tomorrow"},
             "expires_at"),
            ({"name": "x", "scopes": ["agents:read"], "expires_at": "2030-01-01"},
             "expires_at"),
            ({"name": "x", "scopes": ["agents:read"],
              "expires_at": "2020-01-01T00:00:00.000Z"}, "expires_at"),
            ({"name": "x", "scopes": ["agents:read"], "agent_ids": ["not-a-uuid"]},
             "agent_ids[0]"),
            ({"name": "x", "scopes": ["agents:read"], "agent_ids": [uuid7(), "nope"]},
             "agent_ids[1]"),
            ({"scopes": ["agents:read"]}, "name"),
            ({"name": 7, "scopes": ["agents:read"]}, "name"),
        ]
        before = self.key_count()
        for body, field in cases:
            with self.subTest(body=body):
                resp = self.call("POST", "/v1/api-keys", body=body, key=self.admin)
                self.assert_error(resp, 400, "invalid_request", field=field)
        self.assertEqual(self.key_count(), before)

    # -------------------------------------------------------------- escalation

    def test_cannot_grant_scopes_it_lacks(self):
        limited = self.create_key(["keys:write", "agents:read"])["key"]
        self.create_key(["agents:read"], key=limited)
        self.create_key(["keys:write"], key=limited)
        before = self.key_count()
        for scopes in (["agents:write"], ["*"], ["admin"], ["agents:read", "audit:read"],
                       ["AGENT_API"]):
            with self.subTest(scopes=scopes):
                resp = self.create_key(scopes, key=limited, expect=403)
                self.assert_error(resp, 403, "forbidden")
        self.assertEqual(self.key_count(), before)

    def test_star_key_cannot_grant_admin(self):
        star = self.create_key(["*"])["key"]
        self.create_key(["agents:write", "keys:write"], key=star)
        resp = self.create_key(["admin"], key=star, expect=403)
        self.assert_error(resp, 403, "forbidden")

    def test_agent_limited_key_cannot_widen_agents(self):
        a, b = uuid7(), uuid7()
        limited = self.create_key(["keys:write", "agents:read"], agent_ids=[a])["key"]
        for extra in ({}, {"agent_ids": [b]}, {"agent_ids": [a, b]}):
            with self.subTest(extra=extra):
                resp = self.create_key(["agents:read"], key=limited, expect=403, **extra)
                self.assert_error(resp, 403, "forbidden")
        body = self.create_key(["agents:read"], key=limited, agent_ids=[a])
        self.assertEqual(body["agent_ids"], [a])

    def test_agent_ids_are_normalised_to_lower_case(self):
        a = uuid7()
        limited = self.create_key(["keys:write", "agents:read"], agent_ids=[a])["key"]
        body = self.create_key(["agents:read"], key=limited, agent_ids=[a.upper()])
        self.assertEqual(body["agent_ids"], [a])

    def test_repeated_scopes_are_stored_once(self):
        body = self.create_key(["agents:read", "keys:write", "agents:read"])
        self.assertEqual(body["scopes"], ["agents:read", "keys:write"])

    def test_organization_names_blank_and_case(self):
        resp = self.create_org(name="   ", expect=400)
        self.assert_error(resp, 400, "invalid_request", "name")
        name = unique("CaseOrg")
        self.create_org(name=name)
        resp = self.create_org(name=name.lower(), expect=409)
        self.assert_error(resp, 409, "conflict", "name")

    def test_agent_limited_key_cannot_revoke_wider_key(self):
        a, b = uuid7(), uuid7()
        limited = self.create_key(["keys:write", "agents:read"], agent_ids=[a])["key"]
        for extra in ({}, {"agent_ids": [b]}):
            with self.subTest(extra=extra):
                wider = self.create_key(["agents:read"], **extra)
                resp = self.call("DELETE", f"/v1/api-keys/{wider['id']}", key=limited)
                self.assert_error(resp, 403, "forbidden")
                self.assertEqual(self.works(wider["key"]), 403)  # still valid
        narrow = self.create_key(["agents:read"], agent_ids=[a])
        self.call("DELETE", f"/v1/api-keys/{narrow['id']}", key=limited, expect=204)
        self.assertEqual(self.works(narrow["key"]), 401)

    # --------------------------------------------------------------------- auth

    def test_missing_and_wrong_keys(self):
        resp = self.call("GET", "/v1/api-keys")
        self.assert_error(resp, 401, "unauthorized")
        wrong = random_key()
        self.remember(wrong)
        resp = self.call("GET", "/v1/api-keys", key=wrong)
        self.assert_error(resp, 401, "unauthorized")
        # Right prefix, wrong rest.
        near = self.admin[:12] + random_key()[12:len(self.admin)]
        self.remember(near)
        resp = self.call("GET", "/v1/api-keys", key=near)
        self.assert_error(resp, 401, "unauthorized")
        for header in (f"Basic {self.admin}", "Bearer", "Bearer ", self.admin):
            with self.subTest(authorization=header[:10]):
                resp = self.call("GET", "/v1/api-keys", headers={"Authorization": header})
                self.assert_error(resp, 401, "unauthorized")

    def test_three_key_headers(self):
        for header, value in (("Authorization", f"Bearer {self.admin}"),
                              ("x-api-key", self.admin),
                              ("X-Asteroid-Agents-Api-Key", self.admin)):
            with self.subTest(header=header):
                self.call("GET", "/v1/api-keys", headers={header: value}, expect=200)

    def test_key_without_keys_write(self):
        reader = self.create_key(["agents:read"])["key"]
        resp = self.call("GET", "/v1/api-keys", key=reader)
        self.assert_error(resp, 403, "forbidden")
        resp = self.call("POST", "/v1/api-keys", key=reader,
                         body={"name": "x", "scopes": ["agents:read"]})
        self.assert_error(resp, 403, "forbidden")
        resp = self.call("DELETE", f"/v1/api-keys/{uuid7()}", key=reader)
        self.assert_error(resp, 403, "forbidden")

    # --------------------------------------------------------------- revocation

    def test_revocation(self):
        victim = self.create_key(["keys:write"])
        self.assertEqual(self.works(victim["key"]), 200)
        resp = self.call("DELETE", f"/v1/api-keys/{victim['id']}", key=self.admin)
        self.assertEqual(resp.status, 204, repr(resp))
        self.assertEqual(resp.raw, "")
        resp = self.call("GET", "/v1/api-keys?limit=1", key=victim["key"])
        self.assert_error(resp, 401, "unauthorized")
        resp = self.call("DELETE", f"/v1/api-keys/{victim['id']}", key=self.admin)
        self.assert_error(resp, 404, "not_found")
        self.assertNotIn(victim["id"], [k["id"] for k in self.list_keys()])

    def test_revoke_unknown_ids(self):
        for key_id in (uuid7(), "not-a-uuid", "123"):
            with self.subTest(key_id=key_id):
                resp = self.call("DELETE", f"/v1/api-keys/{key_id}", key=self.admin)
                self.assert_error(resp, 404, "not_found")

    def test_cannot_revoke_other_organizations_key(self):
        org = self.create_org()
        other = self.create_key(["keys:write"], key=org["admin_key"])
        resp = self.call("DELETE", f"/v1/api-keys/{other['id']}", key=self.admin)
        self.assert_error(resp, 404, "not_found")
        self.assertEqual(self.works(other["key"]), 200)
        resp = self.call("DELETE", f"/v1/api-keys/{other['id']}", key=org["admin_key"])
        self.assertEqual(resp.status, 204, repr(resp))

    def test_cannot_revoke_stronger_key(self):
        weak = self.create_key(["keys:write"])["key"]
        strong = self.create_key(["keys:write", "agents:read"])
        resp = self.call("DELETE", f"/v1/api-keys/{strong['id']}", key=weak)
        self.assert_error(resp, 403, "forbidden")
        self.assertEqual(self.works(strong["key"]), 200)
        # A "*" key cannot revoke a platform admin key either.
        star = self.create_key(["*"])["key"]
        admin2 = self.create_key(["*", "admin"])
        resp = self.call("DELETE", f"/v1/api-keys/{admin2['id']}", key=star)
        self.assert_error(resp, 403, "forbidden")
        self.assertEqual(self.works(admin2["key"]), 200)
        # But it can revoke an equal or weaker one.
        peer = self.create_key(["keys:write"])
        resp = self.call("DELETE", f"/v1/api-keys/{peer['id']}", key=weak)
        self.assertEqual(resp.status, 204, repr(resp))

    # ------------------------------------------------------------------- expiry

    def test_expiry(self):
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            seconds=2)
        body = self.create_key(["keys:write"], expires_at=rfc3339_ms(expires))
        self.assertEqual(self.works(body["key"]), 200)
        delay = (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        time.sleep(max(0.0, delay) + 0.6)
        resp = self.call("GET", "/v1/api-keys?limit=1", key=body["key"])
        self.assert_error(resp, 401, "unauthorized")

    # ------------------------------------------------------------------ listing

    def test_pagination(self):
        for _ in range(5):
            self.create_key(["agents:read"])
        everything = [k["id"] for k in self.list_keys()]
        self.assertEqual(len(everything), len(set(everything)))
        self.assertGreaterEqual(len(everything), 6)
        paged, cursor, pages = [], None, 0
        while True:
            path = "/v1/api-keys?limit=2" + (f"&cursor={cursor}" if cursor else "")
            resp = self.call("GET", path, key=self.admin, expect=200)
            data = resp.body["data"]
            self.assertLessEqual(len(data), 2)
            paged.extend(k["id"] for k in data)
            cursor = resp.body["next_cursor"]
            pages += 1
            self.assertLess(pages, 500)
            if cursor is None:
                break
            self.assertIsInstance(cursor, str)
            self.assertTrue(cursor)
        self.assertEqual(len(paged), len(set(paged)), "a key was listed twice")
        self.assertEqual(sorted(paged), sorted(everything))
        resp = self.call("GET", "/v1/api-keys?limit=200", key=self.admin, expect=200)
        resp = self.call("GET", "/v1/api-keys?limit=1", key=self.admin, expect=200)
        self.assertEqual(len(resp.body["data"]), 1)

    def test_bad_limit_and_cursor(self):
        for limit in ("0", "201", "abc", "-1", "1.5"):
            with self.subTest(limit=limit):
                resp = self.call("GET", f"/v1/api-keys?limit={limit}", key=self.admin)
                self.assert_error(resp, 400, "invalid_request", field="limit")
        for cursor in ("!!!", "AAAA", "eyJ4IjoxfQ"):
            with self.subTest(cursor=cursor):
                resp = self.call("GET", f"/v1/api-keys?cursor={cursor}", key=self.admin)
                self.assert_error(resp, 400, "invalid_request", field="cursor")

    def test_organizations_do_not_see_each_other(self):
        org = self.create_org()
        theirs = self.create_key(["agents:read"], key=org["admin_key"])
        ours = self.create_key(["agents:read"])
        our_ids = {k["id"] for k in self.list_keys()}
        their_ids = {k["id"] for k in self.list_keys(key=org["admin_key"])}
        self.assertIn(ours["id"], our_ids)
        self.assertNotIn(theirs["id"], our_ids)
        self.assertIn(theirs["id"], their_ids)
        self.assertFalse(our_ids & their_ids)

    # -------------------------------------------------------------- strict JSON

    def test_strict_json(self):
        good = '{"name":"%s","scopes":["agents:read"]}'
        cases = [
            ("text/plain", good % "a", 415, "unsupported_media_type"),
            (None, good % "a", 415, "unsupported_media_type"),
            ("application/x-www-form-urlencoded", "name=a&scopes=agents:read", 415,
             "unsupported_media_type"),
            ("application/json", '{"name":', 400, "invalid_request"),
            ("application/json", "", 400, "invalid_request"),
            ("application/json", '{"name":"a","name":"b","scopes":["agents:read"]}',
             400, "invalid_request"),
            ("application/json",
             '{"name":"a","scopes":["agents:read"],"rate_limit":{"per_second":1e400,'
             '"burst":10}}', 400, "invalid_request"),
            ("application/json",
             '{"name":"a","scopes":["agents:read"],"rate_limit":{"per_second":NaN,'
             '"burst":10}}', 400, "invalid_request"),
            ("application/json",
             '{"name":"a","scopes":["agents:read"],"rate_limit":{"per_second":Infinity,'
             '"burst":10}}', 400, "invalid_request"),
            ("application/json", b'{"name":"a\xff\xfe","scopes":["agents:read"]}', 400,
             "invalid_request"),
            ("application/json", b'{"name":"a\xc0\xaf","scopes":["agents:read"]}', 400,
             "invalid_request"),
            ("application/json", '{"name":"a\\ud800","scopes":["agents:read"]}', 400,
             "invalid_request"),
            ("application/json",
             '{"name":"a","scopes":["agents:read"],"x":' + "[" * 64 + "]" * 64 + "}",
             400, "invalid_request"),
            ("application/json", '[{"name":"a","scopes":["agents:read"]}]', 400,
             "invalid_request"),
            ("application/json", '"just a string"', 400, "invalid_request"),
            ("application/json", (good % "a") + " trailing", 400, "invalid_request"),
            ("application/json", '{"name":"a","scopes":["agents:read"],}', 400,
             "invalid_request"),
            ("application/json", '{"name":"a", /* c */ "scopes":["agents:read"]}', 400,
             "invalid_request"),
        ]
        before = self.key_count()
        for content_type, raw, status, code in cases:
            shown = raw if len(raw) < 80 else raw[:80]
            with self.subTest(content_type=content_type, body=shown):
                resp = self.post_raw("/v1/api-keys", raw, content_type, key=self.admin)
                self.assert_error(resp, status, code)
        self.assertEqual(self.key_count(), before, "a refused request created a key")

    def test_duplicate_json_key_is_named(self):
        resp = self.post_raw("/v1/api-keys",
                             '{"name":"a","scopes":["agents:read"],"name":"b"}',
                             key=self.admin)
        self.assert_error(resp, 400, "invalid_request")
        err = resp.body["error"]
        self.assertTrue(err.get("field") == "name" or "name" in err["message"], err)

    def test_extreme_nesting_does_not_crash(self):
        before = self.key_count()
        resp = self.post_raw("/v1/api-keys", "[" * 200000, key=self.admin)
        self.assert_error(resp, 400, "invalid_request")
        resp = self.post_raw("/v1/api-keys", '{"a":' * 100000, key=self.admin)
        self.assert_error(resp, 400, "invalid_request")
        self.call("GET", "/healthz", expect=200)
        self.assertEqual(self.key_count(), before)

    def test_json_with_charset_accepted(self):
        name = unique("charset")
        resp = self.post_raw("/v1/api-keys", '{"name":"%s","scopes":["agents:read"]}' % name,
                             "application/json; charset=utf-8", key=self.admin)
        self.assertEqual(resp.status, 201, repr(resp))
        self.remember(resp.body["key"])
        self.assertEqual(resp.body["name"], name)

    def test_unicode_name_round_trips(self):
        name = "clé-🤖-" + secrets.token_hex(3)
        body = self.create_key(["agents:read"], name=name)
        self.assertEqual(body["name"], name)
        listed = [k for k in self.list_keys() if k["id"] == body["id"]]
        self.assertEqual(listed[0]["name"], name)

    # ------------------------------------------------------------------ routing

    def test_unknown_path(self):
        for path in ("/nope", "/v1/nope", "/v1/api-keys/x/y"):
            with self.subTest(path=path):
                resp = self.call("GET", path, key=self.admin)
                self.assert_error(resp, 404, "not_found")

    def test_wrong_method(self):
        resp = self.call("PUT", "/v1/api-keys", body={}, key=self.admin)
        self.assert_error(resp, 405, "method_not_allowed")
        allow = {m.strip().upper() for m in resp.headers.get("allow", "").split(",")}
        self.assertTrue({"GET", "POST"} <= allow, resp.headers)
        resp = self.call("PATCH", "/v1/organizations", body={}, key=self.admin)
        self.assert_error(resp, 405, "method_not_allowed")
        self.assertIn("POST", resp.headers.get("allow", ""))

    # ------------------------------------------------------------------- limits

    def _post_head(self, length, extra_headers=""):
        return (f"POST /v1/api-keys HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {self.admin}\r\n"
                f"Content-Type: application/json\r\n"
                f"Content-Length: {length}\r\n{extra_headers}\r\n").encode()

    def test_body_too_large(self):
        before = self.key_count()
        body = b'{"name":"big","scopes":["agents:read"],"pad":"' + b"a" * (2 << 20) + b'"}'
        resp = self.server.raw_exchange(self._post_head(len(body)) + body, method="POST")
        self.check_common(resp, "2 MiB body")
        self.assert_error(resp, 413, "payload_too_large")
        self.call("GET", "/healthz", expect=200)
        self.assertEqual(self.key_count(), before)

    def test_chunked_body_too_large(self):
        head = (f"POST /v1/api-keys HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {self.admin}\r\n"
                f"Content-Type: application/json\r\n"
                f"Transfer-Encoding: chunked\r\n\r\n").encode()
        chunk = b"a" * 65536
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(32))
        data = head + b"%x\r\n%s\r\n" % (6, b'{"x":"') + chunks + b"0\r\n\r\n"
        resp = self.server.raw_exchange(data, method="POST")
        self.check_common(resp, "2 MiB chunked body")
        self.assert_error(resp, 413, "payload_too_large")
        self.call("GET", "/healthz", expect=200)

    def test_body_under_limit_is_parsed(self):
        pad = "a" * (1000 * 1000)
        resp = self.call("POST", "/v1/api-keys", key=self.admin,
                         body={"name": "x", "scopes": ["agents:read"], "pad": pad})
        self.assert_error(resp, 400, "invalid_request", field="pad")

    def test_headers_too_large(self):
        data = (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: "
                + b"a" * (64 << 10) + b"\r\n\r\n")
        resp = self.server.raw_exchange(data)
        self.check_common(resp, "64 KiB header")
        self.assert_error(resp, 431, "headers_too_large")
        self.call("GET", "/healthz", expect=200)

    def test_headers_under_limit(self):
        resp = self.call("GET", "/healthz", headers={"X-Pad": "a" * (8 << 10)})
        self.assertEqual(resp.status, 200, repr(resp))

    def test_keep_alive(self):
        with self.server.session() as session:
            resp = session.request("GET", "/healthz")
            self.assertEqual(resp.status, 200)
            sock = session.sock
            self.assertIsNotNone(sock)
            steps = [
                ("GET", "/v1/api-keys?limit=1", None, 200),
                ("POST", "/v1/api-keys", {"name": "ka", "scopes": ["nope"]}, 400),
                ("GET", "/no/such/path", None, 404),
                ("POST", "/v1/api-keys", {"name": unique("ka"), "scopes": ["agents:read"]},
                 201),
                ("GET", "/readyz", None, 200),
            ]
            for method, path, body, status in steps:
                resp = session.request(method, path, body=body, key=self.admin)
                self.check_common(resp, f"keep-alive {method} {path}")
                self.assertEqual(resp.status, status, repr(resp))
                if status == 201:
                    self.remember(resp.body["key"])
                self.assertIs(session.sock, sock, "the server closed the connection")

    def test_malformed_request_line(self):
        try:
            resp = self.server.raw_exchange(b"GARBAGE\r\n\r\n")
            self.assertEqual(resp.status, 400, repr(resp))
        except (OSError, http.client.HTTPException):
            pass  # closing the connection is acceptable too
        self.call("GET", "/healthz", expect=200)

    # ------------------------------------------------------- browser origins

    def test_browser_origin_refused(self):
        evil = {"Origin": "https://evil.example"}
        resp = self.call("GET", "/v1/api-keys", headers=evil, key=self.admin)
        self.assert_error(resp, 403, "forbidden")
        self.assertFalse([h for h in resp.headers if h.startswith("access-control-")],
                         resp.headers)

    def test_cors_preflight_refused(self):
        preflight = {"Origin": "https://evil.example",
                     "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization, content-type"}
        resp = self.call("OPTIONS", "/v1/api-keys", headers=preflight)
        self.assert_error(resp, 403, "forbidden")
        self.assertFalse([h for h in resp.headers if h.startswith("access-control-")],
                         resp.headers)

    def test_allowed_origin_gets_cors_answers(self):
        ok = {"Origin": "https://app.example"}
        resp = self.call("GET", "/v1/api-keys", headers=ok, key=self.admin, expect=200)
        self.assertEqual(resp.headers.get("access-control-allow-origin"), "https://app.example")
        pre = dict(ok, **{"Access-Control-Request-Method": "POST"})
        resp = self.call("OPTIONS", "/v1/api-keys", headers=pre, expect=204)
        self.assertEqual(resp.headers.get("access-control-allow-origin"), "https://app.example")
        self.assertIn("POST", resp.headers.get("access-control-allow-methods", ""))

    def test_expect_100_continue(self):
        body = json.dumps({"name": unique("cont"), "scopes": ["agents:read"]}).encode()
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
            s.sendall((f"POST /v1/api-keys HTTP/1.1\r\nHost: x\r\n"
                       f"Authorization: Bearer {self.admin}\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                       f"Expect: 100-continue\r\n\r\n").encode())
            first = s.recv(4096)
            self.assertTrue(first.startswith(b"HTTP/1.1 100"), first)
            s.sendall(body)
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(4096)
            self.assertTrue(data.startswith(b"HTTP/1.1 201"), data[:200])
            rest = data.split(b"\r\n\r\n", 1)[1]
            # Remember the key so the hygiene checks cover it.
            while True:
                try:
                    created = json.loads(rest)
                    break
                except ValueError:
                    rest += s.recv(4096)
            self.remember(created["key"])

    def test_absolute_form_target(self):
        resp = self.call("GET", f"http://127.0.0.1:{self.server.port}/healthz", expect=200)
        self.assertEqual(resp.body, {"status": "ok"})

    # --------------------------------------------- last: shutdown and the logs

    def test_zz_shutdown_and_log_hygiene(self):
        started = time.monotonic()
        code = self.server.stop_term(timeout=15)
        elapsed = time.monotonic() - started
        self.assertEqual(code, 0, self.server.stderr_text()[-2000:])
        self.assertLess(elapsed, 10.0)

        logs = self.server.logs()
        for secret in self.secrets:
            self.assertNotIn(secret, logs, "a key value appears in the logs")
            self.assertNotIn(secret[12:], logs, "a key's secret part appears in the logs")

        request_lines = []
        for n, line in enumerate(self.server.stdout_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                self.fail(f"stdout line {n} is not JSON: {line[:300]!r}")
            self.assertIsInstance(obj, dict, f"stdout line {n}: {line[:300]!r}")
            self.assertIn("msg", obj, f"stdout line {n}: {line[:300]!r}")
            if obj.get("msg") == "request":
                request_lines.append(obj)
        self.assertGreater(len(request_lines), 20)
        for obj in request_lines:
            self.assertIsInstance(obj.get("request_id"), str, obj)
            self.assertTrue(obj["request_id"], obj)
            self.assertIsInstance(obj.get("route"), str, obj)
            self.assertIsInstance(obj.get("status"), int, obj)
            self.assertIsInstance(obj.get("duration_ms"), (int, float), obj)
            self.assertGreaterEqual(obj["duration_ms"], 0, obj)
        logged_ids = {obj["request_id"] for obj in request_lines}
        for rid in self.sent_request_ids:
            self.assertIn(rid, logged_ids)
        statuses = {obj["status"] for obj in request_lines}
        self.assertTrue({200, 201, 400, 401, 404} <= statuses, statuses)


class RateLimitTest(AgentryTestCase):
    """DESIGN §8: a token bucket per key, and failed authentications limited
    per client address. Each test class has its own server; this one runs
    with the production default for failed authentications."""

    extra_args = ("--auth-failure-limit", "5:50")

    def test_per_key_bucket(self):
        key = self.create_key(["keys:write"], rate_limit={"per_second": 1, "burst": 2})["key"]
        statuses = []
        limited = None
        for _ in range(5):
            resp = self.call("GET", "/v1/api-keys?limit=1", key=key, retry_429=False)
            statuses.append(resp.status)
            if resp.status == 429:
                limited = resp
        self.assertIsNotNone(limited, f"burst 2 never limited: {statuses}")
        self.assertEqual(statuses[:2], [200, 200], statuses)
        self.assert_error(limited, 429, "rate_limited")
        for header in ("retry-after", "ratelimit-limit", "ratelimit-remaining",
                       "ratelimit-reset"):
            self.assertIn(header, limited.headers, limited.headers)
        time.sleep(1.2)
        self.assertEqual(self.works(key), 200)
        # Another key is not affected by this key's bucket.
        self.assertEqual(self.works(self.admin), 200)

    def test_burst_against_a_slow_key(self):
        # 1 token per 1000 s: exactly `burst` successes, then 429s.
        key = self.create_key(["keys:write"],
                              rate_limit={"per_second": 0.001, "burst": 5})["key"]
        statuses = [self.call("GET", "/v1/api-keys?limit=1", key=key,
                              retry_429=False).status for _ in range(12)]
        self.assertEqual(statuses, [200] * 5 + [429] * 7)
        resp = self.call("GET", "/v1/api-keys?limit=1", key=key, retry_429=False)
        self.assert_error(resp, 429, "rate_limited")
        self.assertEqual(resp.headers["ratelimit-limit"], "5")
        self.assertEqual(resp.headers["ratelimit-remaining"], "0")
        self.assertGreaterEqual(int(resp.headers["retry-after"]), 1)
        self.assertGreaterEqual(int(resp.headers["ratelimit-reset"]), 1)
        # The admin key's bucket is its own.
        self.assertEqual(self.works(self.admin), 200)

    def test_failed_authentications_limited_per_address(self):
        statuses = {}
        for i in range(1000):
            resp = self.server.request("GET", "/v1/api-keys?limit=1",
                                       key=f"agk_notavalidkeynotavalidkey{i:05d}")
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
            if resp.status == 429:
                self.assert_error(resp, 429, "rate_limited")
                self.assertIn("retry-after", resp.headers)
                return
        self.fail(f"1000 failed authentications were never limited: {statuses}")


class LifecycleTest(unittest.TestCase):
    """Start-up, restart and SIGTERM; each test has its own server."""

    def test_sigterm_while_idle(self):
        with Server() as server:
            self.assertEqual(server.request("GET", "/healthz").status, 200)
            started = time.monotonic()
            self.assertEqual(server.stop_term(timeout=15), 0, server.logs()[-2000:])
            self.assertLess(time.monotonic() - started, 10.0)

    def test_sigterm_with_idle_keep_alive_connection(self):
        with Server() as server, server.session() as session:
            self.assertEqual(session.request("GET", "/healthz").status, 200)
            started = time.monotonic()
            self.assertEqual(server.stop_term(timeout=15), 0, server.logs()[-2000:])
            self.assertLess(time.monotonic() - started, 10.0)

    def test_sigterm_with_half_sent_request(self):
        with Server() as server:
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                time.sleep(0.2)
                started = time.monotonic()
                server.stop_term(timeout=15)
                self.assertLess(time.monotonic() - started, 12.0)
            finally:
                sock.close()

    def test_restart_keeps_keys_and_bootstraps_once(self):
        with Server() as server:
            first_admin = server.admin_key
            resp = server.request("POST", "/v1/api-keys", key=first_admin,
                                  body={"name": "persist", "scopes": ["keys:write"]})
            self.assertEqual(resp.status, 201, repr(resp))
            created = resp.body
            self.assertEqual(server.stop_term(), 0)

            # A different bootstrap key on restart must not create another admin.
            server.admin_key = random_key()
            server.restart()
            self.assertTrue(server.port > 0)
            resp = server.request("GET", "/v1/api-keys?limit=1", key=server.admin_key)
            self.assertEqual(resp.status, 401, repr(resp))
            resp = server.request("GET", "/v1/api-keys?limit=200", key=first_admin)
            self.assertEqual(resp.status, 200, repr(resp))
            ids = [k["id"] for k in resp.body["data"]]
            self.assertIn(created["id"], ids)
            admins = [k for k in resp.body["data"] if "admin" in k["scopes"]]
            self.assertEqual(len(admins), 1, admins)
            resp = server.request("GET", "/v1/api-keys?limit=1", key=created["key"])
            self.assertEqual(resp.status, 200, repr(resp))

    def test_short_bootstrap_key_is_never_accepted(self):
        short = "tooshort12"
        server = Server(admin_key=short, start=False)
        with server:
            try:
                server.start()
            except RuntimeError as e:
                # Refusing to start (with a non-zero exit) is the clearest answer.
                self.assertIn("exited with code", str(e))
                self.assertNotEqual(server.proc.returncode, 0)
                return
            resp = server.request("GET", "/v1/api-keys", key=short)
            self.assertEqual(resp.status, 401, repr(resp))


if __name__ == "__main__":
    harness.run_tests()
