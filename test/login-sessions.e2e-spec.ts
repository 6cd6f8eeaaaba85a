import { JwtService } from '@nestjs/jwt';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { startApp, TestApp } from './support/app';
import { writeTestConfig } from './support/test-config';
import { bearer, statusOn } from './support/users';

const PASSWORD = 'correct horse battery';
const ADMIN = { ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'root-password' };
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/14';
const sidOf = (accessToken: string): string => new JwtService().decode(accessToken).sid;

interface Login {
  access: string;
  refresh: string;
  sid: string;
}

describe('Login sessions (e2e): sid in access tokens, /v1/auth/sessions, logout-all', () => {
  let t: TestApp;
  let counter = 0;

  const register = async (): Promise<{ email: string; login: Login; id: number }> => {
    const email = `s${++counter}@example.com`;
    const res = await t.http().post('/v1/auth/register').set('User-Agent', 'first-device/1.0').send({ email, password: PASSWORD }).expect(201);
    return { email, id: res.body.user.id, login: { access: res.body.access_token, refresh: res.body.refresh_token, sid: sidOf(res.body.access_token) } };
  };
  const login = async (email: string, userAgent = 'second-device/2.0'): Promise<Login> => {
    const res = await t.http().post('/v1/auth/login').set('User-Agent', userAgent).send({ email, password: PASSWORD }).expect(200);
    return { access: res.body.access_token, refresh: res.body.refresh_token, sid: sidOf(res.body.access_token) };
  };
  const me = (token: string) => t.http().get('/v1/users/me').set(bearer(token));

  beforeAll(async () => {
    t = await startApp(ADMIN);
  });
  afterAll(() => t.close());

  it('lists my live logins with their device, address and times, marking the current one', async () => {
    const { email, login: first } = await register();
    const second = await login(email);
    expect(first.sid).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.sid).not.toBe(first.sid);

    const res = await t.http().get('/v1/auth/sessions').set(bearer(second.access)).expect(200);
    expect(res.body).toMatchObject({ total: 2, page: 1, page_size: 20 });
    expect(res.body.items).toEqual([
      {
        id: second.sid,
        created_at: expect.stringMatching(/Z$/),
        last_used_at: expect.stringMatching(/Z$/),
        user_agent: 'second-device/2.0',
        ip: expect.stringMatching(/127\.0\.0\.1$/),
        current: true,
      },
      expect.objectContaining({ id: first.sid, user_agent: 'first-device/1.0', current: false }),
    ]);
  });

  it('keeps a session’s id and login time across refreshes, and moves its last use', async () => {
    const { login: first } = await register();
    const before = (await t.http().get('/v1/auth/sessions').set(bearer(first.access)).expect(200)).body.items[0];
    await new Promise((r) => setTimeout(r, 1100));
    const refreshed = await t.http().post('/v1/auth/refresh').set('User-Agent', 'refresher/3').send({ refresh_token: first.refresh }).expect(200);
    expect(sidOf(refreshed.body.access_token)).toBe(first.sid);
    const after = (await t.http().get('/v1/auth/sessions').set(bearer(refreshed.body.access_token)).expect(200)).body.items;
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ id: first.sid, created_at: before.created_at, user_agent: 'refresher/3', current: true });
    expect(Date.parse(after[0].last_used_at)).toBeGreaterThan(Date.parse(before.last_used_at));
  });

  it('logout makes that login’s access token fail at once; other logins go on', async () => {
    const { email, login: first } = await register();
    const second = await login(email);
    await me(first.access).expect(200);
    await t.http().post('/v1/auth/logout').set(bearer(first.access)).send({ refresh_token: first.refresh }).expect(204);
    await me(first.access).expect(401);
    await me(second.access).expect(200);
    const list = await t.http().get('/v1/auth/sessions').set(bearer(second.access)).expect(200);
    expect(list.body.items.map((s: { id: string }) => s.id)).toEqual([second.sid]);
  });

  it('DELETE /v1/auth/sessions/{id} ends one of mine (204, its tokens fail at once); 404 for another user’s or an unknown id', async () => {
    const { email, login: first } = await register();
    const second = await login(email);
    const stranger = await register();
    await t.http().delete(`/v1/auth/sessions/${first.sid}`).set(bearer(stranger.login.access)).expect(404);
    await me(first.access).expect(200);
    await t.http().delete('/v1/auth/sessions/00000000-0000-4000-8000-000000000000').set(bearer(second.access)).expect(404);
    await t.http().delete('/v1/auth/sessions/not-a-session').set(bearer(second.access)).expect(404);

    await t.http().delete(`/v1/auth/sessions/${first.sid}`).set(bearer(second.access)).expect(204);
    await me(first.access).expect(401);
    await t.http().post('/v1/auth/refresh').send({ refresh_token: first.refresh }).expect(401);
    await me(second.access).expect(200);
    await t.http().delete(`/v1/auth/sessions/${first.sid}`).set(bearer(second.access)).expect(204);
  });

  it('POST /v1/auth/logout-all ends every login of mine, this one included, and no one else’s', async () => {
    const { email, login: first } = await register();
    const second = await login(email);
    const stranger = await register();
    await t.http().post('/v1/auth/logout-all').set(bearer(second.access)).expect(204);
    await me(first.access).expect(401);
    await me(second.access).expect(401);
    await t.http().post('/v1/auth/refresh').send({ refresh_token: first.refresh }).expect(401);
    await me(stranger.login.access).expect(200);
    const fresh = await login(email);
    await me(fresh.access).expect(200);
  });

  it('refresh-token reuse after the overlap ends the session: its newest access token fails at once', async () => {
    const { login: first } = await register();
    const next = await t.http().post('/v1/auth/refresh').send({ refresh_token: first.refresh }).expect(200);
    await t.app
      .get(DataSource)
      .query(`UPDATE refresh_tokens SET used_at = now() - interval '1 minute' WHERE family_id = $1 AND used_at IS NOT NULL`, [first.sid]);
    await t.http().post('/v1/auth/refresh').send({ refresh_token: first.refresh }).expect(401);
    await me(next.body.access_token).expect(401);
  });

  it('a password change ends every login at once', async () => {
    const { email, login: first } = await register();
    const second = await login(email);
    await t.http().patch('/v1/users/me').set(bearer(first.access)).send({ password: 'another password', current_password: PASSWORD }).expect(200);
    await me(first.access).expect(401);
    await me(second.access).expect(401);
  });

  it('an admin disabling a user ends their logins for good', async () => {
    const { id, login: first } = await register();
    const admin = await t.http().post('/v1/auth/login').send({ email: ADMIN.ADMIN_EMAIL, password: ADMIN.ADMIN_PASSWORD }).expect(200);
    await t.http().patch(`/v1/users/${id}`).set(bearer(admin.body.access_token)).send({ disabled: true }).expect(200);
    await t.http().patch(`/v1/users/${id}`).set(bearer(admin.body.access_token)).send({ disabled: false }).expect(200);
    await me(first.access).expect(401);
    await t.http().post('/v1/auth/refresh').send({ refresh_token: first.refresh }).expect(401);
  });

  it('API keys cannot list or end sessions (403)', async () => {
    const { login: first } = await register();
    const app = await t.http().post('/v1/applications').set(bearer(first.access)).send({ name: 'k' }).expect(201);
    const key = (await t.http().post(`/v1/applications/${app.body.id}/keys`).set(bearer(first.access)).send({}).expect(201)).body.key;
    await t.http().get('/v1/auth/sessions').set(bearer(key)).expect(403);
    await t.http().delete(`/v1/auth/sessions/${first.sid}`).set(bearer(key)).expect(403);
    await t.http().post('/v1/auth/logout-all').set(bearer(key)).expect(403);
    await me(first.access).expect(200);
  });
});

describe('Login sessions (e2e): ending a session on one instance', () => {

  it('with REDIS_URL, makes its access tokens fail on another instance at once', async () => {
    const longCache = writeTestConfig((c) => (c.auth = { ...c.auth, cache_ttl_ms: 60_000 }));
    const x = await startApp({ REDIS_URL, CONFIG_FILE: longCache });
    const y = await startApp({ REDIS_URL, CONFIG_FILE: longCache });
    try {
      const res = await request(x.url).post('/v1/auth/register').send({ email: 'multi@example.com', password: PASSWORD }).expect(201);
      const token = res.body.access_token;
      expect(await statusOn(y.url, token, 200)).toBe(200);
      await request(x.url).post('/v1/auth/logout').set(bearer(token)).send({ refresh_token: res.body.refresh_token }).expect(204);
      expect(await statusOn(y.url, token, 401)).toBe(401);
    } finally {
      await x.close();
      await y.close();
    }
  });

  it('without Redis and with the cache off, another instance reads the revocation from PostgreSQL at once', async () => {
    const noCache = writeTestConfig((c) => (c.auth = { ...c.auth, cache_ttl_ms: 0 }));
    const x = await startApp({ CONFIG_FILE: noCache });
    const y = await startApp({ CONFIG_FILE: noCache });
    try {
      const res = await request(x.url).post('/v1/auth/register').send({ email: 'multi2@example.com', password: PASSWORD }).expect(201);
      await request(y.url).get('/v1/models').set(bearer(res.body.access_token)).expect(200);
      await request(x.url).post('/v1/auth/logout').set(bearer(res.body.access_token)).send({ refresh_token: res.body.refresh_token }).expect(204);
      await request(y.url).get('/v1/models').set(bearer(res.body.access_token)).expect(401);
    } finally {
      await x.close();
      await y.close();
    }
  });
});
