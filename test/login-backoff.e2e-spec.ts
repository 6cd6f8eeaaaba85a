import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { startApp, TestApp } from './support/app';
import { writeTestConfig } from './support/test-config';

const PASSWORD = 'correct horse battery';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/14';
/** Three free failures, then waits of 2, 4, 8, 8… seconds. */
const CONFIG = writeTestConfig((c) => {
  c.auth = { ...c.auth, login_backoff: { free_failures: 3, base_seconds: 2, max_seconds: 8, forget_after_seconds: 3600 } };
});
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/**
 * The wait a 429 announces, rounded up to the next doubling step: `Retry-After` counts down while the test runs, so
 * a wait of 4 may read 3 a second later (the steps are 2, 4, 8).
 */
const waitOf = (res: { headers: Record<string, string> }) => {
  const seconds = Number(res.headers['retry-after']);
  return [2, 4, 8].find((step) => seconds <= step && seconds > step / 2) ?? seconds;
};

/**
 * The per-account login backoff, run against both stores: PostgreSQL (no REDIS_URL) and Redis. `unlock` ends the
 * current wait as the passing of time would (the test does not sleep).
 */
describe.each([
  {
    store: 'PostgreSQL',
    env: {},
    unlock: async (t: TestApp, email: string) => {
      await t.app.get(DataSource).query(`UPDATE login_failures SET locked_until = now() WHERE account_hash = $1`, [sha256(email)]);
    },
  },
  {
    store: 'Redis',
    env: { REDIS_URL },
    unlock: async (_t: TestApp, email: string) => {
      const redis = new Redis(REDIS_URL);
      try {
        await redis.del(`login-backoff:lock:${sha256(email)}`);
      } finally {
        redis.disconnect();
      }
    },
  },
])('Login backoff (e2e), counts in $store', ({ env, unlock }) => {
  let t: TestApp;
  const run = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  let counter = 0;
  const newEmail = () => `backoff-${run}-${++counter}@example.com`;
  const login = (email: string, password: string) => t.http().post('/v1/auth/login').send({ email, password });
  const register = (email: string) => t.http().post('/v1/auth/register').send({ email, password: PASSWORD }).expect(201);

  beforeAll(async () => {
    t = await startApp({ CONFIG_FILE: CONFIG, ...env });
  });
  afterAll(() => t.close());

  it('after the free failures, refuses even the right password with 429 and Retry-After, doubling the wait', async () => {
    const email = newEmail();
    await register(email);
    for (let i = 0; i < 3; i++) await login(email, 'wrong password').expect(401);
    const locked = await login(email, PASSWORD).expect(429);
    expect(waitOf(locked)).toBe(2);
    expect(locked.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(locked.body.detail).toMatch(/failed logins for this account/);

    await unlock(t, email);
    await login(email, 'wrong password').expect(401);
    expect(waitOf(await login(email, PASSWORD).expect(429))).toBe(4);
    await unlock(t, email);
    await login(email, 'wrong password').expect(401);
    expect(waitOf(await login(email, PASSWORD).expect(429))).toBe(8);
    await unlock(t, email);
    await login(email, 'wrong password').expect(401);
    expect(waitOf(await login(email, PASSWORD).expect(429))).toBe(8);
  });

  it('answers an unknown email exactly like a known one: the same statuses, details and waits', async () => {
    const known = newEmail();
    await register(known);
    const unknown = newEmail();
    const answers = async (email: string) => {
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await login(email, 'wrong password');
        seen.push(`${res.status} ${res.headers['retry-after'] ? waitOf(res) : '-'} ${res.body.detail.replace(/\d+/g, 'N')}`);
      }
      return seen;
    };
    const forKnown = await answers(known);
    expect(forKnown.map((a) => a.split(' ')[0])).toEqual(['401', '401', '401', '429']);
    expect(await answers(unknown)).toEqual(forKnown);
  });

  it('clears the count on a successful login', async () => {
    const email = newEmail();
    await register(email);
    await login(email, 'wrong password').expect(401);
    await login(email, 'wrong password').expect(401);
    await login(email, PASSWORD).expect(200);
    // Three new failures are free again.
    for (let i = 0; i < 3; i++) await login(email, 'wrong password').expect(401);
    await login(email, PASSWORD).expect(429);
  });

  it('limits the account, not the caller: other accounts log in meanwhile', async () => {
    const target = newEmail();
    const other = newEmail();
    await register(target);
    await register(other);
    for (let i = 0; i < 3; i++) await login(target, 'wrong password').expect(401);
    await login(target, PASSWORD).expect(429);
    await login(other, PASSWORD).expect(200);
  });
});
