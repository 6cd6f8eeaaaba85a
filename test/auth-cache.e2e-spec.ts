import { Client } from 'pg';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { writeTestConfig } from './support/test-config';
import { bearer, registerUser, statusOn, TestUser } from './support/users';

const ADMIN = { ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'root-password' };
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/14';
/** A minute-long cache, so no entry can expire between the requests a test counts queries over. */
const LONG_CACHE = { CONFIG_FILE: writeTestConfig((c) => (c.auth = { ...c.auth, cache_ttl_ms: 60_000 })) };

/** Every SQL statement the app sends while `fn` runs (a hook on pg's Client#query in this process). */
async function queriesDuring(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const original = Client.prototype.query;
  Client.prototype.query = function (this: Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string };
    seen.push(typeof first === 'string' ? first : String(first?.text));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    await fn();
  } finally {
    Client.prototype.query = original;
  }
  return seen;
}


async function loginAdmin(url: string): Promise<string> {
  const res = await request(url).post('/v1/auth/login').send({ email: ADMIN.ADMIN_EMAIL, password: ADMIN.ADMIN_PASSWORD }).expect(200);
  return res.body.access_token;
}

async function createKey(url: string, user: TestUser): Promise<{ appId: number; keyId: number; key: string }> {
  const app = await request(url).post('/v1/applications').set(user.auth).send({ name: 'cache test' }).expect(201);
  const key = await request(url).post(`/v1/applications/${app.body.id}/keys`).set(user.auth).send({}).expect(201);
  return { appId: app.body.id, keyId: key.body.id, key: key.body.key };
}

describe('Auth (e2e): authenticating a known token costs no query, and changes apply at once', () => {
  let t: TestApp;
  let adminToken: string;
  beforeAll(async () => {
    t = await startApp({ ...ADMIN, ...LONG_CACHE });
    adminToken = await loginAdmin(t.url);
  });
  afterAll(() => t.close());

  it('answers authenticated GETs of a fresh access token with no query, from the first on (the login’s read is kept)', async () => {
    const user = await registerUser(t.url);
    const gets = await queriesDuring(async () => {
      for (let i = 0; i < 5; i++) await t.http().get('/v1/models').set(user.auth).expect(200);
    });
    expect(gets).toEqual([]);
    // The hook sees the app's queries: a route that reads the database shows them.
    expect((await queriesDuring(() => t.http().get('/v1/users/me').set(user.auth).expect(200))).length).toBeGreaterThan(0);
  });

  it('after an invalidation, reads the user once, then no more', async () => {
    const user = await registerUser(t.url);
    await t.http().patch(`/v1/users/${user.id}`).set(bearer(adminToken)).send({ tier: 'pro' }).expect(200);
    const first = await queriesDuring(() => t.http().get('/v1/models').set(user.auth).expect(200));
    expect(first).toHaveLength(1);
    expect(first[0]).toMatch(/FROM "users"/);
    const next = await queriesDuring(async () => {
      for (let i = 0; i < 5; i++) await t.http().get('/v1/models').set(user.auth).expect(200);
    });
    expect(next).toEqual([]);
  });

  it('answers authenticated GETs of an API key with no query after the first', async () => {
    const user = await registerUser(t.url);
    const { key } = await createKey(t.url, user);
    await t.http().get('/v1/models').set(bearer(key)).expect(200);
    const next = await queriesDuring(async () => {
      for (let i = 0; i < 5; i++) await t.http().get('/v1/models').set(bearer(key)).expect(200);
    });
    expect(next).toEqual([]);
  });

  it('refuses a cached user’s access token and API key as soon as an admin disables them; re-enabled, the key works again', async () => {
    const user = await registerUser(t.url);
    const { key } = await createKey(t.url, user);
    await t.http().get('/v1/models').set(user.auth).expect(200);
    await t.http().get('/v1/models').set(bearer(key)).expect(200);
    await t.http().patch(`/v1/users/${user.id}`).set(bearer(adminToken)).send({ disabled: true }).expect(200);
    await t.http().get('/v1/models').set(user.auth).expect(401);
    await t.http().get('/v1/models').set(bearer(key)).expect(401);
    await t.http().patch(`/v1/users/${user.id}`).set(bearer(adminToken)).send({ disabled: false }).expect(200);
    await t.http().get('/v1/models').set(bearer(key)).expect(200);
  });

  it('applies a role change to the next request: a promoted user reaches admin routes, a demoted one no longer', async () => {
    const user = await registerUser(t.url);
    await t.http().get('/v1/users').set(user.auth).expect(403);
    await t.http().patch(`/v1/users/${user.id}`).set(bearer(adminToken)).send({ role: 'admin' }).expect(200);
    await t.http().get('/v1/users').set(user.auth).expect(200);
    await t.http().patch(`/v1/users/${user.id}`).set(bearer(adminToken)).send({ role: 'user' }).expect(200);
    await t.http().get('/v1/users').set(user.auth).expect(403);
  });

  it('refuses a cached API key as soon as it is revoked, and every key of an application as soon as it is deleted', async () => {
    const user = await registerUser(t.url);
    const revoked = await createKey(t.url, user);
    await t.http().get('/v1/models').set(bearer(revoked.key)).expect(200);
    await t.http().delete(`/v1/applications/${revoked.appId}/keys/${revoked.keyId}`).set(user.auth).expect(204);
    await t.http().get('/v1/models').set(bearer(revoked.key)).expect(401);

    const deleted = await createKey(t.url, user);
    await t.http().get('/v1/models').set(bearer(deleted.key)).expect(200);
    await t.http().delete(`/v1/applications/${deleted.appId}`).set(user.auth).expect(204);
    await t.http().get('/v1/models').set(bearer(deleted.key)).expect(401);
  });

  it('refuses a deleted user’s cached access token at once', async () => {
    const user = await registerUser(t.url);
    await t.http().get('/v1/models').set(user.auth).expect(200);
    await t.http().delete('/v1/users/me').set(user.auth).expect(204);
    await t.http().get('/v1/models').set(user.auth).expect(401);
  });
});

describe('Auth (e2e): with REDIS_URL, a change on one instance applies on the others at once', () => {
  let x: TestApp;
  let y: TestApp;
  beforeAll(async () => {
    x = await startApp({ ...ADMIN, ...LONG_CACHE, REDIS_URL });
    y = await startApp({ ...ADMIN, ...LONG_CACHE, REDIS_URL });
  });
  afterAll(async () => {
    await x?.close();
    await y?.close();
  });


  it('disabling a user on one instance refuses their token on another that had it cached', async () => {
    const user = await registerUser(x.url);
    // The other instance's cache is live (subscribed) once it answers without a query.
    await statusOn(y.url, user.token, 200);
    const cached = await queriesDuring(() => request(y.url).get('/v1/models').set(user.auth).expect(200));
    expect(cached).toEqual([]);
    const adminToken = await loginAdmin(x.url);
    await request(x.url).patch(`/v1/users/${user.id}`).set(bearer(adminToken)).send({ disabled: true }).expect(200);
    expect(await statusOn(y.url, user.token, 401)).toBe(401);
  });

  it('revoking an API key on one instance refuses it on another that had it cached', async () => {
    const user = await registerUser(x.url);
    const { appId, keyId, key } = await createKey(x.url, user);
    await request(y.url).get('/v1/models').set(bearer(key)).expect(200);
    expect(await queriesDuring(() => request(y.url).get('/v1/models').set(bearer(key)).expect(200))).toEqual([]);
    await request(x.url).delete(`/v1/applications/${appId}/keys/${keyId}`).set(user.auth).expect(204);
    expect(await statusOn(y.url, key, 401)).toBe(401);
  });
});
