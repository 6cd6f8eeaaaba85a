import Redis from 'ioredis';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http, { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startApp, TestApp } from './support/app';
import { databaseUrl, DB_PREFIX, TEMPLATE_DB, withAdmin } from './support/database';

/**
 * Rate limits with low limits from a YAML file of the test's own: per-user request and send limits by tier, per-IP
 * limits before auth and on login/register, the IETF RateLimit-Policy and RateLimit fields, 429 with Retry-After, tier changes, and counters
 * shared through Redis by several instances and across a restart.
 *
 * Each "client" connects from its own loopback address (127.0.0.x), so per-IP counters are separate without
 * trusting any proxy header: the server sees the real socket address.
 */
const LIMITS = { window_seconds: 60, unauthenticated_per_ip: 6, auth_per_ip: 4, tiers: { free: { requests: 8, sends: 3 }, pro: { requests: 40, sends: 20 } } };
const ADMIN = { email: 'rl-admin@example.com', password: 'admin-password-123' };
/** A Redis database index of this file's own (flushed before and after); never db 0. */
const REDIS_URL = process.env.TEST_RATE_LIMIT_REDIS_URL ?? 'redis://127.0.0.1:6379/13';

function writeConfig(): string {
  const config = parse(readFileSync(join(__dirname, 'support', 'config.test.yaml'), 'utf8'));
  config.rate_limits = LIMITS;
  const dir = mkdtempSync(join(tmpdir(), 'rate-limit-test-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  body: any;
}

/** One HTTP request from the loopback address `ip`. */
function call(
  base: string,
  method: string,
  path: string,
  opts: { ip: string; token?: string; body?: unknown },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = http.request(`${base}${path}`, {
      method,
      localAddress: opts.ip,
      agent: false,
      headers: {
        ...(payload !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}),
        ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, body });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

interface Client {
  id: number;
  email: string;
  token: string;
  ip: string;
}

let counter = 0;
async function register(base: string, ip: string): Promise<Client> {
  const email = `rl${++counter}-${Date.now()}@example.com`;
  const res = await call(base, 'POST', '/v1/auth/register', { ip, body: { email, password: 'correct horse battery' } });
  if (res.status !== 201) throw new Error(`register from ${ip} failed: ${res.status} ${res.text}`);
  return { id: res.body.user.id, email, token: res.body.access_token, ip };
}

const int = (h: string | string[] | undefined) => {
  expect(typeof h).toBe('string');
  expect(h).toMatch(/^\d+$/);
  return Number(h);
};

/** One item of a RateLimit field: the policy's name and its parameters (`q`, `w`, `r`, `t` as numbers). */
type Item = { name: string } & Record<string, number | string>;

/** A Structured Field list of quota items (`"sends";r=2;t=41, "requests";r=6;t=41`), as the draft writes them. */
function items(h: string | string[] | undefined): Item[] {
  expect(typeof h).toBe('string');
  return (h as string).split(/,\s*/).map((item) => {
    const [name, ...params] = item.split(';');
    expect(name).toMatch(/^"[a-z_]+"$/);
    const parsed: Item = { name: JSON.parse(name) as string };
    for (const p of params) {
      const [k, v] = p.split('=');
      parsed[k] = /^\d+$/.test(v) ? Number(v) : (JSON.parse(v) as string);
    }
    return parsed;
  });
}

/** The IETF RateLimit fields of an answer: each policy's quota (`q`, `w`) and state (`r`, `t`), by name. */
function rateLimit(res: Answer): Record<string, { q: number; w: number; r: number; t: number }> {
  const policies = items(res.headers['ratelimit-policy']);
  const states = items(res.headers['ratelimit']);
  expect(states.map((i) => i.name)).toEqual(policies.map((i) => i.name));
  return Object.fromEntries(policies.map((p, i) => [p.name, { q: p.q as number, w: p.w as number, r: states[i].r as number, t: states[i].t as number }]));
}

/** The policy the RateLimit field names first: the tightest. */
const tightest = (res: Answer) => items(res.headers['ratelimit'])[0].name;

function expect429(res: Answer) {
  expect(res.status).toBe(429);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status: 429, title: 'Too Many Requests', type: expect.any(String), detail: expect.any(String) });
  const retryAfter = int(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(LIMITS.window_seconds);
}

const sendBody = (extra: object = {}) => ({ stream: false, messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('Rate limits (e2e)', () => {
  const configFile = writeConfig();

  describe('one instance, in-memory counters', () => {
    let t: TestApp;
    let admin: string;
    const send = (c: Client, extra: object = {}) => call(t.url, 'POST', '/v1/chat/stream', { ip: c.ip, token: c.token, body: sendBody(extra) });
    const get = (c: Client, path = '/v1/chat/sessions', ip = c.ip) => call(t.url, 'GET', path, { ip, token: c.token });
    const setTier = async (c: Client, tier: string) => {
      const res = await call(t.url, 'PATCH', `/v1/users/${c.id}`, { ip: '127.0.0.12', token: admin, body: { tier } });
      expect(res.status).toBe(200);
      expect(res.body.tier).toBe(tier);
    };

    beforeAll(async () => {
      t = await startApp({ CONFIG_FILE: configFile, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password });
      const login = await call(t.url, 'POST', '/v1/auth/login', { ip: '127.0.0.12', body: ADMIN });
      expect(login.status).toBe(200);
      expect(login.body.user.role).toBe('admin');
      admin = login.body.access_token;
    });
    afterAll(() => t.close());

    it('sends the IETF RateLimit-Policy and RateLimit fields on normal answers, r going down by one per request', async () => {
      const reg = await call(t.url, 'POST', '/v1/auth/register', { ip: '127.0.0.2', body: { email: 'headers@example.com', password: 'correct horse battery' } });
      expect(reg.status).toBe(201);
      expect(rateLimit(reg)).toEqual({
        requests: { q: LIMITS.unauthenticated_per_ip, w: LIMITS.window_seconds, r: LIMITS.unauthenticated_per_ip - 1, t: expect.any(Number) },
        auth: { q: LIMITS.auth_per_ip, w: LIMITS.window_seconds, r: LIMITS.auth_per_ip - 1, t: expect.any(Number) },
      });
      // 3 of 4 left is tighter than 5 of 6: the auth limit leads.
      expect(tightest(reg)).toBe('auth');
      // The library's ad-hoc fields are gone.
      for (const legacy of ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'ratelimit-limit-auth', 'retry-after-auth']) {
        expect(reg.headers[legacy]).toBeUndefined();
      }

      const u: Client = { id: reg.body.user.id, email: 'headers@example.com', token: reg.body.access_token, ip: '127.0.0.2' };
      const r1 = await get(u);
      const r2 = await get(u);
      expect(r1.status).toBe(200);
      expect(r2.status).toBe(200);
      expect(rateLimit(r1).requests).toMatchObject({ q: LIMITS.tiers.free.requests, r: LIMITS.tiers.free.requests - 1 });
      expect(rateLimit(r2).requests.r).toBe(LIMITS.tiers.free.requests - 2);
      const reset = rateLimit(r2).requests.t;
      expect(reset).toBeGreaterThanOrEqual(1);
      expect(reset).toBeLessThanOrEqual(LIMITS.window_seconds);
      // Not a send: no send policy, and the request does not count as one.
      expect(Object.keys(rateLimit(r1))).toEqual(['requests']);
    });

    it('limits requests per user (not per IP): beyond the tier\'s requests → 429; another user on the same IP is unaffected', async () => {
      const a = await register(t.url, '127.0.0.2');
      const b = await register(t.url, '127.0.0.2');
      for (let i = 1; i <= LIMITS.tiers.free.requests; i++) {
        const res = await get(a);
        expect(res.status).toBe(200);
        expect(rateLimit(res).requests.r).toBe(LIMITS.tiers.free.requests - i);
      }
      const refused = await get(a);
      expect429(refused);
      // The refusal names the policy that refused, with nothing left.
      expect(rateLimit(refused).requests).toMatchObject({ q: LIMITS.tiers.free.requests, r: 0 });
      expect429(await get(a, '/v1/users/me'));
      expect429(await get(a, '/v1/chat/sessions', '127.0.0.7')); // another address does not help A
      const other = await get(b);
      expect(other.status).toBe(200);
      expect(rateLimit(other).requests.r).toBe(LIMITS.tiers.free.requests - 1);
    });

    it('limits sends separately (tier\'s sends), per user; the refused send stores nothing', async () => {
      const a = await register(t.url, '127.0.0.3');
      const b = await register(t.url, '127.0.0.3');
      const first = await send(a);
      expect(first.status).toBe(200);
      const session = first.body.session_id;
      expect(rateLimit(first).sends).toMatchObject({ q: LIMITS.tiers.free.sends, r: LIMITS.tiers.free.sends - 1 });
      expect(tightest(first)).toBe('sends');
      for (let i = 2; i <= LIMITS.tiers.free.sends; i++) {
        const res = await send(a, { session_id: session });
        expect(res.status).toBe(200);
        expect(rateLimit(res).sends.r).toBe(LIMITS.tiers.free.sends - i);
      }
      expect429(await send(a, { session_id: session }));
      const sse = await call(t.url, 'POST', '/v1/chat/stream', { ip: a.ip, token: a.token, body: { session_id: session, messages: [{ role: 'user', content: 'hi' }] } });
      expect429(sse);
      expect(sse.headers['x-session-id']).toBeUndefined();

      // Other requests still pass (A has used 5 of its 8), and nothing of the refused sends was stored.
      const stored = await get(a, `/v1/chat/sessions/${session}`);
      expect(stored.status).toBe(200);
      expect(stored.body.message_count).toBe(2 * LIMITS.tiers.free.sends);

      const otherUser = await send(b);
      expect(otherUser.status).toBe(200);
      expect(rateLimit(otherUser).sends.r).toBe(LIMITS.tiers.free.sends - 1);
    });

    it('limits login/register/anonymous per IP (auth_per_ip), whatever the account', async () => {
      const ip = '127.0.0.9';
      const made: Client[] = [];
      for (let i = 0; i < LIMITS.auth_per_ip; i++) made.push(await register(t.url, ip));
      const email = 'refused@example.com';
      const refused = await call(t.url, 'POST', '/v1/auth/register', { ip, body: { email, password: 'correct horse battery' } });
      expect429(refused);
      expect429(await call(t.url, 'POST', '/v1/auth/login', { ip, body: { email: made[0].email, password: 'correct horse battery' } }));
      expect429(await call(t.url, 'POST', '/v1/auth/anonymous', { ip }));

      // Another address is unaffected; the refused registration created nothing.
      const elsewhere = await call(t.url, 'POST', '/v1/auth/login', { ip: '127.0.0.10', body: { email: made[0].email, password: 'correct horse battery' } });
      expect(elsewhere.status).toBe(200);
      const ghost = await call(t.url, 'POST', '/v1/auth/login', { ip: '127.0.0.10', body: { email, password: 'correct horse battery' } });
      expect(ghost.status).toBe(401);
      // A user registered from the limited address still works: their own limit is per user.
      expect((await get(made[0])).status).toBe(200);
    });

    it('limits unauthenticated requests per IP; /health and /health/ready are never limited', async () => {
      const ip = '127.0.0.11';
      for (let i = 1; i <= LIMITS.unauthenticated_per_ip; i++) {
        const res = await call(t.url, 'GET', '/config', { ip });
        expect(res.status).toBe(200);
        expect(rateLimit(res).requests.r).toBe(LIMITS.unauthenticated_per_ip - i);
      }
      expect429(await call(t.url, 'GET', '/config', { ip }));
      expect429(await call(t.url, 'GET', '/', { ip }));
      for (let i = 0; i < 3 * LIMITS.unauthenticated_per_ip; i++) {
        const res = await call(t.url, 'GET', i % 2 ? '/health/ready' : '/health', { ip });
        expect(res.status).toBe(200);
      }
      expect((await call(t.url, 'GET', '/health', { ip })).headers['ratelimit-policy']).toBeUndefined();
    });

    it('a tier change by an admin raises that user\'s limits at once', async () => {
      const u = await register(t.url, '127.0.0.4');
      expect(rateLimit(await get(u)).requests.q).toBe(LIMITS.tiers.free.requests);
      await setTier(u, 'pro');
      const after = await get(u);
      expect(after.status).toBe(200);
      expect(rateLimit(after).requests.q).toBe(LIMITS.tiers.pro.requests);
      let session: number | undefined;
      for (let i = 1; i <= LIMITS.tiers.free.sends + 2; i++) {
        const res = await send(u, session ? { session_id: session } : {});
        expect(res.status).toBe(200);
        expect(rateLimit(res).sends.q).toBe(LIMITS.tiers.pro.sends);
        session = res.body.session_id;
      }
      for (let i = 0; i < LIMITS.tiers.free.requests; i++) expect((await get(u)).status).toBe(200);
    });

    it('a user who hit the free limit can go on right after an upgrade to pro', async () => {
      const u = await register(t.url, '127.0.0.4');
      for (let i = 0; i < LIMITS.tiers.free.sends; i++) expect((await send(u)).status).toBe(200);
      expect429(await send(u));
      await setTier(u, 'pro');
      const res = await send(u);
      expect(res.status).toBe(200);
      expect(rateLimit(res).sends.q).toBe(LIMITS.tiers.pro.sends);
    });
  });

  describe('with REDIS_URL: counters shared by instances and kept across a restart', () => {
    const workerDb = `${DB_PREFIX}_rl_w${process.env.JEST_WORKER_ID ?? '1'}`;
    let redis: Redis;
    let env: Record<string, string>;
    let x: TestApp | undefined;
    let y: TestApp | undefined;
    let z: TestApp | undefined;

    beforeAll(async () => {
      redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      await redis.flushdb();
      // A database of this block's own: startApp empties the worker database on every start, and a restart must
      // find the users again.
      await withAdmin(async (pg) => {
        await pg.query(`DROP DATABASE IF EXISTS "${workerDb}" WITH (FORCE)`);
        await pg.query(`CREATE DATABASE "${workerDb}" TEMPLATE "${TEMPLATE_DB}"`);
      });
      env = { CONFIG_FILE: configFile, REDIS_URL, DATABASE_URL: databaseUrl(workerDb) };
      x = await startApp(env);
      y = await startApp(env);
    });
    afterAll(async () => {
      await x?.close().catch(() => undefined);
      await y?.close().catch(() => undefined);
      await z?.close().catch(() => undefined);
      await redis.flushdb();
      redis.disconnect();
      await withAdmin((pg) => pg.query(`DROP DATABASE IF EXISTS "${workerDb}" WITH (FORCE)`));
    });

    let h: Client;
    let remainingBefore: number;

    it('two instances count together: requests, sends and per-IP auth', async () => {
      h = await register(x!.url, '127.0.0.20');
      const r1 = await call(x!.url, 'GET', '/v1/chat/sessions', { ip: h.ip, token: h.token });
      const r2 = await call(y!.url, 'GET', '/v1/chat/sessions', { ip: h.ip, token: h.token });
      expect(rateLimit(r1).requests.r).toBe(LIMITS.tiers.free.requests - 1);
      expect(rateLimit(r2).requests.r).toBe(LIMITS.tiers.free.requests - 2);

      const on = [x!, y!, x!];
      for (const [i, app] of on.entries()) {
        const res = await call(app.url, 'POST', '/v1/chat/stream', { ip: h.ip, token: h.token, body: sendBody() });
        expect(res.status).toBe(200);
        expect(rateLimit(res).sends.r).toBe(LIMITS.tiers.free.sends - 1 - i);
      }
      expect429(await call(y!.url, 'POST', '/v1/chat/stream', { ip: h.ip, token: h.token, body: sendBody() }));
      expect429(await call(x!.url, 'POST', '/v1/chat/stream', { ip: h.ip, token: h.token, body: sendBody() }));
      const keys = await redis.keys(`*rl:send:user:${h.id}*`);
      expect(keys.length).toBeGreaterThan(0);

      const ip = '127.0.0.21';
      for (let i = 0; i < LIMITS.auth_per_ip; i++) await register(i % 2 ? y!.url : x!.url, ip);
      expect429(await call(x!.url, 'POST', '/v1/auth/register', { ip, body: { email: 'shared-x@example.com', password: 'correct horse battery' } }));
      expect429(await call(y!.url, 'POST', '/v1/auth/anonymous', { ip }));

      const last = await call(y!.url, 'GET', '/v1/chat/sessions', { ip: h.ip, token: h.token });
      expect(last.status).toBe(200);
      remainingBefore = rateLimit(last).requests.r;
      // 2 GETs + 5 sends (the refused ones count as requests too) + this one.
      expect(remainingBefore).toBe(LIMITS.tiers.free.requests - 8);
      expect(remainingBefore).toBe(0);
    });

    it('the counters survive a restart of every instance', async () => {
      await x!.close();
      await y!.close();
      x = y = undefined;
      z = await startApp(env);
      expect429(await call(z.url, 'GET', '/v1/chat/sessions', { ip: h.ip, token: h.token }));
      expect429(await call(z.url, 'POST', '/v1/chat/stream', { ip: h.ip, token: h.token, body: sendBody() }));
      expect429(await call(z.url, 'POST', '/v1/auth/anonymous', { ip: '127.0.0.21' }));

      const fresh = await register(z.url, '127.0.0.22');
      const res = await call(z.url, 'POST', '/v1/chat/stream', { ip: fresh.ip, token: fresh.token, body: sendBody() });
      expect(res.status).toBe(200);
      expect(rateLimit(res).sends.r).toBe(LIMITS.tiers.free.sends - 1);
      expect((await call(z.url, 'GET', '/health/ready', { ip: '127.0.0.21' })).body).toMatchObject({ status: 'ok' });
    });
  });
});
