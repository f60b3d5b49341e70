// Asteroid Agents API v2 (seed 000): /agents/v2/agent-profile-pools. Every
// answer, success or error, is validated against the seed's schemas.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Server, unique, expectAnswer } = require('./harness');
const { POOL_FIELDS } = require('./schemas');

const BASE = '/agents/v2/agent-profile-pools';

describe('Asteroid agent profile pools', () => {
  const server = new Server();
  let org;
  let other;
  // The seed's auth header.
  const h = (key) => ({ headers: { 'X-Asteroid-Agents-Api-Key': key } });

  before(async () => {
    await server.start();
    org = await server.createOrg();
    other = await server.createOrg();
  });
  after(() => server.stop());

  async function create(body, key = org.key) {
    const r = await server.request('POST', BASE, { body, ...h(key) });
    return expectAnswer(r, 201, 'AgentProfilePool', `create ${JSON.stringify(body)}`);
  }

  it('creates, gets and patches a pool whose body is exactly the seed\'s', async () => {
    const name = unique('pool');
    const pool = await create({ name, selectionStrategy: 'most_recently_used' });
    assert.deepEqual(Object.keys(pool).sort(), [...POOL_FIELDS].sort());
    assert.equal(pool.name, name);
    assert.equal(pool.organizationId, org.id);
    assert.equal(pool.selectionStrategy, 'most_recently_used');
    assert.equal(pool.allowConcurrentUse, false);

    const got = expectAnswer(await server.request('GET', `${BASE}/${pool.id}`, h(org.key)),
      200, 'AgentProfilePool', 'get');
    assert.deepEqual(got, pool);
    assert.deepEqual(Object.keys(got).sort(), [...POOL_FIELDS].sort());

    const patched = expectAnswer(await server.request('PATCH', `${BASE}/${pool.id}`,
      { body: { allowConcurrentUse: true, name: `${name}-b` }, ...h(org.key) }),
    200, 'AgentProfilePool', 'patch');
    assert.equal(patched.allowConcurrentUse, true);
    assert.equal(patched.name, `${name}-b`);
    assert.equal(patched.selectionStrategy, 'most_recently_used');
    assert.equal(patched.createdAt, pool.createdAt);
    assert.ok(patched.updatedAt >= pool.updatedAt);
    // Bearer and x-api-key authenticate too.
    expectAnswer(await server.request('GET', `${BASE}/${pool.id}`, { key: org.key }), 200,
      'AgentProfilePool', 'get with Bearer');
  });

  it('lists with searchName, paging and sorting', async () => {
    const o = await server.createOrg();
    const names = ['delta', 'Alpha', 'charlie', 'bravo', 'alphabet'];
    for (const name of names) await create({ name }, o.key);
    const list = async (query) => expectAnswer(
      await server.request('GET', `${BASE}?${query}`, h(o.key)), 200, 'AgentProfilePoolList',
      `list ${query}`);

    let body = await list('sortField=name&sortDirection=asc');
    assert.deepEqual(body.items.map((p) => p.name), ['Alpha', 'alphabet', 'bravo', 'charlie',
      'delta']);
    assert.equal(body.total, 5);
    assert.equal(body.page, 1);
    assert.equal(body.pageSize, 50);
    for (const p of body.items) assert.deepEqual(Object.keys(p).sort(), [...POOL_FIELDS].sort());

    body = await list('sortField=createdAt&sortDirection=desc&pageSize=2&page=2');
    assert.deepEqual(body.items.map((p) => p.name), ['charlie', 'Alpha']);
    assert.equal(body.total, 5);
    assert.equal(body.pageSize, 2);
    assert.equal(body.page, 2);

    body = await list('searchName=alpha&sortField=name&sortDirection=desc');
    assert.deepEqual(body.items.map((p) => p.name), ['alphabet', 'Alpha']);
    assert.equal(body.total, 2);

    body = await list('sortField=updatedAt&sortDirection=asc&pageSize=100');
    assert.deepEqual(body.items.map((p) => p.name), names);

    body = await list('page=3&pageSize=2');
    assert.equal(body.items.length, 1);
    body = await list('page=4&pageSize=2');
    assert.deepEqual(body.items, []);
    assert.equal(body.total, 5);

    body = await list(`organizationId=${o.id}`);
    assert.equal(body.total, 5);
  });

  it('answers errors as the seed\'s {code, message} bodies', async () => {
    org = await server.createOrg();  // a fresh organization: its pools are known
    const pool = await create({ name: unique('pool') });
    const cases = [
      ['GET', `${BASE}/not-a-uuid`, undefined, org.key, 400],
      ['PATCH', `${BASE}/12345`, { name: 'x' }, org.key, 400],
      ['GET', `${BASE}?pageSize=0`, undefined, org.key, 400],
      ['GET', `${BASE}?pageSize=101`, undefined, org.key, 400],
      ['GET', `${BASE}?page=0`, undefined, org.key, 400],
      ['GET', `${BASE}?sortField=color`, undefined, org.key, 400],
      ['GET', `${BASE}?sortDirection=sideways`, undefined, org.key, 400],
      ['POST', BASE, { name: '' }, org.key, 400],
      ['POST', BASE, { name: 'x', selectionStrategy: 'random' }, org.key, 400],
      ['POST', BASE, { name: 'x', allowConcurrentUse: 'yes' }, org.key, 400],
      ['POST', BASE, { name: 'x', color: 'red' }, org.key, 400],
      ['PATCH', `${BASE}/${pool.id}`, { name: null }, org.key, 400],
      ['PATCH', `${BASE}/${pool.id}`, { id: pool.id }, org.key, 400],
      ['GET', `${BASE}/${pool.id}`, undefined, undefined, 401],
      ['GET', `${BASE}/${pool.id}`, undefined, 'agk_notarealkeynotarealkeynotarealkey', 401],
      ['GET', `${BASE}?organizationId=${other.id}`, undefined, org.key, 403],
      ['POST', BASE, { name: 'x', organizationId: other.id }, org.key, 403],
      ['GET', `${BASE}/018f0000-0000-7000-8000-000000000000`, undefined, org.key, 404],
      ['GET', `${BASE}/${pool.id}`, undefined, other.key, 404],
      ['PATCH', `${BASE}/${pool.id}`, { name: 'taken?' }, other.key, 404],
      ['POST', BASE, { name: pool.name }, org.key, 409],
    ];
    for (const [method, path, body, key, status] of cases) {
      const opts = key ? { body, ...h(key) } : { body };
      const r = await server.request(method, path, opts);
      expectAnswer(r, status, 'asteroid', `${method} ${path} ${JSON.stringify(body)}`);
    }
    const readOnly = await server.createKey(org.key, ['pools:read']);
    const noPools = await server.createKey(org.key, ['agents:read']);
    expectAnswer(await server.request('POST', BASE, { body: { name: 'n' }, ...h(readOnly) }),
      403, 'asteroid', 'create without pools:write');
    expectAnswer(await server.request('GET', BASE, h(noPools)), 403, 'asteroid',
      'list without pools:read');
    // The refused writes changed nothing.
    const all = expectAnswer(await server.request('GET', `${BASE}?pageSize=100`, h(org.key)),
      200, 'AgentProfilePoolList', 'list after refusals');
    assert.deepEqual(all.items.map((p) => p.name), [pool.name]);
    const same = expectAnswer(await server.request('GET', `${BASE}/${pool.id}`, h(org.key)),
      200, 'AgentProfilePool', 'get after refusals');
    assert.deepEqual(same, pool);
  });
});
