import { DataSource } from 'typeorm';
import { SYSTEM_PROMPT_TEMPLATES } from '../migrations/1795600200000-PromptTemplates';
import { startApp, TestApp } from './support/app';

const ADMIN = { ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'root-password' };

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const login = async (t: TestApp, email: string, password: string) =>
  (await t.http().post('/v1/auth/login').send({ email, password }).expect(200)).body.access_token as string;
const register = async (t: TestApp, email: string) =>
  (await t.http().post('/v1/auth/register').send({ email, password: 'password123' }).expect(201)).body.access_token as string;

describe('Admin (e2e): POST /v1/admin/reset-db', () => {
  describe('without ALLOW_DB_RESET', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(ADMIN);
    });
    afterAll(() => t.close());

    it('answers 403 with a clear detail even to an admin, and deletes nothing', async () => {
      const user = await register(t, 'keeper@example.com');
      const admin = await login(t, ADMIN.ADMIN_EMAIL, ADMIN.ADMIN_PASSWORD);
      const res = await t.http().post('/v1/admin/reset-db').set(auth(admin)).expect(403);
      expect(res.body.detail).toMatch(/ALLOW_DB_RESET/);
      await t.http().get('/v1/users/me').set(auth(user)).expect(200);
    });

    it('answers 401 without a token', async () => {
      await t.http().post('/v1/admin/reset-db').expect(401);
    });
  });

  describe('with ALLOW_DB_RESET=true', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ ...ADMIN, ALLOW_DB_RESET: 'true' });
    });
    afterAll(() => t.close());

    it('answers 403 to a non-admin (role required), and deletes nothing', async () => {
      const user = await register(t, 'sneaky@example.com');
      const res = await t.http().post('/v1/admin/reset-db').set(auth(user)).expect(403);
      expect(res.body.detail).toMatch(/admin/);
      await t.http().get('/v1/users/me').set(auth(user)).expect(200);
    });

    it('re-creates the schema from the migrations (a fresh install) and the ADMIN_EMAIL admin', async () => {
      const db = t.app.get(DataSource);
      const user = await register(t, 'doomed@example.com');
      const app = await t.http().post('/v1/applications').set(auth(user)).send({ name: 'doomed' }).expect(201);
      await t.http().post(`/v1/applications/${app.body.id}/keys`).set(auth(user)).send({}).expect(201);
      const [migrationsBefore] = await db.query('SELECT COUNT(*)::int AS n FROM migrations');
      expect(migrationsBefore.n).toBeGreaterThan(0);

      const doomed = await t.http().post('/api/chat/prompts').set(auth(user)).send({ title: 'mine', content: 'doomed' }).expect(201);
      expect(doomed.body.id).toBe(1);

      const admin = await login(t, ADMIN.ADMIN_EMAIL, ADMIN.ADMIN_PASSWORD);
      await t.http().delete(`/api/chat/prompts/${SYSTEM_PROMPT_TEMPLATES[1].id}`).set(auth(admin)).expect(200);
      const res = await t.http().post('/v1/admin/reset-db').set(auth(admin)).expect(200);
      expect(res.body).toEqual({ message: 'Database reset' });

      for (const table of ['applications', 'api_keys', 'refresh_tokens', 'chat_sessions', 'messages']) {
        const [row] = await db.query(`SELECT COUNT(*)::int AS n FROM ${table}`);
        expect({ table, n: row.n }).toEqual({ table, n: 0 });
      }
      // The rows the migrations ship are back: the system prompt templates (the deleted one too), with their ids.
      const templates = await db.query('SELECT id, title FROM prompts ORDER BY id');
      expect(templates).toEqual(SYSTEM_PROMPT_TEMPLATES.map((tpl) => ({ id: tpl.id, title: tpl.title })));
      const users = await db.query('SELECT email, role, id FROM users');
      expect(users).toEqual([{ email: 'root@example.com', role: 'admin', id: 1 }]);
      const [migrationsAfter] = await db.query('SELECT COUNT(*)::int AS n FROM migrations');
      expect(migrationsAfter.n).toBe(migrationsBefore.n);

      await t.http().get('/v1/users/me').set(auth(user)).expect(401);
      const adminAgain = await login(t, ADMIN.ADMIN_EMAIL, ADMIN.ADMIN_PASSWORD);
      // As on a fresh install, the first prompt made after the reset is id 1 again.
      const first = await t.http().post('/api/chat/prompts').set(auth(adminAgain)).send({ title: 'first', content: 'again' }).expect(201);
      expect(first.body.id).toBe(1);
    });
  });

  it('the configuration refuses ALLOW_DB_RESET in production', async () => {
    await expect(startApp({ NODE_ENV: 'production', ALLOW_DB_RESET: 'true' })).rejects.toThrow(/ALLOW_DB_RESET/);
  });
});
