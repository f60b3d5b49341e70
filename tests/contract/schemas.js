// Loads the JSON Schemas of schemas/*.json (draft-07, transcribed from the
// vendors' documents in ../shared/seeds/ — 000 Asteroid, 003 Odeus, 004
// Vectara — and DESIGN §5–§6), compiles them once with ajv, and offers a
// validator that fails a test with ajv's own explanation.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const DIR = path.join(__dirname, 'schemas');

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats(ajv);
const schemas = {};
for (const file of fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()) {
  const schema = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'));
  assert.equal(`${schema.$id}.json`, file, `${file}: $id must be the file's name`);
  schemas[schema.$id] = schema;
  ajv.addSchema(schema);
}
// Compile every schema now, so a broken schema fails at load, not mid-test.
for (const id of Object.keys(schemas)) ajv.getSchema(id);

// The native error codes (DESIGN §5), which the Odeus surface reuses.
const NATIVE_CODES = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  412: 'precondition_failed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  500: 'internal',
  503: 'unavailable',
};

let validated = 0;

// Fails unless `body` is valid against the schema named `name`.
function expectValid(name, body, what = '') {
  const validate = ajv.getSchema(name);
  assert.ok(validate, `no schema named ${name}`);
  const ok = validate(body);
  validated += 1;
  assert.ok(ok, `${what} does not match ${name}: ${ajv.errorsText(validate.errors)}\n` +
    `body: ${JSON.stringify(body).slice(0, 2000)}`);
}

// The schema name of an error answer of `surface` with `status`.
function errorSchema(surface, status) {
  switch (surface) {
    case 'asteroid': return `AsteroidError${status}`;
    case 'odeus': return 'OdeusError';
    case 'vectara': return `VectaraError${status}`;
    default: return 'NativeError';
  }
}

module.exports = {
  expectValid,
  errorSchema,
  NATIVE_CODES,
  validatedCount: () => validated,
  POOL_FIELDS: schemas.AgentProfilePool.required,
  ODEUS_AGENT_FIELDS: schemas.OdeusAgent.required,
  VECTARA_AGENT_FIELDS: schemas.VectaraAgent.required,
};
