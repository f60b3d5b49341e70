// Starts the real agentry binary on 127.0.0.1 port 0 with a temporary
// SQLite store and offers a small HTTP helper. Only loopback is contacted.
'use strict';

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const STARTUP_TIMEOUT_MS = 15000;

// The binary: $AGENTRY_BINARY, else the first command-line argument (when a
// test file is run directly: node asteroid.test.js BINARY), else
// ../../build/agentry.
function binaryPath() {
  if (process.env.AGENTRY_BINARY) return path.resolve(process.env.AGENTRY_BINARY);
  const arg = process.argv.slice(2).find((a) => !a.startsWith('-'));
  if (arg) return path.resolve(arg);
  return path.resolve(__dirname, '..', '..', 'build', 'agentry');
}

function randomKey() {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = 'agk_';
  for (let i = 0; i < 36; i++) out += alphabet[crypto.randomInt(alphabet.length)];
  return out;
}

let counter = 0;
function unique(prefix) {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${crypto.randomBytes(3).toString('hex')}`;
}

class Server {
  constructor(extraArgs = []) {
    this.extraArgs = extraArgs;
    this.adminKey = randomKey();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-contract-'));
    this.proc = null;
    this.base = null;
  }

  start() {
    const args = ['serve', '--listen', '127.0.0.1:0', '--store',
      `sqlite://${path.join(this.dir, 'agentry.db')}`, '--log-level', 'info',
      '--rate-limit', '1000000:1000000', '--auth-failure-limit', '1000000:1000000',
      ...this.extraArgs];
    const env = { ...process.env, AGENTRY_BOOTSTRAP_ADMIN_KEY: this.adminKey };
    for (const name of Object.keys(env)) {
      if (name.startsWith('AGENTRY_') && name !== 'AGENTRY_BOOTSTRAP_ADMIN_KEY' &&
          name !== 'AGENTRY_BINARY') {
        delete env[name];
      }
    }
    this.proc = spawn(binaryPath(), args, { cwd: this.dir, env,
      stdio: ['ignore', 'pipe', 'pipe'] });
    this.logs = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(
        `agentry did not log "listening" within ${STARTUP_TIMEOUT_MS} ms:\n${this.logs}`)),
      STARTUP_TIMEOUT_MS);
      let pending = '';
      this.proc.stdout.on('data', (chunk) => {
        this.logs += chunk;
        pending += chunk;
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          try {
            const o = JSON.parse(line);
            if (o.msg === 'listening' && Number.isInteger(o.port)) {
              clearTimeout(timer);
              this.base = `http://127.0.0.1:${o.port}`;
              resolve(this);
            }
          } catch (_) { /* not a JSON line */ }
        }
      });
      this.proc.stderr.on('data', (chunk) => { this.logs += chunk; });
      this.proc.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot start ${binaryPath()}: ${e.message}`));
      });
      this.proc.on('exit', (code) => {
        clearTimeout(timer);
        if (!this.base) reject(new Error(`agentry exited (${code}):\n${this.logs}`));
      });
    });
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      const exited = new Promise((resolve) => this.proc.once('exit', resolve));
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 12000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // One request. `body` (an object) is sent as JSON. Answers
  // {status, headers (lower-cased names), body (parsed JSON or text), raw}.
  async request(method, urlPath, { body, key, headers = {} } = {}) {
    const h = { ...headers };
    if (key) h.Authorization = `Bearer ${key}`;
    let payload;
    if (body !== undefined) {
      // A string or Buffer is sent as is (malformed bodies); anything else as JSON.
      payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
        h['Content-Type'] = 'application/json';
      }
    }
    const resp = await fetch(this.base + urlPath, { method, headers: h, body: payload });
    const raw = await resp.text();
    let parsed = raw;
    if ((resp.headers.get('content-type') || '').includes('json') && raw) {
      parsed = JSON.parse(raw);
    }
    const hdrs = {};
    resp.headers.forEach((v, k) => { hdrs[k] = v; });
    return { status: resp.status, headers: hdrs, body: parsed, raw };
  }

  // A new organization: {id, key} (its `*` key).
  async createOrg() {
    const r = await this.request('POST', '/v1/organizations',
      { body: { name: unique('org') }, key: this.adminKey });
    if (r.status !== 201) throw new Error(`create org: ${r.status} ${r.raw}`);
    return { id: r.body.id, key: r.body.admin_key };
  }

  // A key of the organization whose `*` key is `orgKey`: its record
  // {id, key, …}.
  async createKeyRecord(orgKey, scopes, extra = {}) {
    const r = await this.request('POST', '/v1/api-keys',
      { body: { name: unique('key'), scopes, ...extra }, key: orgKey });
    if (r.status !== 201) throw new Error(`create key: ${r.status} ${r.raw}`);
    return r.body;
  }

  // A key of the organization whose `*` key is `orgKey` (its value).
  async createKey(orgKey, scopes, extra = {}) {
    return (await this.createKeyRecord(orgKey, scopes, extra)).key;
  }

  // A key that has been revoked (DELETE /v1/api-keys/{id}).
  async revokedKey(orgKey, scopes = ['*']) {
    const rec = await this.createKeyRecord(orgKey, scopes);
    const r = await this.request('DELETE', `/v1/api-keys/${rec.id}`, { key: orgKey });
    if (r.status !== 204) throw new Error(`revoke key: ${r.status} ${r.raw}`);
    return rec.key;
  }
}

// A JSON object whose string value holds the byte 0xFF (invalid UTF-8).
function invalidUtf8Body(member = 'name') {
  return Buffer.concat([Buffer.from(`{"${member}":"bad`), Buffer.from([0xff]),
    Buffer.from('"}')]);
}

module.exports = { Server, unique, invalidUtf8Body };

// ---- checks shared by the suites ----

const assert = require('node:assert/strict');
const { expectValid, errorSchema, NATIVE_CODES } = require('./schemas');

// Asserts the status and validates the body against `schema` (success) or
// the surface's error schema (an error status).
function expectAnswer(resp, status, surfaceOrSchema, what) {
  assert.equal(resp.status, status, `${what}: expected ${status}, got ${resp.status} ${resp.raw}`);
  if (status === 204) {
    assert.equal(resp.raw, '', `${what}: a 204 has no body`);
    return resp.body;
  }
  const schema = status >= 400 ? errorSchema(surfaceOrSchema, status) : surfaceOrSchema;
  expectValid(schema, resp.body, what);
  if (status >= 400 && surfaceOrSchema === 'vectara') {
    assert.equal(resp.body.request_id, resp.headers['x-request-id'], `${what}: request_id`);
  }
  // Odeus and native errors carry the native code of the status (DESIGN §5).
  if (status >= 400 && status !== 409 && NATIVE_CODES[status] &&
      (surfaceOrSchema === 'odeus' || surfaceOrSchema === 'native')) {
    const code = surfaceOrSchema === 'odeus' ? resp.body.code : resp.body.error.code;
    assert.equal(code, NATIVE_CODES[status], `${what}: error code of a ${status}`);
  }
  return resp.body;
}

module.exports.expectAnswer = expectAnswer;
