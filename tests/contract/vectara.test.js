// Vectara Agents API v2 (seed 004): /v2/agents. Every answer is validated
// against the seed's agent shape and error table.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Server, unique, expectAnswer, invalidUtf8Body } = require('./harness');
const { VECTARA_AGENT_FIELDS } = require('./schemas');

describe('Vectara agents', () => {
  const server = new Server();
  let org;
  let other;
  const h = (key) => ({ headers: { 'x-api-key': key } });

  before(async () => {
    await server.start();
    org = await server.createOrg();
    other = await server.createOrg();
  });
  after(() => server.stop());

  const SEED_AGENT = {
    key: 'agt_customer_support_001',
    name: 'Customer Support Agent',
    description: 'AI agent specialized in handling customer support inquiries',
    tools: {
      available: [
        { id: 'tol_knowledge_search', argument_bindings: { max_results: 10, corpus_filter: 'support_docs' } },
        { id: 'tol_ticket_creator' },
        { id: 'tol_crm_lookup', argument_bindings: { timeout: 30 } },
      ],
      mode: 'native',
    },
    model: { name: 'gpt-4', parameters: { temperature: 0.1, max_tokens: 1500, top_p: 0.9 } },
    first_step: {
      type: 'conversational',
      instructions: [
        { type: 'reference', id: 'ins_customer_support_init', version: 2 },
        { type: 'inline', name: 'Session Context', template_type: 'velocity',
          template: 'Current session priority: ${session.priority}. Handle accordingly.' },
      ],
      output_parser: { type: 'default' },
    },
    metadata: { department: 'customer_service', version: '1.0.0', owner: 'support-team',
      cost_center: 'customer_operations' },
    enabled: true,
  };

  it('creates the seed\'s agent and answers it as the seed shows', async () => {
    const created = expectAnswer(await server.request('POST', '/v2/agents',
      { body: SEED_AGENT, ...h(org.key) }), 201, 'VectaraAgent', 'create');
    const { key, ...rest } = SEED_AGENT;
    assert.equal(created.id, key);
    for (const [k, v] of Object.entries(rest)) assert.deepEqual(created[k], v, k);
    const got = expectAnswer(await server.request('GET', `/v2/agents/${key}`, h(org.key)), 200,
      'VectaraAgent', 'get');
    assert.deepEqual(got, created);
    // Bearer works as well as x-api-key.
    expectAnswer(await server.request('GET', `/v2/agents/${key}`, { key: org.key }), 200,
      'VectaraAgent', 'get with Bearer');
  });

  it('generates a key, patches as a merge and deletes', async () => {
    const created = expectAnswer(await server.request('POST', '/v2/agents',
      { body: { name: 'Generated', metadata: { a: '1', b: 2 } }, ...h(org.key) }), 201,
    'VectaraAgent', 'create without key');
    assert.match(created.id, /^agt_[0-9a-zA-Z_-]+$/);
    const patched = expectAnswer(await server.request('PATCH', `/v2/agents/${created.id}`,
      { body: { description: 'now described', metadata: { a: null, c: true },
        model: { parameters: { temperature: 0.5 } } }, ...h(org.key) }), 200, 'VectaraAgent',
    'patch');
    assert.equal(patched.description, 'now described');
    assert.deepEqual(patched.metadata, { b: 2, c: true });
    assert.deepEqual(patched.model, { name: 'default', parameters: { temperature: 0.5 } });
    assert.equal(patched.name, 'Generated');
    const got = expectAnswer(await server.request('GET', `/v2/agents/${created.id}`, h(org.key)),
      200, 'VectaraAgent', 'get after patch');
    assert.deepEqual(got, patched);
    expectAnswer(await server.request('DELETE', `/v2/agents/${created.id}`, h(org.key)), 204,
      null, 'delete');
    expectAnswer(await server.request('GET', `/v2/agents/${created.id}`, h(org.key)), 404,
      'vectara', 'get after delete');
    expectAnswer(await server.request('DELETE', `/v2/agents/${created.id}`, h(org.key)), 404,
      'vectara', 'delete again');
  });

  it('pages through every agent with limit and page_key', async () => {
    const o = await server.createOrg();
    const keys = [];
    for (let i = 0; i < 23; i++) {
      const a = expectAnswer(await server.request('POST', '/v2/agents',
        { body: { key: `agt_page_${String(i).padStart(2, '0')}`, name: `A${i}` }, ...h(o.key) }),
      201, 'VectaraAgent', `create ${i}`);
      keys.push(a.id);
    }
    const seen = [];
    let pageKey = null;
    let pages = 0;
    do {
      const q = pageKey ? `?limit=5&page_key=${encodeURIComponent(pageKey)}` : '?limit=5';
      const body = expectAnswer(await server.request('GET', `/v2/agents${q}`, h(o.key)), 200,
        'VectaraAgentList', `page ${pages}`);
      assert.ok(body.agents.length <= 5);
      seen.push(...body.agents.map((a) => a.id));
      pageKey = body.metadata.page_key;
      pages += 1;
    } while (pageKey !== null && pages < 20);
    assert.equal(pages, 5);
    assert.equal(new Set(seen).size, seen.length, 'no agent twice');
    assert.deepEqual(seen, keys);
    const dflt = expectAnswer(await server.request('GET', '/v2/agents', h(o.key)), 200,
      'VectaraAgentList', 'default limit');
    assert.equal(dflt.agents.length, 10);
    assert.equal(typeof dflt.metadata.page_key, 'string');
  });

  it('answers every error with the seed\'s error codes', async () => {
    const mine = expectAnswer(await server.request('POST', '/v2/agents',
      { body: { key: 'agt_mine', name: 'Mine' }, ...h(org.key) }), 201, 'VectaraAgent', 'create');
    const theirs = expectAnswer(await server.request('POST', '/v2/agents',
      { body: { key: 'agt_theirs', name: 'Theirs' }, ...h(other.key) }), 201, 'VectaraAgent',
    'create other');
    const reader = await server.createKey(org.key, ['agents:read']);
    const poolsOnly = await server.createKey(org.key, ['pools:read']);
    const hidden = expectAnswer(await server.request('POST', '/v2/agents',
      { body: { key: 'agt_hidden', name: 'Hidden' }, ...h(org.key) }), 201, 'VectaraAgent',
    'create hidden');
    const agentId = (await server.request('GET', `/v1/agents/${mine.id}`, { key: org.key })).body.id;
    const limited = await server.createKey(org.key, ['agents:read', 'agents:write'],
      { agent_ids: [agentId] });
    const cases = [
      ['GET', '/v2/agents/bad-key', undefined, org.key, 400],
      ['GET', '/v2/agents/agt_', undefined, org.key, 400],
      ['GET', `/v2/agents/agt_${'x'.repeat(70)}`, undefined, org.key, 400],
      ['GET', '/v2/agents/agt_bad%20key', undefined, org.key, 400],
      ['PATCH', '/v2/agents/bad-key', { name: 'x' }, org.key, 400],
      ['DELETE', '/v2/agents/bad-key', undefined, org.key, 400],
      ['GET', '/v2/agents?limit=0', undefined, org.key, 400],
      ['GET', '/v2/agents?limit=101', undefined, org.key, 400],
      ['GET', '/v2/agents?page_key=garbage', undefined, org.key, 400],
      ['POST', '/v2/agents', { name: '' }, org.key, 400],
      ['POST', '/v2/agents', { key: 'not_agt', name: 'x' }, org.key, 400],
      ['POST', '/v2/agents', { name: 'x', instructions: 'not a Vectara member' }, org.key, 400],
      ['POST', '/v2/agents', { name: 'x', model: { parameters: { temperature: 7 } } }, org.key,
        400],
      ['PATCH', `/v2/agents/${mine.id}`, { key: 'agt_renamed' }, org.key, 400],
      ['PATCH', `/v2/agents/${mine.id}`, { id: 'agt_x' }, org.key, 400],
      ['GET', `/v2/agents/${mine.id}`, undefined, undefined, 401],
      ['GET', '/v2/agents', undefined, 'agk_nopenopenopenopenopenopenopenope', 401],
      ['POST', '/v2/agents', { name: 'x' }, reader, 403],
      ['DELETE', `/v2/agents/${mine.id}`, undefined, reader, 403],
      ['GET', `/v2/agents/${mine.id}`, undefined, poolsOnly, 403],
      ['GET', `/v2/agents/${hidden.id}`, undefined, limited, 403],
      ['PATCH', `/v2/agents/${hidden.id}`, { name: 'x' }, limited, 403],
      ['GET', '/v2/agents/agt_nobody', undefined, org.key, 404],
      ['GET', `/v2/agents/${theirs.id}`, undefined, org.key, 404],
      ['PATCH', `/v2/agents/${theirs.id}`, { name: 'x' }, org.key, 404],
      ['DELETE', `/v2/agents/${theirs.id}`, undefined, org.key, 404],
      ['POST', '/v2/agents', { key: 'agt_mine', name: 'Again' }, org.key, 409],
    ];
    for (const [method, path, body, key, status] of cases) {
      const r = await server.request(method, path, { body, ...(key ? h(key) : {}) });
      expectAnswer(r, status, 'vectara', `${method} ${path} ${JSON.stringify(body)}`);
    }
    const r = await server.request('POST', '/v2/agents',
      { body: 'name=x', headers: { 'x-api-key': org.key, 'Content-Type': 'text/plain' } });
    expectAnswer(r, 415, 'vectara', 'text body');
    // Nothing refused changed anything.
    const still = expectAnswer(await server.request('GET', `/v2/agents/${theirs.id}`,
      h(other.key)), 200, 'VectaraAgent', 'theirs after refusals');
    assert.deepEqual(still, theirs);
    const mineNow = expectAnswer(await server.request('GET', `/v2/agents/${mine.id}`,
      h(org.key)), 200, 'VectaraAgent', 'mine after refusals');
    assert.deepEqual(mineNow, mine);
  });

  it('answers every member of the seed\'s agent, and nothing more', async () => {
    const a = expectAnswer(await server.request('POST', '/v2/agents',
      { body: { name: unique('members') }, ...h(org.key) }), 201, 'VectaraAgent', 'create');
    assert.deepEqual(Object.keys(a).sort(), [...VECTARA_AGENT_FIELDS].sort());
    assert.equal(a.created_at, a.updated_at);
    const list = expectAnswer(await server.request('GET', '/v2/agents?limit=100', h(org.key)),
      200, 'VectaraAgentList', 'list');
    for (const x of list.agents) assert.deepEqual(Object.keys(x).sort(), [...VECTARA_AGENT_FIELDS].sort());
    assert.ok(list.agents.some((x) => x.id === a.id));
  });

  it('accepts keys up to 64 characters and refuses longer ones', async () => {
    const key64 = `agt_${'k'.repeat(60)}`;
    expectAnswer(await server.request('GET', `/v2/agents/${key64}`, h(org.key)), 404, 'vectara',
      'unknown key of 64');
    const made = expectAnswer(await server.request('POST', '/v2/agents',
      { body: { key: key64, name: 'Long key' }, ...h(org.key) }), 201, 'VectaraAgent',
    'create with a key of 64');
    assert.equal(made.id, key64);
    expectAnswer(await server.request('GET', `/v2/agents/${key64}`, h(org.key)), 200,
      'VectaraAgent', 'get a key of 64');
    expectAnswer(await server.request('GET', `/v2/agents/${key64}x`, h(org.key)), 400, 'vectara',
      'a key of 65');
    expectAnswer(await server.request('POST', '/v2/agents',
      { body: { key: `${key64}x`, name: 'Too long' }, ...h(org.key) }), 400, 'vectara',
    'create with a key of 65');
  });

  it('changes only the draft: GET keeps the active version until it is published', async () => {
    const key = `agt_${unique('draft').replace(/[^0-9a-zA-Z_-]/g, '_')}`;
    const created = expectAnswer(await server.request('POST', '/v2/agents',
      { body: { key, name: 'Published name', metadata: { stage: 'one' } }, ...h(org.key) }), 201,
    'VectaraAgent', 'create');
    const pub = await server.request('POST', `/v1/agents/${key}/publish`,
      { key: org.key, body: {} });
    assert.equal(pub.status, 201, pub.raw);
    const patched = expectAnswer(await server.request('PATCH', `/v2/agents/${key}`,
      { body: { name: 'Draft name', metadata: { stage: 'two' } }, ...h(org.key) }), 200,
    'VectaraAgent', 'patch after publish');
    assert.equal(patched.name, 'Draft name', 'the PATCH answer shows the draft');
    assert.deepEqual(patched.metadata, { stage: 'two' });
    const active = expectAnswer(await server.request('GET', `/v2/agents/${key}`, h(org.key)), 200,
      'VectaraAgent', 'get after patch');
    assert.equal(active.name, 'Published name', 'GET keeps the active version');
    assert.deepEqual(active.metadata, { stage: 'one' });
    assert.equal(active.created_at, created.created_at);
    const list = expectAnswer(await server.request('GET', '/v2/agents?limit=100', h(org.key)),
      200, 'VectaraAgentList', 'list after patch');
    assert.equal(list.agents.find((x) => x.id === key).name, 'Published name');
    const pub2 = await server.request('POST', `/v1/agents/${key}/publish`,
      { key: org.key, body: {} });
    assert.equal(pub2.status, 201, pub2.raw);
    const now = expectAnswer(await server.request('GET', `/v2/agents/${key}`, h(org.key)), 200,
      'VectaraAgent', 'get after second publish');
    assert.equal(now.name, 'Draft name');
  });

  it('takes a merge patch as application/merge-patch+json too', async () => {
    const a = expectAnswer(await server.request('POST', '/v2/agents',
      { body: { name: unique('merge'), enabled: true }, ...h(org.key) }), 201, 'VectaraAgent',
    'create');
    const p = expectAnswer(await server.request('PATCH', `/v2/agents/${a.id}`, { body:
      { enabled: false }, headers: { 'x-api-key': org.key,
      'Content-Type': 'application/merge-patch+json' } }), 200, 'VectaraAgent', 'merge patch');
    assert.equal(p.enabled, false);
    assert.equal(p.name, a.name);
  });

  it('refuses a stale If-Match with 412 precondition_failed', async () => {
    // docs/compatible-surfaces.md lists 412 precondition_failed among the
    // Vectara codes; a write whose If-Match does not match must not happen
    // (RFC 9110 §13.1.1).
    const a = expectAnswer(await server.request('POST', '/v2/agents',
      { body: { name: unique('etag') }, ...h(org.key) }), 201, 'VectaraAgent', 'create');
    const stale = { 'x-api-key': org.key, 'If-Match': '"stale-etag"' };
    expectAnswer(await server.request('PATCH', `/v2/agents/${a.id}`,
      { body: { name: 'lost update' }, headers: stale }), 412, 'vectara', 'patch, stale If-Match');
    expectAnswer(await server.request('DELETE', `/v2/agents/${a.id}`, { headers: stale }), 412,
      'vectara', 'delete, stale If-Match');
    const still = expectAnswer(await server.request('GET', `/v2/agents/${a.id}`, h(org.key)), 200,
      'VectaraAgent', 'get after refused writes');
    assert.equal(still.name, a.name);
  });

  it('authenticates with every header and refuses malformed bodies in its shape', async () => {
    const a = expectAnswer(await server.request('POST', '/v2/agents',
      { body: { name: unique('auth') }, ...h(org.key) }), 201, 'VectaraAgent', 'create');
    const reader = await server.createKey(org.key, ['agents:read']);
    for (const headers of [{ 'x-api-key': reader }, { Authorization: `Bearer ${reader}` },
      { 'X-Asteroid-Agents-Api-Key': reader }]) {
      expectAnswer(await server.request('GET', `/v2/agents/${a.id}`, { headers }), 200,
        'VectaraAgent', `get with ${Object.keys(headers)[0]}`);
    }
    const revoked = await server.revokedKey(org.key);
    expectAnswer(await server.request('GET', `/v2/agents/${a.id}`, h(revoked)), 401, 'vectara',
      'revoked key');
    for (const [method, path, body, status] of [
      ['POST', '/v2/agents', '{"name":"a","name":"b"}', 400],
      ['POST', '/v2/agents', invalidUtf8Body(), 400],
      ['POST', '/v2/agents', '{"name":', 400],
      ['POST', '/v2/agents', '[]', 400],
      ['PATCH', `/v2/agents/${a.id}`, '{"description":"a","description":"b"}', 400],
      ['PATCH', `/v2/agents/${a.id}`, invalidUtf8Body('description'), 400],
    ]) {
      expectAnswer(await server.request(method, path, { body, ...h(org.key) }), status, 'vectara',
        `${method} ${path} ${String(body)}`);
    }
    expectAnswer(await server.request('PATCH', `/v2/agents/${a.id}`, { body: '{}',
      headers: { 'x-api-key': org.key, 'Content-Type': 'text/plain' } }), 415, 'vectara',
    'patch as text/plain');
    const same = expectAnswer(await server.request('GET', `/v2/agents/${a.id}`, h(org.key)), 200,
      'VectaraAgent', 'get after refusals');
    assert.deepEqual(same, a);
  });
});
