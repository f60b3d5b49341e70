"""Black-box tests of the compatible surfaces' semantics (DESIGN §6; issue 7;
docs/compatible-surfaces.md) beyond the answer shapes, which the ajv contract
suite (tests/contract) validates: one domain model behind every surface, the
Odeus field mapping in both directions, per-agent grants, the cached
per-surface views after every kind of change and after a restart, and pools
changed through Asteroid keeping their native settings.

Run: python3 tests/integration/test_compat.py --binary build/agentry
"""

import urllib.parse
import unittest

import agentry_harness as harness
from test_foundation import AgentryTestCase, UUID_RE, unique



class CompatTestCase(AgentryTestCase):
    """A fresh organization per test; error bodies are checked in the shape
    of their surface (AgentryTestCase.assert_error_shape)."""

    def setUp(self):
        org = self.create_org()
        self.org_id = org["id"]
        self.key = org["admin_key"]

    def odeus_create(self, body, key=None, prefix="/agent/v1"):
        resp = self.call("POST", prefix + "/create", body=body, key=key or self.key,
                         expect=201)
        self.assertEqual(resp.body["status"], "success")
        return resp.body["agent"]

    def odeus_get(self, agent_id, key=None, expect=200, prefix="/agent/v1"):
        q = urllib.parse.urlencode({"agentId": agent_id})
        return self.call("GET", f"{prefix}/get?{q}", key=key or self.key, expect=expect)


class OdeusMappingTest(CompatTestCase):

    def test_every_odeus_name_reaches_the_native_field_and_back(self):
        agent = self.odeus_create({
            "name": "Mapper", "description": "d", "instruction": "Be kind.",
            "emoji": "🤖", "model": "gpt-4", "creativity": 0.4,
            "conversationStarters": ["Hi"], "inputType": "STRUCTURED",
            "inputFields": [{"slug": "topic", "type": "text", "label": "Topic",
                             "required": True, "options": [], "fileTypes": None}],
            "actions": [{"actionId": "act-1"}],
            "attachments": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
            "knowledgeFolderIds": ["kf-1"], "webSearch": True,
            "imageGeneration": True, "dataAnalyst": True, "canvas": True,
            "extendedThinking": True})
        native = self.call("GET", f"/v1/agents/{agent['id']}", key=self.key,
                           expect=200).body
        self.assertEqual(native["instructions"], "Be kind.")
        self.assertEqual(native["emoji_icon"], "🤖")
        self.assertEqual(native["model"], {"name": "gpt-4",
                                           "parameters": {"temperature": 0.4}})
        self.assertEqual(native["conversation_starters"], ["Hi"])
        self.assertEqual(native["input_type"], "STRUCTURED")
        self.assertEqual(native["input_fields"][0]["slug"], "topic")
        self.assertIsNone(native["input_fields"][0]["file_types"])
        self.assertEqual(native["actions"], [{"action_id": "act-1",
                                              "requires_confirmation": True}])
        self.assertEqual(native["knowledge_folder_ids"], ["kf-1"])
        caps = native["capabilities"]
        for name in ("web_search", "image_generation", "code_interpreter", "canvas",
                     "extended_thinking"):
            self.assertTrue(caps[name], name)
        # And back: the answer names.
        got = self.odeus_get(agent["id"]).body["agent"]
        self.assertEqual(got["instruction"], "Be kind.")
        self.assertEqual(got["emojiIcon"], "🤖")
        self.assertEqual(got["model"], "gpt-4")
        self.assertEqual(got["temperature"], 0.4)
        self.assertEqual(got["inputFields"][0]["fileTypes"], None)
        self.assertEqual(got["actions"], [{"actionId": "act-1",
                                           "requiresConfirmation": True}])
        for name in ("webSearchEnabled", "imageGenerationEnabled",
                     "codeInterpreterEnabled", "canvasEnabled", "extendedThinking"):
            self.assertIs(got[name], True, name)

    def test_the_assistant_schema_names_are_accepted_too(self):
        agent = self.odeus_create({
            "name": "Assistant style", "instructions": "From the schema.",
            "temperature": 0.2, "capabilities": {"webSearch": True, "dataAnalyst": False,
                                                 "imageGeneration": True},
            "attachmentIds": [], "knowledgeFolderIds": [], "vectorDb": []})
        self.assertEqual(agent["instruction"], "From the schema.")
        self.assertTrue(agent["webSearchEnabled"])
        self.assertTrue(agent["imageGenerationEnabled"])
        self.assertFalse(agent["codeInterpreterEnabled"])

    def test_two_names_for_one_setting_and_unknown_members_are_refused(self):
        for body in ({"name": "x", "instruction": "a", "instructions": "b"},
                     {"name": "x", "temperature": 0.1, "creativity": 0.2},
                     {"name": "x", "webSearch": True, "webSearchEnabled": False},
                     {"name": "x", "capabilities": {"webSearch": True},
                      "webSearch": True},
                     {"name": "x", "colour": "red"},
                     {"name": "x", "vectorDb": ["db-1"]},
                     {"name": "x", "capabilities": {"teleport": True}},
                     {"name": "x", "actions": [{"actionId": "a", "extra": 1}]}):
            resp = self.call("POST", "/agent/v1/create", body=body, key=self.key)
            self.assertEqual(resp.status, 400, f"{body} -> {resp!r}")
            self.assertEqual(resp.body["code"], "invalid_request")
        # Nothing was created.
        self.assertEqual(self.list_pages("/v1/agents", key=self.key), [])

    def test_validation_errors_name_the_odeus_field(self):
        resp = self.call("POST", "/agent/v1/create",
                         body={"name": "x", "temperature": 3}, key=self.key, expect=400)
        self.assertIn('"temperature"', resp.body["message"])
        self.assertNotIn("model.parameters", resp.body["message"])
        resp = self.call("POST", "/agent/v1/create",
                         body={"name": "x", "inputType": "VOICE"}, key=self.key,
                         expect=400)
        self.assertIn("inputType", resp.body["message"])

    def test_update_is_partial_arrays_replace_null_and_empty_clear(self):
        agent = self.odeus_create({
            "name": "Partial", "description": "keep", "instruction": "old",
            "emojiIcon": "🙂", "model": "gpt-4", "temperature": 0.7,
            "conversationStarters": ["a", "b"], "actions": [{"actionId": "x"}]})
        for method, prefix in (("POST", "/agent/v1"), ("PATCH", "/api/public/agent/v1")):
            resp = self.call(method, prefix + "/update", key=self.key, expect=200, body={
                "agentId": agent["id"], "conversationStarters": ["c"],
                "instruction": "", "emoji": None})
            got = resp.body["agent"]
            self.assertEqual(got["description"], "keep")        # omitted: kept
            self.assertEqual(got["conversationStarters"], ["c"])  # replaced
            self.assertEqual(got["instruction"], "")             # "" clears
            self.assertEqual(got["emojiIcon"], "")               # null clears
            self.assertEqual(got["actions"], [{"actionId": "x",
                                               "requiresConfirmation": True}])
        resp = self.call("POST", "/agent/v1/update", key=self.key, expect=200, body={
            "agentId": agent["id"], "model": None, "temperature": None,
            "actions": [], "description": None})
        got = resp.body["agent"]
        self.assertEqual(got["model"], "default")
        self.assertEqual(got["temperature"], 0.3)  # none set: the vendor default
        self.assertEqual(got["actions"], [])
        self.assertEqual(got["description"], "")
        native = self.call("GET", f"/v1/agents/{agent['id']}", key=self.key).body
        self.assertEqual(native["model"], {"name": "default", "parameters": {}})

    def test_publish_versions_notes_and_stable_version_ids(self):
        agent = self.odeus_create({"name": "Versions"})
        first = self.call("POST", "/agent/v1/publish", key=self.key, expect=200,
                          body={"agentId": agent["id"], "description": "first"}).body
        self.call("POST", "/agent/v1/update", key=self.key, expect=200,
                  body={"agentId": agent["id"], "description": "v2"})
        second = self.call("POST", "/api/public/agent/v1/publish", key=self.key,
                           expect=200, body={"agentId": agent["id"]}).body
        self.assertEqual(first["version"]["version"], 1)
        self.assertEqual(second["version"]["version"], 2)
        self.assertRegex(first["version"]["id"], UUID_RE)
        self.assertNotEqual(first["version"]["id"], second["version"]["id"])
        versions = self.call("GET", f"/v1/agents/{agent['id']}/versions",
                             key=self.key, expect=200).body["data"]
        self.assertEqual([(v["version"], v["note"]) for v in versions],
                         [(2, ""), (1, "first")])
        # publish answers carry the version's own time.
        self.assertEqual(first["version"]["createdAt"], versions[1]["published_at"])

    def test_agent_id_in_upper_case_is_the_same_agent(self):
        agent = self.odeus_create({"name": "Case"})
        got = self.odeus_get(agent["id"].upper()).body["agent"]
        self.assertEqual(got["id"], agent["id"])


class GrantsTest(CompatTestCase):

    def test_a_key_limited_to_one_agent_sees_only_it_on_every_surface(self):
        a = self.call("POST", "/v1/agents", body={"name": "A", "key": "agt_granted"},
                      key=self.key, expect=201).body
        b = self.call("POST", "/v1/agents", body={"name": "B", "key": "agt_other"},
                      key=self.key, expect=201).body
        limited = self.create_key(["AGENT_API"], key=self.key, agent_ids=[a["id"]])["key"]
        self.odeus_get(a["id"], key=limited, expect=200)
        resp = self.odeus_get(b["id"], key=limited, expect=403)
        self.assertEqual(resp.body["code"], "forbidden")
        self.call("GET", "/v2/agents/agt_granted", key=limited, expect=200)
        resp = self.call("GET", "/v2/agents/agt_other", key=limited, expect=403)
        self.assertEqual(resp.body["error_code"], "forbidden")
        listed = self.call("GET", "/v2/agents?limit=100", key=limited, expect=200).body
        self.assertEqual([x["id"] for x in listed["agents"]], ["agt_granted"])
        for path, body in (("/agent/v1/update", {"agentId": b["id"], "name": "no"}),
                           ("/agent/v1/publish", {"agentId": b["id"]})):
            self.call("POST", path, body=body, key=limited, expect=403)
        self.call("PATCH", "/v2/agents/agt_other", body={"name": "no"}, key=limited,
                  expect=403)
        self.call("DELETE", "/v2/agents/agt_other", key=limited, expect=403)
        # An agent created through Odeus by the limited key is granted to it.
        mine = self.odeus_create({"name": "Mine"}, key=limited)
        self.odeus_get(mine["id"], key=limited, expect=200)

    def test_scopes_are_the_native_ones(self):
        reader = self.create_key(["agents:read"], key=self.key)["key"]
        agent = self.odeus_create({"name": "Scoped"})
        self.odeus_get(agent["id"], key=reader, expect=200)
        self.call("POST", "/agent/v1/create", body={"name": "n"}, key=reader, expect=403)
        writer = self.create_key(["agents:read", "agents:write"], key=self.key)["key"]
        self.call("POST", "/agent/v1/update", body={"agentId": agent["id"], "name": "w"},
                  key=writer, expect=200)
        self.call("POST", "/agent/v1/publish", body={"agentId": agent["id"]}, key=writer,
                  expect=403)
        pools_only = self.create_key(["pools:read"], key=self.key)["key"]
        self.call("GET", "/v2/agents", key=pools_only, expect=403)
        self.call("GET", "/agents/v2/agent-profile-pools", key=pools_only, expect=200)
        self.call("POST", "/agents/v2/agent-profile-pools", body={"name": "p"},
                  key=pools_only, expect=403)


class CachedViewsTest(CompatTestCase):

    def test_every_change_shows_on_every_surface_at_once(self):
        created = self.call("POST", "/v2/agents", key=self.key, expect=201,
                            body={"key": "agt_views", "name": "One"}).body
        agent_id = self.call("GET", "/v1/agents/agt_views", key=self.key).body["id"]
        # Fill the cached views, then change the draft natively.
        self.assertEqual(created["name"], "One")
        self.assertEqual(self.odeus_get(agent_id).body["agent"]["name"], "One")
        self.call("GET", "/v2/agents/agt_views", key=self.key, expect=200)
        self.call("PATCH", "/v1/agents/agt_views", body={"name": "Two"}, key=self.key,
                  headers={"Content-Type": "application/merge-patch+json"}, expect=200)
        self.assertEqual(self.odeus_get(agent_id).body["agent"]["name"], "Two")
        self.assertEqual(self.call("GET", "/v2/agents/agt_views", key=self.key).body["name"],
                         "Two")
        # Published: GET shows the version; a Vectara PATCH changes the draft only.
        self.call("POST", "/v1/agents/agt_views/publish", body={}, key=self.key, expect=201)
        patched = self.call("PATCH", "/v2/agents/agt_views", body={"name": "Three"},
                            key=self.key, expect=200).body
        self.assertEqual(patched["name"], "Three")
        self.assertEqual(self.call("GET", "/v2/agents/agt_views", key=self.key).body["name"],
                         "Two")
        self.assertEqual(self.odeus_get(agent_id).body["agent"]["name"], "Two")
        self.call("POST", "/agent/v1/publish", body={"agentId": agent_id}, key=self.key,
                  expect=200)
        self.assertEqual(self.call("GET", "/v2/agents/agt_views", key=self.key).body["name"],
                         "Three")
        # Roll back natively: every surface follows.
        self.call("POST", "/v1/agents/agt_views/versions/1/activate", body={},
                  key=self.key, expect=200)
        self.assertEqual(self.odeus_get(agent_id).body["agent"]["name"], "Two")
        self.assertEqual(self.call("GET", "/v2/agents/agt_views", key=self.key).body["name"],
                         "Two")
        # Deleted through Vectara: gone everywhere.
        self.call("DELETE", "/v2/agents/agt_views", key=self.key, expect=204)
        resp = self.odeus_get(agent_id, expect=404)
        self.assertEqual(resp.body["code"], "not_found")
        self.call("GET", f"/v1/agents/{agent_id}", key=self.key, expect=404)

    def test_answers_are_the_same_after_a_restart(self):
        agent = self.odeus_create({"name": "Durable", "temperature": 0.25})
        vectara_key = self.call("GET", f"/v1/agents/{agent['id']}", key=self.key).body["key"]
        before_o = self.odeus_get(agent["id"]).raw
        before_v = self.call("GET", f"/v2/agents/{vectara_key}", key=self.key).raw
        self.server.restart()
        self.assertEqual(self.odeus_get(agent["id"]).raw, before_o)
        self.assertEqual(self.call("GET", f"/v2/agents/{vectara_key}", key=self.key).raw,
                         before_v)


class PoolsTest(CompatTestCase):

    def test_asteroid_patch_keeps_native_settings_and_members(self):
        pool = self.call("POST", "/v1/agent-profile-pools", key=self.key, expect=201,
                         body={"name": unique("pool"), "default_lease_ttl_seconds": 42}).body
        profile = self.call("POST", "/v1/agent-profiles", key=self.key, expect=201,
                            body={"name": "p"}).body
        self.call("POST", f"/v1/agent-profile-pools/{pool['id']}/profiles", key=self.key,
                  body={"profile_ids": [profile["id"]]})
        self.call("PATCH", f"/agents/v2/agent-profile-pools/{pool['id']}", key=self.key,
                  expect=200, body={"selectionStrategy": "most_recently_used",
                                    "allowConcurrentUse": True})
        native = self.call("GET", f"/v1/agent-profile-pools/{pool['id']}",
                           key=self.key, expect=200).body
        self.assertEqual(native["default_lease_ttl_seconds"], 42)
        self.assertEqual(native["profile_count"], 1)
        self.assertEqual(native["selection_strategy"], "most_recently_used")
        self.assertTrue(native["allow_concurrent_use"])
        # The pool leases as Asteroid set it: shared now.
        lease = self.call("POST", f"/v1/agent-profile-pools/{pool['id']}/leases",
                          key=self.key, body={}, expect=201).body
        self.assertEqual(lease["mode"], "shared")

    def test_paging_walks_every_pool_once_in_order(self):
        names = [f"pool-{i:02d}" for i in range(23)]
        for n in names:
            self.call("POST", "/agents/v2/agent-profile-pools", key=self.key,
                      body={"name": n}, expect=201)
        seen = []
        for page in range(1, 6):
            body = self.call(
                "GET", "/agents/v2/agent-profile-pools?sortField=name&sortDirection=asc"
                f"&pageSize=5&page={page}", key=self.key, expect=200).body
            self.assertEqual((body["page"], body["pageSize"], body["total"]), (page, 5, 23))
            seen += [p["name"] for p in body["items"]]
        self.assertEqual(seen, names)
        desc = self.call("GET", "/agents/v2/agent-profile-pools?sortField=name"
                         "&sortDirection=desc&pageSize=3", key=self.key).body
        self.assertEqual([p["name"] for p in desc["items"]], names[::-1][:3])
        newest = self.call("GET", "/agents/v2/agent-profile-pools?pageSize=1",
                           key=self.key).body
        self.assertEqual(newest["items"][0]["name"], names[-1])  # createdAt desc
        found = self.call("GET", "/agents/v2/agent-profile-pools?searchName=POOL-1",
                          key=self.key).body
        self.assertEqual(found["total"], 10)
        self.assertEqual(self.call("GET", "/agents/v2/agent-profile-pools?page=9",
                                   key=self.key).body["items"], [])
        for query in ("page=0", "pageSize=0", "pageSize=101", "page=x",
                      "sortField=size", "sortDirection=up",
                      "searchName=" + "x" * 256):
            resp = self.call("GET", "/agents/v2/agent-profile-pools?" + query,
                             key=self.key, expect=400)
            self.assertEqual(resp.body["code"], 400)

    def test_organization_id_must_be_the_keys(self):
        other = self.create_org()
        self.call("GET", "/agents/v2/agent-profile-pools?organizationId=" + self.org_id,
                  key=self.key, expect=200)
        self.call("GET", "/agents/v2/agent-profile-pools?organizationId=" + other["id"],
                  key=self.key, expect=403)
        self.call("POST", "/agents/v2/agent-profile-pools", key=self.key, expect=403,
                  body={"name": "x", "organizationId": other["id"]})
        self.call("POST", "/agents/v2/agent-profile-pools", key=self.key, expect=201,
                  body={"name": "x", "organizationId": self.org_id.upper()})
        # Nothing was made by the refused create.
        self.assertEqual(self.call("GET", "/agents/v2/agent-profile-pools",
                                   key=self.key).body["total"], 1)


if __name__ == "__main__":
    harness.run_tests()
