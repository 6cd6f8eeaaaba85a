import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { startApp, TestApp } from './support/app';
import { writeTestConfig } from './support/test-config';

describe('Applications and API keys (e2e): /v1/applications', () => {
  let t: TestApp;
  let db: DataSource;
  let alice: { token: string; id: number };
  let bob: { token: string; id: number };

  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  const register = async (email: string) => {
    const res = await t.http().post('/v1/auth/register').send({ email, password: 'password123' }).expect(201);
    return { token: res.body.access_token as string, id: res.body.user.id as number };
  };
  const createApp = async (token: string, name = 'my app') =>
    (await t.http().post('/v1/applications').set(auth(token)).send({ name }).expect(201)).body;
  const createKey = async (token: string, appId: number, name?: string) =>
    (await t.http().post(`/v1/applications/${appId}/keys`).set(auth(token)).send(name ? { name } : {}).expect(201)).body;

  beforeAll(async () => {
    // These tests change rows behind the API's back (a disabled user, an old last_used_at), which the caller cache
    // would hide for auth.cache_ttl_ms: it is off here (test/auth-cache.e2e-spec.ts covers it).
    t = await startApp({ CONFIG_FILE: writeTestConfig((c) => (c.auth = { ...c.auth, cache_ttl_ms: 0 })) });
    db = t.app.get(DataSource);
    alice = await register('alice@example.com');
    bob = await register('bob@example.com');
  });
  afterAll(() => t.close());

  it('creates an application (201, trimmed name) and lists only the caller’s, paginated', async () => {
    const created = await createApp(alice.token, '  Chat widget ');
    expect(created).toEqual({ id: expect.any(Number), name: 'Chat widget', limits: null, created_at: expect.any(String) });
    await createApp(bob.token, 'bob app');
    const list = await t.http().get('/v1/applications?page=1&page_size=10').set(auth(alice.token)).expect(200);
    expect(list.body).toMatchObject({ total: 1, page: 1, page_size: 10 });
    expect(list.body.items).toEqual([created]);
  });

  it('validates the name (422) and rejects unknown fields such as user_id (422)', async () => {
    await t.http().post('/v1/applications').set(auth(alice.token)).send({ name: '   ' }).expect(422);
    await t.http().post('/v1/applications').set(auth(alice.token)).send({ name: 'x'.repeat(101) }).expect(422);
    await t.http().post('/v1/applications').set(auth(alice.token)).send({ name: 'a', user_id: bob.id }).expect(422);
  });

  it('creates a key shown once, stored as SHA-256, listed by prefix only', async () => {
    const app = await createApp(alice.token);
    const key = await createKey(alice.token, app.id, 'ci');
    expect(key).toEqual({
      id: expect.any(Number),
      name: 'ci',
      prefix: key.key.slice(0, 11),
      key: expect.stringMatching(/^ak_[A-Za-z0-9_-]{43}$/),
      last_used_at: null,
      revoked_at: null,
      scopes: ['chat', 'sessions:read', 'prompts', 'files', 'usage:read'],
      expires_at: null,
      created_at: expect.any(String),
    });
    const [row] = await db.query('SELECT key_hash FROM api_keys WHERE id = $1', [key.id]);
    expect(row.key_hash).toBe(createHash('sha256').update(key.key).digest('hex'));
    const list = await t.http().get(`/v1/applications/${app.id}/keys`).set(auth(alice.token)).expect(200);
    expect(list.body.total).toBe(1);
    expect(list.body.items[0]).toEqual({
      id: key.id,
      name: 'ci',
      prefix: key.prefix,
      last_used_at: null,
      revoked_at: null,
      scopes: key.scopes,
      expires_at: null,
      created_at: key.created_at,
    });
    expect(JSON.stringify(list.body)).not.toContain(key.key);
  });

  it('a key authenticates as its user, and stamps last_used_at at most once a minute', async () => {
    const app = await createApp(alice.token);
    const key = await createKey(alice.token, app.id);
    const me = await t.http().get('/v1/users/me').set(auth(key.key)).expect(200);
    expect(me.body.id).toBe(alice.id);
    const stamped = async () => (await db.query('SELECT last_used_at FROM api_keys WHERE id = $1', [key.id]))[0].last_used_at;
    let first: Date | null = null;
    for (let i = 0; i < 20 && !first; i++) {
      first = await stamped();
      if (!first) await new Promise((r) => setTimeout(r, 25));
    }
    expect(first).toBeInstanceOf(Date);
    await t.http().get('/v1/users/me').set(auth(key.key)).expect(200);
    await new Promise((r) => setTimeout(r, 100));
    expect((await stamped()).getTime()).toBe(first!.getTime());
    // Older than a minute: the next use stamps it again.
    await db.query(`UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = $1`, [key.id]);
    const old = await stamped();
    await t.http().get('/v1/users/me').set(auth(key.key)).expect(200);
    let later = old;
    for (let i = 0; i < 20 && later.getTime() === old.getTime(); i++) {
      await new Promise((r) => setTimeout(r, 25));
      later = await stamped();
    }
    expect(later.getTime()).toBeGreaterThan(old.getTime());
  });

  it('a revoked key answers 401; revoking is idempotent (204)', async () => {
    const app = await createApp(alice.token);
    const key = await createKey(alice.token, app.id);
    await t.http().get('/v1/users/me').set(auth(key.key)).expect(200);
    await t.http().delete(`/v1/applications/${app.id}/keys/${key.id}`).set(auth(alice.token)).expect(204);
    await t.http().get('/v1/users/me').set(auth(key.key)).expect(401);
    await t.http().delete(`/v1/applications/${app.id}/keys/${key.id}`).set(auth(alice.token)).expect(204);
    const list = await t.http().get(`/v1/applications/${app.id}/keys`).set(auth(alice.token)).expect(200);
    expect(list.body.items[0].revoked_at).toEqual(expect.any(String));
  });

  it('an unknown or mangled key answers 401', async () => {
    await t.http().get('/v1/users/me').set(auth(`ak_${'A'.repeat(43)}`)).expect(401);
    await t.http().get('/v1/users/me').set(auth('ak_short')).expect(401);
  });

  it("a disabled user's keys stop working", async () => {
    const carol = await register('carol@example.com');
    const app = await createApp(carol.token);
    const key = await createKey(carol.token, app.id);
    await t.http().get('/v1/users/me').set(auth(key.key)).expect(200);
    await db.query('UPDATE users SET disabled = true WHERE id = $1', [carol.id]);
    await t.http().get('/v1/users/me').set(auth(key.key)).expect(401);
  });

  it("another user's application or key answers 404, exactly like a missing one", async () => {
    const app = await createApp(alice.token);
    const key = await createKey(alice.token, app.id);
    const missing = await t.http().get('/v1/applications/999999/keys').set(auth(bob.token)).expect(404);
    const foreign = await t.http().get(`/v1/applications/${app.id}/keys`).set(auth(bob.token)).expect(404);
    expect(foreign.body.detail).toBe(missing.body.detail);
    await t.http().post(`/v1/applications/${app.id}/keys`).set(auth(bob.token)).send({}).expect(404);
    await t.http().delete(`/v1/applications/${app.id}/keys/${key.id}`).set(auth(bob.token)).expect(404);
    await t.http().delete(`/v1/applications/${app.id}`).set(auth(bob.token)).expect(404);
    // A key of Alice's application, addressed through Bob's own application, is not found either.
    const bobApp = await createApp(bob.token);
    await t.http().delete(`/v1/applications/${bobApp.id}/keys/${key.id}`).set(auth(bob.token)).expect(404);
    await t.http().get('/v1/users/me').set(auth(key.key)).expect(200);
  });

  it('deleting an application (204) takes its keys with it', async () => {
    const app = await createApp(alice.token);
    const key = await createKey(alice.token, app.id);
    await t.http().delete(`/v1/applications/${app.id}`).set(auth(alice.token)).expect(204);
    await t.http().get('/v1/users/me').set(auth(key.key)).expect(401);
    expect(await db.query('SELECT 1 FROM api_keys WHERE id = $1', [key.id])).toHaveLength(0);
    await t.http().delete(`/v1/applications/${app.id}`).set(auth(alice.token)).expect(404);
  });

  it('API-key callers cannot manage applications or keys (403)', async () => {
    const app = await createApp(alice.token);
    const key = await createKey(alice.token, app.id);
    const res = await t.http().post('/v1/applications').set(auth(key.key)).send({ name: 'from a key' }).expect(403);
    expect(res.body.detail).toMatch(/API key/);
    await t.http().get(`/v1/applications/${app.id}/keys`).set(auth(key.key)).expect(403);
    await t.http().delete(`/v1/applications/${app.id}/keys/${key.id}`).set(auth(key.key)).expect(403);
    await t.http().delete(`/v1/applications/${app.id}`).set(auth(key.key)).expect(403);
    await t.http().get('/v1/users/me').set(auth(key.key)).expect(200);
  });

  it('a key works only within its scopes (403 naming the missing one) and not after expires_at (401)', async () => {
    const app = await createApp(alice.token, 'scoped');
    const reader = (
      await t.http().post(`/v1/applications/${app.id}/keys`).set(auth(alice.token)).send({ name: 'reader', scopes: ['sessions:read'] }).expect(201)
    ).body;
    expect(reader.scopes).toEqual(['sessions:read']);

    await t.http().get('/v1/chat/sessions').set(auth(reader.key)).expect(200);
    const send = await t.http().post('/v1/chat/stream').set(auth(reader.key)).send({ messages: [{ role: 'user', content: 'hi' }] });
    expect(send.status).toBe(403);
    expect(send.body).toMatchObject({ scope: 'chat', detail: expect.stringContaining('"chat" scope') });
    expect((await t.http().get('/api/chat/prompts').set(auth(reader.key))).body.scope).toBe('prompts');
    expect((await t.http().get('/v1/users/me/usage').set(auth(reader.key))).body.scope).toBe('usage:read');
    await t.http().get('/v1/users').set(auth(reader.key)).expect(403);

    await t.http().post(`/v1/applications/${app.id}/keys`).set(auth(alice.token)).send({ scopes: ['admin'] }).expect(422);
    await t.http().post(`/v1/applications/${app.id}/keys`).set(auth(alice.token)).send({ expires_at: '2001-01-01T00:00:00Z' }).expect(422);
    // ISO 8601 forms a timestamp can't be stored from (basic, week dates) are refused as such, never a 500.
    for (const expires of ['20991231T000000Z', '2099-W01-1']) {
      const bad = await t.http().post(`/v1/applications/${app.id}/keys`).set(auth(alice.token)).send({ expires_at: expires });
      expect(bad.status).toBe(422);
      expect(JSON.stringify(bad.body)).toContain('expires_at');
    }
    const expiring = (
      await t.http().post(`/v1/applications/${app.id}/keys`).set(auth(alice.token)).send({ expires_at: '2999-01-01T00:00:00Z' }).expect(201)
    ).body;
    expect(expiring.expires_at).toBe('2999-01-01T00:00:00.000Z');
    await db.query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [expiring.id]);
    await t.http().get('/v1/chat/sessions').set(auth(expiring.key)).expect(401);
  });

  it('requires authentication', async () => {
    await t.http().get('/v1/applications').expect(401);
    await t.http().post('/v1/applications').send({ name: 'x' }).expect(401);
  });
});
