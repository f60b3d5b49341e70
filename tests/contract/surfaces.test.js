// What every surface shares: one domain model (an object made on any
// surface is the same on the others), browser-origin refusal and the
// allow-list, the per-key rate limit in each surface's shape, and
// /openapi.json documenting all four surfaces.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Server, unique, expectAnswer } = require('./harness');

// One read route per surface, with the body to create its object.
function routes(ids) {
  return [
    ['native', 'GET', `/v1/agents/${ids.key}`, null],
    ['asteroid', 'GET', `/agents/v2/agent-profile-pools/${ids.pool}`, 'AgentProfilePool'],
    ['odeus', 'GET', `/agent/v1/get?agentId=${ids.id}`, 'OdeusGetResponse'],
    ['odeus', 'GET', `/api/public/agent/v1/get?agentId=${ids.id}`, 'OdeusGetResponse'],
    ['vectara', 'GET', `/v2/agents/${ids.key}`, 'VectaraAgent'],
  ];
}

describe('one model behind every surface', () => {
  const server = new Server();
  let org;
  before(async () => { await server.start(); org = await server.createOrg(); });
  after(() => server.stop());

  it('shows an agent made on any surface on all of them', async () => {
    // Native → Odeus (by id) and Vectara (by key).
    const native = await server.request('POST', '/v1/agents', { key: org.key,
      body: { name: 'Native', key: 'agt_native', instructions: 'N',
        model: { name: 'gpt-4', parameters: { temperature: 0.1 } } } });
    assert.equal(native.status, 201, native.raw);
    let o = expectAnswer(await server.request('GET', `/agent/v1/get?agentId=${native.body.id}`,
      { key: org.key }), 200, 'OdeusGetResponse', 'odeus reads native');
    assert.equal(o.agent.name, 'Native');
    assert.equal(o.agent.instruction, 'N');
    assert.equal(o.agent.temperature, 0.1);
    let v = expectAnswer(await server.request('GET', '/v2/agents/agt_native', { key: org.key }),
      200, 'VectaraAgent', 'vectara reads native');
    assert.equal(v.name, 'Native');
    assert.deepEqual(v.model, { name: 'gpt-4', parameters: { temperature: 0.1 } });

    // Odeus → native and Vectara.
    o = expectAnswer(await server.request('POST', '/agent/v1/create', { key: org.key,
      body: { name: 'Odeus', instruction: 'O', model: 'claude', temperature: 0.6 } }), 201,
    'OdeusWriteResponse', 'odeus create');
    const n = await server.request('GET', `/v1/agents/${o.agent.id}`, { key: org.key });
    assert.equal(n.status, 200, n.raw);
    assert.equal(n.body.instructions, 'O');
    v = expectAnswer(await server.request('GET', `/v2/agents/${n.body.key}`, { key: org.key }),
      200, 'VectaraAgent', 'vectara reads odeus');
    assert.deepEqual(v.model, { name: 'claude', parameters: { temperature: 0.6 } });

    // Vectara → native and Odeus; a publish through Odeus shows on Vectara.
    v = expectAnswer(await server.request('POST', '/v2/agents', { key: org.key,
      body: { key: 'agt_vectara', name: 'Vectara', metadata: { team: 'x' } } }), 201,
    'VectaraAgent', 'vectara create');
    const n2 = await server.request('GET', '/v1/agents/agt_vectara', { key: org.key });
    assert.equal(n2.status, 200, n2.raw);
    assert.deepEqual(n2.body.metadata, { team: 'x' });
    o = expectAnswer(await server.request('GET', `/agent/v1/get?agentId=${n2.body.id}`,
      { key: org.key }), 200, 'OdeusGetResponse', 'odeus reads vectara');
    assert.equal(o.agent.name, 'Vectara');
    expectAnswer(await server.request('POST', '/agent/v1/update', { key: org.key,
      body: { agentId: n2.body.id, name: 'Vectara v1' } }), 200, 'OdeusWriteResponse', 'update');
    expectAnswer(await server.request('POST', '/agent/v1/publish', { key: org.key,
      body: { agentId: n2.body.id } }), 200, 'OdeusPublishResponse', 'publish');
    v = expectAnswer(await server.request('GET', '/v2/agents/agt_vectara', { key: org.key }),
      200, 'VectaraAgent', 'vectara after odeus publish');
    assert.equal(v.name, 'Vectara v1');
    const n3 = await server.request('GET', '/v1/agents/agt_vectara', { key: org.key });
    assert.equal(n3.body.status, 'published');
    assert.equal(n3.body.version, 1);
  });

  it('deletes an agent everywhere at once', async () => {
    const o = expectAnswer(await server.request('POST', '/api/public/agent/v1/create',
      { key: org.key, body: { name: unique('doomed') } }), 201, 'OdeusWriteResponse', 'create');
    const n = await server.request('GET', `/v1/agents/${o.agent.id}`, { key: org.key });
    assert.equal(n.status, 200, n.raw);
    expectAnswer(await server.request('DELETE', `/v2/agents/${n.body.key}`, { key: org.key }),
      204, null, 'vectara delete');
    expectAnswer(await server.request('GET', `/agent/v1/get?agentId=${o.agent.id}`,
      { key: org.key }), 404, 'odeus', 'odeus after delete');
    expectAnswer(await server.request('POST', '/agent/v1/update',
      { key: org.key, body: { agentId: o.agent.id, name: 'x' } }), 404, 'odeus',
    'odeus update after delete');
    expectAnswer(await server.request('GET', `/v1/agents/${o.agent.id}`, { key: org.key }), 404,
      'native', 'native after delete');
    expectAnswer(await server.request('GET', `/v2/agents/${n.body.key}`, { key: org.key }), 404,
      'vectara', 'vectara after delete');
  });

  it('shows a pool made on Asteroid natively, and leases it through /v1', async () => {
    const pool = expectAnswer(await server.request('POST', '/agents/v2/agent-profile-pools', {
      key: org.key, body: { name: unique('pool'), selectionStrategy: 'most_recently_used' },
    }), 201, 'AgentProfilePool', 'asteroid create');
    const native = await server.request('GET', `/v1/agent-profile-pools/${pool.id}`,
      { key: org.key });
    assert.equal(native.status, 200, native.raw);
    assert.equal(native.body.name, pool.name);
    assert.equal(native.body.selection_strategy, 'most_recently_used');
    const profile = await server.request('POST', '/v1/agent-profiles',
      { key: org.key, body: { name: 'p1' } });
    assert.equal(profile.status, 201, profile.raw);
    const added = await server.request('POST', `/v1/agent-profile-pools/${pool.id}/profiles`,
      { key: org.key, body: { profile_ids: [profile.body.id] } });
    assert.ok(added.status < 300, added.raw);
    const lease = await server.request('POST', `/v1/agent-profile-pools/${pool.id}/leases`,
      { key: org.key, body: { holder: 'contract' } });
    assert.equal(lease.status, 201, lease.raw);
    assert.equal(lease.body.profile_id, profile.body.id);

    // And the other way: a native pool through Asteroid.
    const np = await server.request('POST', '/v1/agent-profile-pools',
      { key: org.key, body: { name: unique('native-pool'), allow_concurrent_use: true } });
    assert.equal(np.status, 201, np.raw);
    const ap = expectAnswer(await server.request('GET', `/agents/v2/agent-profile-pools/${np.body.id}`,
      { key: org.key }), 200, 'AgentProfilePool', 'asteroid reads native pool');
    assert.equal(ap.allowConcurrentUse, true);
    assert.equal(ap.selectionStrategy, 'least_recently_used');
  });
});

describe('browser origins', () => {
  const refused = new Server();
  const allowing = new Server(['--allow-origin', 'https://app.example']);
  let ids = {};
  let ids2 = {};

  async function setUp(server) {
    const org = await server.createOrg();
    const agent = await server.request('POST', '/v1/agents',
      { key: org.key, body: { name: 'A', key: 'agt_origin' } });
    const pool = await server.request('POST', '/v1/agent-profile-pools',
      { key: org.key, body: { name: 'p' } });
    return { orgKey: org.key, id: agent.body.id, key: 'agt_origin', pool: pool.body.id };
  }

  before(async () => {
    await refused.start();
    await allowing.start();
    ids = await setUp(refused);
    ids2 = await setUp(allowing);
  });
  after(async () => { await refused.stop(); await allowing.stop(); });

  const noCors = (r, what) => {
    for (const h of Object.keys(r.headers)) {
      assert.ok(!h.startsWith('access-control-'), `${what}: CORS header ${h} on a refusal`);
    }
  };

  it('refuses any Origin on every surface, preflights too, with no CORS headers', async () => {
    for (const [surface, method, path] of routes(ids)) {
      for (const origin of ['https://evil.example', 'null', 'https://app.example']) {
        const r = await refused.request(method, path,
          { key: ids.orgKey, headers: { Origin: origin } });
        if (surface === 'native') {
          assert.equal(r.status, 403, `${path}: ${r.raw}`);
          expectAnswer(r, 403, 'native', `${path} from ${origin}`);
        } else {
          expectAnswer(r, 403, surface, `${path} from ${origin}`);
        }
        noCors(r, path);
        const pre = await refused.request('OPTIONS', path, { headers: {
          Origin: origin, 'Access-Control-Request-Method': 'GET',
          'Access-Control-Request-Headers': 'authorization' } });
        assert.equal(pre.status, 403, `preflight ${path}: ${pre.raw}`);
        noCors(pre, `preflight ${path}`);
      }
    }
  });

  it('refuses the preflight of every write route of every surface', async () => {
    for (const [method, path] of [['POST', '/v1/agents'],
      ['POST', '/agents/v2/agent-profile-pools'],
      ['PATCH', `/agents/v2/agent-profile-pools/${ids.pool}`],
      ['POST', '/agent/v1/create'], ['PATCH', '/agent/v1/update'],
      ['POST', '/api/public/agent/v1/publish'], ['POST', '/v2/agents'],
      ['DELETE', `/v2/agents/${ids.key}`]]) {
      const pre = await refused.request('OPTIONS', path, { headers: {
        Origin: 'https://evil.example', 'Access-Control-Request-Method': method,
        'Access-Control-Request-Headers': 'authorization, content-type' } });
      assert.equal(pre.status, 403, `preflight ${method} ${path}: ${pre.status} ${pre.raw}`);
      noCors(pre, `preflight ${method} ${path}`);
      // And the write itself, with a browser's Origin, changes nothing.
      const r = await refused.request(method, path, { key: ids.orgKey,
        headers: { Origin: 'https://evil.example' }, body: method === 'DELETE' ? undefined : {} });
      assert.equal(r.status, 403, `${method} ${path}: ${r.status} ${r.raw}`);
      noCors(r, `${method} ${path}`);
    }
    const still = await refused.request('GET', `/v2/agents/${ids.key}`, { key: ids.orgKey });
    assert.equal(still.status, 200, still.raw);
  });

  it('answers an allow-listed origin with CORS, and still refuses others', async () => {
    for (const [surface, method, path, schema] of routes(ids2)) {
      const ok = await allowing.request(method, path,
        { key: ids2.orgKey, headers: { Origin: 'https://app.example' } });
      assert.equal(ok.status, 200, `${path}: ${ok.raw}`);
      if (surface !== 'native') expectAnswer(ok, 200, schema, path);
      assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example');
      const pre = await allowing.request('OPTIONS', path, { headers: {
        Origin: 'https://app.example', 'Access-Control-Request-Method': 'PATCH',
        'Access-Control-Request-Headers': 'authorization, content-type' } });
      assert.ok(pre.status === 200 || pre.status === 204, `preflight ${path}: ${pre.status}`);
      assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example');
      assert.match(pre.headers['access-control-allow-methods'] || '', /PATCH/);
      assert.match((pre.headers['access-control-allow-headers'] || '').toLowerCase(),
        /authorization/);
      const bad = await allowing.request(method, path,
        { key: ids2.orgKey, headers: { Origin: 'https://evil.example' } });
      expectAnswer(bad, 403, surface, `${path} from another origin`);
      noCors(bad, path);
    }
  });
});

describe('rate limits', () => {
  const server = new Server();
  let org;
  before(async () => { await server.start(); org = await server.createOrg(); });
  after(() => server.stop());

  it('gives exactly `burst` successes to a slow key, then 429 in each surface\'s shape', async () => {
    const agent = await server.request('POST', '/v1/agents',
      { key: org.key, body: { name: 'Limited', key: 'agt_limited' } });
    const pool = await server.request('POST', '/v1/agent-profile-pools',
      { key: org.key, body: { name: 'limited' } });
    const ids = { id: agent.body.id, key: 'agt_limited', pool: pool.body.id };
    const burst = 5;
    for (const [surface, method, path, schema] of routes(ids)) {
      // A fresh key per route: 1 request/s, burst 5.
      const key = await server.createKey(org.key, ['*'],
        { rate_limit: { per_second: 1, burst } });
      const statuses = [];
      const started = process.hrtime.bigint();
      for (let i = 0; i < 12; i++) {
        const r = await server.request(method, path, { key });
        statuses.push(r.status);
        if (r.status === 429) {
          expectAnswer(r, 429, surface, `${path} #${i}`);
          for (const h of ['retry-after', 'ratelimit-limit', 'ratelimit-remaining',
            'ratelimit-reset']) {
            assert.match(r.headers[h] || '', /^\d+$/, `${path}: ${h} on a 429`);
          }
          assert.ok(Number(r.headers['retry-after']) >= 1);
          assert.equal(Number(r.headers['ratelimit-limit']), burst);
          if (surface === 'native') assert.equal(r.body.error.code, 'rate_limited');
          if (surface === 'odeus') assert.equal(r.body.code, 'rate_limited');
          if (surface === 'vectara') assert.equal(r.body.error_code, 'rate_limit_exceeded');
          if (surface === 'asteroid') assert.equal(r.body.code, 429);
        } else if (surface !== 'native') {
          expectAnswer(r, 200, schema, `${path} #${i}`);
        }
      }
      const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
      const ok = statuses.filter((s) => s === 200).length;
      assert.deepEqual(statuses.slice(0, burst + 1), [...Array(burst).fill(200), 429],
        `${path}: ${statuses.join(',')}`);
      if (elapsedMs < 1000) {
        // No token can have refilled (1/s): exactly `burst` successes, then 429s.
        assert.deepEqual(statuses, [...Array(burst).fill(200), ...Array(12 - burst).fill(429)],
          `${path} (${elapsedMs.toFixed(0)} ms): ${statuses.join(',')}`);
      } else {
        // A slow machine: at most one token per elapsed second may have refilled.
        assert.ok(ok <= burst + Math.floor(elapsedMs / 1000),
          `${path} (${elapsedMs.toFixed(0)} ms): ${statuses.join(',')}`);
      }
    }
  });
});

describe('/openapi.json', () => {
  const server = new Server();
  before(() => server.start());
  after(() => server.stop());

  it('documents all four surfaces with the seeds\' paths and schemas', async () => {
    const r = await server.request('GET', '/openapi.json');
    assert.equal(r.status, 200);
    const doc = typeof r.body === 'string' ? JSON.parse(r.body) : r.body;
    assert.match(doc.openapi, /^3\./);
    const want = {
      '/agents/v2/agent-profile-pools': ['get', 'post'],
      '/agents/v2/agent-profile-pools/{poolId}': ['get', 'patch'],
      '/agent/v1/get': ['get'],
      '/agent/v1/create': ['post'],
      '/agent/v1/update': ['post', 'patch'],
      '/agent/v1/publish': ['post'],
      '/api/public/agent/v1/get': ['get'],
      '/api/public/agent/v1/create': ['post'],
      '/api/public/agent/v1/update': ['post', 'patch'],
      '/api/public/agent/v1/publish': ['post'],
      '/v2/agents': ['get', 'post'],
      '/v2/agents/{agent_key}': ['get', 'patch', 'delete'],
      '/v1/agents/{id}': ['get', 'patch', 'delete'],
    };
    for (const [p, methods] of Object.entries(want)) {
      assert.ok(doc.paths[p], `path ${p} missing`);
      for (const m of methods) assert.ok(doc.paths[p][m], `${m} ${p} missing`);
    }
    const schemas = doc.components.schemas;
    for (const name of ['Common.uuid', 'Agents.Profile.AgentProfilePool',
      'Agents.Profile.SelectionStrategy', 'Common.BadRequestErrorBody',
      'Common.UnauthorizedErrorBody', 'Common.ForbiddenErrorBody', 'Common.NotFoundErrorBody',
      'Common.InternalServerErrorBody', 'Assistant']) {
      assert.ok(schemas[name], `schema ${name} missing`);
    }
    const pool = schemas['Agents.Profile.AgentProfilePool'];
    assert.deepEqual(Object.keys(pool.properties).sort(), ['allowConcurrentUse', 'createdAt', 'id',
      'name', 'organizationId', 'selectionStrategy', 'updatedAt']);
    assert.deepEqual([...pool.required].sort(), Object.keys(pool.properties).sort());
    assert.equal(doc.paths['/agent/v1/get'].get.operationId, 'getAgentV2');
    assert.equal(doc.paths['/agents/v2/agent-profile-pools/{poolId}'].get.operationId,
      'AgentProfilePoolGet');
    // Every $ref resolves.
    const refs = [];
    (function walk(v) {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x); else walk(x);
        }
      }
    }(doc));
    for (const ref of refs) {
      assert.ok(ref.startsWith('#/'), ref);
      let at = doc;
      for (const part of ref.slice(2).split('/')) {
        at = at[part.replace(/~1/g, '/').replace(/~0/g, '~')];
        assert.ok(at !== undefined, `unresolved ${ref}`);
      }
    }
  });
});
