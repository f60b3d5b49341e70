// Odeus Agents API (seed 003): /agent/v1/{get,create,update,publish}, also
// under /api/public. Every answer is validated against the seed's response
// format; the seed's own axios example runs word for word.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const axios = require('axios');
const { Server, unique, expectAnswer, invalidUtf8Body } = require('./harness');
const { ODEUS_AGENT_FIELDS, expectValid } = require('./schemas');

const PREFIXES = ['/agent/v1', '/api/public/agent/v1'];

// The seed's "Basic Retrieval" example, verbatim (checked against the seed
// below when ../shared/seeds is beside the repository, as in CI).
const SEED_EXAMPLE = `const axios = require("axios");

async function getAgent() {
  const response = await axios.get(
    "https://api.odeus.ai/agent/v1/get",
    {
      params: {
        agentId: "550e8400-e29b-41d4-a716-446655440000"
      },
      headers: {
        Authorization: "Bearer YOUR_API_KEY"
      }
    }
  );

  console.log("Agent details:", response.data.agent);
}
`;

function seedExampleFromSeed() {
  const dir = path.resolve(__dirname, '..', '..', '..', 'shared', 'seeds');
  if (!fs.existsSync(dir)) return null;
  const file = fs.readdirSync(dir).find((f) => f.startsWith('003_'));
  if (!file) return null;
  const text = fs.readFileSync(path.join(dir, file), 'utf8');
  const start = text.indexOf('    const axios = require("axios");');
  const end = text.indexOf('\n    }\n', text.indexOf('console.log("Agent details:"'));
  if (start < 0 || end < 0) return null;
  return text.slice(start, end + 6).split('\n').map((l) => l.replace(/^ {4}/, '')).join('\n') +
    '\n';
}

describe('Odeus agents', () => {
  const server = new Server();
  let org;
  let other;

  before(async () => {
    await server.start();
    org = await server.createOrg();
    other = await server.createOrg();
  });
  after(() => server.stop());

  const get = (prefix, agentId, key) => server.request('GET',
    `${prefix}/get${agentId === undefined ? '' : `?agentId=${encodeURIComponent(agentId)}`}`,
    { key });

  async function create(body, key = org.key, prefix = PREFIXES[0]) {
    const r = await server.request('POST', `${prefix}/create`, { body, key });
    return expectAnswer(r, 201, 'OdeusWriteResponse', `create ${JSON.stringify(body)}`).agent;
  }

  it('runs the seed\'s axios example word for word', async () => {
    const fromSeed = seedExampleFromSeed();
    if (fromSeed !== null) assert.equal(SEED_EXAMPLE, fromSeed, 'the embedded copy is the seed\'s');
    const agent = await create({ name: 'Seed example', instruction: 'Hello.' });
    const reader = await server.createKey(org.key, ['AGENT_API']);
    // Only the base URL, the agent id and the key change.
    const program = SEED_EXAMPLE
      .replace('https://api.odeus.ai', server.base)
      .replace('550e8400-e29b-41d4-a716-446655440000', agent.id)
      .replace('YOUR_API_KEY', reader) +
      'getAgent().catch((e) => { console.error(e.message); process.exit(1); });\n';
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'odeus-example-'));
    try {
      const file = path.join(dir, 'example.js');
      fs.writeFileSync(file, program);
      const out = execFileSync(process.execPath, [file], {
        env: { ...process.env, NODE_PATH: path.join(__dirname, 'node_modules') },
        encoding: 'utf8', timeout: 20000,
      });
      assert.match(out, /^Agent details: /);
      assert.ok(out.includes(agent.id), out);
      assert.ok(out.includes('Seed example'), out);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('handles errors as the seed\'s try/catch expects', async () => {
    const seen = [];
    for (const [agentId, key] of [['not-a-uuid', org.key],
      ['018f0000-0000-7000-8000-000000000000', org.key],
      ['018f0000-0000-7000-8000-000000000000', 'agk_wrongwrongwrongwrongwrongwrong']]) {
      try {
        await axios.get(`${server.base}/agent/v1/get`, {
          params: { agentId }, headers: { Authorization: `Bearer ${key}` },
        });
        seen.push('no error');
      } catch (error) {
        if (error.response) {
          seen.push(error.response.status);
          expectAnswer({ status: error.response.status, body: error.response.data,
            headers: error.response.headers, raw: JSON.stringify(error.response.data) },
          error.response.status, 'odeus', `axios ${agentId}`);
        } else {
          seen.push(`no response: ${error.message}`);
        }
      }
    }
    assert.deepEqual(seen, [400, 404, 401]);
  });

  for (const prefix of PREFIXES) {
    it(`creates, gets, updates and publishes under ${prefix}`, async () => {
      const agent = await create({
        name: unique('agent'), description: 'Support', instruction: 'Be helpful.',
        emojiIcon: '🤖', model: 'gpt-4', temperature: 0.2,
        conversationStarters: ['Hello'], inputType: 'STRUCTURED',
        inputFields: [
          { slug: 'topic', type: 'text', label: 'Topic', description: 'What about',
            required: true, order: 0, options: [], fileTypes: null },
          { slug: 'doc', type: 'file', label: 'Doc', required: false, order: 1,
            options: [], fileTypes: ['pdf'] }],
        actions: [{ actionId: '3c90c3cc-0d44-4b50-8888-8dd25736052a',
          requiresConfirmation: false }],
        attachments: [], webSearchEnabled: true, canvasEnabled: true,
      }, org.key, prefix);
      assert.deepEqual(Object.keys(agent).sort(), [...ODEUS_AGENT_FIELDS].sort());
      assert.equal(agent.temperature, 0.2);
      assert.equal(agent.inputFields[0].fileTypes, null);
      assert.deepEqual(agent.inputFields[1].fileTypes, ['pdf']);

      let got = expectAnswer(await get(prefix, agent.id, org.key), 200, 'OdeusGetResponse',
        'get draft');
      assert.deepEqual(got.agent, agent);

      // Partial update: omitted members keep, arrays replace, "" and null clear.
      const upd = expectAnswer(await server.request('POST', `${prefix}/update`, {
        key: org.key,
        body: { agentId: agent.id, conversationStarters: ['A', 'B'], description: '',
          emojiIcon: null, inputFields: [] },
      }), 200, 'OdeusWriteResponse', 'update').agent;
      assert.deepEqual(upd.conversationStarters, ['A', 'B']);
      assert.equal(upd.description, '');
      assert.equal(upd.emojiIcon, '');
      assert.deepEqual(upd.inputFields, []);
      assert.equal(upd.instruction, 'Be helpful.');
      assert.equal(upd.temperature, 0.2);

      const pub = expectAnswer(await server.request('POST', `${prefix}/publish`, {
        key: org.key, body: { agentId: agent.id, description: 'first' },
      }), 200, 'OdeusPublishResponse', 'publish');
      assert.equal(pub.version.version, 1);

      // The draft changes; GET keeps the published version until publish.
      expectAnswer(await server.request('PATCH', `${prefix}/update`, {
        key: org.key, body: { agentId: agent.id, name: 'Renamed draft' },
      }), 200, 'OdeusWriteResponse', 'update after publish');
      got = expectAnswer(await get(prefix, agent.id, org.key), 200, 'OdeusGetResponse',
        'get published');
      assert.equal(got.agent.name, agent.name);
      assert.deepEqual(got.agent.conversationStarters, ['A', 'B']);
      const pub2 = expectAnswer(await server.request('POST', `${prefix}/publish`, {
        key: org.key, body: { agentId: agent.id },
      }), 200, 'OdeusPublishResponse', 'publish 2');
      assert.equal(pub2.version.version, 2);
      assert.notEqual(pub2.version.id, pub.version.id);
      got = expectAnswer(await get(prefix, agent.id, org.key), 200, 'OdeusGetResponse',
        'get republished');
      assert.equal(got.agent.name, 'Renamed draft');
    });
  }

  it('works with an AGENT_API key and answers every error in the seed\'s shape', async () => {
    const agentApi = await server.createKey(org.key, ['AGENT_API']);
    const agent = await create({ name: unique('agent') }, agentApi);
    expectAnswer(await get(PREFIXES[1], agent.id, agentApi), 200, 'OdeusGetResponse',
      'AGENT_API get');
    expectAnswer(await server.request('POST', `${PREFIXES[0]}/publish`,
      { key: agentApi, body: { agentId: agent.id } }), 200, 'OdeusPublishResponse',
    'AGENT_API publish');

    const otherAgent = await create({ name: unique('other') });
    const limited = await server.createKey(org.key, ['AGENT_API'],
      { agent_ids: [agent.id] });
    const toolsOnly = await server.createKey(org.key, ['tools:read']);
    const readWrite = await server.createKey(org.key, ['agents:read', 'agents:write']);
    const writeOnly = await server.createKey(org.key, ['agents:write']);
    const readOnly = await server.createKey(org.key, ['agents:read']);
    const foreign = await create({ name: unique('foreign') }, other.key);
    const unknown = '018f0000-0000-7000-8000-000000000000';
    for (const prefix of PREFIXES) {
      const cases = [
        [() => get(prefix, undefined, org.key), 400],
        [() => get(prefix, 'not-a-uuid', org.key), 400],
        [() => get(prefix, '', org.key), 400],
        [() => get(prefix, agent.id, undefined), 401],
        [() => get(prefix, agent.id, 'agk_thisisnotakeythisisnotakeythisis'), 401],
        [() => get(prefix, agent.id, toolsOnly), 403],
        [() => get(prefix, otherAgent.id, limited), 403],
        [() => get(prefix, agent.id, writeOnly), 403],
        [() => server.request('POST', `${prefix}/update`,
          { key: readOnly, body: { agentId: agent.id, name: 'x' } }), 403],
        [() => server.request('PATCH', `${prefix}/update`,
          { key: readOnly, body: { agentId: agent.id, name: 'x' } }), 403],
        [() => server.request('POST', `${prefix}/publish`,
          { key: readWrite, body: { agentId: agent.id } }), 403],
        [() => server.request('POST', `${prefix}/create`, { key: readOnly, body: { name: 'x' } }),
          403],
        [() => get(prefix, unknown, org.key), 404],
        [() => get(prefix, foreign.id, org.key), 404],
        [() => server.request('POST', `${prefix}/create`, { key: org.key, body: {} }), 400],
        [() => server.request('POST', `${prefix}/create`,
          { key: org.key, body: { name: 'x', temperature: 5 } }), 400],
        [() => server.request('POST', `${prefix}/create`,
          { key: org.key, body: { name: 'x', unknownField: 1 } }), 400],
        [() => server.request('POST', `${prefix}/create`,
          { key: org.key, body: 'not json' }), 400],
        [() => server.request('POST', `${prefix}/create`, { key: toolsOnly, body: { name: 'x' } }),
          403],
        [() => server.request('POST', `${prefix}/update`, { key: org.key, body: { name: 'x' } }),
          400],
        [() => server.request('POST', `${prefix}/update`,
          { key: org.key, body: { agentId: 'abc', name: 'x' } }), 400],
        [() => server.request('POST', `${prefix}/update`,
          { key: org.key, body: { agentId: foreign.id, name: 'x' } }), 404],
        [() => server.request('POST', `${prefix}/update`,
          { key: limited, body: { agentId: otherAgent.id, name: 'x' } }), 403],
        [() => server.request('POST', `${prefix}/publish`, { key: org.key, body: {} }), 400],
        [() => server.request('POST', `${prefix}/publish`,
          { key: org.key, body: { agentId: unknown } }), 404],
        [() => server.request('POST', `${prefix}/publish`,
          { key: other.key, body: { agentId: agent.id } }), 404],
        [() => server.request('POST', `${prefix}/publish`,
          { key: limited, body: { agentId: otherAgent.id } }), 403],
        [() => server.request('POST', `${prefix}/publish`, { body: { agentId: agent.id } }), 401],
      ];
      for (const [call, status] of cases) {
        const r = await call();
        expectAnswer(r, status, 'odeus', `${prefix} case ${cases.findIndex((c) => c[0] === call)}`);
      }
    }
    // Nothing refused was written: the foreign agent and ours are unchanged.
    const still = expectAnswer(await get(PREFIXES[0], foreign.id, other.key), 200,
      'OdeusGetResponse', 'foreign after refusals');
    assert.equal(still.agent.name, foreign.name);
  });

  it('runs the seed\'s try/catch error handling for a 404 and a 400', async () => {
    const agent = await create({ name: unique('catch') });
    const limited = await server.createKey(org.key, ['AGENT_API'], { agent_ids: [agent.id] });
    const elsewhere = await create({ name: unique('elsewhere') });
    const printed = [];
    const original = console.error;
    // The seed's snippet, with its "..." filled with params and headers.
    async function seedSnippet(agentId, key) {
      try {
        const response = await axios.get(`${server.base}/agent/v1/get`,
          { params: { agentId }, headers: { Authorization: `Bearer ${key}` } });
        return response;
      } catch (error) {
        if (error.response) {
          switch (error.response.status) {
            case 400:
              console.error('Invalid agent ID format');
              break;
            case 401:
              console.error('Invalid or missing API key');
              break;
            case 403:
              console.error('Insufficient permissions - no access to this agent');
              break;
            case 404:
              console.error('Agent not found');
              break;
            case 500:
              console.error('Server error');
              break;
          }
          expectAnswer({ status: error.response.status, body: error.response.data,
            headers: error.response.headers, raw: JSON.stringify(error.response.data) },
          error.response.status, 'odeus', `seed snippet ${agentId}`);
        } else {
          throw error;
        }
      }
      return null;
    }
    console.error = (...args) => { printed.push(args.join(' ')); };
    try {
      assert.equal(await seedSnippet('018f0000-0000-7000-8000-000000000000', org.key), null);
      assert.equal(await seedSnippet('550e8400', org.key), null);
      assert.equal(await seedSnippet(agent.id, 'agk_notakeynotakeynotakeynotakeynotakey'), null);
      assert.equal(await seedSnippet(elsewhere.id, limited), null);
      const ok = await seedSnippet(agent.id, limited);
      assert.equal(ok.status, 200);
      expectValid('OdeusGetResponse', ok.data, 'seed snippet success');
    } finally {
      console.error = original;
    }
    assert.deepEqual(printed, ['Agent not found', 'Invalid agent ID format',
      'Invalid or missing API key', 'Insufficient permissions - no access to this agent']);
  });

  it('accepts the vendor\'s request names and applies its defaults', async () => {
    const fresh = await create({ name: unique('defaults') });
    assert.equal(fresh.temperature, 0.3, 'the vendor\'s default temperature');
    assert.equal(fresh.inputType, 'PROMPT');
    for (const k of ['description', 'instruction', 'emojiIcon']) assert.equal(fresh[k], '', k);
    for (const k of ['conversationStarters', 'actions', 'inputFields', 'attachments']) {
      assert.deepEqual(fresh[k], [], k);
    }
    for (const k of ['webSearchEnabled', 'imageGenerationEnabled', 'codeInterpreterEnabled',
      'canvasEnabled', 'extendedThinking']) {
      assert.equal(fresh[k], false, k);
    }
    assert.equal(typeof fresh.model, 'string');
    assert.ok(fresh.model.length > 0);
    assert.equal(fresh.createdAt, fresh.updatedAt);

    const att = '3c90c3cc-0d44-4b50-8888-8dd25736052a';
    const a = await create({ name: unique('request-names'), instructions: 'From instructions',
      emoji: '🦊', creativity: 0.7, webSearch: true, imageGeneration: true, dataAnalyst: true,
      canvas: true, extendedThinking: true, attachmentIds: [att], knowledgeFolderIds: ['kf1'],
      actions: [{ actionId: 'act-1' }, { actionId: 'act-2', requiresConfirmation: false }] });
    assert.equal(a.instruction, 'From instructions');
    assert.equal(a.emojiIcon, '🦊');
    assert.equal(a.temperature, 0.7);
    assert.equal(a.webSearchEnabled, true);
    assert.equal(a.imageGenerationEnabled, true);
    assert.equal(a.codeInterpreterEnabled, true);
    assert.equal(a.canvasEnabled, true);
    assert.equal(a.extendedThinking, true);
    assert.deepEqual(a.attachments, [att]);
    assert.deepEqual(a.actions, [{ actionId: 'act-1', requiresConfirmation: true },
      { actionId: 'act-2', requiresConfirmation: false }]);

    const c = await create({ name: unique('capabilities'),
      capabilities: { webSearch: true, dataAnalyst: true, imageGeneration: false } });
    assert.equal(c.webSearchEnabled, true);
    assert.equal(c.codeInterpreterEnabled, true);
    assert.equal(c.imageGenerationEnabled, false);

    // Both names of one pair: 400.
    for (const body of [
      { instruction: 'a', instructions: 'b' }, { emoji: 'a', emojiIcon: 'b' },
      { temperature: 0.1, creativity: 0.2 }, { webSearch: true, webSearchEnabled: true },
      { imageGeneration: true, imageGenerationEnabled: true },
      { dataAnalyst: true, codeInterpreterEnabled: true }, { canvas: true, canvasEnabled: true },
      { attachments: [], attachmentIds: [] },
    ]) {
      expectAnswer(await server.request('POST', `${PREFIXES[0]}/create`,
        { key: org.key, body: { name: 'pair', ...body } }), 400, 'odeus',
      `both of ${Object.keys(body).join(', ')}`);
    }
  });

  it('clears with null and "" on update, and keeps what is omitted', async () => {
    const defaults = await create({ name: unique('reference') });
    const a = await create({ name: unique('clear'), description: 'D', instruction: 'I',
      emojiIcon: 'E', model: 'gpt-4', temperature: 0.9, conversationStarters: ['s'],
      inputType: 'STRUCTURED',
      inputFields: [{ slug: 'q', type: 'text', label: 'Q' }],
      actions: [{ actionId: 'x' }], attachments: ['3c90c3cc-0d44-4b50-8888-8dd25736052a'],
      webSearchEnabled: true });
    // An input field given without its optional members answers all of them.
    assert.equal(a.inputFields.length, 1);
    assert.equal(a.inputFields[0].slug, 'q');
    assert.equal(a.inputFields[0].label, 'Q');
    assert.equal(a.inputFields[0].description, '');
    assert.deepEqual(a.inputFields[0].options, []);
    assert.equal(a.inputFields[0].fileTypes, null);
    const upd = (body, prefix = PREFIXES[1], method = 'PATCH') => server.request(method,
      `${prefix}/update`, { key: org.key, body: { agentId: a.id, ...body } });

    let u = expectAnswer(await upd({ model: null, temperature: null }), 200,
      'OdeusWriteResponse', 'clear model and temperature').agent;
    assert.equal(u.model, defaults.model, 'model back to the default');
    assert.equal(u.temperature, 0.3, 'temperature removed: the vendor default');
    assert.equal(u.description, 'D');
    assert.equal(u.inputType, 'STRUCTURED');
    assert.equal(u.webSearchEnabled, true);

    u = expectAnswer(await upd({ description: null, instruction: '', emojiIcon: '',
      conversationStarters: null, actions: [], attachments: null, inputFields: null }), 200,
    'OdeusWriteResponse', 'clear strings and arrays').agent;
    for (const k of ['description', 'instruction', 'emojiIcon']) assert.equal(u[k], '', k);
    for (const k of ['conversationStarters', 'actions', 'attachments', 'inputFields']) {
      assert.deepEqual(u[k], [], k);
    }
    assert.equal(u.name, a.name);
    assert.equal(u.createdAt, a.createdAt);
    assert.ok(u.updatedAt >= a.updatedAt);

    u = expectAnswer(await upd({ model: 'claude', creativity: 0.1 }, PREFIXES[0], 'POST'), 200,
      'OdeusWriteResponse', 'set again').agent;
    assert.equal(u.model, 'claude');
    assert.equal(u.temperature, 0.1);
    const got = expectAnswer(await get(PREFIXES[0], a.id, org.key), 200, 'OdeusGetResponse',
      'get after updates');
    assert.deepEqual(got.agent, u);
    // A refused update changes nothing.
    for (const body of [{ temperature: 1.5 }, { inputType: 'FREEFORM' }, { name: '' },
      { name: null }, { colour: 'red' }, { conversationStarters: 'one' }]) {
      expectAnswer(await upd(body), 400, 'odeus', `update ${JSON.stringify(body)}`);
    }
    assert.deepEqual(expectAnswer(await get(PREFIXES[0], a.id, org.key), 200,
      'OdeusGetResponse', 'get after refusals').agent, u);
  });

  it('records the publish description as the version\'s note', async () => {
    const a = await create({ name: unique('noted') });
    const p1 = expectAnswer(await server.request('POST', `${PREFIXES[1]}/publish`,
      { key: org.key, body: { agentId: a.id, description: 'first release' } }), 200,
    'OdeusPublishResponse', 'publish with description');
    assert.equal(p1.version.version, 1);
    const versions = await server.request('GET', `/v1/agents/${a.id}/versions`, { key: org.key });
    assert.equal(versions.status, 200, versions.raw);
    assert.equal(versions.body.data[0].note, 'first release');
    assert.equal(versions.body.data[0].published_at, p1.version.createdAt);
  });

  it('grants an agent created by a key limited to agents to that key', async () => {
    const seed = await create({ name: unique('seed') });
    const limited = await server.createKey(org.key, ['AGENT_API'], { agent_ids: [seed.id] });
    const mine = await create({ name: unique('mine') }, limited, PREFIXES[1]);
    expectAnswer(await get(PREFIXES[0], mine.id, limited), 200, 'OdeusGetResponse',
      'get own creation');
    expectAnswer(await server.request('POST', `${PREFIXES[0]}/update`,
      { key: limited, body: { agentId: mine.id, description: 'mine' } }), 200,
    'OdeusWriteResponse', 'update own creation');
  });

  it('refuses malformed bodies and other authentications in its shape', async () => {
    const a = await create({ name: unique('strict') });
    const revoked = await server.revokedKey(org.key);
    for (const prefix of PREFIXES) {
      for (const [body, type, status] of [
        ['{"name":"a","name":"b"}', 'application/json', 400],
        [invalidUtf8Body(), 'application/json', 400],
        ['{"name":"a"', 'application/json', 400],
        ['"name"', 'application/json', 400],
        ['{"name":"a"}', 'text/plain', 415],
      ]) {
        expectAnswer(await server.request('POST', `${prefix}/create`, { key: org.key, body,
          headers: { 'Content-Type': type } }), status, 'odeus', `${prefix} create ${body}`);
      }
      expectAnswer(await get(prefix, a.id, revoked), 401, 'odeus', `${prefix} revoked key`);
      expectAnswer(await server.request('GET', `${prefix}/get?agentId=${a.id}`,
        { headers: { 'x-api-key': org.key } }), 200, 'OdeusGetResponse', `${prefix} x-api-key`);
      expectAnswer(await server.request('GET', `${prefix}/get?agentId=${a.id}`,
        { headers: { 'X-Asteroid-Agents-Api-Key': org.key } }), 200, 'OdeusGetResponse',
      `${prefix} X-Asteroid-Agents-Api-Key`);
    }
  });
});
