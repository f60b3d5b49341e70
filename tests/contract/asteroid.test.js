// Asteroid Agents API v2 (seed 000): /agents/v2/agent-profile-pools. Every
// answer, success or error, is validated against the seed's schemas.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Server, unique, expectAnswer, invalidUtf8Body } = require('./harness');
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
      const err = expectAnswer(r, status, 'asteroid', `${method} ${path} ${JSON.stringify(body)}`);
      assert.deepEqual(Object.keys(err).sort(), ['code', 'message']);
      assert.strictEqual(err.code, status);
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

  it('lists by default page 1, pageSize 50, newest first', async () => {
    const o = await server.createOrg();
    const made = [];
    for (const name of ['first', 'second', 'third']) made.push(await create({ name }, o.key));
    const body = expectAnswer(await server.request('GET', BASE, h(o.key)), 200,
      'AgentProfilePoolList', 'list with defaults');
    assert.equal(body.page, 1);
    assert.equal(body.pageSize, 50);
    assert.equal(body.total, 3);
    assert.deepEqual(body.items.map((p) => p.id), made.map((p) => p.id).reverse());
    const asc = expectAnswer(await server.request('GET', `${BASE}?sortDirection=asc`, h(o.key)),
      200, 'AgentProfilePoolList', 'list createdAt asc');
    assert.deepEqual(asc.items.map((p) => p.id), made.map((p) => p.id));
    // updatedAt follows a patch: the patched pool sorts last ascending.
    expectAnswer(await server.request('PATCH', `${BASE}/${made[0].id}`,
      { body: { allowConcurrentUse: true }, ...h(o.key) }), 200, 'AgentProfilePool', 'patch');
    const upd = expectAnswer(await server.request('GET',
      `${BASE}?sortField=updatedAt&sortDirection=asc`, h(o.key)), 200, 'AgentProfilePoolList',
    'list updatedAt asc');
    assert.equal(upd.items[2].id, made[0].id);
    // A search matching nothing.
    const none = expectAnswer(await server.request('GET', `${BASE}?searchName=zzz-nothing`,
      h(o.key)), 200, 'AgentProfilePoolList', 'list no match');
    assert.deepEqual(none.items, []);
    assert.equal(none.total, 0);
  });

  it('accepts its own organizationId and names of 1 to 255 characters', async () => {
    const o = await server.createOrg();
    const own = await create({ name: unique('own'), organizationId: o.id,
      allowConcurrentUse: true, selectionStrategy: 'least_recently_used' }, o.key);
    assert.equal(own.organizationId, o.id);
    assert.equal(own.allowConcurrentUse, true);
    const long = 'n'.repeat(255);
    assert.equal((await create({ name: long }, o.key)).name, long);
    assert.equal((await create({ name: 'x' }, o.key)).name, 'x');
    expectAnswer(await server.request('POST', BASE,
      { body: { name: 'm'.repeat(256) }, ...h(o.key) }), 400, 'asteroid', 'name of 256');
    expectAnswer(await server.request('POST', BASE, { body: {}, ...h(o.key) }), 400,
      'asteroid', 'no name');
  });

  it('patches partially and keeps what Asteroid does not show', async () => {
    const o = await server.createOrg();
    const np = await server.request('POST', '/v1/agent-profile-pools', { key: o.key,
      body: { name: unique('native'), default_lease_ttl_seconds: 77 } });
    assert.equal(np.status, 201, np.raw);
    const prof = await server.request('POST', '/v1/agent-profiles',
      { key: o.key, body: { name: 'member' } });
    assert.equal(prof.status, 201, prof.raw);
    const add = await server.request('POST', `/v1/agent-profile-pools/${np.body.id}/profiles`,
      { key: o.key, body: { profile_ids: [prof.body.id] } });
    assert.ok(add.status >= 200 && add.status < 300, add.raw);

    const before = expectAnswer(await server.request('GET', `${BASE}/${np.body.id}`, h(o.key)),
      200, 'AgentProfilePool', 'get');
    const patched = expectAnswer(await server.request('PATCH', `${BASE}/${np.body.id}`,
      { body: { selectionStrategy: 'most_recently_used' }, ...h(o.key) }), 200,
    'AgentProfilePool', 'patch strategy');
    assert.deepEqual(Object.keys(patched).sort(), [...POOL_FIELDS].sort());
    assert.equal(patched.selectionStrategy, 'most_recently_used');
    assert.equal(patched.name, before.name);
    assert.equal(patched.allowConcurrentUse, before.allowConcurrentUse);
    const empty = expectAnswer(await server.request('PATCH', `${BASE}/${np.body.id}`,
      { body: {}, ...h(o.key) }), 200, 'AgentProfilePool', 'empty patch');
    assert.equal(empty.selectionStrategy, 'most_recently_used');

    const native = await server.request('GET', `/v1/agent-profile-pools/${np.body.id}`,
      { key: o.key });
    assert.equal(native.status, 200, native.raw);
    assert.equal(native.body.default_lease_ttl_seconds, 77);
    assert.equal(native.body.selection_strategy, 'most_recently_used');
    const members = await server.request('GET',
      `/v1/agent-profile-pools/${np.body.id}/profiles`, { key: o.key });
    assert.equal(members.status, 200, members.raw);
    assert.ok(JSON.stringify(members.body).includes(prof.body.id), members.raw);

    const other2 = await create({ name: unique('taken') }, o.key);
    for (const [body, status] of [
      [{ name: other2.name }, 409],
      [{ selectionStrategy: null }, 400],
      [{ allowConcurrentUse: null }, 400],
      [{ selectionStrategy: 'random' }, 400],
      [{ name: '' }, 400],
      [{ organizationId: o.id }, 400],
      [{ createdAt: before.createdAt }, 400],
    ]) {
      expectAnswer(await server.request('PATCH', `${BASE}/${np.body.id}`,
        { body, ...h(o.key) }), status, 'asteroid', `patch ${JSON.stringify(body)}`);
    }
    const after = expectAnswer(await server.request('GET', `${BASE}/${np.body.id}`, h(o.key)),
      200, 'AgentProfilePool', 'get after refused patches');
    assert.deepEqual(after, empty);
  });

  it('authenticates with every header, refuses revoked keys and malformed bodies', async () => {
    const o = await server.createOrg();
    const pool = await create({ name: unique('auth') }, o.key);
    const path = `${BASE}/${pool.id}`;
    const reader = await server.createKey(o.key, ['pools:read']);
    for (const headers of [{ 'X-Asteroid-Agents-Api-Key': reader },
      { 'x-api-key': reader }, { Authorization: `Bearer ${reader}` }]) {
      expectAnswer(await server.request('GET', path, { headers }), 200, 'AgentProfilePool',
        `get with ${Object.keys(headers)[0]}`);
    }
    const revoked = await server.revokedKey(o.key);
    expectAnswer(await server.request('GET', path, h(revoked)), 401, 'asteroid', 'revoked key');
    expectAnswer(await server.request('GET', BASE, { headers: { 'X-Asteroid-Agents-Api-Key': '' } }),
      401, 'asteroid', 'empty key');
    const bad = [
      ['{"name":"a","name":"b"}', 'application/json', 400],
      [invalidUtf8Body(), 'application/json', 400],
      ['{"name":', 'application/json', 400],
      ['[]', 'application/json', 400],
      ['name=x', 'text/plain', 415],
    ];
    for (const [body, type, status] of bad) {
      expectAnswer(await server.request('POST', BASE, { body,
        headers: { 'X-Asteroid-Agents-Api-Key': o.key, 'Content-Type': type } }), status,
      'asteroid', `create with ${String(body)}`);
    }
    const list = expectAnswer(await server.request('GET', BASE, h(o.key)), 200,
      'AgentProfilePoolList', 'list after malformed creates');
    assert.equal(list.total, 1);
  });
});
