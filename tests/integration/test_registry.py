"""Black-box tests of Agentry's versioned instructions, template rendering and
the agent features that depend on the registry (DESIGN §5 "Tools and
instructions", "Agents"): instruction create / patch / versions / list /
render with Velocity semantics and bounds, publish checks of tool and
instruction references and of argument bindings, pinning of references at
publish, and agent render.

Expected Velocity outputs were checked against Apache Velocity 1.7 (Debian's
`velocity` package).

Run: python3 tests/integration/test_registry.py --binary build/agentry
"""

import datetime
import json
import re
import secrets
import threading
import time
import urllib.parse

import agentry_harness as harness
from test_agents import AgentsTestCase
from test_foundation import TIMESTAMP_RE, parse_rfc3339_ms, unique

INS_ID_RE = re.compile(r"^ins_[0-9a-zA-Z_-]+$")
INS_FIELDS = {"id", "name", "description", "template_type", "template", "version",
              "created_at", "updated_at"}
LINE_COL_RE = re.compile(r"line \d+, column \d+")

SESSION = {"user": {"name": "Ada", "tier": "gold"}, "items": ["a", "b", "c"], "empty": [],
           "n": 5, "two": 2, "zero": 0, "f": 1.5, "flag": True, "off": False,
           "tier": "gold", "nums": [3, 1, 2], "obj": {"k": "v"},
           "users": [{"name": "Ada"}, {"name": "Grace"}]}

# (template, expected output with SESSION as `session`), as Apache Velocity 1.7
# renders them.
VELOCITY_CASES = [
    ("Hello ${session.user.name}", "Hello Ada"),
    ("Hello $session.user.name!", "Hello Ada!"),
    ("[$session.missing]", "[$session.missing]"),
    ("[${session.missing}]", "[${session.missing}]"),
    ("[$!session.missing]", "[]"),
    ("[$!{session.missing}]", "[]"),
    ("[$session.user.missing]", "[$session.user.missing]"),
    ("[$nothing] [$!nothing]", "[$nothing] []"),
    ("${session.user.tier}/$session.tier", "gold/gold"),
    ("$session.obj.k ${session.obj.k}", "v v"),
    ("$session.n $session.f $session.flag $session.off", "5 1.5 true false"),
    ("#foreach($i in $session.items)$foreach.count:$i #end", "1:a 2:b 3:c "),
    ("#foreach($i in $session.items)$foreach.index#end", "012"),
    ("#foreach($i in $session.items)$i#if($foreach.hasNext), #end#end", "a, b, c"),
    ("#foreach($u in $session.users)$u.name;#end", "Ada;Grace;"),
    ("[#foreach($i in $session.empty)x#end]", "[]"),
    ("[#foreach($i in $session.missing)x#end]", "[]"),
    ("#foreach( $i in $session.items )$i#end", "abc"),
    ("#foreach($i in $session.items)#foreach($j in $session.items)$foreach.count#end|#end",
     "123|123|123|"),
    ("#foreach($i in $session.nums)#if($i > 1)$i#end#end", "32"),
    ('#if(5 == "5")yes#{else}no#end', "yes"),
    ('#if($session.n == "5")yes#{else}no#end', "yes"),
    ('#set($s = "5")#if($s == 5)eq#end', "eq"),
    ("#if($session.n == 5.0)eqf#{else}neqf#end", "eqf"),
    ("#if($session.f > 1)gt#end", "gt"),
    ("#if($session.n > 3)big#elseif($session.n > 1)mid#{else}small#{end}", "big"),
    ("#if($session.two > 3)big#elseif($session.two > 1)mid#{else}small#{end}", "mid"),
    ("#if($session.zero > 3)big#elseif($session.zero > 1)mid#{else}small#{end}", "small"),
    ("#if($session.n >= 5 && $session.n <= 5 && $session.n != 4 && $session.n < 6)ok#end",
     "ok"),
    ("#if($session.flag && !$session.off)on#{else}off#end", "on"),
    ("#if($session.off || $session.flag)either#end", "either"),
    ("#if($session.missing)x#{else}y#end", "y"),
    ("#if(!$session.missing)none#end", "none"),
    ('#if($session.tier == "gold")G#end#if($session.tier != "silver")!S#end', "G!S"),
    ("#if($session.user.name == 'Ada')ada#end", "ada"),
    ("#{if}(true)formal#{end}", "formal"),
    ('#set($x = "v")$x', "v"),
    ('#set($g = "Hi $session.user.name")$g', "Hi Ada"),
    ("#set($g = 'Hi $session.user.name')$g", "Hi $session.user.name"),
    ("#set($n = 7)#if($n > 6)$n#end", "7"),
    ("#set($b = true)#if($b)T#end#set($c = false)#if(!$c)F#end", "TF"),
    ("a## comment\nb", "ab"),
    ("a #* block\n comment *#b", "a b"),
    ("\\#if \\#foo", "#if \\#foo"),
    ("\\$session.user.name \\$nope", "$session.user.name \\$nope"),
    ("Cost: $5 and #notadirective", "Cost: $5 and #notadirective"),
    ("line1\n#set($x = 1)\nline3", "line1\nline3"),
    ("  #if(true)\n  yes\n  #end\n", "    yes\n  "),
    ("été 🤖 ${session.user.name} </script>", "été 🤖 Ada </script>"),
]


def search_schema():
    return {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "max_results": {"type": "integer"},
            "threshold": {"type": "number"},
            "exact": {"type": "boolean"},
            "mode": {"type": "string", "enum": ["fast", "deep"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "filter": {"type": "object", "properties": {"since": {"type": "string"}}},
            "anything": {},
        },
        "required": ["query"],
    }


def utc_dates_around_now():
    now = datetime.datetime.now(datetime.timezone.utc)
    return {(now + datetime.timedelta(seconds=s)).strftime("%Y-%m-%d") for s in (-60, 0, 60)}


class RegistryTestCase(AgentsTestCase):
    """Helpers for instructions, tools and agent render."""

    # ----------------------------------------------------------- instructions

    def ins_path(self, ins_id, suffix=""):
        return f"/v1/instructions/{urllib.parse.quote(ins_id, safe='')}{suffix}"

    def check_ins(self, ins, version="any"):
        self.assertIsInstance(ins, dict, repr(ins))
        self.assertEqual(set(ins), INS_FIELDS,
                         f"members differ: extra {set(ins) - INS_FIELDS}, "
                         f"missing {INS_FIELDS - set(ins)}")
        self.assertRegex(ins["id"], INS_ID_RE)
        self.assertLessEqual(len(ins["id"]), 64)
        self.assertIsInstance(ins["name"], str)
        self.assertTrue(ins["name"])
        self.assertIsInstance(ins["description"], str)
        self.assertIn(ins["template_type"], ("velocity", "plain"))
        self.assertIsInstance(ins["template"], str)
        self.assertIs(type(ins["version"]), int, ins)
        self.assertGreaterEqual(ins["version"], 1)
        if version != "any":
            self.assertEqual(ins["version"], version, ins)
        for ts in ("created_at", "updated_at"):
            self.assertRegex(ins[ts], TIMESTAMP_RE)
        self.assertLessEqual(parse_rfc3339_ms(ins["created_at"]),
                             parse_rfc3339_ms(ins["updated_at"]), ins)

    def create_ins(self, body=None, key=None, expect=201, **members):
        payload = dict(body if body is not None else {"name": unique("ins"),
                                                      "template": "Hello"})
        payload.update(members)
        resp = self.call("POST", "/v1/instructions", body=payload, key=key or self.admin)
        if expect is not None:
            self.assertEqual(resp.status, expect,
                             f"POST /v1/instructions {payload} -> {resp!r}")
        if expect == 201:
            self.check_ins(resp.body, version=1)
            tag = resp.headers.get("etag")
            self.assertTrue(tag, f"no ETag on create: {resp!r}")
            self.assertFalse(tag.startswith("W/"), f"weak ETag: {tag}")
            return resp.body
        return resp

    def get_ins(self, ins_id, key=None, expect=200, query="", headers=None):
        resp = self.call("GET", self.ins_path(ins_id) + query, key=key or self.admin,
                         headers=headers)
        if expect is not None:
            self.assertEqual(resp.status, expect, repr(resp))
        if expect == 200:
            self.check_ins(resp.body)
        return resp

    def patch_ins(self, ins_id, patch, key=None, expect=200, headers=None):
        resp = self.call("PATCH", self.ins_path(ins_id), body=patch, key=key or self.admin,
                         headers=headers)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"PATCH {ins_id} {patch} -> {resp!r}")
        if expect == 200:
            self.check_ins(resp.body)
            self.assertEqual(resp.body["id"], ins_id)
        return resp

    def ins_etag(self, ins_id, key=None, query=""):
        resp = self.get_ins(ins_id, key=key, query=query)
        tag = resp.headers.get("etag")
        self.assertTrue(tag, f"no ETag: {resp!r}")
        return tag

    def _paged(self, path, key, limit):
        return self.list_pages(path, key=key, limit=limit)

    def list_ins(self, key=None, limit=200):
        return self._paged("/v1/instructions", key, limit)

    def ins_count(self, key=None):
        return len(self.list_ins(key=key))

    def ins_versions(self, ins_id, key=None, limit=200):
        return self._paged(self.ins_path(ins_id, "/versions"), key, limit)

    def render_ins(self, ins_id, body=None, key=None, expect=200):
        resp = self.call("POST", self.ins_path(ins_id, "/render"),
                         body={} if body is None else body, key=key or self.admin)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"render {ins_id} {body} -> {resp!r}")
        if expect == 200:
            self.assertIsInstance(resp.body, dict, repr(resp))
            self.assertEqual(set(resp.body), {"text"}, repr(resp))
            self.assertIsInstance(resp.body["text"], str)
            return resp.body["text"]
        return resp

    # ------------------------------------------------------------------ tools

    def make_tool(self, key=None, **body):
        body.setdefault("name", unique("tool"))
        resp = self.call("POST", "/v1/tools", body=body, key=key or self.admin)
        self.assertEqual(resp.status, 201, f"POST /v1/tools {body} -> {resp!r}")
        return resp.body

    # ----------------------------------------------------------------- agents

    def render_agent(self, ref, body=None, key=None, expect=200):
        resp = self.call("POST", self.agent_path(ref, "/render"),
                         body={} if body is None else body, key=key or self.admin)
        if expect is not None:
            self.assertEqual(resp.status, expect, f"render agent {ref} {body} -> {resp!r}")
        if expect == 200:
            self.assertIsInstance(resp.body, dict, repr(resp))
            self.assertEqual(set(resp.body), {"instructions"}, repr(resp))
            self.assertIsInstance(resp.body["instructions"], list, repr(resp))
            for item in resp.body["instructions"]:
                self.assertEqual(set(item), {"name", "text"}, repr(resp))
                self.assertIsInstance(item["name"], str)
                self.assertIsInstance(item["text"], str)
            return [(i["name"], i["text"]) for i in resp.body["instructions"]]
        return resp

    def assert_publish_refused(self, ref, fields, key=None, versions_before=0):
        """Publishing `ref` fails with 400 naming one of `fields`, and makes
        no version."""
        active = self.get_agent(ref, key=key).body
        resp = self.call("POST", self.agent_path(ref, "/publish"), body={},
                         key=key or self.admin)
        self.assert_field(resp, 400, "invalid_request", fields)
        listed = self.versions(ref, key=key).body["data"]
        self.assertEqual(len(listed), versions_before, "a refused publish made a version")
        self.assert_json_equal(self.get_agent(ref, key=key).body, active)
        return resp


# ====================================================================== tests


class InstructionsTest(RegistryTestCase):

    # ------------------------------------------------------------------ create

    def test_create_minimal_fills_defaults(self):
        name = unique("Greeting")
        before = time.time()
        ins = self.create_ins({"name": name, "template": "Hello ${session.user.name}"})
        self.assertRegex(ins["id"], INS_ID_RE)
        self.assertEqual(ins["name"], name)
        self.assertEqual(ins["description"], "")
        self.assertEqual(ins["template_type"], "velocity")
        self.assertEqual(ins["template"], "Hello ${session.user.name}")
        self.assertEqual(ins["version"], 1)
        created = parse_rfc3339_ms(ins["created_at"]).timestamp()
        self.assertLess(abs(created - before), 60)
        self.assertEqual(self.get_ins(ins["id"]).body, ins)
        self.assertEqual(self.get_ins(ins["id"], query="?version=1").body, ins)
        other = self.create_ins({"name": name, "template": "x"})
        self.assertNotEqual(other["id"], ins["id"])

    def test_create_full_and_plain(self):
        ins_id = "ins_" + secrets.token_hex(4) + "_Support-Init"
        body = {"id": ins_id, "name": "Support init", "description": "First words 🤖",
                "template_type": "velocity",
                "template": "Line 1\n\tLine 2 \"quoted\" \\ </script> \u2028 é"}
        ins = self.create_ins(body)
        for member, value in body.items():
            self.assertEqual(ins[member], value, member)
        self.assertEqual(self.get_ins(ins_id).body, ins)
        # A plain template is never parsed: anything goes, and it renders as is.
        raw = "#if( $unclosed ${session.user.name} #end #end ## not a comment"
        plain = self.create_ins({"name": "plain", "template_type": "plain", "template": raw})
        self.assertEqual(plain["template_type"], "plain")
        self.assertEqual(plain["template"], raw)
        self.assertEqual(self.render_ins(plain["id"], {"session": SESSION}), raw)
        # An empty template is a template.
        empty = self.create_ins({"name": "empty", "template": ""})
        self.assertEqual(self.render_ins(empty["id"]), "")

    def test_create_validation(self):
        long_id = "ins_" + "k" * 61
        cases = [
            ({"template": "x"}, "name"),
            ({"name": "", "template": "x"}, "name"),
            ({"name": 5, "template": "x"}, "name"),
            ({"name": None, "template": "x"}, "name"),
            ({"name": "n"}, "template"),
            ({"name": "n", "template": None}, "template"),
            ({"name": "n", "template": 5}, "template"),
            ({"name": "n", "template": ["x"]}, "template"),
            ({"name": "n", "template": "x", "description": 5}, "description"),
            ({"name": "n", "template": "x", "template_type": "jinja"}, "template_type"),
            ({"name": "n", "template": "x", "template_type": "Velocity"}, "template_type"),
            ({"name": "n", "template": "x", "id": "greeting"}, "id"),
            ({"name": "n", "template": "x", "id": "ins_"}, "id"),
            ({"name": "n", "template": "x", "id": "ins_a b"}, "id"),
            ({"name": "n", "template": "x", "id": "ins_a/b"}, "id"),
            ({"name": "n", "template": "x", "id": "tol_abc"}, "id"),
            ({"name": "n", "template": "x", "id": long_id}, "id"),
            ({"name": "n", "template": "x", "id": 7}, "id"),
            ({"name": "n", "template": "x", "version": 1}, "version"),
            ({"name": "n", "template": "x", "created_at": "2024-01-01T00:00:00.000Z"},
             "created_at"),
            ({"name": "n", "template": "x", "updated_at": "2024-01-01T00:00:00.000Z"},
             "updated_at"),
            ({"name": "n", "template": "x", "colour": "red"}, "colour"),
            ({"name": "n", "template": "#if($x)no end"}, "template"),
            ({"name": "n", "template": "#end"}, "template"),
            ({"name": "n", "template": "${session.user"}, "template"),
            ({"name": "n", "template": "#set($x = )"}, "template"),
            ({"name": "n", "template": "#foreach($x in)#end"}, "template"),
            ({"name": "n", "template": "#if($a == )x#end"}, "template"),
            # (An unterminated #* comment runs to the end, as in Velocity 1.7.)
            ({"name": "n", "template": "#foreach($i in)#end"}, "template"),
            ({"name": "n", "template_type": "velocity", "template": "#else"}, "template"),
        ]
        before = self.ins_count()
        for body, field in cases:
            with self.subTest(field=field, body=json.dumps(body)[:120]):
                resp = self.call("POST", "/v1/instructions", body=body, key=self.admin)
                self.assert_error(resp, 400, "invalid_request", field=field)
                self.assertIn(field, resp.body["error"]["message"], repr(resp))
        self.assertEqual(self.ins_count(), before)

    def test_parse_errors_give_line_and_column(self):
        cases = [
            ("Hello\nworld\n  #end", "line 3, column 3"),
            ("ok\n#else", "line 2, column 1"),
            ("one\ntwo\nthree #elseif(true)", "line 3, column 7"),
        ]
        for template, where in cases:
            with self.subTest(template=template):
                resp = self.create_ins({"name": "bad", "template": template}, expect=400)
                self.assert_error(resp, 400, "invalid_request", field="template")
                self.assertIn(where, resp.body["error"]["message"], repr(resp))
        for template in ("#if($x)\n\nfoo", "a\n  ${session.user", "#foreach($i in $l)\n",
                         "#set($x = ", "#if(5 == )x#end", "\n\n#foreach(i in $l)#end"):
            with self.subTest(template=template):
                resp = self.create_ins({"name": "bad", "template": template}, expect=400)
                self.assert_error(resp, 400, "invalid_request", field="template")
                self.assertRegex(resp.body["error"]["message"], LINE_COL_RE, repr(resp))

    def test_create_malformed_bodies(self):
        before = self.ins_count()
        for raw, ctype, status in (
                ('{"name":"a","template":"x","name":"b"}', "application/json", 400),
                ('{"name":"a","template":"x"', "application/json", 400),
                ('["name"]', "application/json", 400),
                ("", "application/json", 400),
                ('{"name":"a","template":"\\ud800"}', "application/json", 400),
                ('{"name":"a","template":"x"}', "text/plain", 415),
                ('{"name":"a","template":"x"}', None, 415)):
            with self.subTest(raw=raw, content_type=ctype):
                resp = self.post_raw("/v1/instructions", raw, content_type=ctype,
                                     key=self.admin)
                code = "invalid_request" if status == 400 else "unsupported_media_type"
                self.assert_error(resp, status, code)
        self.assertEqual(self.ins_count(), before)

    def test_duplicate_id(self):
        ins_id = "ins_dup_" + secrets.token_hex(4)
        first = self.create_ins({"id": ins_id, "name": "one", "template": "1"})
        before = self.ins_count()
        resp = self.create_ins({"id": ins_id, "name": "two", "template": "2"}, expect=409)
        self.assert_error(resp, 409, "conflict", field="id")
        self.assertEqual(self.ins_count(), before)
        self.assertEqual(self.get_ins(ins_id).body, first)
        self.assertEqual(len(self.ins_versions(ins_id)), 1)
        # The same id in another organization is a different instruction.
        org = self.create_org()
        theirs = self.create_ins({"id": ins_id, "name": "theirs", "template": "T"},
                                 key=org["admin_key"])
        self.assertEqual(theirs["version"], 1)
        self.assertEqual(self.render_ins(ins_id, key=org["admin_key"]), "T")
        self.assertEqual(self.render_ins(ins_id), "1")

    # ------------------------------------------------------- patch and versions

    def test_patch_creates_versions(self):
        ins = self.create_ins({"name": "Greeting", "description": "d1",
                               "template": "Hello ${session.user.name}"})
        iid = ins["id"]
        tags = [self.ins_etag(iid)]
        time.sleep(0.002)
        v2 = self.patch_ins(iid, {"template": "Hi ${session.user.name}"}).body
        self.assertEqual(v2["version"], 2)
        self.assertEqual(v2["name"], "Greeting")
        self.assertEqual(v2["description"], "d1")
        self.assertEqual(v2["created_at"], ins["created_at"])
        self.assertGreaterEqual(parse_rfc3339_ms(v2["updated_at"]),
                                parse_rfc3339_ms(ins["updated_at"]))
        tags.append(self.ins_etag(iid))
        v3 = self.patch_ins(iid, {"name": "Greeting 3", "description": None},
                            headers={"Content-Type": "application/merge-patch+json"}).body
        self.assertEqual(v3["version"], 3)
        self.assertEqual(v3["description"], "")
        self.assertEqual(v3["template"], v2["template"])
        tags.append(self.ins_etag(iid))
        v4 = self.patch_ins(iid, {"template_type": "plain"}).body
        self.assertEqual(v4["version"], 4)
        self.assertEqual(v4["template_type"], "plain")
        tags.append(self.ins_etag(iid))
        self.assertEqual(len(set(tags)), len(tags), f"an ETag repeated: {tags}")

        # A patch that changes nothing makes no version and answers the current.
        for noop in ({}, {"template": v4["template"]}, {"name": "Greeting 3",
                                                        "template_type": "plain"}):
            with self.subTest(noop=noop):
                resp = self.patch_ins(iid, noop)
                self.assertEqual(resp.body, v4)
        self.assertEqual(self.ins_etag(iid), tags[-1])

        # Latest, and every version as it was answered.
        self.assertEqual(self.get_ins(iid).body, v4)
        for n, answer in ((1, ins), (2, v2), (3, v3), (4, v4)):
            with self.subTest(version=n):
                resp = self.get_ins(iid, query=f"?version={n}")
                self.assertEqual(resp.body, answer)
                tag = resp.headers.get("etag")
                self.assertTrue(tag and not tag.startswith("W/"), repr(resp))
                resp = self.get_ins(iid, query=f"?version={n}", expect=304,
                                    headers={"If-None-Match": tag})
                self.assertEqual(resp.raw, "")
        self.assertEqual(self.ins_versions(iid), [v4, v3, v2, ins])
        # Rendering follows the versions.
        self.assertEqual(self.render_ins(iid, {"session": SESSION}),
                         "Hi ${session.user.name}")
        self.assertEqual(self.render_ins(iid, {"session": SESSION, "version": 1}),
                         "Hello Ada")
        self.assertEqual(self.render_ins(iid, {"session": SESSION, "version": 2}), "Hi Ada")

    def test_conditional_get(self):
        ins = self.create_ins()
        resp = self.get_ins(ins["id"])
        tag = resp.headers.get("etag")
        self.assertRegex(tag or "", r'^"[^"]+"$')
        for header in (tag, f'"nope", {tag}', "*"):
            with self.subTest(if_none_match=header):
                resp = self.get_ins(ins["id"], expect=304, headers={"If-None-Match": header})
                self.assertEqual(resp.raw, "")
                self.assertEqual(resp.headers.get("etag"), tag)
        self.get_ins(ins["id"], headers={"If-None-Match": '"other"'})
        self.patch_ins(ins["id"], {"template": "changed"})
        self.get_ins(ins["id"], headers={"If-None-Match": tag})
        # Version 1's tag is still version 1's.
        resp = self.get_ins(ins["id"], query="?version=1", expect=None,
                            headers={"If-None-Match": tag})
        self.assertIn(resp.status, (200, 304), repr(resp))

    def test_patch_validation_changes_nothing(self):
        ins = self.create_ins({"name": "Stable", "template": "Hello $session.user.name"})
        iid = ins["id"]
        tag = self.ins_etag(iid)
        cases = [
            ({"template": "#if($x)"}, "template"),
            ({"template": "fine\n  #end"}, "template"),
            ({"template": None}, "template"),
            ({"template": 5}, "template"),
            ({"name": None}, "name"),
            ({"name": ""}, "name"),
            ({"name": 5}, "name"),
            ({"description": 5}, "description"),
            ({"template_type": "jinja"}, "template_type"),
            ({"id": "ins_other_" + secrets.token_hex(3)}, "id"),
            ({"version": 7}, "version"),
            ({"created_at": "2024-01-01T00:00:00.000Z"}, "created_at"),
            ({"updated_at": "2024-01-01T00:00:00.000Z"}, "updated_at"),
            ({"colour": "red"}, "colour"),
            ({"name": "ok", "template": "#foreach($i in $x)"}, "template"),
        ]
        for patch, field in cases:
            with self.subTest(field=field, patch=patch):
                resp = self.call("PATCH", self.ins_path(iid), body=patch, key=self.admin)
                self.assert_error(resp, 400, "invalid_request", field=field)
        for ctype in ("text/plain", "application/json-patch+json"):
            with self.subTest(content_type=ctype):
                resp = self.call("PATCH", self.ins_path(iid), key=self.admin,
                                 body='{"template":"x"}', headers={"Content-Type": ctype})
                self.assert_error(resp, 415, "unsupported_media_type")
        for raw in ("[1]", '{"template":"a","template":"b"}', "{"):
            with self.subTest(raw=raw):
                resp = self.call("PATCH", self.ins_path(iid), key=self.admin, body=raw,
                                 headers={"Content-Type": "application/json"})
                self.assert_error(resp, 400, "invalid_request")
        self.assertEqual(self.ins_etag(iid), tag, "a refused PATCH changed the instruction")
        self.assertEqual(self.get_ins(iid).body, ins)
        self.assertEqual(len(self.ins_versions(iid)), 1, "a refused PATCH made a version")
        self.get_ins(iid, query="?version=2", expect=404)

        # A plain template that is not valid Velocity cannot become velocity.
        plain = self.create_ins({"name": "p", "template_type": "plain",
                                 "template": "#if(oops"})
        resp = self.call("PATCH", self.ins_path(plain["id"]), key=self.admin,
                         body={"template_type": "velocity"})
        self.assert_field(resp, 400, "invalid_request", ("template", "template_type"))
        self.assertRegex(resp.body["error"]["message"], LINE_COL_RE)
        self.assertEqual(len(self.ins_versions(plain["id"])), 1)
        # ... but can, together with a template that parses.
        v2 = self.patch_ins(plain["id"], {"template_type": "velocity",
                                          "template": "#if(true)ok#end"}).body
        self.assertEqual(v2["version"], 2)
        self.assertEqual(self.render_ins(plain["id"]), "ok")

    def test_if_match_preconditions(self):
        ins = self.create_ins()
        iid = ins["id"]
        stale = self.ins_etag(iid)
        self.patch_ins(iid, {"template": "v2"}, headers={"If-Match": stale})
        current = self.ins_etag(iid)
        self.assertNotEqual(current, stale)
        for header in (stale, f"W/{current}", '"nope"'):
            with self.subTest(if_match=header):
                resp = self.call("PATCH", self.ins_path(iid), body={"template": "lost"},
                                 key=self.admin, headers={"If-Match": header})
                self.assert_error(resp, 412, "precondition_failed")
        self.assertEqual(self.get_ins(iid).body["version"], 2)
        self.assertEqual(len(self.ins_versions(iid)), 2)
        self.assertEqual(self.patch_ins(iid, {"template": "v3"},
                                        headers={"If-Match": current}).body["version"], 3)
        self.assertEqual(self.patch_ins(iid, {"template": "v4"},
                                        headers={"If-Match": "*"}).body["version"], 4)

    def test_version_parameter(self):
        ins = self.create_ins()
        iid = ins["id"]
        self.patch_ins(iid, {"template": "two"})
        for bad in ("0", "-1", "abc", "1.5", "v1", "1e0", " 1", ""):
            with self.subTest(version=bad):
                resp = self.call("GET", self.ins_path(iid) + "?version=" +
                                 urllib.parse.quote(bad), key=self.admin)
                self.assert_error(resp, 400, "invalid_request", field="version")
        for missing in ("3", "99"):
            with self.subTest(version=missing):
                resp = self.call("GET", self.ins_path(iid) + "?version=" + missing,
                                 key=self.admin)
                self.assert_error(resp, 404, "not_found")
        for huge in ("99999999999999999999", "2147483648"):
            with self.subTest(version=huge):
                resp = self.call("GET", self.ins_path(iid) + "?version=" + huge,
                                 key=self.admin)
                self.assertIn(resp.status, (400, 404), repr(resp))
        self.assertEqual(self.get_ins(iid, query="?version=2").body["template"], "two")

    def test_versions_paging(self):
        ins = self.create_ins({"name": "paged", "template": "t1"})
        iid = ins["id"]
        for i in range(2, 8):
            self.patch_ins(iid, {"template": f"t{i}"})
        for limit in (1, 2, 3, 200):
            with self.subTest(limit=limit):
                got = self.ins_versions(iid, limit=limit)
                self.assertEqual([v["version"] for v in got], list(range(7, 0, -1)))
                self.assertEqual([v["template"] for v in got],
                                 [f"t{i}" for i in range(7, 0, -1)])
                for v in got:
                    self.check_ins(v)
                    self.assertEqual(v["id"], iid)
        resp = self.call("GET", self.ins_path(iid, "/versions?limit=2"), key=self.admin,
                         expect=200)
        self.assertEqual([v["version"] for v in resp.body["data"]], [7, 6])
        self.assertIsInstance(resp.body["next_cursor"], str)
        for bad in ("0", "201", "x", "-2"):
            with self.subTest(limit=bad):
                resp = self.call("GET", self.ins_path(iid, f"/versions?limit={bad}"),
                                 key=self.admin)
                self.assert_error(resp, 400, "invalid_request", field="limit")
        resp = self.call("GET", self.ins_path(iid, "/versions?cursor=%21%21garbage%21%21"),
                         key=self.admin)
        self.assert_error(resp, 400, "invalid_request", field="cursor")
        resp = self.call("GET", self.ins_path("ins_never_" + secrets.token_hex(3),
                                              "/versions"), key=self.admin)
        self.assert_error(resp, 404, "not_found")

    def test_list_instructions(self):
        org = self.create_org()
        k = org["admin_key"]
        self.assertEqual(self.call("GET", "/v1/instructions", key=k, expect=200).body,
                         {"data": [], "next_cursor": None})
        ids = ["ins_m", "ins_B", "ins_a", "ins_0", "ins_a-b", "ins_a_b", "ins_zz"]
        for ins_id in ids:
            self.create_ins({"id": ins_id, "name": ins_id, "template": "v1"}, key=k)
        generated = self.create_ins(key=k)
        self.patch_ins("ins_m", {"template": "v2"}, key=k)
        self.patch_ins("ins_m", {"template": "v3"}, key=k)
        expected = sorted(ids + [generated["id"]])
        for limit in (200, 1, 3):
            with self.subTest(limit=limit):
                got = self.list_ins(key=k, limit=limit)
                self.assertEqual([i["id"] for i in got], expected,
                                 "the list is not in ascending id order")
        for item in self.list_ins(key=k):
            self.assertEqual(item, self.get_ins(item["id"], key=k).body,
                             "a list item is not the latest version")
        latest_m = [i for i in self.list_ins(key=k) if i["id"] == "ins_m"][0]
        self.assertEqual((latest_m["version"], latest_m["template"]), (3, "v3"))
        for bad in ("0", "201", "abc"):
            with self.subTest(limit=bad):
                resp = self.call("GET", "/v1/instructions?limit=" + bad, key=k)
                self.assert_error(resp, 400, "invalid_request", field="limit")
        resp = self.call("GET", "/v1/instructions?cursor=%21%21garbage%21%21", key=k)
        self.assert_error(resp, 400, "invalid_request", field="cursor")
        self.assertFalse(set(expected) & {i["id"] for i in self.list_ins()},
                         "another organization's instructions are listed")

    def test_no_delete(self):
        ins = self.create_ins()
        for method, path in (("DELETE", self.ins_path(ins["id"])),
                             ("DELETE", self.ins_path(ins["id"]) + "?version=1"),
                             ("DELETE", "/v1/instructions")):
            with self.subTest(method=method, path=path):
                resp = self.call(method, path, key=self.admin)
                self.assertIn(resp.status, (404, 405), repr(resp))
                self.assert_error(resp, resp.status,
                                  "method_not_allowed" if resp.status == 405 else "not_found")
        for method, path in (("PUT", self.ins_path(ins["id"])),
                             ("POST", self.ins_path(ins["id"])),
                             ("GET", self.ins_path(ins["id"], "/render")),
                             ("POST", self.ins_path(ins["id"], "/versions"))):
            with self.subTest(method=method, path=path):
                resp = self.call(method, path, key=self.admin,
                                 body={} if method in ("PUT", "POST") else None)
                self.assert_error(resp, 405, "method_not_allowed")
        self.assertEqual(self.get_ins(ins["id"]).body, ins)
        self.assertEqual(len(self.ins_versions(ins["id"])), 1)

    def test_unknown_instructions(self):
        for ins_id in ("ins_never_" + secrets.token_hex(4), "not-an-id", "ins_" + "x" * 3000,
                       "é🤖", "..", "' OR 1=1 --"):
            for method, suffix, body in (("GET", "", None), ("GET", "?version=1", None),
                                         ("PATCH", "", {"template": "x"}),
                                         ("GET", "/versions", None),
                                         ("POST", "/render", {})):
                with self.subTest(ins_id=ins_id[:30], method=method, suffix=suffix):
                    resp = self.call(method, self.ins_path(ins_id) + suffix, body=body,
                                     key=self.admin)
                    self.assert_error(resp, 404, "not_found")

    # ----------------------------------------------------------------- tenancy

    def test_other_organization_is_404(self):
        org = self.create_org()
        theirs = org["admin_key"]
        ins = self.create_ins({"id": "ins_theirs_" + secrets.token_hex(4), "name": "Theirs",
                               "template": "secret sauce"}, key=theirs)
        iid = ins["id"]
        mine = self.create_key(["*"])["key"]
        for caller in (self.admin, mine):
            for method, suffix, body in (("GET", "", None), ("GET", "?version=1", None),
                                         ("GET", "/versions", None),
                                         ("PATCH", "", {"template": "mine"}),
                                         ("POST", "/render", {}),
                                         ("POST", "/render", {"version": 1})):
                with self.subTest(caller=caller[:12], method=method, suffix=suffix):
                    resp = self.call(method, self.ins_path(iid) + suffix, body=body,
                                     key=caller)
                    self.assert_error(resp, 404, "not_found")
                    self.assertNotIn("secret sauce", resp.raw)
            self.assertNotIn(iid, [i["id"] for i in self.list_ins(key=caller)])
        self.assertEqual(self.get_ins(iid, key=theirs).body, ins)
        self.assertEqual(len(self.ins_versions(iid, key=theirs)), 1)

    # ------------------------------------------------------------------ scopes

    def test_scopes(self):
        ins = self.create_ins()
        iid = ins["id"]
        reader = self.create_key(["tools:read"])["key"]
        writer = self.create_key(["tools:write"])["key"]
        agents = self.create_key(["agents:read", "agents:write", "agents:publish"])["key"]
        before = self.ins_count()
        refusals = [(reader, "POST", "/v1/instructions", {"name": "n", "template": "t"}),
                    (reader, "PATCH", self.ins_path(iid), {"template": "nope"})]
        for method, path, body in (("GET", "/v1/instructions", None),
                                   ("GET", self.ins_path(iid), None),
                                   ("GET", self.ins_path(iid, "/versions"), None),
                                   ("POST", self.ins_path(iid, "/render"), {}),
                                   ("POST", "/v1/instructions", {"name": "n", "template": "t"}),
                                   ("PATCH", self.ins_path(iid), {"template": "nope"})):
            refusals.append((agents, method, path, body))
        for k, method, path, body in refusals:
            with self.subTest(key=k[:12], method=method, path=path):
                resp = self.call(method, path, body=body, key=k)
                self.assert_error(resp, 403, "forbidden")
        for method, path, body in (("GET", "/v1/instructions", None),
                                   ("GET", self.ins_path(iid), None),
                                   ("GET", self.ins_path(iid, "/versions"), None),
                                   ("POST", self.ins_path(iid, "/render"), {}),
                                   ("POST", "/v1/instructions", {"name": "n", "template": "t"}),
                                   ("PATCH", self.ins_path(iid), {"template": "nope"})):
            with self.subTest(anonymous=f"{method} {path}"):
                resp = self.call(method, path, body=body)
                self.assert_error(resp, 401, "unauthorized")
        self.assertEqual(self.ins_count(), before)
        self.assertEqual(self.get_ins(iid).body, ins)
        # What each scope allows.
        self.get_ins(iid, key=reader)
        self.list_ins(key=reader)
        self.ins_versions(iid, key=reader)
        self.assertEqual(self.render_ins(iid, key=reader), "Hello")
        made = self.create_ins(key=writer)
        self.assertEqual(self.patch_ins(made["id"], {"template": "w"},
                                        key=writer).body["version"], 2)
        self.assertEqual(self.patch_ins(iid, {"template": "w"}, key=writer).body["version"], 2)

    # ------------------------------------------------------------ concurrency

    def _parallel(self, n, fn):
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

    def test_concurrent_patches_number_versions_once(self):
        ins = self.create_ins({"name": "race", "template": "t0"})
        iid = ins["id"]
        results = self._parallel(8, lambda i: self.server.request(
            "PATCH", self.ins_path(iid), key=self.admin, body={"template": f"t{i + 1}"}))
        self.assertEqual([r.status for r in results], [200] * 8, [repr(r) for r in results])
        self.assertEqual(sorted(r.body["version"] for r in results), list(range(2, 10)))
        versions = self.ins_versions(iid)
        self.assertEqual([v["version"] for v in versions], list(range(9, 0, -1)))
        # Each version holds the template of the request that made it.
        by_version = {r.body["version"]: r.body["template"] for r in results}
        for v in versions[:-1]:
            self.assertEqual(v["template"], by_version[v["version"]])
        self.assertEqual(sorted(v["template"] for v in versions),
                         sorted(f"t{i}" for i in range(9)))

    def test_concurrent_if_match_patches_one_wins(self):
        ins = self.create_ins({"name": "race", "template": "t0"})
        iid = ins["id"]
        tag = self.ins_etag(iid)
        results = self._parallel(8, lambda i: self.server.request(
            "PATCH", self.ins_path(iid), key=self.admin, body={"template": f"t{i + 1}"},
            headers={"If-Match": tag}))
        self.assertEqual(sorted(r.status for r in results), [200] + [412] * 7,
                         [repr(r) for r in results])
        winner = next(r for r in results if r.status == 200)
        self.assertEqual(winner.body["version"], 2)
        self.assertEqual(self.get_ins(iid).body, winner.body)
        self.assertEqual(len(self.ins_versions(iid)), 2)

    def test_concurrent_creates_with_one_id(self):
        ins_id = "ins_race_" + secrets.token_hex(4)
        before = self.ins_count()
        results = self._parallel(8, lambda i: self.server.request(
            "POST", "/v1/instructions", key=self.admin,
            body={"id": ins_id, "name": f"racer {i}", "template": f"t{i}"}))
        self.assertEqual(sorted(r.status for r in results), [201] + [409] * 7,
                         [repr(r) for r in results])
        winner = next(r for r in results if r.status == 201)
        self.assertEqual(self.get_ins(ins_id).body, winner.body)
        self.assertEqual(self.ins_count(), before + 1)


class InstructionRenderTest(RegistryTestCase):

    def test_velocity_semantics(self):
        for template, expected in VELOCITY_CASES:
            with self.subTest(template=template):
                ins = self.create_ins({"name": "case", "template": template})
                self.assertEqual(self.render_ins(ins["id"], {"session": SESSION}), expected)

    def test_session_defaults_to_empty(self):
        ins = self.create_ins({"name": "d", "template": "[$session.user.name][$!session.x]"})
        self.assertEqual(self.render_ins(ins["id"]), "[$session.user.name][]")
        self.assertEqual(self.render_ins(ins["id"], {"session": {}}), "[$session.user.name][]")
        resp = self.call("POST", self.ins_path(ins["id"], "/render"), key=self.admin)
        self.assertEqual(resp.status, 200, repr(resp))
        self.assertEqual(resp.body, {"text": "[$session.user.name][]"})

    def test_current_date(self):
        ins = self.create_ins({"name": "date", "template": "Today is $currentDate."})
        text = self.render_ins(ins["id"])
        match = re.fullmatch(r"Today is (\d{4}-\d{2}-\d{2})\.", text)
        self.assertTrue(match, text)
        self.assertIn(match.group(1), utc_dates_around_now())
        # currentDate is the server's; a session member of that name is session.*.
        ins = self.create_ins({"name": "date2",
                               "template": "$currentDate|$session.currentDate"})
        text = self.render_ins(ins["id"], {"session": {"currentDate": "1999-01-01"}})
        self.assertEqual(text.split("|")[1], "1999-01-01")
        self.assertIn(text.split("|")[0], utc_dates_around_now())

    def test_plain_renders_unchanged(self):
        for raw in ("Hello ${session.user.name}", "#if(true)x#end", "## c\n#* c *#",
                    "\\$x \\#y $!z", "#if( broken"):
            with self.subTest(raw=raw):
                ins = self.create_ins({"name": "p", "template_type": "plain",
                                       "template": raw})
                self.assertEqual(self.render_ins(ins["id"], {"session": SESSION}), raw)

    def test_render_versions(self):
        ins = self.create_ins({"name": "v", "template": "one ${session.user.name}"})
        iid = ins["id"]
        self.patch_ins(iid, {"template": "two ${session.user.name}"})
        self.patch_ins(iid, {"template_type": "plain"})
        body = {"session": SESSION}
        self.assertEqual(self.render_ins(iid, body), "two ${session.user.name}")
        self.assertEqual(self.render_ins(iid, dict(body, version=3)),
                         "two ${session.user.name}")
        self.assertEqual(self.render_ins(iid, dict(body, version=2)), "two Ada")
        self.assertEqual(self.render_ins(iid, dict(body, version=1)), "one Ada")
        resp = self.render_ins(iid, dict(body, version=4), expect=404)
        self.assert_error(resp, 404, "not_found")

    def test_render_validation(self):
        ins = self.create_ins({"name": "r", "template": "x"})
        path = self.ins_path(ins["id"], "/render")
        cases = [
            ({"session": []}, "session"),
            ({"session": "x"}, "session"),
            ({"session": 5}, "session"),
            ({"session": True}, "session"),
            ({"version": 0}, "version"),
            ({"version": -1}, "version"),
            ({"version": 1.5}, "version"),
            ({"version": "one"}, "version"),
            ({"version": True}, "version"),
            ({"version": [1]}, "version"),
            ({"sesion": {}}, "sesion"),
            ({"session": {}, "context": {}}, "context"),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                resp = self.call("POST", path, body=body, key=self.admin)
                self.assert_error(resp, 400, "invalid_request", field=field)
        for raw, ctype, status in (('{"session":{}}', "text/plain", 415),
                                   ('{"session":{},"session":{}}', "application/json", 400),
                                   ("[1]", "application/json", 400),
                                   ('{"session":', "application/json", 400)):
            with self.subTest(raw=raw, content_type=ctype):
                resp = self.post_raw(path, raw, content_type=ctype, key=self.admin)
                self.assert_error(resp, status, "invalid_request" if status == 400
                                  else "unsupported_media_type")
        self.assertEqual(len(self.ins_versions(ins["id"])), 1)

    def test_render_bounds(self):
        bound_words = re.compile(r"output|byte|MiB|size|iteration|loop|nest|depth|bound|limit",
                                 re.I)
        # Output: 200 iterations of 10 KB is about 2 MB.
        big = self.create_ins({"name": "big", "template":
                               "#foreach($i in $session.l)" + "x" * 10000 + "#end"})
        started = time.monotonic()
        resp = self.render_ins(big["id"], {"session": {"l": list(range(200))}}, expect=400)
        self.assert_error(resp, 400, "invalid_request")
        self.assertRegex(resp.body["error"]["message"],
                         re.compile(r"output|byte|MiB|size", re.I), repr(resp))
        self.assertLess(time.monotonic() - started, 10)
        # Just under the bound is fine.
        self.assertEqual(len(self.render_ins(big["id"], {"session": {"l": list(range(100))}})),
                         1000000)
        # Nested loops that would produce far more than 1 MiB.
        nest = self.create_ins({"name": "nest", "template":
                                "#foreach($a in $session.l)#foreach($b in $session.l)"
                                "#foreach($c in $session.l)#foreach($d in $session.l)"
                                "xxxxxxxxxx#end#end#end#end"})
        started = time.monotonic()
        resp = self.render_ins(nest["id"], {"session": {"l": list(range(100))}}, expect=400)
        self.assert_error(resp, 400, "invalid_request")
        self.assertRegex(resp.body["error"]["message"], bound_words, repr(resp))
        self.assertLess(time.monotonic() - started, 10)
        # Many iterations that output nothing still end.
        quiet = self.create_ins({"name": "quiet", "template":
                                 "#foreach($a in $session.l)#foreach($b in $session.l)"
                                 "#foreach($c in $session.l)#end#end#end"})
        resp = self.call("POST", self.ins_path(quiet["id"], "/render"),
                         body={"session": {"l": list(range(300))}}, key=self.admin)
        self.assertIn(resp.status, (200, 400), repr(resp))
        if resp.status == 400:
            self.assert_error(resp, 400, "invalid_request")
            self.assertRegex(resp.body["error"]["message"], bound_words, repr(resp))
        # Deep nesting is refused (at create or at render), never a crash.
        deep = "#if(true)" * 2000 + "x" + "#end" * 2000
        resp = self.call("POST", "/v1/instructions", key=self.admin,
                         body={"name": "deep", "template": deep})
        if resp.status == 400:
            self.assert_error(resp, 400, "invalid_request", field="template")
            self.assertRegex(resp.body["error"]["message"], bound_words, repr(resp))
        else:
            self.assertEqual(resp.status, 201, repr(resp))
            resp = self.call("POST", self.ins_path(resp.body["id"], "/render"), body={},
                             key=self.admin)
            self.assertIn(resp.status, (200, 400, 422), repr(resp))
        # A deeply nested session is data, not recursion.
        session = {}
        cur = session
        for _ in range(60):
            cur["a"] = {}
            cur = cur["a"]
        cur["v"] = "deep"
        ins = self.create_ins({"name": "chain", "template":
                               "${session" + ".a" * 60 + ".v}"})
        self.assertEqual(self.render_ins(ins["id"], {"session": session}), "deep")
        # The server is still well.
        self.call("GET", "/healthz", expect=200)
        self.assertEqual(self.render_ins(big["id"], {"session": {"l": [1]}}), "x" * 10000)


class AgentRegistryTest(RegistryTestCase):

    # ------------------------------------------------------------ publish: tools

    def test_publish_checks_tool_ids(self):
        ok = self.make_tool(id="tol_ok_" + secrets.token_hex(3))
        missing = "tol_missing_" + secrets.token_hex(3)
        agent = self.create_agent({"name": unique("badtool"), "tools": {
            "mode": "native", "available": [{"id": ok["id"]}, {"id": missing}]}})
        resp = self.assert_publish_refused(agent["id"], "tools.available[1].id")
        self.assertIn(missing, resp.body["error"]["message"])
        # Once the tool exists, publish succeeds.
        self.make_tool(id=missing)
        self.assertEqual(self.publish(agent["id"]).body["version"], 1)
        # A deleted tool is missing again; the refused publish keeps version 1 active.
        self.call("DELETE", f"/v1/tools/{missing}", key=self.admin, expect=204)
        self.patch_agent(agent["id"], {"description": "after delete"})
        self.assert_publish_refused(agent["id"], "tools.available[1].id", versions_before=1)
        self.assertEqual(self.get_agent(agent["id"]).body["version"], 1)

    def test_publish_checks_argument_bindings(self):
        tool = self.make_tool(parameters=search_schema())
        empty = self.make_tool()
        tid = tool["id"]
        good = {"query": "q", "max_results": 10, "threshold": 3, "exact": False,
                "mode": "deep", "tags": ["a", "b"], "filter": {"since": "2024"},
                "anything": [1, {"x": None}]}
        cases = [
            ({"timeout": 30}, "timeout"),
            ({"query": "q", "Query": "q"}, "Query"),
            ({"query": 5}, "query"),
            ({"query": None}, "query"),
            ({"query": ["q"]}, "query"),
            ({"max_results": "10"}, "max_results"),
            ({"max_results": 1.5}, "max_results"),
            ({"max_results": True}, "max_results"),
            ({"threshold": "0.5"}, "threshold"),
            ({"threshold": False}, "threshold"),
            ({"exact": "true"}, "exact"),
            ({"exact": 1}, "exact"),
            ({"mode": "slow"}, "mode"),
            ({"mode": "FAST"}, "mode"),
            ({"mode": 1}, "mode"),
            ({"tags": "a"}, "tags"),
            ({"tags": {"0": "a"}}, "tags"),
            ({"filter": "since"}, "filter"),
            ({"filter": ["since"]}, "filter"),
        ]
        for bindings, name in cases:
            with self.subTest(bindings=bindings):
                agent = self.create_agent({"name": unique("bind"), "tools": {
                    "mode": "native", "available": [
                        {"id": empty["id"]},
                        {"id": tid, "argument_bindings": {"query": "fine"}},
                        {"id": tid, "argument_bindings": bindings}]}})
                resp = self.assert_publish_refused(
                    agent["id"], f"tools.available[2].argument_bindings.{name}")
                self.assertIn(name, resp.body["error"]["message"])
        # A tool without parameters takes no bindings.
        agent = self.create_agent({"name": unique("bind"), "tools": {
            "mode": "native", "available": [{"id": empty["id"],
                                             "argument_bindings": {"x": 1}}]}})
        self.assert_publish_refused(agent["id"], "tools.available[0].argument_bindings.x")
        # Bindings that fit publish, and each JSON type in turn fits.
        agent = self.create_agent({"name": unique("bind"), "tools": {
            "mode": "native", "available": [{"id": tid, "argument_bindings": good},
                                            {"id": empty["id"], "argument_bindings": {}},
                                            {"id": tid}]}})
        v1 = self.publish(agent["id"]).body
        self.assert_json_equal(v1["tools"]["available"][0]["argument_bindings"], good)
        for bindings in ({"max_results": 0}, {"threshold": 0.25}, {"threshold": -7},
                         {"mode": "fast"}, {"tags": []}, {"filter": {}},
                         {"anything": "s"}, {"anything": 1}):
            with self.subTest(fits=bindings):
                agent = self.create_agent({"name": unique("fits"), "tools": {
                    "mode": "native", "available": [{"id": tid,
                                                     "argument_bindings": bindings}]}})
                self.publish(agent["id"])

    # ----------------------------------------------------- publish: instructions

    def test_publish_checks_instruction_references(self):
        ins = self.create_ins({"name": "Init", "template": "v1"})
        self.patch_ins(ins["id"], {"template": "v2"})
        missing = "ins_missing_" + secrets.token_hex(3)
        inline = {"type": "inline", "name": "ok", "template": "fine $session.x"}
        cases = [
            ([inline, {"type": "reference", "id": missing}], "first_step.instructions[1].id"),
            ([{"type": "reference", "id": ins["id"]},
              {"type": "reference", "id": ins["id"], "version": 3}],
             "first_step.instructions[1].version"),
            ([{"type": "reference", "id": ins["id"], "version": 99}],
             "first_step.instructions[0].version"),
            ([{"type": "reference", "id": missing, "version": 1}],
             "first_step.instructions[0].id"),
            ([inline, inline, {"type": "inline", "name": "bad", "template": "#if($x)"}],
             "first_step.instructions[2].template"),
            ([{"type": "inline", "name": "bad", "template_type": "velocity",
               "template": "ok\n  #end"}], "first_step.instructions[0].template"),
        ]
        for instructions, field in cases:
            with self.subTest(field=field):
                agent = self.create_agent({"name": unique("badins"),
                                           "first_step": {"instructions": instructions}})
                resp = self.assert_publish_refused(agent["id"], field)
                if field.endswith(".template"):
                    self.assertRegex(resp.body["error"]["message"], LINE_COL_RE)
        # Existing versions, latest-by-default and plain templates that are not
        # Velocity all publish.
        agent = self.create_agent({"name": unique("goodins"), "first_step": {"instructions": [
            {"type": "reference", "id": ins["id"], "version": 1},
            {"type": "reference", "id": ins["id"], "version": 2},
            {"type": "reference", "id": ins["id"]},
            {"type": "inline", "name": "plain", "template_type": "plain",
             "template": "#if( not velocity"}]}})
        v1 = self.publish(agent["id"]).body
        self.assertEqual([i.get("version") for i in v1["first_step"]["instructions"][:3]],
                         [1, 2, 2])

    def test_other_organizations_references_are_missing(self):
        org = self.create_org()
        theirs = org["admin_key"]
        tool = self.make_tool(key=theirs, id="tol_theirs_" + secrets.token_hex(3),
                              parameters=search_schema())
        ins = self.create_ins({"id": "ins_theirs_" + secrets.token_hex(3), "name": "T",
                               "template": "theirs"}, key=theirs)
        agent = self.create_agent({"name": unique("xorg"), "tools": {
            "mode": "native", "available": [{"id": tool["id"]}]}})
        self.assert_publish_refused(agent["id"], "tools.available[0].id")
        agent = self.create_agent({"name": unique("xorg"), "first_step": {"instructions": [
            {"type": "reference", "id": ins["id"]}]}})
        self.assert_publish_refused(agent["id"], "first_step.instructions[0].id")
        agent = self.create_agent({"name": unique("xorg"), "first_step": {"instructions": [
            {"type": "reference", "id": ins["id"], "version": 1}]}})
        self.assert_publish_refused(agent["id"], "first_step.instructions[0].id")
        # The owners publish the same references without trouble.
        agent = self.create_agent({"name": unique("own"), "tools": {
            "mode": "native", "available": [{"id": tool["id"],
                                             "argument_bindings": {"max_results": 3}}]},
            "first_step": {"instructions": [{"type": "reference", "id": ins["id"]}]}},
            key=theirs)
        self.publish(agent["id"], key=theirs)
        self.assertEqual(self.render_agent(agent["id"], key=theirs), [("T", "theirs")])

    # ------------------------------------------------------------------ pinning

    def test_reference_pinned_at_publish(self):
        ins = self.create_ins({"name": "Init v1", "template": "one ${session.user.name}"})
        iid = ins["id"]
        self.patch_ins(iid, {"name": "Init v2", "template": "two ${session.user.name}"})
        agent = self.create_agent({"name": unique("pin"), "first_step": {"instructions": [
            {"type": "reference", "id": iid},
            {"type": "reference", "id": iid, "version": 1}]}})
        ref = agent["id"]
        v1 = self.publish(ref).body
        self.assertEqual(v1["first_step"]["instructions"][0],
                         {"type": "reference", "id": iid, "version": 2})
        self.assertEqual(v1["first_step"]["instructions"][1],
                         {"type": "reference", "id": iid, "version": 1})
        stored = self.call("GET", self.agent_path(ref, "/versions/1"), key=self.admin,
                           expect=200).body
        self.assertEqual(stored["first_step"]["instructions"][0].get("version"), 2)
        self.assertEqual(self.get_agent(ref).body["first_step"]["instructions"][0]
                         .get("version"), 2)

        # A later version of the instruction does not change version 1 of the agent.
        self.patch_ins(iid, {"name": "Init v3", "template": "three ${session.user.name}"})
        body = {"session": SESSION}
        pinned = [("Init v2", "two Ada"), ("Init v1", "one Ada")]
        self.assertEqual(self.render_agent(ref, body), pinned)
        self.assertEqual(self.render_agent(ref, dict(body, version=1)), pinned)
        self.assertEqual(self.render_agent(agent["key"], body), pinned)
        stored_again = self.call("GET", self.agent_path(ref, "/versions/1"), key=self.admin,
                                 expect=200).body
        self.assert_json_equal(stored_again, stored)
        # The draft still means "latest".
        self.assertEqual(self.render_agent(ref, dict(body, version="draft")),
                         [("Init v3", "three Ada"), ("Init v1", "one Ada")])
        # A new publish pins the new latest; activating 1 brings the old pin back.
        v2 = self.publish(ref).body
        self.assertEqual(v2["first_step"]["instructions"][0].get("version"), 3)
        self.assertEqual(self.render_agent(ref, body),
                         [("Init v3", "three Ada"), ("Init v1", "one Ada")])
        self.activate(ref, 1)
        self.assertEqual(self.render_agent(ref, body), pinned)
        self.assertEqual(self.render_agent(ref, dict(body, version=2)),
                         [("Init v3", "three Ada"), ("Init v1", "one Ada")])

    # ------------------------------------------------------------------- render

    def test_render_context(self):
        t1 = self.make_tool(id="tol_ctx_a_" + secrets.token_hex(3), name="Search",
                            description="Finds things", parameters=search_schema())
        t2 = self.make_tool(id="tol_ctx_b_" + secrets.token_hex(3), name="Echo")
        ins = self.create_ins({"name": "Shared", "template":
                               "Hi ${session.user.name} from $agent.name"})
        key = "agt_ctx_" + secrets.token_hex(3)
        tools_tpl = ("#foreach($t in $tools)$foreach.count=$t.id/$t.name/$t.description"
                     "/$!t.argument_bindings.max_results;#end")
        agent = self.create_agent({
            "name": "Context Agent", "key": key,
            "metadata": {"department": "support", "tier": 3, "beta": True},
            "tools": {"mode": "native", "available": [
                {"id": t1["id"], "argument_bindings": {"max_results": 7}},
                {"id": t2["id"]}]},
            "first_step": {"instructions": [
                {"type": "inline", "name": "Who", "template":
                 "$agent.name|$agent.key|$agent.metadata.department|$agent.metadata.tier|"
                 "$agent.metadata.beta|$!agent.metadata.nope|$agent.metadata.nope"},
                {"type": "reference", "id": ins["id"]},
                {"type": "inline", "name": "Tools", "template": tools_tpl},
                {"type": "inline", "name": "When", "template": "$currentDate"},
                {"type": "inline", "name": "Plain", "template_type": "plain",
                 "template": "${session.user.name} #if("},
                {"type": "inline", "name": "Session", "template":
                 "#if($session.n > 3)n=$session.n#end [$session.missing]"}]}})
        expected_tools = (f"1={t1['id']}/Search/Finds things/7;"
                          f"2={t2['id']}/Echo//;")
        for version in (None, "draft", 1):
            with self.subTest(version=version):
                if version == 1:
                    self.publish(agent["id"])
                body = {"session": SESSION}
                if version is not None:
                    body["version"] = version
                got = self.render_agent(agent["id"], body)
                self.assertEqual([n for n, _ in got],
                                 ["Who", "Shared", "Tools", "When", "Plain", "Session"])
                texts = dict(got)
                self.assertEqual(texts["Who"],
                                 f"Context Agent|{key}|support|3|true||$agent.metadata.nope")
                self.assertEqual(texts["Shared"], "Hi Ada from Context Agent")
                self.assertEqual(texts["Tools"], expected_tools)
                self.assertIn(texts["When"], utc_dates_around_now())
                self.assertEqual(texts["Plain"], "${session.user.name} #if(")
                self.assertEqual(texts["Session"], "n=5 [$session.missing]")
                self.assertEqual(self.render_agent(key, body), got)
        # No session: the references stay as written.
        got = dict(self.render_agent(key))
        self.assertEqual(got["Shared"], "Hi ${session.user.name} from Context Agent")
        self.assertEqual(got["Session"], " [$session.missing]")
        # An agent without instructions renders an empty list.
        bare = self.create_agent({"name": unique("bare")})
        self.assertEqual(self.render_agent(bare["id"]), [])

    def test_render_versions(self):
        agent = self.create_agent({"name": "Versions", "first_step": {"instructions": [
            {"type": "inline", "name": "I", "template": "draft zero"}]}})
        ref = agent["id"]
        # Never published: the draft.
        self.assertEqual(self.render_agent(ref), [("I", "draft zero")])
        self.assertEqual(self.render_agent(ref, {"version": "draft"}), [("I", "draft zero")])
        resp = self.render_agent(ref, {"version": 1}, expect=404)
        self.assert_error(resp, 404, "not_found")
        self.publish(ref)
        self.patch_agent(ref, {"first_step": {"instructions": [
            {"type": "inline", "name": "I", "template": "second"}]}})
        self.publish(ref)
        self.patch_agent(ref, {"first_step": {"instructions": [
            {"type": "inline", "name": "J", "template": "unpublished"}]}})
        self.assertEqual(self.render_agent(ref), [("I", "second")])
        self.assertEqual(self.render_agent(ref, {"version": 1}), [("I", "draft zero")])
        self.assertEqual(self.render_agent(ref, {"version": 2}), [("I", "second")])
        self.assertEqual(self.render_agent(ref, {"version": "draft"}), [("J", "unpublished")])
        self.activate(ref, 1)
        self.assertEqual(self.render_agent(ref), [("I", "draft zero")])
        for missing in (3, 99):
            resp = self.render_agent(ref, {"version": missing}, expect=404)
            self.assert_error(resp, 404, "not_found")

    def test_render_validation(self):
        agent = self.create_agent({"name": "RenderVal"})
        path = self.agent_path(agent["id"], "/render")
        cases = [
            ({"session": []}, "session"),
            ({"session": "x"}, "session"),
            ({"session": 5}, "session"),
            ({"version": 0}, "version"),
            ({"version": -1}, "version"),
            ({"version": 1.5}, "version"),
            ({"version": "latest"}, "version"),
            ({"version": "Draft"}, "version"),
            ({"version": True}, "version"),
            ({"version": {}}, "version"),
            ({"sesion": {}}, "sesion"),
            ({"session": {}, "agent": {}}, "agent"),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                resp = self.call("POST", path, body=body, key=self.admin)
                self.assert_error(resp, 400, "invalid_request", field=field)
        for raw, ctype, status in (('{"session":{}}', "text/plain", 415),
                                   ('{"session":{},"session":{}}', "application/json", 400),
                                   ("[]", "application/json", 400)):
            with self.subTest(raw=raw, content_type=ctype):
                resp = self.post_raw(path, raw, content_type=ctype, key=self.admin)
                self.assert_error(resp, status, "invalid_request" if status == 400
                                  else "unsupported_media_type")
        resp = self.call("GET", path, key=self.admin)
        self.assert_error(resp, 405, "method_not_allowed")

    def test_render_bounds(self):
        agent = self.create_agent({"name": "Bounded", "first_step": {"instructions": [
            {"type": "inline", "name": "big", "template":
             "#foreach($i in $session.l)" + "y" * 10000 + "#end"}]}})
        resp = self.render_agent(agent["id"], {"session": {"l": list(range(200))}},
                                 expect=400)
        self.assert_error(resp, 400, "invalid_request")
        self.assertRegex(resp.body["error"]["message"],
                         re.compile(r"output|byte|MiB|size", re.I), repr(resp))
        self.assertEqual(self.render_agent(agent["id"], {"session": {"l": [1]}}),
                         [("big", "y" * 10000)])

    def test_render_access(self):
        org = self.create_org()
        theirs = org["admin_key"]
        their_agent = self.create_agent({"name": "Theirs", "key": "agt_theirs_render",
                                         "first_step": {"instructions": [
                                             {"type": "inline", "name": "s",
                                              "template": "secret sauce"}]}}, key=theirs)
        mine = self.create_agent({"name": unique("Mine"), "first_step": {"instructions": [
            {"type": "inline", "name": "m", "template": "mine"}]}})
        other = self.create_agent({"name": unique("Other")})
        # Unknown and another organization's agents are 404.
        for ref in (their_agent["id"], their_agent["key"], "agt_never_" + secrets.token_hex(3),
                    "01900000-0000-7000-8000-000000000000"):
            with self.subTest(ref=ref):
                resp = self.render_agent(ref, expect=404)
                self.assert_error(resp, 404, "not_found")
                self.assertNotIn("secret sauce", resp.raw)
        self.assertEqual(self.render_agent(their_agent["key"], key=theirs),
                         [("s", "secret sauce")])
        # Scopes and grants.
        reader = self.create_key(["agents:read"])["key"]
        api = self.create_key(["AGENT_API"])["key"]
        tools_only = self.create_key(["tools:read", "tools:write"])["key"]
        writer = self.create_key(["agents:write", "agents:publish"])["key"]
        limited = self.create_key(["agents:read"], agent_ids=[mine["id"]])["key"]
        self.assertEqual(self.render_agent(mine["id"], key=reader), [("m", "mine")])
        self.assertEqual(self.render_agent(mine["key"], key=api), [("m", "mine")])
        self.assertEqual(self.render_agent(mine["key"], key=limited), [("m", "mine")])
        for k in (tools_only, writer):
            with self.subTest(key=k[:12]):
                resp = self.render_agent(mine["id"], key=k, expect=403)
                self.assert_error(resp, 403, "forbidden")
        for ref in (other["id"], other["key"]):
            resp = self.render_agent(ref, key=limited, expect=403)
            self.assert_error(resp, 403, "forbidden")
        resp = self.call("POST", self.agent_path(mine["id"], "/render"), body={})
        self.assert_error(resp, 401, "unauthorized")
        resp = self.call("POST", self.agent_path(mine["id"], "/render"), body={},
                         key="agk_" + "z" * 36)
        self.assert_error(resp, 401, "unauthorized")


    def test_zz_logs_hold_no_keys(self):
        logs = self.server.logs()
        self.assertTrue(logs)
        for secret in self.secrets:
            self.assertNotIn(secret, logs, "a key value appears in the logs")


class RegistryRestartTest(RegistryTestCase):
    """Instructions, their versions, tools and pins survive a restart."""

    def test_restart_keeps_versions_pins_and_etags(self):
        ins = self.create_ins({"id": "ins_durable", "name": "D1", "template": "one $session.x"})
        self.patch_ins("ins_durable", {"name": "D2", "template": "two $session.x"})
        tool = self.make_tool(id="tol_durable", parameters=search_schema())
        agent = self.create_agent({"name": "Durable", "key": "agt_durable", "tools": {
            "mode": "native", "available": [{"id": tool["id"],
                                             "argument_bindings": {"max_results": 2}}]},
            "first_step": {"instructions": [
                {"type": "reference", "id": "ins_durable"},
                {"type": "inline", "name": "T",
                 "template": "#foreach($t in $tools)$t.id=$t.argument_bindings.max_results#end"}
            ]}})
        self.publish(agent["id"])
        self.patch_ins("ins_durable", {"name": "D3", "template": "three $session.x"})
        body = {"session": {"x": "!"}}
        rendered = self.render_agent("agt_durable", body)
        self.assertEqual(rendered, [("D2", "two !"), ("T", "tol_durable=2")])
        paths = [self.ins_path("ins_durable"), self.ins_path("ins_durable") + "?version=1",
                 self.ins_path("ins_durable") + "?version=2", "/v1/tools/tol_durable",
                 self.agent_path("agt_durable", "/versions/1")]
        before = {}
        for path in paths:
            resp = self.call("GET", path, key=self.admin, expect=200)
            before[path] = (resp.body, resp.headers.get("etag"))
        versions = self.ins_versions("ins_durable")
        listing = self.list_ins()

        self.server.restart()

        for path in paths:
            with self.subTest(path=path):
                resp = self.call("GET", path, key=self.admin, expect=200)
                self.assert_json_equal(resp.body, before[path][0])
                self.assertEqual(resp.headers.get("etag"), before[path][1])
        self.assertEqual(self.ins_versions("ins_durable"), versions)
        self.assertEqual(self.list_ins(), listing)
        self.assertEqual(self.render_agent("agt_durable", body), rendered)
        self.assertEqual(self.render_ins("ins_durable", dict(body, version=1)), "one !")
        # Numbering continues where it stopped.
        self.assertEqual(self.patch_ins("ins_durable", {"template": "four"}).body["version"],
                         4)
        resp = self.create_ins({"id": "ins_durable", "name": "dup", "template": "x"},
                               expect=409)
        self.assert_error(resp, 409, "conflict", field="id")
        self.assertEqual(ins["version"], 1)


if __name__ == "__main__":
    harness.run_tests()
