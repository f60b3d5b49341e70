"""Black-box tests of /openapi.json's three compatible surfaces: the document
served (without a key) names every vendor route with its methods, the seeds'
schemas under their own names, the error shape of each surface on every error
status, and every $ref in it resolves.

Run: python3 tests/integration/test_openapi_compat.py --binary build/agentry
"""

import unittest

import agentry_harness as harness
from agentry_harness import Server

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch",
                "trace")

ODEUS_ROUTES = {
    "get": {"get"},
    "create": {"post"},
    "update": {"post", "patch"},
    "publish": {"post"},
}

ASTEROID_PATHS = {
    "/agents/v2/agent-profile-pools": {"get", "post"},
    "/agents/v2/agent-profile-pools/{poolId}": {"get", "patch"},
}
ODEUS_PATHS = {
    f"{prefix}/agent/v1/{route}": methods
    for prefix in ("", "/api/public")
    for route, methods in ODEUS_ROUTES.items()
}
VECTARA_PATHS = {
    "/v2/agents": {"get", "post"},
    "/v2/agents/{agent_key}": {"get", "patch", "delete"},
}
COMPAT_PATHS = {**ASTEROID_PATHS, **ODEUS_PATHS, **VECTARA_PATHS}

SEED_SCHEMAS = (
    # Asteroid (seed 000), verbatim names, and ours in the same style.
    "Common.uuid",
    "Agents.Profile.AgentProfilePool",
    "Agents.Profile.SelectionStrategy",
    "Common.BadRequestErrorBody",
    "Common.UnauthorizedErrorBody",
    "Common.ForbiddenErrorBody",
    "Common.NotFoundErrorBody",
    "Common.InternalServerErrorBody",
    "Common.ConflictErrorBody",
    "Common.TooManyRequestsErrorBody",
    "Agents.Profile.AgentProfilePoolList",
    "Agents.Profile.AgentProfilePoolCreate",
    "Agents.Profile.AgentProfilePoolUpdate",
    # Odeus (seed 003).
    "Assistant",
    "OdeusAgent",
    "OdeusAgentResponse",
    "OdeusAgentCreate",
    "OdeusAgentUpdate",
    "OdeusPublishRequest",
    "OdeusPublishResponse",
    "OdeusError",
    # Vectara (seed 004).
    "VectaraAgent",
    "VectaraAgentCreate",
    "VectaraAgentUpdate",
    "VectaraAgentList",
    "VectaraError",
)

POOL_FIELDS = ["id", "name", "organizationId", "selectionStrategy",
               "allowConcurrentUse", "createdAt", "updatedAt"]

ODEUS_AGENT_FIELDS = [
    "id", "name", "description", "instruction", "emojiIcon", "model",
    "temperature", "conversationStarters", "inputType", "webSearchEnabled",
    "imageGenerationEnabled", "codeInterpreterEnabled", "canvasEnabled",
    "extendedThinking", "actions", "inputFields", "attachments", "createdAt",
    "updatedAt",
]

ASTEROID_ERRORS = {
    "400": "Common.BadRequestErrorBody",
    "401": "Common.UnauthorizedErrorBody",
    "403": "Common.ForbiddenErrorBody",
    "404": "Common.NotFoundErrorBody",
    "409": "Common.ConflictErrorBody",
    "415": "Common.UnsupportedMediaTypeErrorBody",
    "429": "Common.TooManyRequestsErrorBody",
    "500": "Common.InternalServerErrorBody",
}


def schema_ref(name):
    return "#/components/schemas/" + name


def resolve(doc, ref):
    """The value a local JSON pointer names; KeyError if none."""
    if not ref.startswith("#/"):
        raise KeyError(f"not a local reference: {ref}")
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node[part]
        else:
            raise KeyError(ref)
    return node


def all_refs(node, where="#"):
    """Yields (location, ref) for every $ref in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield where, value
            else:
                yield from all_refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from all_refs(value, f"{where}/{i}")


class OpenApiCompatTest(unittest.TestCase):

    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        resp = cls.server.request("GET", "/openapi.json")  # no key
        cls.resp = resp
        cls.doc = resp.body if isinstance(resp.body, dict) else None

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.close()

    # ----------------------------------------------------------------- helpers

    def setUp(self):
        self.assertEqual(self.resp.status, 200, repr(self.resp))
        self.assertIsInstance(self.doc, dict, "openapi.json is not a JSON object")

    def path_item(self, path):
        item = self.doc["paths"].get(path)
        self.assertIsNotNone(item, f"path {path} missing")
        if "$ref" in item:
            item = resolve(self.doc, item["$ref"])
        return item

    def operations(self, paths):
        for path, methods in paths.items():
            item = self.path_item(path)
            for method in sorted(methods):
                yield path, method, item[method]

    def schema(self, name):
        return self.doc["components"]["schemas"][name]

    def response(self, op, status):
        resp = op["responses"][status]
        if "$ref" in resp:
            resp = resolve(self.doc, resp["$ref"])
        return resp

    def error_ref(self, op, status):
        resp = self.response(op, status)
        return resp["content"]["application/json"]["schema"].get("$ref")

    # ------------------------------------------------------------------- tests

    def test_document_parses(self):
        self.assertIn("json", self.resp.headers.get("content-type", ""))
        self.assertEqual(self.doc.get("openapi"), "3.1.0")
        self.assertIsInstance(self.doc.get("paths"), dict)
        self.assertIsInstance(self.doc.get("components"), dict)

    def test_native_surface_still_documented(self):
        for path in ("/v1/agents", "/v1/agents/{id}", "/v1/api-keys",
                     "/v1/agent-profile-pools", "/v1/leases/{id}"):
            self.assertIn(path, self.doc["paths"])

    def test_every_compat_path_and_method(self):
        for path, methods in COMPAT_PATHS.items():
            item = self.path_item(path)
            present = {m for m in item if m in HTTP_METHODS}
            self.assertEqual(present, methods, path)

    def test_tags(self):
        tags = {t["name"] for t in self.doc.get("tags", [])}
        for tag, paths in (("Asteroid", ASTEROID_PATHS), ("Odeus", ODEUS_PATHS),
                           ("Vectara", VECTARA_PATHS)):
            self.assertIn(tag, tags)
            for path, method, op in self.operations(paths):
                self.assertIn(tag, op.get("tags", []), f"{method} {path}")
                self.assertTrue(op.get("summary"), f"{method} {path}")
                self.assertTrue(op.get("operationId"), f"{method} {path}")

    def test_operation_ids_unique_and_seeds_kept(self):
        seen = {}
        for path, item in self.doc["paths"].items():
            if "$ref" in item:
                continue  # a shared path item: counted where it is defined
            for method in HTTP_METHODS:
                op = item.get(method)
                if op and "operationId" in op:
                    oid = op["operationId"]
                    self.assertNotIn(oid, seen,
                                     f"{method} {path} repeats {seen.get(oid)}")
                    seen[oid] = f"{method} {path}"
        pool = self.path_item("/agents/v2/agent-profile-pools/{poolId}")
        self.assertEqual(pool["get"]["operationId"], "AgentProfilePoolGet")
        self.assertEqual(
            self.path_item("/agent/v1/get")["get"]["operationId"], "getAgentV2")

    def test_parameters(self):
        lst = self.path_item("/agents/v2/agent-profile-pools")["get"]
        names = {p["name"]: p for p in lst.get("parameters", [])}
        for name in ("searchName", "page", "pageSize", "sortField",
                     "sortDirection", "organizationId"):
            self.assertIn(name, names)
            self.assertEqual(names[name]["in"], "query")
        self.assertEqual(names["pageSize"]["schema"].get("maximum"), 100)
        self.assertEqual(set(names["sortField"]["schema"]["enum"]),
                         {"name", "createdAt", "updatedAt"})
        self.assertEqual(set(names["sortDirection"]["schema"]["enum"]),
                         {"asc", "desc"})

        for method in ("get", "patch"):
            op = self.path_item("/agents/v2/agent-profile-pools/{poolId}")[method]
            (param,) = [p for p in op["parameters"] if p["name"] == "poolId"]
            self.assertEqual(param["in"], "path")
            self.assertTrue(param["required"])
            self.assertEqual(param["schema"], {"$ref": schema_ref("Common.uuid")})

        for prefix in ("", "/api/public"):
            op = self.path_item(f"{prefix}/agent/v1/get")["get"]
            (param,) = [p for p in op["parameters"] if p["name"] == "agentId"]
            self.assertEqual(param["in"], "query")
            self.assertTrue(param["required"])
            self.assertEqual(param["schema"].get("format"), "uuid")

        lst = self.path_item("/v2/agents")["get"]
        self.assertEqual({p["name"] for p in lst["parameters"]},
                         {"limit", "page_key"})
        for method in ("get", "patch", "delete"):
            op = self.path_item("/v2/agents/{agent_key}")[method]
            (param,) = [p for p in op["parameters"] if p["name"] == "agent_key"]
            self.assertEqual(param["in"], "path")
            self.assertEqual(param["schema"].get("pattern"), "^agt_[0-9a-zA-Z_-]+$")
            self.assertEqual(param["schema"].get("maxLength"), 64)

    def test_seed_schema_names(self):
        schemas = self.doc["components"]["schemas"]
        for name in SEED_SCHEMAS:
            self.assertIn(name, schemas)

    def test_agent_profile_pool_is_the_seeds(self):
        pool = self.schema("Agents.Profile.AgentProfilePool")
        self.assertEqual(pool.get("type"), "object")
        self.assertEqual(sorted(pool["properties"]), sorted(POOL_FIELDS))
        self.assertEqual(pool["required"], POOL_FIELDS)
        self.assertIs(pool.get("additionalProperties"), False)
        self.assertEqual(self.schema("Agents.Profile.SelectionStrategy")["enum"],
                         ["least_recently_used", "most_recently_used"])
        self.assertEqual(self.schema("Common.uuid"),
                         {"format": "uuid", "type": "string"})
        for status, name in ASTEROID_ERRORS.items():
            body = self.schema(name)
            self.assertEqual(body["required"], ["code", "message"], name)
            self.assertEqual(body["properties"]["code"]["enum"], [int(status)])
            self.assertEqual(body["properties"]["code"]["type"], "number")

    def test_odeus_schemas(self):
        agent = self.schema("OdeusAgent")
        self.assertEqual(sorted(agent["properties"]), sorted(ODEUS_AGENT_FIELDS))
        self.assertEqual(sorted(agent["required"]), sorted(ODEUS_AGENT_FIELDS))
        field = agent["properties"]["inputFields"]["items"]
        self.assertEqual(field["properties"]["fileTypes"]["type"],
                         ["array", "null"])
        self.assertEqual(agent["properties"]["inputType"]["enum"],
                         ["PROMPT", "STRUCTURED"])
        response = self.schema("OdeusAgentResponse")
        self.assertTrue({"status", "agent"} <= set(response["required"]))
        version = self.schema("OdeusPublishResponse")["properties"]["version"]
        self.assertEqual(set(version["properties"]), {"id", "version", "createdAt"})
        error = self.schema("OdeusError")
        self.assertEqual(set(error["required"]), {"status", "code", "message"})
        self.assertEqual(error["properties"]["status"].get("const"), "error")
        assistant = self.schema("Assistant")
        self.assertEqual(assistant["required"], ["name", "instructions"])
        for name, prop in assistant["properties"].items():
            if prop.get("type") == "array":
                self.assertIsInstance(prop.get("items"), dict, name)

    def test_vectara_schemas(self):
        agent = self.schema("VectaraAgent")
        self.assertEqual(
            set(agent["properties"]),
            {"id", "name", "description", "tools", "model", "first_step",
             "metadata", "enabled", "created_at", "updated_at"})
        page_key = self.schema("VectaraAgentList")["properties"]["metadata"]
        self.assertEqual(page_key["properties"]["page_key"]["type"],
                         ["string", "null"])
        error = self.schema("VectaraError")
        self.assertEqual(set(error["required"]),
                         {"error_code", "messages", "request_id"})

    def test_security(self):
        schemes = self.doc["components"]["securitySchemes"]
        api_key = schemes["ApiKeyAuth"]
        self.assertEqual(
            (api_key["type"], api_key["in"], api_key["name"]),
            ("apiKey", "header", "X-Asteroid-Agents-Api-Key"))
        self.assertEqual(schemes["bearerAuth"]["scheme"], "bearer")
        for _, method, op in self.operations(ASTEROID_PATHS):
            self.assertIn({"ApiKeyAuth": []}, op["security"], method)
        for _, method, op in self.operations({**ODEUS_PATHS, **VECTARA_PATHS}):
            self.assertIn({"bearerAuth": []}, op["security"], method)
        for requirement in (r for _, _, op in self.operations(COMPAT_PATHS)
                            for r in op["security"]):
            for scheme in requirement:
                self.assertIn(scheme, schemes)

    def test_responses_per_surface(self):
        surfaces = (
            (ASTEROID_PATHS, lambda status: schema_ref(ASTEROID_ERRORS[status])),
            (ODEUS_PATHS, lambda status: schema_ref("OdeusError")),
            (VECTARA_PATHS, lambda status: schema_ref("VectaraError")),
        )
        for paths, error_for in surfaces:
            for path, method, op in self.operations(paths):
                where = f"{method} {path}"
                codes = set(op["responses"])
                self.assertTrue(codes & {"200", "201", "204"}, where)
                for status in ("400", "401", "403", "429"):
                    self.assertIn(status, codes, where)
                if "requestBody" in op:
                    self.assertIn("415", codes, where)
                    self.assertIn("application/json",
                                  op["requestBody"]["content"], where)
                names_one = "{" in path or (
                    "/agent/v1/" in path and not path.endswith("/create"))
                if names_one:
                    self.assertIn("404", codes, where)
                for status in codes:
                    if status.startswith(("4", "5")):
                        self.assertEqual(self.error_ref(op, status),
                                         error_for(status), f"{where} {status}")
                headers = self.response(op, "429").get("headers", {})
                self.assertIn("Retry-After", headers, where)

        post = self.path_item("/agents/v2/agent-profile-pools")["post"]
        self.assertIn("201", post["responses"])
        self.assertIn("409", post["responses"])
        self.assertIn("201", self.path_item("/v2/agents")["post"]["responses"])
        self.assertIn("409", self.path_item("/v2/agents")["post"]["responses"])
        self.assertIn("204", self.path_item("/v2/agents/{agent_key}")["delete"]
                      ["responses"])
        for prefix in ("", "/api/public"):
            create = self.path_item(f"{prefix}/agent/v1/create")["post"]
            self.assertIn("201", create["responses"])

    def test_every_ref_resolves(self):
        refs = list(all_refs(self.doc))
        self.assertTrue(refs)
        for where, ref in refs:
            try:
                resolve(self.doc, ref)
            except (KeyError, IndexError, ValueError):
                self.fail(f"{where}: $ref {ref} does not resolve")


if __name__ == "__main__":
    harness.run_tests()
