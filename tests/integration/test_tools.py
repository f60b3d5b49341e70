"""Black-box tests of Agentry's tool registry (DESIGN §5 "Tools and
instructions"): create, read, merge-patch, delete, list (paging), validation
of ids and of the JSON Schema in `parameters`, ETags and preconditions,
scopes and tenancy.

Run: python3 tests/integration/test_tools.py --binary build/agentry
"""

import json
import re
import secrets
import threading
import time
import urllib.parse

import agentry_harness as harness
from test_agents import tagged
from test_foundation import (AgentryTestCase, TIMESTAMP_RE, parse_rfc3339_ms, unique)

TOOL_ID_RE = re.compile(r"^tol_[0-9a-zA-Z_-]+$")
TOOL_FIELDS = {"id", "name", "description", "parameters", "enabled", "created_at",
               "updated_at"}
DEFAULT_PARAMETERS = {"type": "object", "properties": {}}


def search_schema():
    """A realistic parameters schema that uses every checked keyword."""
    return {
        "type": "object",
        "description": "Search the knowledge base",
        "properties": {
            "query": {"type": "string", "description": "What to look for"},
            "max_results": {"type": "integer", "minimum": 1, "default": 10},
            "threshold": {"type": "number"},
            "exact": {"type": "boolean"},
            "mode": {"type": "string", "enum": ["fast", "deep"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "maybe": {"type": ["string", "null"]},
            "filter": {"type": "object",
                       "properties": {"since": {"type": "string", "format": "date"},
                                      "ids": {"type": "array",
                                              "items": {"type": "integer"}}},
                       "required": ["since"]},
        },
        "required": ["query", "max_results"],
    }


class ToolsTestCase(AgentryTestCase):
    """Helpers for the tools API."""

    def tool_path(self, tool_id, suffix=""):
        return f"/v1/tools/{urllib.parse.quote(tool_id, safe='')}{suffix}"

    def create_tool(self, body=None, key=None, expect=201, **members):
        payload = dict(body if body is not None else {"name": unique("tool")})
        payload.update(members)
        resp = self.call("POST", "/v1/tools", body=payload, key=key or self.admin)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"POST /v1/tools {payload} -> {resp!r}")
        if expect == 201:
            self.check_tool(resp.body)
            tag = resp.headers.get("etag")
            self.assertTrue(tag, f"no ETag on create: {resp!r}")
            self.assertFalse(tag.startswith("W/"), f"weak ETag: {tag}")
            location = resp.headers.get("location", "")
            self.assertTrue(location.endswith(self.tool_path(resp.body["id"])),
                            f"Location {location!r} does not name the tool: {resp!r}")
            return resp.body
        return resp

    def get_tool(self, tool_id, key=None, expect=200, headers=None):
        resp = self.call("GET", self.tool_path(tool_id), key=key or self.admin,
                         headers=headers)
        if expect is not None:
            self.assertEqual(resp.status, expect, repr(resp))
        if expect == 200:
            self.check_tool(resp.body)
        return resp

    def patch_tool(self, tool_id, patch, key=None, expect=200, headers=None):
        resp = self.call("PATCH", self.tool_path(tool_id), body=patch,
                         key=key or self.admin, headers=headers)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"PATCH {tool_id} {patch} -> {resp!r}")
        if expect == 200:
            self.check_tool(resp.body)
            self.assertEqual(resp.body["id"], tool_id)
        return resp

    def etag(self, tool_id, key=None):
        resp = self.get_tool(tool_id, key=key)
        tag = resp.headers.get("etag")
        self.assertTrue(tag, f"no ETag: {resp!r}")
        return tag

    def list_tools(self, key=None, limit=200):
        """Every tool the key lists, following next_cursor."""
        return self.list_pages("/v1/tools", key=key, limit=limit)

    def tool_count(self, key=None):
        return len(self.list_tools(key=key))

    def assert_json_equal(self, actual, expected, msg=None):
        self.assertEqual(tagged(actual), tagged(expected), msg)

    def assert_field(self, resp, status, code, fields):
        """Like assert_error, with one acceptable field or a tuple of them."""
        self.assertEqual(resp.status, status, repr(resp))
        self.assert_error_shape(resp)
        err = resp.body["error"]
        self.assertEqual(err["code"], code, repr(resp))
        if isinstance(fields, tuple):
            self.assertIn(err.get("field"), fields, repr(resp))
        else:
            self.assertEqual(err.get("field"), fields, repr(resp))

    def check_tool(self, tool):
        self.assertIsInstance(tool, dict, repr(tool))
        self.assertEqual(set(tool), TOOL_FIELDS,
                         f"members differ: extra {set(tool) - TOOL_FIELDS}, "
                         f"missing {TOOL_FIELDS - set(tool)}")
        self.assertRegex(tool["id"], TOOL_ID_RE)
        self.assertLessEqual(len(tool["id"]), 64)
        self.assertIsInstance(tool["name"], str)
        self.assertTrue(tool["name"])
        self.assertIsInstance(tool["description"], str)
        self.assertIsInstance(tool["parameters"], dict)
        self.assertEqual(tool["parameters"].get("type"), "object", tool)
        self.assertIsInstance(tool["enabled"], bool)
        for ts in ("created_at", "updated_at"):
            self.assertRegex(tool[ts], TIMESTAMP_RE)
        self.assertLessEqual(parse_rfc3339_ms(tool["created_at"]),
                             parse_rfc3339_ms(tool["updated_at"]), tool)


class ToolsTest(ToolsTestCase):

    # ------------------------------------------------------------------ create

    def test_create_minimal_fills_defaults(self):
        name = unique("Search")
        before = time.time()
        tool = self.create_tool({"name": name})
        self.assertRegex(tool["id"], TOOL_ID_RE)
        self.assertEqual(tool["name"], name)
        self.assertEqual(tool["description"], "")
        self.assert_json_equal(tool["parameters"], DEFAULT_PARAMETERS)
        self.assertIs(tool["enabled"], True)
        self.assertEqual(tool["created_at"], tool["updated_at"])
        created = parse_rfc3339_ms(tool["created_at"]).timestamp()
        self.assertLess(abs(created - before), 60)
        self.assert_json_equal(self.get_tool(tool["id"]).body, tool)
        # Generated ids differ.
        other = self.create_tool({"name": name})
        self.assertNotEqual(other["id"], tool["id"])

    def test_create_full_round_trips(self):
        tool_id = "tol_" + secrets.token_hex(4) + "_Knowledge-Search"
        body = {"id": tool_id, "name": "Knowledge search",
                "description": "Searches the FAQ \U0001F50E </script> \"quoted\"\nline 2",
                "parameters": search_schema(), "enabled": False}
        tool = self.create_tool(body)
        for got in (tool, self.get_tool(tool_id).body):
            self.assertEqual(got["id"], tool_id)
            self.assertEqual(got["name"], body["name"])
            self.assertEqual(got["description"], body["description"])
            self.assert_json_equal(got["parameters"], body["parameters"])
            self.assertIs(got["enabled"], False)
        # The members of a schema keep their order as written.
        resp = self.get_tool(tool_id)
        self.assertEqual(list(resp.body["parameters"]["properties"]),
                         list(body["parameters"]["properties"]))

    def test_limits_at_the_boundary_are_accepted(self):
        long_id = "tol_" + secrets.token_hex(30)
        self.assertEqual(len(long_id), 64)
        tool = self.create_tool({"id": long_id, "name": "n" * 64, "description": "d" * 1024})
        self.assertEqual(tool["id"], long_id)
        # Lengths count characters, not bytes.
        tool = self.create_tool({"name": "é" * 64, "description": "🤖" * 1024})
        self.assertEqual(tool["name"], "é" * 64)
        self.assertEqual(tool["description"], "🤖" * 1024)
        self.create_tool({"id": "tol_" + secrets.token_hex(2) + "-_AZaz09", "name": "x"})
        self.create_tool({"name": "schema forms", "parameters": {
            "type": "object",
            "properties": {"any": {}, "multi": {"type": ["integer", "string", "null"]},
                           "list": {"type": "array"},
                           "nested": {"type": "array", "items": {
                               "type": "object", "properties": {"x": {"type": "number"}},
                               "required": ["x"]}},
                           "choice": {"enum": [1, "two", None, True]}},
            "required": []}})

    # -------------------------------------------------------------- validation

    def test_create_validation(self):
        long_id = "tol_" + "k" * 61
        cases = [
            ({}, "name"),
            ({"description": "no name"}, "name"),
            ({"name": ""}, "name"),
            ({"name": "n" * 65}, "name"),
            ({"name": "é" * 65}, "name"),
            ({"name": 5}, "name"),
            ({"name": None}, "name"),
            ({"name": ["a"]}, "name"),
            ({"name": "x", "description": "d" * 1025}, "description"),
            ({"name": "x", "description": 5}, "description"),
            ({"name": "x", "enabled": "true"}, "enabled"),
            ({"name": "x", "enabled": 1}, "enabled"),
            ({"name": "x", "id": "search"}, "id"),
            ({"name": "x", "id": "tol_"}, "id"),
            ({"name": "x", "id": "tol_a b"}, "id"),
            ({"name": "x", "id": "tol_a/b"}, "id"),
            ({"name": "x", "id": "tol_é"}, "id"),
            ({"name": "x", "id": "TOL_abc"}, "id"),
            ({"name": "x", "id": "agt_abc"}, "id"),
            ({"name": "x", "id": "ins_abc"}, "id"),
            ({"name": "x", "id": long_id}, "id"),
            ({"name": "x", "id": 42}, "id"),
            ({"name": "x", "id": ""}, "id"),
            ({"name": "x", "colour": "red"}, "colour"),
            ({"name": "x", "created_at": "2024-01-01T00:00:00.000Z"}, "created_at"),
            ({"name": "x", "updated_at": "2024-01-01T00:00:00.000Z"}, "updated_at"),
            ({"name": "x", "version": 1}, "version"),
            ({"name": "x", "parameters": "object"}, "parameters"),
            ({"name": "x", "parameters": []}, "parameters"),
            ({"name": "x", "parameters": 5}, "parameters"),
        ]
        before = self.tool_count()
        for body, field in cases:
            with self.subTest(field=field, body=json.dumps(body)[:120]):
                resp = self.call("POST", "/v1/tools", body=body, key=self.admin)
                self.assert_error(resp, 400, "invalid_request", field=field)
                self.assertIn(field.split(".")[0], resp.body["error"]["message"],
                              repr(resp))
        self.assertEqual(self.tool_count(), before)

    def test_parameters_schema_validation(self):
        def params(**props):
            return {"type": "object", "properties": props}

        cases = [
            # The top level is an object schema.
            ({"type": "string"}, "parameters.type"),
            ({"type": "array", "items": {"type": "string"}}, "parameters.type"),
            ({"type": "objet"}, "parameters.type"),
            ({"type": 5}, "parameters.type"),
            ({}, ("parameters.type", "parameters")),
            ({"properties": {}}, ("parameters.type", "parameters")),
            # properties
            ({"type": "object", "properties": []}, "parameters.properties"),
            ({"type": "object", "properties": "a"}, "parameters.properties"),
            (params(a="string"), "parameters.properties.a"),
            (params(a=5), "parameters.properties.a"),
            (params(a=None), "parameters.properties.a"),
            (params(a={"type": "strin"}), "parameters.properties.a.type"),
            (params(max_results={"type": "int"}), "parameters.properties.max_results.type"),
            (params(a={"type": "String"}), "parameters.properties.a.type"),
            (params(a={"type": 1}), "parameters.properties.a.type"),
            (params(a={"type": None}), "parameters.properties.a.type"),
            (params(a={"type": {}}), "parameters.properties.a.type"),
            (params(a={"type": []}), "parameters.properties.a.type"),
            (params(a={"type": ["string", "bogus"]}),
             ("parameters.properties.a.type", "parameters.properties.a.type[1]")),
            (params(a={"type": ["string", 5]}),
             ("parameters.properties.a.type", "parameters.properties.a.type[1]")),
            # required
            ({"type": "object", "properties": {"a": {}}, "required": "a"},
             "parameters.required"),
            ({"type": "object", "properties": {"a": {}}, "required": {"a": True}},
             "parameters.required"),
            ({"type": "object", "properties": {"a": {}}, "required": ["a", 5]},
             ("parameters.required", "parameters.required[1]")),
            ({"type": "object", "properties": {"a": {}}, "required": ["a", "a"]},
             ("parameters.required", "parameters.required[1]")),
            ({"type": "object", "properties": {"a": {}}, "required": ["a", "b"]},
             ("parameters.required", "parameters.required[1]")),
            ({"type": "object", "required": ["a"]},
             ("parameters.required", "parameters.required[0]")),
            # items
            (params(list={"type": "array", "items": "string"}),
             "parameters.properties.list.items"),
            (params(list={"type": "array", "items": [{"type": "string"}]}),
             "parameters.properties.list.items"),
            (params(list={"type": "array", "items": {"type": "nope"}}),
             "parameters.properties.list.items.type"),
            (params(list={"type": "array", "items": {"type": "array",
                                                     "items": {"type": "chars"}}}),
             "parameters.properties.list.items.items.type"),
            # enum
            (params(mode={"type": "string", "enum": []}), "parameters.properties.mode.enum"),
            (params(mode={"type": "string", "enum": "fast"}),
             "parameters.properties.mode.enum"),
            (params(mode={"type": "string", "enum": None}),
             "parameters.properties.mode.enum"),
            # Recursion into nested objects and array items.
            (params(filter={"type": "object", "properties": {"since": {"type": "date"}}}),
             "parameters.properties.filter.properties.since.type"),
            (params(filter={"type": "object", "properties": {"since": {"type": "string"}},
                            "required": ["until"]}),
             ("parameters.properties.filter.required",
              "parameters.properties.filter.required[0]")),
            (params(filter={"type": "object", "properties": {
                "deep": {"type": "object", "properties": {
                    "deeper": {"type": "array", "items": {"enum": []}}}}}}),
             "parameters.properties.filter.properties.deep.properties.deeper.items.enum"),
            (params(rows={"type": "array", "items": {
                "type": "object", "properties": {"x": {"type": "float"}}}}),
             "parameters.properties.rows.items.properties.x.type"),
            (params(filter={"type": "object", "properties": []}),
             "parameters.properties.filter.properties"),
        ]
        before = self.tool_count()
        for schema, field in cases:
            with self.subTest(field=field, schema=json.dumps(schema)[:140]):
                resp = self.call("POST", "/v1/tools", key=self.admin,
                                 body={"name": "schema", "parameters": schema})
                self.assert_field(resp, 400, "invalid_request", field)
                self.assertIn("parameters", resp.body["error"]["message"], repr(resp))
        self.assertEqual(self.tool_count(), before)

    def test_create_malformed_bodies(self):
        before = self.tool_count()
        raw_cases = [
            ('{"name":"a","name":"b"}', "application/json", 400),
            ('{"name":"a","parameters":{"type":"object","type":"object"}}',
             "application/json", 400),
            ('{"name":"a"', "application/json", 400),
            ('["name"]', "application/json", 400),
            ('"tool"', "application/json", 400),
            ("null", "application/json", 400),
            ("", "application/json", 400),
            ('{"name":"a","parameters":{"type":"object","properties":'
             '{"n":{"type":"number","default":NaN}}}}', "application/json", 400),
            ('{"name":"a","parameters":{"type":"object","properties":'
             '{"n":{"type":"number","maximum":1e999}}}}', "application/json", 400),
            ('{"name":"\\ud800"}', "application/json", 400),
            ('{"name":"a","parameters":{"type":"object","properties":{"x":'
             + '{"type":"object","properties":{"x":' * 40 + '{"type":"string"}'
             + "}}" * 40 + "}}}", "application/json", 400),
            ('{"name":"a"}', "text/plain", 415),
            ('{"name":"a"}', None, 415),
        ]
        for raw, ctype, status in raw_cases:
            with self.subTest(raw=raw[:80], content_type=ctype):
                resp = self.post_raw("/v1/tools", raw, content_type=ctype, key=self.admin)
                code = "invalid_request" if status == 400 else "unsupported_media_type"
                self.assert_error(resp, status, code)
        resp = self.call("POST", "/v1/tools", key=self.admin, body=b'{"name":"\xff\xfe"}',
                         headers={"Content-Type": "application/json"})
        self.assert_error(resp, 400, "invalid_request")
        self.assertEqual(self.tool_count(), before)
        resp = self.post_raw("/v1/tools", '{"name":"charset"}',
                             content_type="application/json; charset=utf-8", key=self.admin)
        self.assertEqual(resp.status, 201, repr(resp))

    def test_duplicate_id(self):
        tool_id = "tol_dup_" + secrets.token_hex(4)
        first = self.create_tool({"id": tool_id, "name": "one"})
        before = self.tool_count()
        resp = self.create_tool({"id": tool_id, "name": "two"}, expect=409)
        self.assert_error(resp, 409, "conflict", field="id")
        self.assertEqual(self.tool_count(), before)
        self.assert_json_equal(self.get_tool(tool_id).body, first)
        # The same id in another organization is fine; each sees its own.
        org = self.create_org()
        theirs = self.create_tool({"id": tool_id, "name": "theirs"}, key=org["admin_key"])
        self.assertEqual(theirs["id"], tool_id)
        self.assertEqual(self.get_tool(tool_id, key=org["admin_key"]).body["name"], "theirs")
        self.assertEqual(self.get_tool(tool_id).body["name"], "one")
        # Deleting theirs leaves mine alone.
        self.call("DELETE", self.tool_path(tool_id), key=org["admin_key"], expect=204)
        self.get_tool(tool_id, key=org["admin_key"], expect=404)
        self.assert_json_equal(self.get_tool(tool_id).body, first)

    def test_concurrent_creates_with_one_id(self):
        tool_id = "tol_race_" + secrets.token_hex(4)
        before = self.tool_count()
        barrier = threading.Barrier(8)
        results = [None] * 8

        def worker(i):
            try:
                barrier.wait(timeout=10)
                results[i] = self.server.request("POST", "/v1/tools", key=self.admin,
                                                 body={"id": tool_id, "name": f"racer {i}"})
            except Exception as e:  # pylint: disable=broad-except
                results[i] = e

        threads = [threading.Thread(target=worker, args=(i,), daemon=True)
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        for r in results:
            if isinstance(r, Exception):
                raise r
        self.assertEqual(sorted(r.status for r in results), [201] + [409] * 7,
                         [repr(r) for r in results])
        winner = next(r for r in results if r.status == 201)
        self.assertEqual(self.get_tool(tool_id).body["name"], winner.body["name"])
        self.assertEqual(self.tool_count(), before + 1)

    # -------------------------------------------------------------------- list

    def test_list_order_and_paging(self):
        org = self.create_org()
        k = org["admin_key"]
        self.assertEqual(self.call("GET", "/v1/tools", key=k, expect=200).body,
                         {"data": [], "next_cursor": None})
        ids = ["tol_m", "tol_B", "tol_a", "tol_0", "tol_Z9", "tol_a-b", "tol_a_b",
               "tol_zz", "tol_-x"]
        created = {}
        for tool_id in ids:
            created[tool_id] = self.create_tool({"id": tool_id, "name": tool_id}, key=k)
        generated = self.create_tool({"name": "generated"}, key=k)
        expected = sorted(ids + [generated["id"]])
        for limit in (200, 1, 3, 4):
            with self.subTest(limit=limit):
                got = self.list_tools(key=k, limit=limit)
                self.assertEqual([t["id"] for t in got], expected,
                                 "the list is not in ascending id order")
        for item in self.list_tools(key=k):
            self.assert_json_equal(item, self.get_tool(item["id"], key=k).body,
                                   "a list item differs from GET")
        resp = self.call("GET", "/v1/tools?limit=3", key=k, expect=200)
        self.assertEqual([t["id"] for t in resp.body["data"]], expected[:3])
        self.assertIsInstance(resp.body["next_cursor"], str)
        resp = self.call("GET", "/v1/tools?limit=11", key=k, expect=200)
        self.assertEqual(len(resp.body["data"]), 10)
        self.assertIsNone(resp.body["next_cursor"])
        # Another organization's tools are not listed, and mine not in theirs.
        mine = {t["id"] for t in self.list_tools()}
        self.assertFalse(mine & {generated["id"]})
        # A page cursor survives a delete of the item it stopped at.
        resp = self.call("GET", "/v1/tools?limit=2", key=k, expect=200)
        last = resp.body["data"][-1]["id"]
        cursor = resp.body["next_cursor"]
        self.call("DELETE", self.tool_path(last), key=k, expect=204)
        resp = self.call("GET", "/v1/tools?limit=200&cursor=" +
                         urllib.parse.quote(cursor, safe=""), key=k, expect=200)
        self.assertEqual([t["id"] for t in resp.body["data"]], expected[2:])

    def test_default_page_is_50(self):
        org = self.create_org()
        k = org["admin_key"]
        for i in range(53):
            self.create_tool({"id": f"tol_p{i:03d}", "name": f"p{i}"}, key=k)
        resp = self.call("GET", "/v1/tools", key=k, expect=200)
        self.assertEqual([t["id"] for t in resp.body["data"]],
                         [f"tol_p{i:03d}" for i in range(50)])
        self.assertIsInstance(resp.body["next_cursor"], str)
        resp = self.call("GET", "/v1/tools?cursor=" +
                         urllib.parse.quote(resp.body["next_cursor"], safe=""),
                         key=k, expect=200)
        self.assertEqual([t["id"] for t in resp.body["data"]],
                         [f"tol_p{i:03d}" for i in range(50, 53)])
        self.assertIsNone(resp.body["next_cursor"])

    def test_list_limit_and_cursor_validation(self):
        org = self.create_org()
        k = org["admin_key"]
        for i in range(3):
            self.create_tool({"id": f"tol_l{i}", "name": "l"}, key=k)
        for bad in ("0", "201", "-1", "abc", "1.5"):
            with self.subTest(limit=bad):
                resp = self.call("GET", "/v1/tools?limit=" + bad, key=k)
                self.assert_error(resp, 400, "invalid_request", field="limit")
        resp = self.call("GET", "/v1/tools?limit=200", key=k, expect=200)
        self.assertEqual(len(resp.body["data"]), 3)
        self.assertIsNone(resp.body["next_cursor"])
        resp = self.call("GET", "/v1/tools?limit=1", key=k, expect=200)
        real = resp.body["next_cursor"]
        self.assertIsInstance(real, str)
        tampered = ("A" if real[0] != "A" else "B") + real[1:]
        for bad in ("!!garbage!!", "AAAA", "eyJpZCI6IngifQ", tampered, real + "x",
                    real[:-4], real[:8]):
            with self.subTest(cursor=bad):
                resp = self.call("GET", "/v1/tools?limit=1&cursor=" +
                                 urllib.parse.quote(bad, safe=""), key=k)
                self.assert_error(resp, 400, "invalid_request", field="cursor")
        # A cursor of another organization never shows this one's tools.
        resp = self.call("GET", "/v1/tools?limit=1&cursor=" +
                         urllib.parse.quote(real, safe=""), key=self.admin)
        if resp.status == 200:
            self.assertFalse({t["id"] for t in resp.body["data"]} &
                             {"tol_l0", "tol_l1", "tol_l2"} - {t["id"] for t in
                                                                self.list_tools()})
        else:
            self.assert_error(resp, 400, "invalid_request", field="cursor")

    # ------------------------------------------------------------- ETag and 304

    def test_etags_and_conditional_get(self):
        tool = self.create_tool({"name": unique("etag"), "parameters": search_schema()})
        resp = self.get_tool(tool["id"])
        tag = resp.headers.get("etag")
        self.assertTrue(tag, repr(resp))
        self.assertFalse(tag.startswith("W/"), f"weak ETag: {tag}")
        self.assertRegex(tag, r'^"[^"]+"$')
        self.assertEqual(self.etag(tool["id"]), tag, "ETag is not stable")
        for header in (tag, f'"nope", {tag}', "*", f"W/{tag}"):
            with self.subTest(if_none_match=header):
                resp = self.call("GET", self.tool_path(tool["id"]), key=self.admin,
                                 headers={"If-None-Match": header})
                self.assertEqual(resp.status, 304, repr(resp))
                self.assertEqual(resp.raw, "", repr(resp))
                self.assertEqual(resp.headers.get("etag"), tag, repr(resp))
        self.get_tool(tool["id"], headers={"If-None-Match": '"something-else"'})
        # Every change changes the tag; an old tag no longer gives 304.
        tags = [tag]
        for patch in ({"name": "renamed"}, {"enabled": False},
                      {"parameters": {"properties": {"extra": {"type": "string"}}}},
                      {"description": "desc"}):
            self.patch_tool(tool["id"], patch)
            tags.append(self.etag(tool["id"]))
        self.assertEqual(len(set(tags)), len(tags), f"an ETag repeated: {tags}")
        resp = self.get_tool(tool["id"], headers={"If-None-Match": tags[0]})
        self.assertEqual(resp.status, 200)
        # Another tool's tag is never this one's.
        other = self.create_tool()
        self.assertNotEqual(self.etag(other["id"]), tags[-1])

    def test_if_match_preconditions(self):
        tool = self.create_tool({"name": unique("ifmatch")})
        tid = tool["id"]
        stale = self.etag(tid)
        resp = self.patch_tool(tid, {"description": "one"}, headers={"If-Match": stale})
        current = self.etag(tid)
        self.assertNotEqual(current, stale)
        self.assertEqual(resp.headers.get("etag", current), current,
                         "the PATCH answer's ETag is not the new GET ETag")
        other_tag = self.etag(self.create_tool()["id"])
        for header in (stale, f"W/{current}", other_tag, '"nope"'):
            with self.subTest(if_match=header):
                resp = self.call("PATCH", self.tool_path(tid), body={"description": "lost"},
                                 key=self.admin, headers={"If-Match": header})
                self.assert_error(resp, 412, "precondition_failed")
                resp = self.call("DELETE", self.tool_path(tid), key=self.admin,
                                 headers={"If-Match": header})
                self.assert_error(resp, 412, "precondition_failed")
        self.assertEqual(self.get_tool(tid).body["description"], "one")
        self.assertEqual(self.etag(tid), current)
        self.patch_tool(tid, {"description": "two"}, headers={"If-Match": f'"x", {current}'})
        self.patch_tool(tid, {"description": "three"}, headers={"If-Match": "*"})
        resp = self.call("DELETE", self.tool_path(tid), key=self.admin,
                         headers={"If-Match": self.etag(tid)})
        self.assertEqual(resp.status, 204, repr(resp))
        self.get_tool(tid, expect=404)

    # ------------------------------------------------------------------- patch

    def test_merge_patch_semantics(self):
        tool = self.create_tool({"name": "Search", "description": "Finds things",
                                 "parameters": search_schema()})
        tid = tool["id"]
        expected = dict(tool)
        time.sleep(0.002)

        resp = self.patch_tool(tid, {"name": "Search v2"})
        expected["name"] = "Search v2"
        for member in ("id", "name", "description", "parameters", "enabled", "created_at"):
            self.assert_json_equal(resp.body[member], expected[member], member)
        self.assertGreaterEqual(parse_rfc3339_ms(resp.body["updated_at"]),
                                parse_rfc3339_ms(tool["updated_at"]))

        # A nested merge changes only what it names; arrays are replaced whole.
        resp = self.patch_tool(tid, {"parameters": {
            "properties": {"threshold": None, "lang": {"type": "string"},
                           "mode": {"enum": ["fast", "deep", "exhaustive"]}},
            "required": ["query"]}})
        params = search_schema()
        del params["properties"]["threshold"]
        params["properties"]["lang"] = {"type": "string"}
        params["properties"]["mode"]["enum"] = ["fast", "deep", "exhaustive"]
        params["required"] = ["query"]
        self.assert_json_equal(resp.body["parameters"], params)
        expected["parameters"] = params

        # merge-patch+json is accepted too.
        resp = self.patch_tool(tid, {"enabled": False},
                               headers={"Content-Type": "application/merge-patch+json"})
        self.assertIs(resp.body["enabled"], False)
        expected["enabled"] = False

        # null removes a member: it takes its default again.
        resp = self.patch_tool(tid, {"description": None, "enabled": None})
        self.assertEqual(resp.body["description"], "")
        self.assertIs(resp.body["enabled"], True)
        resp = self.patch_tool(tid, {"parameters": None})
        self.assert_json_equal(resp.body["parameters"], DEFAULT_PARAMETERS)
        expected.update(description="", enabled=True, parameters=DEFAULT_PARAMETERS)

        # An empty patch changes nothing.
        resp = self.patch_tool(tid, {})
        got = self.get_tool(tid).body
        self.assert_json_equal(resp.body, got)
        for member in ("id", "name", "description", "parameters", "enabled", "created_at"):
            self.assert_json_equal(got[member], expected[member], member)
        self.assertEqual(got["created_at"], tool["created_at"])
        # The list answers what GET answers.
        listed = [t for t in self.list_tools() if t["id"] == tid]
        self.assert_json_equal(listed, [got])

    def test_patch_validation_changes_nothing(self):
        tool = self.create_tool({"name": unique("PatchVal"), "description": "kept",
                                 "parameters": search_schema()})
        tid = tool["id"]
        tag = self.etag(tid)
        before = self.get_tool(tid).body
        cases = [
            ({"name": None}, "name"),
            ({"name": ""}, "name"),
            ({"name": "n" * 65}, "name"),
            ({"name": 7}, "name"),
            ({"description": "d" * 1025}, "description"),
            ({"enabled": "no"}, "enabled"),
            ({"id": "tol_other_" + secrets.token_hex(3)}, "id"),
            ({"id": "not-an-id"}, "id"),
            ({"created_at": "2024-01-01T00:00:00.000Z"}, "created_at"),
            ({"updated_at": "2024-01-01T00:00:00.000Z"}, "updated_at"),
            ({"colour": "red"}, "colour"),
            ({"parameters": {"type": "string"}}, "parameters.type"),
            ({"parameters": "x"}, "parameters"),
            ({"parameters": {"properties": {"max_results": {"type": "int"}}}},
             "parameters.properties.max_results.type"),
            ({"parameters": {"properties": {"mode": {"enum": []}}}},
             "parameters.properties.mode.enum"),
            # Removing a required property leaves `required` naming a stranger.
            ({"parameters": {"properties": {"query": None}}},
             ("parameters.required", "parameters.required[0]")),
            ({"parameters": {"required": ["query", "nope"]}},
             ("parameters.required", "parameters.required[1]")),
            ({"parameters": {"properties": {"filter": {"required": ["nope"]}}}},
             ("parameters.properties.filter.required",
              "parameters.properties.filter.required[0]",
              "parameters.properties.filter.required[1]")),
        ]
        for patch, field in cases:
            with self.subTest(field=field, patch=json.dumps(patch)[:100]):
                resp = self.call("PATCH", self.tool_path(tid), body=patch, key=self.admin)
                self.assert_field(resp, 400, "invalid_request", field)
        self.assertEqual(self.etag(tid), tag, "a refused PATCH changed the tool")
        for ctype in ("text/plain", "application/json-patch+json",
                      "application/x-www-form-urlencoded"):
            with self.subTest(content_type=ctype):
                resp = self.call("PATCH", self.tool_path(tid), key=self.admin,
                                 body='{"description":"x"}', headers={"Content-Type": ctype})
                self.assert_error(resp, 415, "unsupported_media_type")
        for raw in ("[1]", '{"name":"a","name":"b"}', "{", '"x"'):
            with self.subTest(raw=raw):
                resp = self.call("PATCH", self.tool_path(tid), key=self.admin, body=raw,
                                 headers={"Content-Type": "application/json"})
                self.assert_error(resp, 400, "invalid_request")
        self.assertEqual(self.etag(tid), tag, "a refused PATCH changed the tool")
        self.assert_json_equal(self.get_tool(tid).body, before)

    # ------------------------------------------------------------------ delete

    def test_delete_then_404_and_id_reusable(self):
        tool_id = "tol_del_" + secrets.token_hex(4)
        self.create_tool({"id": tool_id, "name": "to delete"})
        before = self.tool_count()
        resp = self.call("DELETE", self.tool_path(tool_id), key=self.admin)
        self.assertEqual(resp.status, 204, repr(resp))
        self.assertEqual(resp.raw, "", repr(resp))
        self.assertEqual(self.tool_count(), before - 1)
        self.assertNotIn(tool_id, [t["id"] for t in self.list_tools()])
        for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
            with self.subTest(method=method):
                resp = self.call(method, self.tool_path(tool_id), body=body, key=self.admin)
                self.assert_error(resp, 404, "not_found")
        again = self.create_tool({"id": tool_id, "name": "reborn"})
        self.assertEqual(self.get_tool(tool_id).body["name"], "reborn")
        self.assertEqual(again["description"], "")

    def test_unknown_tools(self):
        for tool_id in ("tol_never_" + secrets.token_hex(4), "not-a-tool", "tol_" + "x" * 5000,
                        "é🤖", "a\x00b", "..", "' OR 1=1 --", "TOL_X"):
            for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
                with self.subTest(tool_id=tool_id[:40], method=method):
                    resp = self.call(method, self.tool_path(tool_id), body=body,
                                     key=self.admin)
                    self.assert_error(resp, 404, "not_found")
        for path in ("/v1/tools/%ZZ", "/v1/tools/%", "/v1/tools/a%00b"):
            with self.subTest(path=path):
                resp = self.call("GET", path, key=self.admin)
                self.assertIn(resp.status, (400, 404), repr(resp))

    def test_wrong_methods(self):
        tool = self.create_tool()
        for method, path in (("PUT", "/v1/tools"), ("DELETE", "/v1/tools"),
                             ("PATCH", "/v1/tools"), ("PUT", self.tool_path(tool["id"])),
                             ("POST", self.tool_path(tool["id"]))):
            with self.subTest(method=method, path=path):
                resp = self.call(method, path, key=self.admin,
                                 body={} if method in ("PUT", "POST", "PATCH") else None)
                self.assert_error(resp, 405, "method_not_allowed")
                self.assertTrue(resp.headers.get("allow"), repr(resp))
        self.get_tool(tool["id"])

    # ----------------------------------------------------------------- tenancy

    def test_other_organization_is_404(self):
        org = self.create_org()
        theirs = org["admin_key"]
        tool = self.create_tool({"id": "tol_theirs_" + secrets.token_hex(4), "name": "Theirs",
                                 "description": "secret sauce"}, key=theirs)
        tag = self.etag(tool["id"], key=theirs)
        mine = self.create_key(["*"])["key"]
        for caller in (self.admin, mine):
            for method, body, headers in (("GET", None, None),
                                          ("GET", None, {"If-None-Match": tag}),
                                          ("PATCH", {"name": "mine now"}, None),
                                          ("PATCH", {"name": "mine now"}, {"If-Match": tag}),
                                          ("DELETE", None, None),
                                          ("DELETE", None, {"If-Match": tag})):
                with self.subTest(caller=caller[:12], method=method, headers=headers):
                    resp = self.call(method, self.tool_path(tool["id"]), body=body,
                                     key=caller, headers=headers)
                    self.assert_error(resp, 404, "not_found")
                    self.assertNotIn("secret sauce", resp.raw)
            self.assertNotIn(tool["id"], [t["id"] for t in self.list_tools(key=caller)])
        self.assertEqual(self.etag(tool["id"], key=theirs), tag)
        self.assertEqual([t["id"] for t in self.list_tools(key=theirs)], [tool["id"]])

    # ------------------------------------------------------------------ scopes

    def test_scopes(self):
        tool = self.create_tool({"name": unique("Scoped")})
        tid = tool["id"]
        tag = self.etag(tid)
        reader = self.create_key(["tools:read"])["key"]
        writer = self.create_key(["tools:write"])["key"]
        agents = self.create_key(["agents:read", "agents:write", "agents:publish"])["key"]
        api = self.create_key(["AGENT_API"])["key"]
        before = self.tool_count()
        refusals = []
        for k in (reader,):
            refusals += [(k, "POST", "/v1/tools", {"name": "nope"}),
                         (k, "PATCH", self.tool_path(tid), {"name": "nope"}),
                         (k, "DELETE", self.tool_path(tid), None)]
        for k in (agents, api):
            refusals += [(k, "GET", "/v1/tools", None),
                         (k, "GET", self.tool_path(tid), None),
                         (k, "POST", "/v1/tools", {"name": "nope"}),
                         (k, "PATCH", self.tool_path(tid), {"name": "nope"}),
                         (k, "DELETE", self.tool_path(tid), None)]
        for k, method, path, body in refusals:
            with self.subTest(key=k[:12], method=method, path=path):
                resp = self.call(method, path, body=body, key=k)
                self.assert_error(resp, 403, "forbidden")
        for k in (None, "agk_" + "x" * 36):
            for method, path, body in (("GET", "/v1/tools", None),
                                       ("GET", self.tool_path(tid), None),
                                       ("POST", "/v1/tools", {"name": "nope"}),
                                       ("PATCH", self.tool_path(tid), {"name": "nope"}),
                                       ("DELETE", self.tool_path(tid), None)):
                with self.subTest(anonymous=f"{method} {path}", key=k):
                    resp = self.call(method, path, body=body, key=k)
                    self.assert_error(resp, 401, "unauthorized")
        self.assertEqual(self.tool_count(), before)
        self.assertEqual(self.etag(tid), tag)

        # What each scope allows.
        self.get_tool(tid, key=reader)
        self.list_tools(key=reader)
        made = self.create_tool({"name": "by writer"}, key=writer)
        self.patch_tool(made["id"], {"description": "w"}, key=writer)
        self.patch_tool(tid, {"description": "by writer"}, key=writer)
        self.call("DELETE", self.tool_path(made["id"]), key=writer, expect=204)
        self.assertEqual(self.get_tool(tid, key=reader).body["description"], "by writer")
        # x-api-key works as well as Authorization.
        resp = self.call("GET", self.tool_path(tid), headers={"x-api-key": reader},
                         expect=200)
        self.assertEqual(resp.body["id"], tid)

    def test_zz_logs_hold_no_keys(self):
        logs = self.server.logs()
        self.assertTrue(logs)
        for secret in self.secrets:
            self.assertNotIn(secret, logs, "a key value appears in the logs")


class ToolsRestartTest(ToolsTestCase):
    """Tools survive a restart, ETags included."""

    def test_restart_keeps_tools_and_etags(self):
        kept = self.create_tool({"id": "tol_kept", "name": "kept",
                                 "parameters": search_schema(), "enabled": False})
        self.patch_tool(kept["id"], {"description": "patched"})
        gone = self.create_tool({"id": "tol_gone", "name": "gone"})
        self.call("DELETE", self.tool_path(gone["id"]), key=self.admin, expect=204)
        before = self.get_tool("tol_kept")
        listing = self.list_tools()

        self.server.restart()

        after = self.get_tool("tol_kept")
        self.assert_json_equal(after.body, before.body)
        self.assertEqual(after.headers.get("etag"), before.headers.get("etag"))
        resp = self.call("GET", self.tool_path("tol_kept"), key=self.admin,
                         headers={"If-None-Match": before.headers.get("etag")})
        self.assertEqual(resp.status, 304, repr(resp))
        self.assert_json_equal(self.list_tools(), listing)
        self.get_tool("tol_gone", expect=404)
        resp = self.create_tool({"id": "tol_kept", "name": "dup"}, expect=409)
        self.assert_error(resp, 409, "conflict", field="id")
        self.create_tool({"id": "tol_gone", "name": "again"})


if __name__ == "__main__":
    harness.run_tests()
