"""Black-box tests of Agentry's agents API (DESIGN §5 "Agents"): create,
read, merge-patch, delete, publish, versions, activate, diff, list (paging,
filters), validation, ETags and preconditions, grants, scopes and tenancy.

Run: python3 tests/integration/test_agents.py --binary build/agentry
"""

import copy
import datetime
import json
import re
import secrets
import threading
import time
import urllib.parse
import unittest

import agentry_harness as harness
from test_foundation import (AgentryTestCase, TIMESTAMP_RE, UUID_RE, parse_rfc3339_ms,
                             rfc3339_ms, unique, uuid7)

AGENT_KEY_RE = re.compile(r"^agt_[0-9a-zA-Z_-]+$")

CONFIG_FIELDS = (
    "name", "description", "instructions", "emoji_icon", "model", "capabilities",
    "conversation_starters", "input_type", "input_fields", "actions", "attachments",
    "knowledge_folder_ids", "tools", "first_step", "metadata", "enabled")
VIEW_FIELDS = CONFIG_FIELDS + (
    "id", "key", "status", "version", "has_unpublished_changes", "created_at",
    "updated_at", "published_at")
CAPABILITIES = ("web_search", "image_generation", "code_interpreter", "canvas",
                "extended_thinking", "data_analyst")
INPUT_FIELD_MEMBERS = {"slug", "type", "label", "description", "required", "order",
                       "options", "file_types"}

DEFAULT_CONFIG = {
    "description": "",
    "instructions": "",
    "emoji_icon": "",
    "model": {"name": "default", "parameters": {}},
    "capabilities": {c: False for c in CAPABILITIES},
    "conversation_starters": [],
    "input_type": "PROMPT",
    "input_fields": [],
    "actions": [],
    "attachments": [],
    "knowledge_folder_ids": [],
    "tools": {"mode": "native", "available": []},
    "first_step": {"type": "conversational", "instructions": [],
                   "output_parser": {"type": "default"}},
    "metadata": {},
    "enabled": True,
}


def full_config(name="Customer Support Agent"):
    """A canonical configuration with every member given (publishable: no
    tool or instruction references)."""
    return {
        "name": name,
        "description": "Answers customer questions",
        "instructions": "Be kind and brief.",
        "emoji_icon": "🤖",
        "model": {"name": "gpt-4",
                  "parameters": {"temperature": 0.1, "max_tokens": 1500, "top_p": 0.9}},
        "capabilities": {"web_search": True, "image_generation": False,
                         "code_interpreter": False, "canvas": True,
                         "extended_thinking": False, "data_analyst": False},
        "conversation_starters": ["Where is my order?", "I need a refund"],
        "input_type": "STRUCTURED",
        "input_fields": [
            {"slug": "topic", "type": "text", "label": "Topic", "description": "",
             "required": True, "order": 0, "options": [], "file_types": None},
            {"slug": "doc", "type": "file", "label": "Document",
             "description": "A receipt", "required": False, "order": 1, "options": [],
             "file_types": ["pdf", "png"]},
            {"slug": "tier", "type": "select", "label": "Tier", "description": "",
             "required": False, "order": 5, "options": ["gold", "silver"],
             "file_types": None},
        ],
        "actions": [{"action_id": "refund", "requires_confirmation": True},
                    {"action_id": "lookup", "requires_confirmation": False}],
        "attachments": ["att_terms"],
        "knowledge_folder_ids": ["kf_faq", "kf_policies"],
        "tools": {"mode": "native", "available": []},
        "first_step": {
            "type": "conversational",
            "instructions": [{"type": "inline", "name": "Session Context",
                              "template_type": "velocity",
                              "template": "Priority: ${session.priority}."}],
            "output_parser": {"type": "default"}},
        "metadata": {"department": "customer_service", "tier": 3, "beta": True,
                     "a/b": "slash", "c~d": "tilde"},
        "enabled": True,
    }


def config_of(view):
    return {k: copy.deepcopy(view[k]) for k in CONFIG_FIELDS if k in view}


def tagged(value):
    """A comparable form of a JSON value in which booleans and numbers differ
    (Python says True == 1)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("num", value)
    if isinstance(value, list):
        return [tagged(v) for v in value]
    if isinstance(value, dict):
        return {k: tagged(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- RFC 6902

class PatchError(Exception):
    pass


def _pointer(path):
    if path == "":
        return []
    if not isinstance(path, str) or not path.startswith("/"):
        raise PatchError(f"bad JSON pointer {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _index(container, token, allow_end=False, insert=False):
    if allow_end and token == "-":
        return len(container)
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        raise PatchError(f"bad array index {token!r}")
    idx = int(token)
    limit = len(container) if insert else len(container) - 1
    if idx > limit:
        raise PatchError(f"array index {idx} out of range ({len(container)})")
    return idx


def _get(doc, tokens):
    cur = doc
    for t in tokens:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError(f"no member {t!r}")
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t)]
        else:
            raise PatchError(f"cannot descend into {cur!r}")
    return cur


def _add(doc, tokens, value):
    if not tokens:
        return value
    parent = _get(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True, insert=True), value)
    else:
        raise PatchError("add into a scalar")
    return doc


def _remove(doc, tokens):
    if not tokens:
        raise PatchError("remove the root")
    parent = _get(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"remove missing member {last!r}")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last))
    raise PatchError("remove from a scalar")


def apply_json_patch(doc, ops):
    """Applies an RFC 6902 patch strictly (a replace or remove of a missing
    location fails) to a copy of `doc`."""
    if not isinstance(ops, list):
        raise PatchError(f"a JSON Patch is an array, not {type(ops).__name__}")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise PatchError(f"bad operation {op!r}")
        kind, tokens = op["op"], _pointer(op.get("path"))
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"{kind} without value: {op!r}")
        if kind == "add":
            doc = _add(doc, tokens, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, tokens)
        elif kind == "replace":
            if tokens:
                _get(doc, tokens)  # must exist
                _remove(doc, tokens)
            doc = _add(doc, tokens, copy.deepcopy(op["value"]))
        elif kind == "move":
            src = _pointer(op.get("from"))
            value = _remove(doc, src)
            doc = _add(doc, tokens, value)
        elif kind == "copy":
            value = copy.deepcopy(_get(doc, _pointer(op.get("from"))))
            doc = _add(doc, tokens, value)
        elif kind == "test":
            if tagged(_get(doc, tokens)) != tagged(op["value"]):
                raise PatchError(f"test failed: {op!r}")
        else:
            raise PatchError(f"unknown op {kind!r}")
    return doc


class JsonPatchApplierTest(unittest.TestCase):
    """The test's own RFC 6902 applier (RFC 6902 appendix A examples)."""

    def test_examples(self):
        self.assertEqual(apply_json_patch({"foo": "bar"},
                                          [{"op": "add", "path": "/baz", "value": "qux"}]),
                         {"foo": "bar", "baz": "qux"})
        self.assertEqual(apply_json_patch({"foo": ["bar", "baz"]},
                                          [{"op": "add", "path": "/foo/1", "value": "qux"}]),
                         {"foo": ["bar", "qux", "baz"]})
        self.assertEqual(apply_json_patch({"foo": [1, 2]},
                                          [{"op": "add", "path": "/foo/-", "value": 3}]),
                         {"foo": [1, 2, 3]})
        self.assertEqual(apply_json_patch({"baz": "qux", "foo": "bar"},
                                          [{"op": "remove", "path": "/baz"}]),
                         {"foo": "bar"})
        self.assertEqual(apply_json_patch({"foo": ["bar", "qux", "baz"]},
                                          [{"op": "remove", "path": "/foo/1"}]),
                         {"foo": ["bar", "baz"]})
        self.assertEqual(apply_json_patch({"a/b": 1, "c~d": 2},
                                          [{"op": "replace", "path": "/a~1b", "value": 3},
                                           {"op": "remove", "path": "/c~0d"}]),
                         {"a/b": 3})
        with self.assertRaises(PatchError):
            apply_json_patch({"a": 1}, [{"op": "replace", "path": "/b", "value": 1}])
        with self.assertRaises(PatchError):
            apply_json_patch({"a": [1]}, [{"op": "remove", "path": "/a/1"}])


# ------------------------------------------------------------------- tests

class AgentsTestCase(AgentryTestCase):
    """Helpers for the agents API."""

    # --------------------------------------------------------------- requests

    def create_agent(self, body=None, key=None, expect=201, **members):
        payload = dict(body if body is not None else {"name": unique("agent")})
        payload.update(members)
        resp = self.call("POST", "/v1/agents", body=payload, key=key or self.admin)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"POST /v1/agents {payload} -> {resp!r}")
        if expect == 201:
            self.check_view(resp.body, status="draft", version=None)
            return resp.body
        return resp

    def agent_path(self, ref, suffix=""):
        return f"/v1/agents/{urllib.parse.quote(ref, safe='')}{suffix}"

    def get_agent(self, ref, key=None, expect=200, query=""):
        resp = self.call("GET", self.agent_path(ref) + query, key=key or self.admin)
        if expect is not None:
            self.assertEqual(resp.status, expect, repr(resp))
        return resp

    def patch_agent(self, ref, patch, key=None, expect=200, headers=None):
        resp = self.call("PATCH", self.agent_path(ref), body=patch, key=key or self.admin,
                         headers=headers)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"PATCH {ref} {patch} -> {resp!r}")
        if expect == 200:
            self.check_view(resp.body, status="draft", version=None)
            self.assertIs(resp.body["has_unpublished_changes"], True, repr(resp))
        return resp

    def publish(self, ref, note=None, key=None, expect=201, headers=None, body=None):
        if body is None and note is not None:
            body = {"note": note}
        resp = self.call("POST", self.agent_path(ref, "/publish"), body=body,
                         key=key or self.admin, headers=headers)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"publish {ref} -> {resp!r}")
        if expect == 201:
            self.check_view(resp.body, status="published")
            self.assertIs(resp.body["has_unpublished_changes"], False, repr(resp))
            self.assertIsNotNone(resp.body["published_at"], repr(resp))
        return resp

    def activate(self, ref, n, key=None, expect=200, headers=None):
        resp = self.call("POST", self.agent_path(ref, f"/versions/{n}/activate"),
                         key=key or self.admin, headers=headers)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"activate {ref} {n} -> {resp!r}")
        if expect == 200:
            self.check_view(resp.body, status="published", version=n)
        return resp

    def diff(self, ref, a, b, key=None, expect=200):
        resp = self.call("GET", self.agent_path(ref, f"/diff?from={a}&to={b}"),
                         key=key or self.admin)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"diff {a}..{b} -> {resp!r}")
        if expect == 200:
            self.assertIsInstance(resp.body, list, f"diff is not a JSON array: {resp!r}")
        return resp

    def list_agents(self, key=None, limit=200, **params):
        """Every agent the key lists, following next_cursor."""
        return self.list_pages("/v1/agents", key=key, limit=limit, params=params)

    def agent_count(self, key=None):
        return len(self.list_agents(key=key))

    def versions(self, ref, key=None, expect=200, query=""):
        resp = self.call("GET", self.agent_path(ref, "/versions") + query,
                         key=key or self.admin)
        if expect is not None:
            self.assertEqual(resp.status, expect, repr(resp))
        return resp

    def etag(self, ref, key=None, query=""):
        resp = self.get_agent(ref, key=key, query=query)
        tag = resp.headers.get("etag")
        self.assertTrue(tag, f"no ETag: {resp!r}")
        return tag

    # ------------------------------------------------------------- assertions

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

    def check_view(self, view, status=None, version="any"):
        self.assertIsInstance(view, dict, repr(view))
        self.assertEqual(set(view), set(VIEW_FIELDS),
                         f"members differ: extra {set(view) - set(VIEW_FIELDS)}, "
                         f"missing {set(VIEW_FIELDS) - set(view)}")
        self.assertRegex(view["id"], UUID_RE)
        self.assertEqual(view["id"][14], "7", f"id is not a UUIDv7: {view['id']}")
        self.assertRegex(view["key"], AGENT_KEY_RE)
        self.assertLessEqual(len(view["key"]), 64)
        self.assertIn(view["status"], ("draft", "published"))
        if status is not None:
            self.assertEqual(view["status"], status, view)
        if view["status"] == "draft":
            self.assertIsNone(view["version"], view)
        else:
            self.assertIsInstance(view["version"], int, view)
            self.assertNotIsInstance(view["version"], bool, view)
            self.assertGreaterEqual(view["version"], 1, view)
            self.assertIsInstance(view["published_at"], str, view)
        if version != "any":
            self.assertEqual(view["version"], version, view)
        self.assertIsInstance(view["has_unpublished_changes"], bool, view)
        for ts in ("created_at", "updated_at"):
            self.assertRegex(view[ts], TIMESTAMP_RE)
        self.assertLessEqual(parse_rfc3339_ms(view["created_at"]),
                             parse_rfc3339_ms(view["updated_at"]), view)
        if view["published_at"] is not None:
            self.assertRegex(view["published_at"], TIMESTAMP_RE)
        # Configuration shape.
        self.assertIsInstance(view["name"], str)
        self.assertTrue(view["name"])
        for member in ("description", "instructions", "emoji_icon"):
            self.assertIsInstance(view[member], str, member)
        self.assertEqual(set(view["model"]), {"name", "parameters"}, view["model"])
        params = view["model"]["parameters"]
        self.assertTrue(set(params) <= {"temperature", "max_tokens", "top_p"}, params)
        if "max_tokens" in params:
            self.assertIs(type(params["max_tokens"]), int, params)
        self.assertEqual(set(view["capabilities"]), set(CAPABILITIES), view["capabilities"])
        for c in CAPABILITIES:
            self.assertIsInstance(view["capabilities"][c], bool, view["capabilities"])
        self.assertIn(view["input_type"], ("PROMPT", "STRUCTURED"))
        for i, f in enumerate(view["input_fields"]):
            self.assertEqual(set(f), INPUT_FIELD_MEMBERS, f"input_fields[{i}]: {f}")
            self.assertIs(type(f["order"]), int, f)
            self.assertIsInstance(f["required"], bool, f)
        for a in view["actions"]:
            self.assertEqual(set(a), {"action_id", "requires_confirmation"}, a)
        self.assertEqual(view["tools"].get("mode"), "native", view["tools"])
        self.assertEqual(set(view["tools"]), {"mode", "available"}, view["tools"])
        self.assertEqual(view["first_step"].get("type"), "conversational")
        self.assertEqual(set(view["first_step"]), {"type", "instructions", "output_parser"})
        self.assertIsInstance(view["metadata"], dict)
        self.assertIsInstance(view["enabled"], bool)


class AgentsTest(AgentsTestCase):

    # ------------------------------------------------------------------ create

    def test_create_minimal_fills_defaults(self):
        name = unique("Minimal")
        before = time.time()
        agent = self.create_agent({"name": name})
        expected = dict(DEFAULT_CONFIG, name=name)
        self.assert_json_equal(config_of(agent), expected)
        self.assertRegex(agent["key"], r"^agt_")
        self.assertEqual(agent["status"], "draft")
        self.assertIsNone(agent["version"])
        self.assertIsNone(agent["published_at"])
        created = parse_rfc3339_ms(agent["created_at"]).timestamp()
        self.assertLess(abs(created - before), 60)
        # GET by id and by key answers the same draft.
        by_id = self.get_agent(agent["id"]).body
        by_key = self.get_agent(agent["key"]).body
        self.assert_json_equal(by_id, agent)
        self.assert_json_equal(by_key, agent)
        # Generated keys differ.
        other = self.create_agent({"name": name})
        self.assertNotEqual(other["key"], agent["key"])
        self.assertNotEqual(other["id"], agent["id"])

    def test_create_full_config_round_trips(self):
        cfg = full_config(unique("Full"))
        key = "agt_" + secrets.token_hex(6) + "_Customer-Support"
        agent = self.create_agent(dict(cfg, key=key))
        self.assertEqual(agent["key"], key)
        self.assert_json_equal(config_of(agent), cfg)
        self.assert_json_equal(self.get_agent(key).body, agent)
        self.assert_json_equal(self.get_agent(agent["id"], query="?version=draft").body,
                               agent)

    def test_create_with_references_round_trips(self):
        cfg = dict(full_config(unique("Refs")))
        cfg["tools"] = {"mode": "native", "available": [
            {"id": "tol_knowledge_search", "argument_bindings": {"max_results": 10}},
            {"id": "tol_plain"}]}
        cfg["first_step"] = {"type": "conversational", "instructions": [
            {"type": "reference", "id": "ins_support_init", "version": 2},
            {"type": "reference", "id": "ins_latest"},
            {"type": "inline", "name": "Plain", "template_type": "plain", "template": "Hi"}],
            "output_parser": {"type": "default"}}
        agent = self.create_agent(cfg)
        self.assert_json_equal(config_of(agent), cfg)

    def test_values_round_trip_exactly(self):
        metadata = {"big": 9007199254740993, "neg": -5, "tenth": 0.1, "tiny": 1e-7,
                    "large": 1.5e300, "zero": 0, "t": True, "f": False, "empty": "",
                    "é/ü~": "ß", "quote": 'a"b\\c \u2028 </script>'}
        # Control characters other than newline and tab are the server's to
        # refuse; multi-line instructions must be kept as written.
        text = 'line1\nline2\t"quoted" \\ back \U0001F916 </script> \u2028'
        agent = self.create_agent({"name": "exact", "metadata": metadata,
                                   "instructions": text,
                                   "tools": {"available": [{"id": "tol_x",
                                                            "argument_bindings": {
                                                                "n": 12345678901234567,
                                                                "nested": {"a": [1, None,
                                                                                 {"b": "c"}]}}}]}})
        for got in (agent, self.get_agent(agent["id"]).body):
            self.assert_json_equal(got["metadata"], metadata)
            self.assertIs(type(got["metadata"]["big"]), int)
            self.assertEqual(got["instructions"], text)
            self.assert_json_equal(got["tools"]["available"][0]["argument_bindings"],
                                   {"n": 12345678901234567,
                                    "nested": {"a": [1, None, {"b": "c"}]}})
        resp = self.post_raw("/v1/agents", '{"name":"\\u00e9t\\u00e9 \\ud83e\\udd16"}',
                             key=self.admin)
        self.assertEqual(resp.status, 201, repr(resp))
        self.assertEqual(resp.body["name"], "été 🤖")

    def test_input_field_defaults(self):
        agent = self.create_agent({
            "name": unique("fields"), "input_type": "STRUCTURED",
            "input_fields": [{"slug": "a", "type": "text"},
                             {"slug": "b", "type": "text", "order": 7},
                             {"slug": "c", "type": "file"}]})
        fields = agent["input_fields"]
        self.assertEqual([f["slug"] for f in fields], ["a", "b", "c"])
        self.assertEqual([f["order"] for f in fields], [0, 7, 2])
        for f in fields:
            self.assertIsNone(f["file_types"], f)
            self.assertEqual(f["options"], [], f)
            self.assertEqual(f["label"], "", f)
            self.assertEqual(f["description"], "", f)
            self.assertIs(f["required"], False, f)

    def test_partial_objects_get_defaults(self):
        agent = self.create_agent({"name": unique("partial"),
                                   "capabilities": {"canvas": True},
                                   "model": {"name": "m1", "parameters": {"top_p": 1}},
                                   "actions": [{"action_id": "go"}],
                                   "first_step": {"instructions": [
                                       {"type": "inline", "name": "n", "template": "t"}]}})
        caps = {c: False for c in CAPABILITIES}
        caps["canvas"] = True
        self.assert_json_equal(agent["capabilities"], caps)
        self.assert_json_equal(agent["model"], {"name": "m1", "parameters": {"top_p": 1}})
        self.assertEqual(set(agent["actions"][0]), {"action_id", "requires_confirmation"})
        self.assertIsInstance(agent["actions"][0]["requires_confirmation"], bool)
        self.assertEqual(agent["first_step"]["type"], "conversational")
        self.assertEqual(agent["first_step"]["output_parser"], {"type": "default"})
        self.assertIn(agent["first_step"]["instructions"][0]["template_type"],
                      ("velocity", "plain"))

    def test_limits_at_the_boundary_are_accepted(self):
        self.create_agent({"name": secrets.token_hex(4) + "n" * 56,
                           "description": "d" * 256,
                           "instructions": "i" * 16384,
                           "metadata": {f"k{i}": i for i in range(64)},
                           "model": {"name": "m", "parameters": {
                               "temperature": 0, "top_p": 1, "max_tokens": 1}}})
        self.create_agent({"name": "n", "model": {"name": "m", "parameters": {
            "temperature": 1, "top_p": 0}}})
        # Lengths count characters, not bytes.
        agent = self.create_agent({"name": "é" * 64, "description": "🤖" * 256})
        self.assertEqual(agent["name"], "é" * 64)
        self.assertEqual(agent["description"], "🤖" * 256)
        key = "agt_" + secrets.token_hex(30)  # 64 characters
        self.assertEqual(len(key), 64)
        self.assertEqual(self.create_agent({"name": "k", "key": key})["key"], key)

    # -------------------------------------------------------------- validation

    def test_create_validation(self):
        long_key = "agt_" + "k" * 61
        dup_slug = [{"slug": "a", "type": "text"}, {"slug": "b", "type": "text"},
                    {"slug": "a", "type": "text"}]
        cases = [
            ({}, "name"),
            ({"description": "no name"}, "name"),
            ({"name": "n" * 65}, "name"),
            ({"name": "é" * 65}, "name"),
            ({"name": 5}, "name"),
            ({"name": None}, "name"),
            ({"name": ""}, "name"),
            ({"name": "x", "description": "d" * 257}, "description"),
            ({"name": "x", "instructions": "i" * 16385}, "instructions"),
            ({"name": "x", "model": {"name": "m", "parameters": {"temperature": 1.5}}},
             "model.parameters.temperature"),
            ({"name": "x", "model": {"name": "m", "parameters": {"temperature": -0.1}}},
             "model.parameters.temperature"),
            ({"name": "x", "model": {"name": "m", "parameters": {"temperature": "hot"}}},
             "model.parameters.temperature"),
            ({"name": "x", "model": {"name": "m", "parameters": {"top_p": 1.01}}},
             "model.parameters.top_p"),
            ({"name": "x", "model": {"name": "m", "parameters": {"max_tokens": 0}}},
             "model.parameters.max_tokens"),
            ({"name": "x", "model": {"name": "m", "parameters": {"max_tokens": -5}}},
             "model.parameters.max_tokens"),
            ({"name": "x", "model": {"name": "m", "parameters": {"max_tokens": 1.5}}},
             "model.parameters.max_tokens"),
            ({"name": "x", "model": {"name": "m",
                                     "parameters": {"frequency_penalty": 0.1}}},
             "model.parameters.frequency_penalty"),
            ({"name": "x", "input_type": "STRUCTURED", "input_fields": dup_slug},
             "input_fields[2].slug"),
            ({"name": "x", "input_fields": [{"slug": "a", "type": "text", "colour": 1}]},
             "input_fields[0].colour"),
            ({"name": "x", "colour": "red"}, "colour"),
            ({"name": "x", "model": {"name": "m", "colour": 1}}, "model.colour"),
            ({"name": "x", "tools": {"mode": "native", "available": [], "x": 1}}, "tools.x"),
            ({"name": "x", "actions": [{"action_id": "a", "x": 1}]}, "actions[0].x"),
            ({"name": "x", "first_step": {"output_parser": {"type": "default", "x": 1}}},
             "first_step.output_parser.x"),
            ({"name": "x", "first_step": {"instructions": [
                {"type": "inline", "name": "n", "template": "t", "x": 1}]}},
             "first_step.instructions[0].x"),
            ({"name": "x", "first_step": {"colour": 1}}, "first_step.colour"),
            ({"name": "x", "capabilities": {"teleport": True}}, "capabilities.teleport"),
            ({"name": "x", "capabilities": {"web_search": "yes"}},
             "capabilities.web_search"),
            ({"name": "x", "tools": {"mode": "native", "available": [{"id": "tol_a",
                                                                      "x": 1}]}},
             "tools.available[0].x"),
            ({"name": "x", "tools": {"mode": "native", "available": [{"id": "knife"}]}},
             "tools.available[0].id"),
            ({"name": "x", "tools": {"mode": "remote", "available": []}}, "tools.mode"),
            ({"name": "x", "first_step": {"type": "conversational", "instructions": [
                {"type": "inline", "name": "n", "template_type": "jinja",
                 "template": "t"}]}}, "first_step.instructions[0].template_type"),
            ({"name": "x", "first_step": {"type": "conversational", "instructions": [
                {"type": "reference", "id": "nope"}]}}, "first_step.instructions[0].id"),
            ({"name": "x", "first_step": {"output_parser": {"type": "json"}}},
             "first_step.output_parser.type"),
            ({"name": "x", "actions": [{"action_id": "a", "requires_confirmation": "y"}]},
             "actions[0].requires_confirmation"),
            ({"name": "x", "enabled": "true"}, "enabled"),
            ({"name": "x", "enabled": 1}, "enabled"),
            ({"name": "x", "capabilities": {"canvas": 0}}, "capabilities.canvas"),
            ({"name": "x", "input_fields": [{"slug": "a", "type": "t", "order": -1}]},
             "input_fields[0].order"),
            ({"name": "x", "input_fields": [{"slug": "a", "type": "t",
                                             "file_types": "pdf"}]},
             "input_fields[0].file_types"),
            ({"name": "x", "metadata": {"a": None}}, "metadata.a"),
            ({"name": "x", "first_step": {"instructions": [
                {"type": "reference", "id": "ins_a", "version": 0}]}},
             "first_step.instructions[0].version"),
            ({"name": "x", "input_type": "X"}, "input_type"),
            ({"name": "x", "input_type": "prompt"}, "input_type"),
            ({"name": "x", "metadata": {"a": {"b": 1}}}, "metadata.a"),
            ({"name": "x", "metadata": {"ok": 1, "a": [1]}}, "metadata.a"),
            ({"name": "x", "metadata": {f"k{i}": i for i in range(65)}}, "metadata"),
            ({"name": "x", "conversation_starters": "hello"}, "conversation_starters"),
            ({"name": "x", "key": "bad key"}, "key"),
            ({"name": "x", "key": "agt_"}, "key"),
            ({"name": "x", "key": "agk_abcdef"}, "key"),
            ({"name": "x", "key": "agt_a/b"}, "key"),
            ({"name": "x", "key": long_key}, "key"),
            ({"name": "x", "key": 42}, "key"),
            ({"name": "x", "status": "published"}, "status"),
            ({"name": "x", "version": 3}, "version"),
            ({"name": "x", "id": uuid7()}, "id"),
            ({"name": "x", "created_at": "2024-01-01T00:00:00.000Z"}, "created_at"),
            ({"name": "x", "updated_at": "2024-01-01T00:00:00.000Z"}, "updated_at"),
            ({"name": "x", "published_at": None}, "published_at"),
            ({"name": "x", "has_unpublished_changes": False}, "has_unpublished_changes"),
        ]
        before = self.agent_count()
        for body, field in cases:
            with self.subTest(field=field, body=json.dumps(body)[:120]):
                resp = self.call("POST", "/v1/agents", body=body, key=self.admin)
                self.assert_error(resp, 400, "invalid_request", field=field)
                self.assertIn(field.split(".")[0].split("[")[0],
                              resp.body["error"]["message"], repr(resp))
        self.assertEqual(self.agent_count(), before)

    def test_create_malformed_bodies(self):
        before = self.agent_count()
        raw_cases = [
            ('{"name":"a","name":"b"}', "application/json", 400),
            ('{"name":"a"', "application/json", 400),
            ('["name"]', "application/json", 400),
            ('{"name":"a","model":{"name":"m","parameters":{"temperature":NaN}}}',
             "application/json", 400),
            ('{"name":"a","metadata":{"x":1,"x":2}}', "application/json", 400),
            ('{"name":"a","model":{"name":"m","parameters":{"temperature":1e999}}}',
             "application/json", 400),
            ('{"name":"\\ud800"}', "application/json", 400),
            ('{"name":"a","tools":{"available":[{"id":"tol_a","argument_bindings":'
             + '{"x":' * 100 + "1" + "}" * 100 + "}]}}", "application/json", 400),
            ("", "application/json", 400),
            ("null", "application/json", 400),
            ('{"name":"a"}', "text/plain", 415),
            ('{"name":"a"}', None, 415),
        ]
        for raw, ctype, status in raw_cases:
            with self.subTest(raw=raw, content_type=ctype):
                resp = self.post_raw("/v1/agents", raw, content_type=ctype, key=self.admin)
                code = "invalid_request" if status == 400 else "unsupported_media_type"
                self.assert_error(resp, status, code)
        resp = self.call("POST", "/v1/agents", key=self.admin,
                         body=b'{"name":"\xff\xfe"}', headers={"Content-Type":
                                                               "application/json"})
        self.assert_error(resp, 400, "invalid_request")
        self.assertEqual(self.agent_count(), before)
        resp = self.post_raw("/v1/agents", '{"name":"charset"}',
                             content_type="application/json; charset=utf-8", key=self.admin)
        self.assertEqual(resp.status, 201, repr(resp))

    def test_wrong_methods(self):
        agent = self.create_agent()
        for method, path in (("PUT", "/v1/agents"), ("DELETE", "/v1/agents"),
                             ("PUT", self.agent_path(agent["id"])),
                             ("POST", self.agent_path(agent["id"])),
                             ("GET", self.agent_path(agent["id"], "/publish")),
                             ("DELETE", self.agent_path(agent["id"], "/versions")),
                             ("GET", self.agent_path(agent["id"], "/versions/1/activate"))):
            with self.subTest(method=method, path=path):
                resp = self.call(method, path, key=self.admin,
                                 body={} if method in ("PUT", "POST") else None)
                self.assert_error(resp, 405, "method_not_allowed")
                self.assertTrue(resp.headers.get("allow"), repr(resp))
        self.get_agent(agent["id"])

    def test_duplicate_key(self):
        key = "agt_dup_" + secrets.token_hex(4)
        first = self.create_agent({"name": "one", "key": key})
        before = self.agent_count()
        resp = self.create_agent({"name": "two", "key": key}, expect=409)
        self.assert_error(resp, 409, "conflict", field="key")
        self.assertEqual(self.agent_count(), before)
        self.assertEqual(self.get_agent(key).body["id"], first["id"])
        self.assertEqual(self.get_agent(key).body["name"], "one")
        # The same key in another organization is fine, and each organization
        # resolves it to its own agent.
        org = self.create_org()
        other = self.create_agent({"name": "other", "key": key}, key=org["admin_key"])
        self.assertNotEqual(other["id"], first["id"])
        self.assertEqual(self.get_agent(key, key=org["admin_key"]).body["id"], other["id"])
        self.assertEqual(self.get_agent(key).body["id"], first["id"])
        # Deleting one organization's agent leaves the other's alone.
        self.call("DELETE", self.agent_path(key), key=org["admin_key"], expect=204)
        self.assertEqual(self.get_agent(key).body["id"], first["id"])
        self.get_agent(key, key=org["admin_key"], expect=404)
        self.patch_agent(key, {"description": "still here"})
        again = self.create_agent({"name": "other again", "key": key}, key=org["admin_key"])
        self.assertEqual(self.get_agent(key, key=org["admin_key"]).body["id"], again["id"])
        self.assertEqual(self.get_agent(key).body["description"], "still here")

    # ------------------------------------------------------------------- patch

    def test_merge_patch_semantics(self):
        cfg = full_config(unique("Patchy"))
        agent = self.create_agent(cfg)
        ref = agent["id"]

        # A nested merge changes only what it names.
        resp = self.patch_agent(ref, {"capabilities": {"data_analyst": True},
                                      "model": {"parameters": {"temperature": 0.7}},
                                      "metadata": {"tier": None, "new": "x"}})
        expected = copy.deepcopy(cfg)
        expected["capabilities"]["data_analyst"] = True
        expected["model"]["parameters"]["temperature"] = 0.7
        del expected["metadata"]["tier"]
        expected["metadata"]["new"] = "x"
        self.assert_json_equal(config_of(resp.body), expected)
        self.assertEqual(resp.body["id"], agent["id"])
        self.assertEqual(resp.body["key"], agent["key"])
        self.assertEqual(resp.body["created_at"], agent["created_at"])
        self.assertGreaterEqual(parse_rfc3339_ms(resp.body["updated_at"]),
                                parse_rfc3339_ms(agent["updated_at"]))

        # Arrays are replaced whole.
        resp = self.patch_agent(ref, {"conversation_starters": ["only one"],
                                      "input_fields": [{"slug": "z", "type": "text"}]})
        expected["conversation_starters"] = ["only one"]
        expected["input_fields"] = [{"slug": "z", "type": "text", "label": "",
                                     "description": "", "required": False, "order": 0,
                                     "options": [], "file_types": None}]
        self.assert_json_equal(config_of(resp.body), expected)

        # null removes a member: it takes its default again.
        resp = self.patch_agent(ref, {"description": None, "model": None,
                                      "metadata": None, "capabilities": None,
                                      "enabled": None, "emoji_icon": None})
        for member in ("description", "model", "metadata", "capabilities", "enabled",
                       "emoji_icon"):
            expected[member] = copy.deepcopy(DEFAULT_CONFIG[member])
        self.assert_json_equal(config_of(resp.body), expected)

        resp = self.patch_agent(ref, {"model": {"name": "m2",
                                                "parameters": {"top_p": 0.5}}})
        resp = self.patch_agent(ref, {"model": {"parameters": {"top_p": None}}})
        self.assert_json_equal(resp.body["model"], {"name": "m2", "parameters": {}})

        # merge-patch+json is accepted too, by key.
        resp = self.patch_agent(agent["key"], {"enabled": False},
                                headers={"Content-Type": "application/merge-patch+json"})
        self.assertIs(resp.body["enabled"], False)
        resp = self.patch_agent(ref, {"name": "Renamed"},
                                headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(resp.body["name"], "Renamed")
        expected.update(name="Renamed", enabled=False,
                        model={"name": "m2", "parameters": {}})
        # GET answers what PATCH answered.
        self.assert_json_equal(config_of(self.get_agent(ref).body), expected)

    def test_patch_validation_changes_nothing(self):
        agent = self.create_agent(full_config(unique("PatchVal")))
        ref = agent["id"]
        tag = self.etag(ref)
        draft = self.get_agent(ref, query="?version=draft").body
        cases = [
            ({"name": None}, "name"),
            ({"name": "n" * 65}, "name"),
            ({"key": "agt_other_" + secrets.token_hex(3)}, "key"),
            ({"status": "published"}, "status"),
            ({"version": 2}, "version"),
            ({"id": uuid7()}, "id"),
            ({"colour": "red"}, "colour"),
            ({"model": {"parameters": {"temperature": 1.5}}}, "model.parameters.temperature"),
            ({"model": {"parameters": {"max_tokens": 0}}}, "model.parameters.max_tokens"),
            ({"model": {"parameters": {"seed": 1}}}, "model.parameters.seed"),
            ({"input_fields": [{"slug": "a", "type": "t"}, {"slug": "b", "type": "t"},
                               {"slug": "b", "type": "t"}]}, "input_fields[2].slug"),
            ({"metadata": {"x": {"y": 1}}}, "metadata.x"),
            ({"input_type": "X"}, "input_type"),
            ({"capabilities": {"fly": True}}, "capabilities.fly"),
        ]
        for patch, field in cases:
            with self.subTest(field=field, patch=patch):
                resp = self.call("PATCH", self.agent_path(ref), body=patch, key=self.admin)
                self.assert_error(resp, 400, "invalid_request", field=field)
        self.assertEqual(self.etag(ref), tag, "a refused PATCH changed the agent")
        for ctype in ("text/plain", "application/json-patch+json",
                      "application/x-www-form-urlencoded"):
            with self.subTest(content_type=ctype):
                resp = self.call("PATCH", self.agent_path(ref), key=self.admin,
                                 body='{"description":"x"}',
                                 headers={"Content-Type": ctype})
                self.assert_error(resp, 415, "unsupported_media_type")
        resp = self.call("PATCH", self.agent_path(ref), key=self.admin, body='[1]',
                         headers={"Content-Type": "application/json"})
        self.assertEqual(resp.status, 400, repr(resp))
        self.assertEqual(self.etag(ref), tag, "a refused PATCH changed the agent")
        self.assert_json_equal(self.get_agent(ref, query="?version=draft").body, draft)
        # Patching with its own key is not a change of key.
        self.patch_agent(ref, {"key": agent["key"], "description": "same key"})
        self.patch_agent(ref, {"description": draft["description"]})
        self.assert_json_equal(config_of(self.get_agent(ref, query="?version=draft").body),
                               config_of(draft))
        self.assertEqual(self.get_agent(ref).body["key"], agent["key"])

    # --------------------------------------------------------------- lifecycle

    def test_lifecycle(self):
        pub = self.create_key(["agents:read", "agents:write", "agents:publish"])
        k = pub["key"]
        cfg = full_config(unique("Lifecycle"))
        agent = self.create_agent(cfg, key=k)
        ref = agent["id"]
        self.assertIsNone(agent["published_at"])
        resp = self.versions(ref, key=k)
        self.assertEqual(resp.body, {"data": [], "next_cursor": None})
        self.get_agent(ref, key=k, query="?version=1", expect=404)

        # patch → publish 1
        patched = self.patch_agent(ref, {"description": "v1 description"}, key=k).body
        cfg1 = copy.deepcopy(cfg)
        cfg1["description"] = "v1 description"
        self.assert_json_equal(config_of(patched), cfg1)
        v1 = self.publish(ref, note="first", key=k).body
        self.assertEqual(v1["version"], 1)
        self.assertEqual(v1["id"], ref)
        self.assertEqual(v1["key"], agent["key"])
        self.assertEqual(v1["created_at"], agent["created_at"])
        self.assert_json_equal(config_of(v1), cfg1)
        current = self.get_agent(ref, key=k).body
        self.check_view(current, status="published", version=1)
        self.assert_json_equal(current, v1)
        self.assert_json_equal(self.get_agent(ref, key=k, query="?version=1").body, v1)
        self.assert_json_equal(self.call("GET", self.agent_path(ref, "/versions/1"),
                                         key=k, expect=200).body, v1)

        # patch → GET still serves 1, now with unpublished changes
        cfg2 = copy.deepcopy(cfg1)
        cfg2.update(name=cfg1["name"] + " II", enabled=False,
                    conversation_starters=["I need a refund", "New starter", "Third"])
        cfg2["model"]["parameters"]["temperature"] = 0.5
        del cfg2["model"]["parameters"]["top_p"]
        cfg2["metadata"]["a/b"] = "slash 2"
        del cfg2["metadata"]["c~d"]
        cfg2["metadata"]["e~f/g"] = False
        cfg2["input_fields"] = [cfg1["input_fields"][2], cfg1["input_fields"][0]]
        cfg2["capabilities"]["code_interpreter"] = True
        cfg2["actions"] = []
        patch = {"name": cfg2["name"], "enabled": False,
                 "conversation_starters": cfg2["conversation_starters"],
                 "model": {"parameters": {"temperature": 0.5, "top_p": None}},
                 "metadata": {"a/b": "slash 2", "c~d": None, "e~f/g": False},
                 "input_fields": cfg2["input_fields"],
                 "capabilities": {"code_interpreter": True}, "actions": []}
        draft = self.patch_agent(ref, patch, key=k).body
        self.assert_json_equal(config_of(draft), cfg2)
        current = self.get_agent(ref, key=k).body
        self.check_view(current, status="published", version=1)
        self.assert_json_equal(config_of(current), cfg1)
        self.assertIs(current["has_unpublished_changes"], True)
        self.assert_json_equal(config_of(self.get_agent(ref, key=k,
                                                        query="?version=draft").body), cfg2)

        # publish 2 (empty body), then the versions list
        time.sleep(0.005)
        v2 = self.publish(ref, key=k).body
        self.assertEqual(v2["version"], 2)
        self.assert_json_equal(config_of(v2), cfg2)
        self.assertGreaterEqual(parse_rfc3339_ms(v2["published_at"]),
                                parse_rfc3339_ms(v1["published_at"]))
        current = self.get_agent(ref, key=k).body
        self.check_view(current, status="published", version=2)
        self.assertIs(current["has_unpublished_changes"], False)
        listed = self.versions(ref, key=k).body
        self.assertIsNone(listed["next_cursor"])
        self.assertEqual([v["version"] for v in listed["data"]], [2, 1])
        for entry in listed["data"]:
            self.assertEqual(set(entry), {"version", "note", "published_at", "published_by"},
                             entry)
            self.assertEqual(entry["published_by"], pub["id"])
            self.assertRegex(entry["published_at"], TIMESTAMP_RE)
        self.assertEqual(listed["data"][1]["note"], "first")
        self.assertEqual(listed["data"][1]["published_at"], v1["published_at"])
        self.assertEqual(listed["data"][0]["published_at"], v2["published_at"])

        # diffs apply
        for a, b, ca, cb in ((1, 2, cfg1, cfg2), (2, 1, cfg2, cfg1),
                             (1, "draft", cfg1, cfg2), ("draft", 1, cfg2, cfg1)):
            with self.subTest(diff=f"{a}..{b}"):
                ops = self.diff(ref, a, b, key=k).body
                self.assertTrue(ops, "diff of different configurations is empty")
                for op in ops:
                    self.assertIn(op.get("op"), ("add", "remove", "replace", "move",
                                                 "copy", "test"), op)
                    top = _pointer(op["path"])[:1]
                    self.assertTrue(top and top[0] in CONFIG_FIELDS,
                                    f"diff touches a non-configuration member: {op}")
                try:
                    result = apply_json_patch(ca, ops)
                except PatchError as e:
                    self.fail(f"diff {a}..{b} does not apply: {e}; patch: {ops}")
                self.assert_json_equal(result, cb, f"diff {a}..{b}: {ops}")
        for a, b in ((2, 2), (1, 1), ("draft", "draft"), (2, "draft")):
            with self.subTest(diff=f"{a}..{b}"):
                self.assertEqual(self.diff(ref, a, b, key=k).body, [])

        # activate 1: GET serves 1, versions stay reachable
        act = self.activate(ref, 1, key=k).body
        self.assert_json_equal(config_of(act), cfg1)
        self.assertEqual(act["published_at"], v1["published_at"])
        current = self.get_agent(ref, key=k).body
        self.check_view(current, status="published", version=1)
        self.assert_json_equal(config_of(current), cfg1)
        by_key = self.get_agent(agent["key"], key=k).body
        self.assertEqual(by_key["version"], 1)
        got2 = self.get_agent(ref, key=k, query="?version=2").body
        self.check_view(got2, status="published", version=2)
        self.assert_json_equal(config_of(got2), cfg2)
        self.assertEqual(got2["published_at"], v2["published_at"])
        draft = self.get_agent(ref, key=k, query="?version=draft").body
        self.check_view(draft, status="draft", version=None)
        self.assert_json_equal(config_of(draft), cfg2)
        self.assertEqual([v["version"] for v in self.versions(ref, key=k).body["data"]],
                         [2, 1])
        # activate 2 again (roll forward)
        self.activate(ref, 2, key=k)
        self.assertEqual(self.get_agent(ref, key=k).body["version"], 2)
        # a third publish continues the numbering
        self.patch_agent(ref, {"instructions": "v3"}, key=k)
        self.assertEqual(self.publish(ref, note="third", key=k).body["version"], 3)
        self.assertEqual([v["version"] for v in self.versions(ref, key=k).body["data"]],
                         [3, 2, 1])

    def test_publish_unchanged_draft_makes_a_new_version(self):
        agent = self.create_agent()
        self.assertEqual(self.publish(agent["id"], body={}).body["version"], 1)
        self.assertEqual(self.publish(agent["id"], note="again").body["version"], 2)
        self.assertEqual(self.diff(agent["id"], 1, 2).body, [])

    def test_publish_body_validation(self):
        agent = self.create_agent()
        for body, field in (({"notes": "x"}, "notes"), ({"note": 5}, "note"),
                            ({"version": 3}, "version")):
            with self.subTest(body=body):
                resp = self.call("POST", self.agent_path(agent["id"], "/publish"),
                                 body=body, key=self.admin)
                self.assert_error(resp, 400, "invalid_request", field=field)
        resp = self.call("POST", self.agent_path(agent["id"], "/publish"), key=self.admin,
                         body='{"note":"x"}', headers={"Content-Type": "text/plain"})
        self.assert_error(resp, 415, "unsupported_media_type")
        self.assertEqual(self.versions(agent["id"]).body["data"], [])
        self.assertEqual(self.get_agent(agent["id"]).body["status"], "draft")

    def test_publish_checks_references(self):
        """DESIGN: publishing checks that referenced tools and instruction
        versions exist (400 naming the field), and creates no version."""
        probe = self.call("GET", "/v1/tools?limit=1", key=self.admin)
        if probe.status == 404:
            self.skipTest("the tool registry (/v1/tools) is not implemented yet")
        agent = self.create_agent({"name": unique("badref"), "tools": {
            "mode": "native", "available": [{"id": "tol_missing_" + secrets.token_hex(3)}]}})
        resp = self.publish(agent["id"], expect=400)
        self.assert_field(resp, 400, "invalid_request", ("tools.available[0].id",
                                                          "tools.available[0]"))
        agent = self.create_agent({"name": unique("badins"), "first_step": {
            "instructions": [{"type": "inline", "name": "a", "template": "x"},
                             {"type": "reference", "id": "ins_missing_" + secrets.token_hex(3)}]}})
        resp = self.publish(agent["id"], expect=400)
        self.assert_field(resp, 400, "invalid_request", ("first_step.instructions[1].id",
                                                          "first_step.instructions[1]"))
        self.assertEqual(self.versions(agent["id"]).body["data"], [])

    def test_version_parameters(self):
        agent = self.create_agent()
        ref = agent["id"]
        self.publish(ref)
        for bad in ("0", "-1", "abc", "1.5", "v1", "01x", "1e0", " 1"):
            with self.subTest(version=bad):
                resp = self.call("GET", self.agent_path(ref) + "?version=" +
                                 urllib.parse.quote(bad), key=self.admin)
                self.assert_error(resp, 400, "invalid_request", field="version")
        for huge in ("99999999999999999999", "2147483648", "4294967297"):
            with self.subTest(version=huge):
                resp = self.call("GET", self.agent_path(ref) + "?version=" + huge,
                                 key=self.admin)
                self.assertIn(resp.status, (400, 404), repr(resp))
                resp = self.call("GET", self.agent_path(ref, f"/versions/{huge}"),
                                 key=self.admin)
                self.assertIn(resp.status, (400, 404), repr(resp))
        resp = self.call("GET", self.agent_path(ref) + "?version=2", key=self.admin)
        self.assert_error(resp, 404, "not_found")
        for path in ("/versions/2", "/versions/99"):
            resp = self.call("GET", self.agent_path(ref, path), key=self.admin)
            self.assert_error(resp, 404, "not_found")
        resp = self.call("POST", self.agent_path(ref, "/versions/2/activate"),
                         key=self.admin)
        self.assert_error(resp, 404, "not_found")
        self.assertEqual(self.get_agent(ref).body["version"], 1)

    def test_diff_parameters(self):
        agent = self.create_agent()
        ref = agent["id"]
        self.publish(ref)
        cases = [("to=1", "from"), ("from=1", "to"), ("", ("from", "to")),
                 ("from=abc&to=1", "from"), ("from=1&to=x", "to"),
                 ("from=-1&to=1", "from"), ("from=1&to=1.5", "to")]
        for query, field in cases:
            with self.subTest(query=query):
                resp = self.call("GET", self.agent_path(ref, "/diff?" + query),
                                 key=self.admin)
                self.assert_field(resp, 400, "invalid_request", field)
        for query in ("from=1&to=7", "from=7&to=draft"):
            with self.subTest(query=query):
                resp = self.call("GET", self.agent_path(ref, "/diff?" + query),
                                 key=self.admin)
                self.assert_error(resp, 404, "not_found")
        fresh = self.create_agent()
        resp = self.call("GET", self.agent_path(fresh["id"], "/diff?from=1&to=draft"),
                         key=self.admin)
        self.assert_error(resp, 404, "not_found")
        self.assertEqual(self.diff(fresh["id"], "draft", "draft").body, [])

    def test_versions_paging(self):
        agent = self.create_agent()
        ref = agent["id"]
        for i in range(1, 6):
            self.patch_agent(ref, {"description": f"d{i}"})
            self.publish(ref, note=f"n{i}")
        seen, cursor = [], None
        for _ in range(10):
            query = "?limit=2" + (f"&cursor={urllib.parse.quote(cursor, safe='')}"
                                  if cursor else "")
            page = self.versions(ref, query=query).body
            self.assertLessEqual(len(page["data"]), 2)
            seen.extend(v["version"] for v in page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(seen, [5, 4, 3, 2, 1])
        notes = {v["version"]: v["note"] for v in self.versions(ref).body["data"]}
        self.assertEqual(notes, {i: f"n{i}" for i in range(1, 6)})
        for bad in ("0", "201", "x"):
            resp = self.versions(ref, expect=None, query=f"?limit={bad}")
            self.assert_error(resp, 400, "invalid_request", field="limit")
        resp = self.versions(ref, expect=None, query="?cursor=%21%21garbage%21%21")
        self.assert_error(resp, 400, "invalid_request", field="cursor")

    # ------------------------------------------------------------ ETag and 412

    def test_etags_and_conditional_get(self):
        agent = self.create_agent(full_config(unique("Etag")))
        ref = agent["id"]
        resp = self.get_agent(ref)
        tag = resp.headers.get("etag")
        self.assertTrue(tag, repr(resp))
        self.assertFalse(tag.startswith("W/"), f"ETag is weak: {tag}")
        self.assertRegex(tag, r'^"[^"]+"$')
        self.assertEqual(self.etag(ref), tag, "ETag is not stable")
        self.assertEqual(self.etag(agent["key"]), tag, "ETag differs by id or key")

        for header in (tag, f'"nope", {tag}', "*", f"W/{tag}"):
            with self.subTest(if_none_match=header):
                resp = self.call("GET", self.agent_path(ref), key=self.admin,
                                 headers={"If-None-Match": header})
                self.assertEqual(resp.status, 304, repr(resp))
                self.assertEqual(resp.raw, "", repr(resp))
                self.assertEqual(resp.headers.get("etag"), tag, repr(resp))
        resp = self.call("GET", self.agent_path(ref), key=self.admin,
                         headers={"If-None-Match": '"something-else"'}, expect=200)
        self.assertEqual(resp.body["id"], ref)

        # Every single-resource GET has an ETag that works the same way.
        self.publish(ref)
        for path in (self.agent_path(ref) + "?version=draft",
                     self.agent_path(ref) + "?version=1",
                     self.agent_path(ref, "/versions/1")):
            with self.subTest(path=path):
                resp = self.call("GET", path, key=self.admin, expect=200)
                t = resp.headers.get("etag")
                self.assertTrue(t and not t.startswith("W/"), repr(resp))
                resp = self.call("GET", path, key=self.admin, headers={"If-None-Match": t})
                self.assertEqual(resp.status, 304, repr(resp))
                self.assertEqual(resp.raw, "")

        # The tag changes with every change: patch, publish, activate.
        tags = [tag, self.etag(ref)]
        self.patch_agent(ref, {"description": "changed"})
        tags.append(self.etag(ref))
        self.publish(ref)
        tags.append(self.etag(ref))
        self.activate(ref, 1)
        tags.append(self.etag(ref))
        self.assertEqual(len(set(tags)), len(tags), f"an ETag repeated: {tags}")
        # An old tag no longer gives 304.
        resp = self.call("GET", self.agent_path(ref), key=self.admin,
                         headers={"If-None-Match": tags[0]})
        self.assertEqual(resp.status, 200, repr(resp))
        # The draft view's tag changes when the draft changes.
        d1 = self.etag(ref, query="?version=draft")
        self.patch_agent(ref, {"description": "changed again"})
        self.assertNotEqual(self.etag(ref, query="?version=draft"), d1)

    def test_if_match_preconditions(self):
        agent = self.create_agent()
        ref = agent["id"]
        stale = self.etag(ref)
        self.patch_agent(ref, {"description": "one"}, headers={"If-Match": stale})
        current = self.etag(ref)
        self.assertNotEqual(current, stale)

        # PATCH
        resp = self.call("PATCH", self.agent_path(ref), body={"description": "lost"},
                         key=self.admin, headers={"If-Match": stale})
        self.assert_error(resp, 412, "precondition_failed")
        resp = self.call("PATCH", self.agent_path(ref), body={"description": "lost"},
                         key=self.admin, headers={"If-Match": f"W/{current}"})
        self.assert_error(resp, 412, "precondition_failed")
        self.assertEqual(self.get_agent(ref).body["description"], "one")
        self.assertEqual(self.etag(ref), current)
        other_tag = self.etag(self.create_agent()["id"])
        resp = self.call("PATCH", self.agent_path(ref), body={"description": "lost"},
                         key=self.admin, headers={"If-Match": other_tag})
        self.assert_error(resp, 412, "precondition_failed")
        self.patch_agent(ref, {"description": "two"},
                         headers={"If-Match": f'"nope", {current}'})
        self.patch_agent(ref, {"description": "three"}, headers={"If-Match": "*"})
        current = self.etag(ref)

        # publish
        resp = self.call("POST", self.agent_path(ref, "/publish"), body={},
                         key=self.admin, headers={"If-Match": stale})
        self.assert_error(resp, 412, "precondition_failed")
        self.assertEqual(self.versions(ref).body["data"], [])
        self.publish(ref, body={}, headers={"If-Match": current})
        current = self.etag(ref)
        self.publish(ref, note="2")

        # activate
        resp = self.call("POST", self.agent_path(ref, "/versions/1/activate"),
                         key=self.admin, headers={"If-Match": current})
        self.assert_error(resp, 412, "precondition_failed")
        self.assertEqual(self.get_agent(ref).body["version"], 2)
        self.activate(ref, 1, headers={"If-Match": self.etag(ref)})
        self.assertEqual(self.get_agent(ref).body["version"], 1)

        # DELETE
        resp = self.call("DELETE", self.agent_path(ref), key=self.admin,
                         headers={"If-Match": stale})
        self.assert_error(resp, 412, "precondition_failed")
        self.get_agent(ref)
        resp = self.call("DELETE", self.agent_path(ref), key=self.admin,
                         headers={"If-Match": self.etag(ref)})
        self.assertEqual(resp.status, 204, repr(resp))
        self.get_agent(ref, expect=404)

    # ------------------------------------------------------------------ delete

    def test_delete_then_404_and_key_reusable(self):
        key = "agt_del_" + secrets.token_hex(4)
        agent = self.create_agent({"name": "to delete", "key": key})
        self.publish(key, note="v1")
        before = self.agent_count()
        resp = self.call("DELETE", self.agent_path(key), key=self.admin)
        self.assertEqual(resp.status, 204, repr(resp))
        self.assertEqual(resp.raw, "", repr(resp))
        self.assertEqual(self.agent_count(), before - 1)
        self.assertNotIn(agent["id"], [a["id"] for a in self.list_agents()])
        for ref in (agent["id"], key):
            for method, suffix, body in (
                    ("GET", "", None), ("GET", "?version=1", None),
                    ("GET", "?version=draft", None),
                    ("PATCH", "", {"description": "x"}), ("DELETE", "", None),
                    ("POST", "/publish", {}), ("GET", "/versions", None),
                    ("GET", "/versions/1", None), ("POST", "/versions/1/activate", None),
                    ("GET", "/diff?from=1&to=draft", None)):
                with self.subTest(ref=ref, method=method, suffix=suffix):
                    resp = self.call(method, self.agent_path(ref) + suffix, body=body,
                                     key=self.admin)
                    self.assert_error(resp, 404, "not_found")
        again = self.create_agent({"name": "reborn", "key": key})
        self.assertNotEqual(again["id"], agent["id"])
        got = self.get_agent(key).body
        self.assertEqual(got["id"], again["id"])
        self.assertEqual(got["status"], "draft")
        self.assertEqual(self.versions(key).body["data"], [])
        self.get_agent(agent["id"], expect=404)

    def test_unknown_agents(self):
        for ref in (uuid7(), "agt_never_" + secrets.token_hex(4), "not-an-id",
                    uuid7().upper(), "agt_" + "x" * 5000, "é🤖", "a\x00b", "..", "%ZZ",
                    "' OR 1=1 --"):
            for method, suffix, body in (
                    ("GET", "", None), ("PATCH", "", {"description": "x"}),
                    ("DELETE", "", None), ("POST", "/publish", {}),
                    ("GET", "/versions", None), ("GET", "/versions/1", None),
                    ("POST", "/versions/1/activate", None),
                    ("GET", "/diff?from=draft&to=draft", None)):
                with self.subTest(ref=ref[:40], method=method, suffix=suffix):
                    resp = self.call(method, self.agent_path(ref) + suffix, body=body,
                                     key=self.admin, headers={"If-Match": '"x"'}
                                     if method != "GET" else None)
                    self.assert_error(resp, 404, "not_found")
        # Raw, badly encoded paths never break the server.
        for path in ("/v1/agents/%ZZ", "/v1/agents/%", "/v1/agents/a%00b/versions",
                     "/v1/agents//publish", "/v1/agents/x/versions/%FF/activate"):
            with self.subTest(path=path):
                resp = self.call("GET" if "activate" not in path and "publish" not in path
                                 else "POST", path, key=self.admin)
                self.assertIn(resp.status, (400, 404), repr(resp))

    # ------------------------------------------------------------- concurrency

    def run_parallel(self, n, fn):
        """Runs fn(i) on n threads released together; returns the results."""
        barrier = threading.Barrier(n)
        results = [None] * n

        def worker(i):
            try:
                barrier.wait(timeout=10)
                results[i] = fn(i)
            except Exception as e:  # pylint: disable=broad-except
                results[i] = e

        threads = [threading.Thread(target=worker, args=(i,), daemon=True)
                   for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        for r in results:
            if isinstance(r, Exception):
                raise r
        return results

    def test_concurrent_if_match_patches_one_wins(self):
        agent = self.create_agent()
        ref = agent["id"]
        for round_ in range(3):
            tag = self.etag(ref)
            results = self.run_parallel(8, lambda i: self.server.request(
                "PATCH", self.agent_path(ref), key=self.admin,
                body={"description": f"r{round_}-t{i}"}, headers={"If-Match": tag}))
            statuses = sorted(r.status for r in results)
            self.assertEqual(statuses, [200] + [412] * 7, [repr(r) for r in results])
            winner = next(r for r in results if r.status == 200)
            self.assertEqual(self.get_agent(ref).body["description"],
                             winner.body["description"])

    def test_concurrent_patches_lose_nothing(self):
        agent = self.create_agent()
        ref = agent["id"]
        results = self.run_parallel(8, lambda i: self.server.request(
            "PATCH", self.agent_path(ref), key=self.admin,
            body={"metadata": {f"m{i}": i}}))
        self.assertEqual([r.status for r in results], [200] * 8,
                         [repr(r) for r in results])
        self.assertEqual(self.get_agent(ref).body["metadata"],
                         {f"m{i}": i for i in range(8)}, "a concurrent PATCH was lost")

    def test_concurrent_publishes_number_versions_once(self):
        agent = self.create_agent()
        ref = agent["id"]
        results = self.run_parallel(8, lambda i: self.server.request(
            "POST", self.agent_path(ref, "/publish"), key=self.admin,
            body={"note": f"p{i}"}))
        self.assertEqual([r.status for r in results], [201] * 8,
                         [repr(r) for r in results])
        numbers = sorted(r.body["version"] for r in results)
        self.assertEqual(numbers, list(range(1, 9)))
        listed = self.versions(ref).body["data"]
        self.assertEqual([v["version"] for v in listed], list(range(8, 0, -1)))
        # Each version keeps the note of the request that made it.
        thread_of = {r.body["version"]: i for i, r in enumerate(results)}
        by_version = {r.body["version"]: r.body for r in results}
        for v in listed:
            self.assertEqual(v["note"], f"p{thread_of[v['version']]}")
            self.assertEqual(v["published_at"], by_version[v["version"]]["published_at"])
        self.assertEqual(self.get_agent(ref).body["version"], 8)

    def test_concurrent_creates_with_one_key(self):
        key = "agt_race_" + secrets.token_hex(4)
        before = self.agent_count()
        results = self.run_parallel(8, lambda i: self.server.request(
            "POST", "/v1/agents", key=self.admin, body={"name": f"racer {i}", "key": key}))
        statuses = sorted(r.status for r in results)
        self.assertEqual(statuses, [201] + [409] * 7, [repr(r) for r in results])
        for r in results:
            if r.status == 409:
                self.assert_error(r, 409, "conflict", field="key")
        winner = next(r for r in results if r.status == 201)
        self.assertEqual(self.get_agent(key).body["id"], winner.body["id"])
        self.assertEqual(self.agent_count(), before + 1)

    def _hammer(self, path, stop, log, key):
        """GETs `path` until stopped; logs (sent_at, status, body)."""
        while not stop.is_set():
            sent = time.monotonic()
            try:
                resp = self.server.request("GET", path, key=key)
            except Exception as e:  # pylint: disable=broad-except
                log.append((sent, -1, repr(e)))
                return
            log.append((sent, resp.status, resp.body))

    def test_reads_never_go_back_in_time(self):
        agent = self.create_agent({"name": unique("ryw"), "description": "v000"})
        ref = agent["key"]
        reader = self.create_key(["agents:read"])["key"]
        stop = threading.Event()
        logs = [[] for _ in range(4)]
        threads = [threading.Thread(target=self._hammer, daemon=True,
                                    args=(self.agent_path(ref), stop, logs[i], reader))
                   for i in range(4)]
        for t in threads:
            t.start()
        published = {}  # version content -> when its publish was acknowledged
        try:
            for i in range(1, 31):
                self.patch_agent(ref, {"description": f"v{i:03d}"})
                if i % 10 == 0:
                    self.publish(ref)
                    published[i] = time.monotonic()
        finally:
            time.sleep(0.05)
            stop.set()
            for t in threads:
                t.join(timeout=15)
        for n, log in enumerate(logs):
            self.assertTrue(log, f"reader {n} made no request")
            last = 0
            for sent, status, body in log:
                self.assertEqual(status, 200, body)
                seen = int(body["description"][1:])
                self.assertGreaterEqual(seen, last, f"reader {n} went back in time")
                last = seen
                # Before the first publish GET serves the draft; afterwards the
                # newest version acknowledged before `sent` is a lower bound.
                acked = [i for i, t in published.items() if t < sent]
                if acked:
                    self.assertGreaterEqual(seen, max(acked),
                                            f"reader {n} saw a stale agent")

    def test_delete_is_final_under_concurrent_reads(self):
        agent = self.create_agent()
        self.publish(agent["id"])
        stop = threading.Event()
        logs = [[] for _ in range(4)]
        refs = [agent["id"], agent["key"], agent["id"], agent["key"]]
        threads = [threading.Thread(target=self._hammer, daemon=True,
                                    args=(self.agent_path(refs[i]), stop, logs[i],
                                          self.admin)) for i in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.05)
            self.call("DELETE", self.agent_path(agent["id"]), key=self.admin, expect=204)
            deleted = time.monotonic()
            deadline = deleted + 5
            while time.monotonic() < deadline and any(
                    sum(1 for sent, _, _ in list(log) if sent > deleted) < 3
                    for log in logs):
                time.sleep(0.01)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=15)
        for n, log in enumerate(logs):
            after = [(status, body) for sent, status, body in log if sent > deleted]
            self.assertTrue(after, f"reader {n} made no request after the delete")
            self.assertEqual({status for status, _ in after}, {404},
                             f"reader {n} saw the deleted agent: {after[:3]}")
        self.get_agent(agent["key"], expect=404)

    # ----------------------------------------------------------------- tenancy

    def test_other_organization_is_404(self):
        org = self.create_org()
        theirs = org["admin_key"]
        key = "agt_theirs_" + secrets.token_hex(4)
        agent = self.create_agent({"name": "Theirs", "key": key}, key=theirs)
        self.publish(key, key=theirs)
        self.patch_agent(key, {"description": "draft change"}, key=theirs)
        tag = self.etag(key, key=theirs)
        routes = [("GET", "", None), ("GET", "?version=1", None),
                  ("GET", "?version=draft", None), ("PATCH", "", {"description": "x"}),
                  ("DELETE", "", None), ("POST", "/publish", {"note": "x"}),
                  ("POST", "/publish", None), ("GET", "/versions", None),
                  ("GET", "/versions/1", None), ("POST", "/versions/1/activate", None),
                  ("GET", "/diff?from=1&to=draft", None)]
        mine = self.create_key(["*"])["key"]
        for caller in (self.admin, mine):
            for ref in (agent["id"], key):
                for method, suffix, body in routes:
                    with self.subTest(ref=ref, method=method, suffix=suffix):
                        resp = self.call(method, self.agent_path(ref) + suffix, body=body,
                                         key=caller)
                        self.assert_error(resp, 404, "not_found")
                        self.assertNotIn("Theirs", resp.raw)
        self.assertNotIn(agent["id"], [a["id"] for a in self.list_agents()])
        # Nothing changed for them.
        self.assertEqual(self.etag(key, key=theirs), tag)
        self.assertEqual(len(self.versions(key, key=theirs).body["data"]), 1)
        self.assertEqual([a["id"] for a in self.list_agents(key=theirs)], [agent["id"]])

    # ------------------------------------------------------------------ grants

    def test_agent_limited_key(self):
        x = self.create_agent({"name": unique("GrantX")})
        y = self.create_agent({"name": unique("GrantY")})
        self.publish(x["id"])
        self.publish(y["id"])
        y_tag = self.etag(y["id"])
        limited = self.create_key(["AGENT_API"], agent_ids=[x["id"]])["key"]
        routes = [("GET", "", None), ("GET", "?version=draft", None),
                  ("GET", "?version=1", None), ("PATCH", "", {"description": "x"}),
                  ("DELETE", "", None), ("POST", "/publish", {}),
                  ("GET", "/versions", None), ("GET", "/versions/1", None),
                  ("POST", "/versions/1/activate", None),
                  ("GET", "/diff?from=1&to=draft", None)]
        for ref in (y["id"], y["key"]):
            for method, suffix, body in routes:
                with self.subTest(ref=ref, method=method, suffix=suffix):
                    resp = self.call(method, self.agent_path(ref) + suffix, body=body,
                                     key=limited)
                    self.assert_error(resp, 403, "forbidden")
        self.assertEqual(self.etag(y["id"]), y_tag)
        self.assertEqual(len(self.versions(y["id"]).body["data"]), 1)

        # Its own agent works.
        self.get_agent(x["key"], key=limited)
        self.patch_agent(x["id"], {"description": "mine"}, key=limited)
        self.publish(x["id"], key=limited)
        self.activate(x["id"], 1, key=limited)
        self.versions(x["id"], key=limited)
        self.diff(x["id"], 1, 2, key=limited)
        self.assertEqual([a["id"] for a in self.list_agents(key=limited)], [x["id"]])

        # What it creates is granted to it (and only to it).
        z = self.create_agent({"name": unique("GrantZ")}, key=limited)
        self.get_agent(z["id"], key=limited)
        self.get_agent(z["key"], key=limited)
        self.patch_agent(z["id"], {"description": "z"}, key=limited)
        self.publish(z["id"], key=limited)
        listed = [a["id"] for a in self.list_agents(key=limited)]
        self.assertEqual(sorted(listed), sorted([x["id"], z["id"]]))
        self.assertEqual(len(listed), 2)
        sibling = self.create_key(["AGENT_API"], agent_ids=[x["id"]])["key"]
        resp = self.call("GET", self.agent_path(z["id"]), key=sibling)
        self.assert_error(resp, 403, "forbidden")
        self.assertEqual([a["id"] for a in self.list_agents(key=sibling)], [x["id"]])
        # The organization's unlimited keys see everything.
        all_ids = {a["id"] for a in self.list_agents()}
        self.assertTrue({x["id"], y["id"], z["id"]} <= all_ids)
        # q and paging respect the grants too.
        self.assertEqual(self.list_agents(key=limited, q="GrantY"), [])
        paged = self.list_agents(key=limited, limit=1)
        self.assertEqual(sorted(a["id"] for a in paged), sorted([x["id"], z["id"]]))
        # Deleting its agent works; then it is gone for everyone.
        self.call("DELETE", self.agent_path(z["id"]), key=limited, expect=204)
        self.get_agent(z["id"], expect=404)
        # A grant names an agent, not a key: a new agent under a granted
        # agent's key is not granted.
        self.call("DELETE", self.agent_path(x["id"]), key=self.admin, expect=204)
        reborn = self.create_agent({"name": "reborn", "key": x["key"]})
        for ref in (reborn["id"], x["key"]):
            resp = self.call("GET", self.agent_path(ref), key=limited)
            self.assert_error(resp, 403, "forbidden")
        self.assertEqual(self.list_agents(key=limited), [])

    def test_revoked_and_expired_keys_on_the_read_path(self):
        agent = self.create_agent()
        self.publish(agent["id"])
        victim = self.create_key(["agents:read"])
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            seconds=1.5)
        short = self.create_key(["agents:read"], expires_at=rfc3339_ms(expires))
        for k in (victim["key"], short["key"]):
            for _ in range(3):  # warm every cache there is
                self.get_agent(agent["id"], key=k)
                self.get_agent(agent["key"], key=k)
        self.call("DELETE", f"/v1/api-keys/{victim['id']}", key=self.admin, expect=204)
        for ref in (agent["id"], agent["key"]):
            resp = self.call("GET", self.agent_path(ref), key=victim["key"])
            self.assert_error(resp, 401, "unauthorized")
        wait = (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        time.sleep(max(0.0, wait) + 0.1)
        for ref in (agent["id"], agent["key"]):
            resp = self.call("GET", self.agent_path(ref), key=short["key"])
            self.assert_error(resp, 401, "unauthorized")
        self.assertEqual(self.call("GET", "/v1/agents", key=short["key"]).status, 401)

    # ------------------------------------------------------------------ scopes

    def test_scopes(self):
        x = self.create_agent({"name": unique("Scoped")})
        self.publish(x["id"])
        tag = self.etag(x["id"])
        reader = self.create_key(["agents:read"])["key"]
        writer = self.create_key(["agents:write"])["key"]
        publisher = self.create_key(["agents:publish"])["key"]
        api = self.create_key(["AGENT_API"])["key"]
        other = self.create_key(["keys:write", "tools:read"])["key"]
        before = self.agent_count()

        ref = x["id"]
        refusals = [
            (reader, "POST", "/v1/agents", {"name": "nope"}),
            (reader, "PATCH", self.agent_path(ref), {"description": "nope"}),
            (reader, "DELETE", self.agent_path(ref), None),
            (reader, "POST", self.agent_path(ref, "/publish"), {}),
            (reader, "POST", self.agent_path(ref, "/versions/1/activate"), None),
            (writer, "POST", self.agent_path(ref, "/publish"), {}),
            (writer, "POST", self.agent_path(ref, "/versions/1/activate"), None),
            (publisher, "POST", "/v1/agents", {"name": "nope"}),
            (publisher, "PATCH", self.agent_path(ref), {"description": "nope"}),
            (publisher, "DELETE", self.agent_path(ref), None),
            (other, "GET", "/v1/agents", None),
            (other, "GET", self.agent_path(ref), None),
            (other, "GET", self.agent_path(ref, "/versions"), None),
            (other, "GET", self.agent_path(ref, "/diff?from=1&to=draft"), None),
            (other, "POST", "/v1/agents", {"name": "nope"}),
        ]
        for key, method, path, body in refusals:
            with self.subTest(key=key[:12], method=method, path=path):
                resp = self.call(method, path, body=body, key=key)
                self.assert_error(resp, 403, "forbidden")
        for method, path, body in (("GET", "/v1/agents", None),
                                   ("GET", self.agent_path(ref), None),
                                   ("POST", "/v1/agents", {"name": "nope"}),
                                   ("PATCH", self.agent_path(ref), {"description": "n"}),
                                   ("POST", self.agent_path(ref, "/publish"), {})):
            with self.subTest(anonymous=f"{method} {path}"):
                resp = self.call(method, path, body=body)
                self.assert_error(resp, 401, "unauthorized")
        self.assertEqual(self.agent_count(), before)
        self.assertEqual(self.etag(ref), tag)
        self.assertEqual(len(self.versions(ref).body["data"]), 1)

        # What each scope allows.
        self.get_agent(ref, key=reader)
        self.list_agents(key=reader)
        self.versions(ref, key=reader)
        self.call("GET", self.agent_path(ref, "/versions/1"), key=reader, expect=200)
        self.diff(ref, 1, "draft", key=reader)
        w = self.create_agent({"name": unique("byWriter")}, key=writer)
        self.patch_agent(w["id"], {"description": "w"}, key=writer)
        self.patch_agent(ref, {"description": "by writer"}, key=writer)
        self.publish(ref, key=publisher)
        self.activate(ref, 1, key=publisher)
        self.call("DELETE", self.agent_path(w["id"]), key=writer, expect=204)
        a = self.create_agent({"name": unique("byApi")}, key=api)
        self.patch_agent(a["id"], {"description": "api"}, key=api)
        self.publish(a["id"], key=api)
        self.activate(a["id"], 1, key=api)
        self.get_agent(a["id"], key=api)
        self.call("DELETE", self.agent_path(a["id"]), key=api, expect=204)

    # ------------------------------------------------------------- list, filters

    def test_list_shape_and_filters(self):
        org = self.create_org()
        k = org["admin_key"]
        self.assertEqual(self.call("GET", "/v1/agents", key=k, expect=200).body,
                         {"data": [], "next_cursor": None})
        token = "zq" + secrets.token_hex(3)
        a = self.create_agent({"name": f"{token}-Alpha Support"}, key=k)
        b = self.create_agent({"name": f"{token.upper()} beta"}, key=k)
        c = self.create_agent({"name": f"x {token} Gamma", "enabled": False}, key=k)
        d = self.create_agent({"name": "100% real"}, key=k)
        e = self.create_agent({"name": "100x real_ok"}, key=k)
        f = self.create_agent({"name": "Ünïcode Nämé"}, key=k)
        self.publish(b["id"], key=k)

        items = self.list_agents(key=k)
        created = [a["id"], b["id"], c["id"], d["id"], e["id"], f["id"]]
        self.assertIn([i["id"] for i in items], (created, created[::-1]),
                      "list order is not creation order")
        for item in items:
            self.check_view(item)
            self.assert_json_equal(item, self.get_agent(item["id"], key=k).body,
                                   "a list item differs from GET")

        def ids(**params):
            return sorted(i["id"] for i in self.list_agents(key=k, **params))

        self.assertEqual(ids(q=token), sorted([a["id"], b["id"], c["id"]]))
        self.assertEqual(ids(q=token.upper()), sorted([a["id"], b["id"], c["id"]]))
        self.assertEqual(ids(q=f"{token}-aLPHA"), [a["id"]])
        self.assertEqual(ids(q="GAMMA"), [c["id"]])
        self.assertEqual(ids(q="nothing-matches-" + token), [])
        self.assertEqual(ids(q="100%"), [d["id"]])
        self.assertEqual(ids(q="_ok"), [e["id"]])
        self.assertEqual(ids(q="x_real"), [])
        self.assertEqual(ids(q="0% r"), [d["id"]])
        self.assertEqual(ids(q="real"), sorted([d["id"], e["id"]]))
        self.assertEqual(ids(q="nämé"), [f["id"]])
        self.assertEqual(ids(enabled="false"), [c["id"]])
        self.assertEqual(ids(enabled="true"),
                         sorted([a["id"], b["id"], d["id"], e["id"], f["id"]]))
        self.assertEqual(ids(enabled="true", q=token), sorted([a["id"], b["id"]]))
        self.assertEqual(ids(enabled="false", q="100"), [])
        self.patch_agent(c["id"], {"enabled": True}, key=k)
        self.assertEqual(ids(enabled="false"), [])
        for bad in ("yes", "1", "0", "null"):
            with self.subTest(enabled=bad):
                resp = self.call("GET", "/v1/agents?enabled=" + bad, key=k)
                self.assert_error(resp, 400, "invalid_request", field="enabled")

    def test_q_folds_case_beyond_ascii(self):
        org = self.create_org()
        k = org["admin_key"]
        f = self.create_agent({"name": "Ünïcode Nämé Ωmega"}, key=k)
        self.create_agent({"name": "plain ascii"}, key=k)
        for q in ("ünïcode", "ÜNÏCODE", "NÄMÉ", "ωMEGA", "nämé ω"):
            with self.subTest(q=q):
                got = [a["id"] for a in self.list_agents(key=k, q=q)]
                self.assertEqual(got, [f["id"]])

    def test_list_limit_and_cursor_validation(self):
        org = self.create_org()
        k = org["admin_key"]
        for _ in range(3):
            self.create_agent(key=k)
        for bad in ("0", "201", "-1", "abc", "1.5"):
            with self.subTest(limit=bad):
                resp = self.call("GET", "/v1/agents?limit=" + bad, key=k)
                self.assert_error(resp, 400, "invalid_request", field="limit")
        resp = self.call("GET", "/v1/agents?limit=200", key=k, expect=200)
        self.assertEqual(len(resp.body["data"]), 3)
        self.assertIsNone(resp.body["next_cursor"])
        resp = self.call("GET", "/v1/agents?limit=1", key=k, expect=200)
        self.assertEqual(len(resp.body["data"]), 1)
        real = resp.body["next_cursor"]
        self.assertIsInstance(real, str)
        resp = self.call("GET", "/v1/agents", key=k, expect=200)
        self.assertEqual(len(resp.body["data"]), 3)
        tampered = ("A" if real[0] != "A" else "B") + real[1:]
        for bad in ("!!garbage!!", "AAAA", "eyJpZCI6IngifQ", tampered, real + "x",
                    real[:-4], real[:8]):
            with self.subTest(cursor=bad):
                resp = self.call("GET", "/v1/agents?limit=1&cursor=" +
                                 urllib.parse.quote(bad, safe=""), key=k)
                self.assert_error(resp, 400, "invalid_request", field="cursor")
        # A cursor is bound to its organization.
        resp = self.call("GET", "/v1/agents?limit=1&cursor=" +
                         urllib.parse.quote(real, safe=""), key=self.admin)
        if resp.status == 200:
            mine = {a["id"] for a in self.list_agents(key=k)}
            self.assertFalse(mine & {a["id"] for a in resp.body["data"]}, repr(resp))
        else:
            self.assert_error(resp, 400, "invalid_request", field="cursor")

    def test_pagination_while_inserting(self):
        org = self.create_org()
        reader_key = org["admin_key"]
        writer_key = self.create_key(["agents:write"], key=reader_key)["key"]
        existing = []
        for i in range(45):
            existing.append(self.create_agent({"name": f"pre-{i:02d}"},
                                              key=reader_key)["id"])
        stop = threading.Event()
        inserted, errors = [], []
        lock = threading.Lock()

        def writer():
            n = 0
            deadline = time.monotonic() + 20
            while not stop.is_set() and time.monotonic() < deadline and n < 120:
                try:
                    resp = self.server.request("POST", "/v1/agents",
                                               body={"name": f"during-{n:03d}"},
                                               key=writer_key)
                except Exception as e:  # pylint: disable=broad-except
                    errors.append(repr(e))
                    return
                if resp.status == 429:
                    time.sleep(0.05)
                    continue
                if resp.status != 201:
                    errors.append(repr(resp))
                    return
                with lock:
                    inserted.append(resp.body["id"])
                n += 1
                time.sleep(0.002)  # do not outrun the reader forever

        thread = threading.Thread(target=writer, daemon=True)
        seen, pages = [], 0
        thread.start()
        try:
            cursor = None
            while True:
                query = {"limit": 4}
                if cursor:
                    query["cursor"] = cursor
                resp = self.call("GET", "/v1/agents?" + urllib.parse.urlencode(query),
                                 key=reader_key, expect=200)
                pages += 1
                self.assertLessEqual(len(resp.body["data"]), 4)
                seen.extend(a["id"] for a in resp.body["data"])
                cursor = resp.body["next_cursor"]
                if cursor is None or pages > 500:
                    break
                # Let at least one insert land between consecutive pages.
                with lock:
                    target = len(inserted) + 1
                wait_until = time.monotonic() + 2
                while (time.monotonic() < wait_until and not errors
                       and thread.is_alive()):
                    with lock:
                        if len(inserted) >= target:
                            break
                    time.sleep(0.002)
        finally:
            stop.set()
            thread.join(timeout=30)
        self.assertFalse(errors, errors)
        self.assertFalse(thread.is_alive())
        self.assertGreater(len(inserted), 5, "the writer inserted too little to matter")
        self.assertLessEqual(pages, 500, "the listing never ended")

        duplicates = {i for i in seen if seen.count(i) > 1}
        self.assertFalse(duplicates, f"listed twice: {duplicates}")
        missing = [i for i in existing if i not in seen]
        self.assertFalse(missing, f"{len(missing)} pre-existing agents never listed")
        strangers = set(seen) - set(existing) - set(inserted)
        self.assertFalse(strangers, f"listed agents nobody created: {strangers}")
        positions = [seen.index(i) for i in existing]
        self.assertTrue(positions == sorted(positions)
                        or positions == sorted(positions, reverse=True),
                        "listing order is not creation order")

        # Afterwards, a full listing has everything exactly once.
        final = [a["id"] for a in self.list_agents(key=reader_key, limit=7)]
        self.assertEqual(len(final), len(set(final)))
        self.assertEqual(set(final), set(existing) | set(inserted))
        # The default page holds 50.
        self.assertGreater(len(final), 50)
        resp = self.call("GET", "/v1/agents", key=reader_key, expect=200)
        self.assertEqual(len(resp.body["data"]), 50)
        self.assertIsInstance(resp.body["next_cursor"], str)


    def test_zz_logs_hold_no_keys(self):
        logs = self.server.logs()
        self.assertTrue(logs)
        for secret in self.secrets:
            self.assertNotIn(secret, logs, "a key value appears in the logs")


class AgentsRestartTest(AgentsTestCase):
    """Everything survives a restart, ETags included."""

    def test_restart_keeps_agents_versions_grants_and_etags(self):
        full = self.create_agent(full_config(unique("Durable")))
        ref = full["id"]
        self.publish(ref, note="one")
        self.patch_agent(ref, {"description": "two"})
        self.publish(ref, note="two")
        self.activate(ref, 1)
        self.patch_agent(ref, {"description": "draft only"})
        limited = self.create_key(["AGENT_API"], agent_ids=[ref])["key"]
        granted = self.create_agent({"name": "granted"}, key=limited)
        gone = self.create_agent({"name": "gone", "key": "agt_gone_" + secrets.token_hex(3)})
        self.call("DELETE", self.agent_path(gone["id"]), key=self.admin, expect=204)

        paths = [self.agent_path(ref), self.agent_path(ref) + "?version=draft",
                 self.agent_path(ref) + "?version=2", self.agent_path(ref, "/versions/1"),
                 self.agent_path(full["key"]), self.agent_path(granted["id"])]
        before = {}
        for path in paths:
            resp = self.call("GET", path, key=self.admin, expect=200)
            before[path] = (resp.body, resp.headers.get("etag"))
        versions = self.versions(ref).body
        listing = self.list_agents()
        limited_listing = sorted(a["id"] for a in self.list_agents(key=limited))

        self.server.restart()

        for path in paths:
            with self.subTest(path=path):
                resp = self.call("GET", path, key=self.admin, expect=200)
                self.assert_json_equal(resp.body, before[path][0])
                self.assertEqual(resp.headers.get("etag"), before[path][1])
                resp = self.call("GET", path, key=self.admin,
                                 headers={"If-None-Match": before[path][1]})
                self.assertEqual(resp.status, 304, repr(resp))
        self.assertEqual(self.versions(ref).body, versions)
        self.assert_json_equal(self.list_agents(), listing)
        self.assertEqual(sorted(a["id"] for a in self.list_agents(key=limited)),
                         limited_listing)
        self.assertEqual(limited_listing, sorted([ref, granted["id"]]))
        self.get_agent(granted["id"], key=limited)
        self.get_agent(gone["id"], expect=404)
        self.get_agent(gone["key"], expect=404)
        resp = self.create_agent({"name": "dup", "key": full["key"]}, expect=409)
        self.assert_error(resp, 409, "conflict", field="key")
        # And work continues where it stopped.
        self.assertEqual(self.publish(ref).body["version"], 3)
        self.create_agent({"name": "again", "key": gone["key"]})


if __name__ == "__main__":
    harness.run_tests()
