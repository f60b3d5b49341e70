// JSON Schemas (draft-07) transcribed from the vendors' documents in
// ../shared/seeds/ (000 Asteroid, 003 Odeus, 004 Vectara) and DESIGN §6,
// and a validator that fails a test with ajv's own explanation.
'use strict';

const assert = require('node:assert/strict');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const uuid = { type: 'string', format: 'uuid' };
const dateTime = { type: 'string', format: 'date-time' };

// ---- Asteroid (seed 000: Agents.Profile.AgentProfilePool, Common.*ErrorBody)
const AgentProfilePool = {
  $id: 'AgentProfilePool',
  type: 'object',
  properties: {
    allowConcurrentUse: { type: 'boolean' },
    createdAt: dateTime,
    id: uuid,
    name: { type: 'string' },
    organizationId: uuid,
    selectionStrategy: { type: 'string',
      enum: ['least_recently_used', 'most_recently_used'] },
    updatedAt: dateTime,
  },
  required: ['id', 'name', 'organizationId', 'selectionStrategy',
    'allowConcurrentUse', 'createdAt', 'updatedAt'],
  additionalProperties: false,
};

const AgentProfilePoolList = {
  $id: 'AgentProfilePoolList',
  type: 'object',
  properties: {
    items: { type: 'array', items: { $ref: 'AgentProfilePool' } },
    page: { type: 'integer', minimum: 1 },
    pageSize: { type: 'integer', minimum: 1, maximum: 100 },
    total: { type: 'integer', minimum: 0 },
  },
  required: ['items', 'page', 'pageSize', 'total'],
  additionalProperties: false,
};

// Common.BadRequestErrorBody & co.: {code: <status> (a number), message}.
function asteroidError(status) {
  return {
    $id: `AsteroidError${status}`,
    type: 'object',
    properties: { code: { type: 'number', enum: [status] }, message: { type: 'string' } },
    required: ['code', 'message'],
    additionalProperties: false,
  };
}

// ---- Odeus (seed 003: the response format of Agent Get)
const OdeusAgent = {
  $id: 'OdeusAgent',
  type: 'object',
  properties: {
    id: uuid,
    name: { type: 'string' },
    description: { type: 'string' },
    instruction: { type: 'string' },
    emojiIcon: { type: 'string' },
    model: { type: 'string' },
    temperature: { type: 'number' },
    conversationStarters: { type: 'array', items: { type: 'string' } },
    inputType: { type: 'string', enum: ['PROMPT', 'STRUCTURED'] },
    webSearchEnabled: { type: 'boolean' },
    imageGenerationEnabled: { type: 'boolean' },
    codeInterpreterEnabled: { type: 'boolean' },
    canvasEnabled: { type: 'boolean' },
    extendedThinking: { type: 'boolean' },
    actions: {
      type: 'array',
      items: {
        type: 'object',
        properties: { actionId: { type: 'string' }, requiresConfirmation: { type: 'boolean' } },
        required: ['actionId', 'requiresConfirmation'],
        additionalProperties: false,
      },
    },
    inputFields: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          slug: { type: 'string' },
          type: { type: 'string' },
          label: { type: 'string' },
          description: { type: 'string' },
          required: { type: 'boolean' },
          order: { type: 'number' },
          options: { type: 'array', items: { type: 'string' } },
          fileTypes: { anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'null' }] },
        },
        required: ['slug', 'type', 'label', 'description', 'required', 'order', 'options',
          'fileTypes'],
        additionalProperties: false,
      },
    },
    attachments: { type: 'array', items: { type: 'string' } },
    createdAt: dateTime,
    updatedAt: dateTime,
  },
  required: ['id', 'name', 'description', 'instruction', 'emojiIcon', 'model', 'temperature',
    'conversationStarters', 'inputType', 'webSearchEnabled', 'imageGenerationEnabled',
    'codeInterpreterEnabled', 'canvasEnabled', 'extendedThinking', 'actions', 'inputFields',
    'attachments', 'createdAt', 'updatedAt'],
  additionalProperties: false,
};

const OdeusGetResponse = {
  $id: 'OdeusGetResponse',
  type: 'object',
  properties: { status: { const: 'success' }, agent: { $ref: 'OdeusAgent' } },
  required: ['status', 'agent'],
  additionalProperties: false,
};

const OdeusWriteResponse = {
  $id: 'OdeusWriteResponse',
  type: 'object',
  properties: {
    status: { const: 'success' },
    message: { type: 'string' },
    agent: { $ref: 'OdeusAgent' },
  },
  required: ['status', 'agent'],
  additionalProperties: false,
};

const OdeusPublishResponse = {
  $id: 'OdeusPublishResponse',
  type: 'object',
  properties: {
    status: { const: 'success' },
    message: { type: 'string' },
    version: {
      type: 'object',
      properties: { id: uuid, version: { type: 'integer', minimum: 1 }, createdAt: dateTime },
      required: ['id', 'version', 'createdAt'],
      additionalProperties: false,
    },
  },
  required: ['status', 'version'],
  additionalProperties: false,
};

const OdeusError = {
  $id: 'OdeusError',
  type: 'object',
  properties: {
    status: { const: 'error' },
    code: { type: 'string', minLength: 1 },
    message: { type: 'string', minLength: 1 },
  },
  required: ['status', 'code', 'message'],
  additionalProperties: false,
};

// ---- Vectara (seed 004: Get Agent's example response and error table)
const agentKey = { type: 'string', pattern: '^agt_[0-9a-zA-Z_-]+$', maxLength: 64 };
const VectaraAgent = {
  $id: 'VectaraAgent',
  type: 'object',
  properties: {
    id: agentKey,
    name: { type: 'string' },
    description: { type: 'string' },
    tools: {
      type: 'object',
      properties: {
        available: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              id: { type: 'string', pattern: '^tol_[0-9a-zA-Z_-]+$' },
              argument_bindings: { type: 'object' },
            },
            required: ['id'],
            additionalProperties: false,
          },
        },
        mode: { type: 'string' },
      },
      required: ['available', 'mode'],
      additionalProperties: false,
    },
    model: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        parameters: {
          type: 'object',
          properties: {
            temperature: { type: 'number' },
            max_tokens: { type: 'integer' },
            top_p: { type: 'number' },
          },
          additionalProperties: false,
        },
      },
      required: ['name', 'parameters'],
      additionalProperties: false,
    },
    first_step: {
      type: 'object',
      properties: {
        type: { type: 'string' },
        instructions: {
          type: 'array',
          items: {
            oneOf: [
              {
                type: 'object',
                properties: {
                  type: { const: 'reference' },
                  id: { type: 'string', pattern: '^ins_[0-9a-zA-Z_-]+$' },
                  version: { type: 'integer', minimum: 1 },
                },
                required: ['type', 'id'],
                additionalProperties: false,
              },
              {
                type: 'object',
                properties: {
                  type: { const: 'inline' },
                  name: { type: 'string' },
                  template_type: { type: 'string', enum: ['velocity', 'plain'] },
                  template: { type: 'string' },
                },
                required: ['type', 'name', 'template_type', 'template'],
                additionalProperties: false,
              },
            ],
          },
        },
        output_parser: {
          type: 'object',
          properties: { type: { type: 'string' } },
          required: ['type'],
        },
      },
      required: ['type', 'instructions', 'output_parser'],
      additionalProperties: false,
    },
    metadata: {
      type: 'object',
      additionalProperties: { type: ['string', 'number', 'boolean'] },
    },
    enabled: { type: 'boolean' },
    created_at: dateTime,
    updated_at: dateTime,
  },
  required: ['id', 'name', 'description', 'tools', 'model', 'first_step', 'metadata',
    'enabled', 'created_at', 'updated_at'],
  additionalProperties: false,
};

const VectaraAgentList = {
  $id: 'VectaraAgentList',
  type: 'object',
  properties: {
    agents: { type: 'array', items: { $ref: 'VectaraAgent' } },
    metadata: {
      type: 'object',
      properties: { page_key: { type: ['string', 'null'] } },
      required: ['page_key'],
      additionalProperties: false,
    },
  },
  required: ['agents', 'metadata'],
  additionalProperties: false,
};

// The seed's error table: status → error_code.
const VECTARA_CODES = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'agent_not_found',
  409: 'conflict',
  415: 'unsupported_media_type',
  429: 'rate_limit_exceeded',
};
function vectaraError(status) {
  return {
    $id: `VectaraError${status}`,
    type: 'object',
    properties: {
      error_code: { const: VECTARA_CODES[status] },
      messages: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
      request_id: { type: 'string', minLength: 1 },
    },
    required: ['error_code', 'messages', 'request_id'],
    additionalProperties: false,
  };
}

// ---- native (DESIGN §5), for the shared middleware's answers
const NativeError = {
  $id: 'NativeError',
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        field: { type: 'string' },
        request_id: { type: 'string' },
      },
      required: ['code', 'message', 'request_id'],
      additionalProperties: false,
    },
  },
  required: ['error'],
  additionalProperties: false,
};

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats(ajv);
for (const s of [AgentProfilePool, AgentProfilePoolList, OdeusAgent, OdeusGetResponse,
  OdeusWriteResponse, OdeusPublishResponse, OdeusError, VectaraAgent, VectaraAgentList,
  NativeError]) {
  ajv.addSchema(s);
}
for (const status of [400, 401, 403, 404, 409, 415, 429, 500]) {
  ajv.addSchema(asteroidError(status));
}
for (const status of Object.keys(VECTARA_CODES)) ajv.addSchema(vectaraError(Number(status)));

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

module.exports = { expectValid, errorSchema, validatedCount: () => validated,
  POOL_FIELDS: AgentProfilePool.required, ODEUS_AGENT_FIELDS: OdeusAgent.required };
