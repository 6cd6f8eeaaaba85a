import { DataSource } from 'typeorm';
import { UsersService } from '../src/users/users.service';
import { startApp, TestApp } from './support/app';

const ADMIN_EMAIL = 'Boss@Example.com';
const ADMIN_PASSWORD = 'admin-password-1';

describe('Users (e2e): /v1/users, /v1/stats', () => {
  let t: TestApp;
  let db: DataSource;
  beforeAll(async () => {
    t = await startApp({ ADMIN_EMAIL, ADMIN_PASSWORD });
    db = t.app.get(DataSource);
  });
  afterAll(() => t.close());

  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  const register = async (email: string, password = 'password123') =>
    (await t.http().post('/v1/auth/register').send({ email, password }).expect(201)).body;
  const login = (email: string, password: string) => t.http().post('/v1/auth/login').send({ email, password });
  const adminToken = async () => (await login('boss@example.com', ADMIN_PASSWORD).expect(200)).body.access_token as string;

  /** A session with a user message and an assistant answer, and the user's running totals raised to match. */
  const seedUsage = async (userId: number, model: string, tokensIn: number, tokensOut: number, cost: number) => {
    const [session] = await db.query(`INSERT INTO chat_sessions (user_id, model) VALUES ($1, $2) RETURNING id`, [userId, model]);
    await db.query(
      `INSERT INTO messages (session_id, role, content, parts, model, tokens_input, tokens_output, cost)
       VALUES ($1, 'user', 'hi', '[{"type":"text","text":"hi"}]', NULL, 0, 0, 0),
              ($1, 'assistant', 'hello', '[{"type":"text","text":"hello"}]', $2, $3, $4, $5)`,
      [session.id, model, tokensIn, tokensOut, cost],
    );
    await db.query(
      `UPDATE users SET tokens_input = tokens_input + $2, tokens_output = tokens_output + $3, cost = cost + $4 WHERE id = $1`,
      [userId, tokensIn, tokensOut, cost],
    );
    return session.id as number;
  };

  describe('/v1/users/me', () => {
    it('returns exactly the profile fields', async () => {
      const { access_token, user } = await register('profile@example.com');
      const res = await t.http().get('/v1/users/me').set(auth(access_token)).expect(200);
      expect(Object.keys(res.body).sort()).toEqual(
        ['created_at', 'display_name', 'email', 'id', 'is_anonymous', 'role', 'tier'].sort(),
      );
      expect(res.body).toMatchObject({ id: user.id, email: 'profile@example.com', role: 'user', tier: 'free' });
    });

    it('changes the display name (trimmed; null clears it)', async () => {
      const { access_token } = await register('name@example.com');
      const res = await t.http().patch('/v1/users/me').set(auth(access_token)).send({ display_name: '  Neo  ' }).expect(200);
      expect(res.body.display_name).toBe('Neo');
      const cleared = await t.http().patch('/v1/users/me').set(auth(access_token)).send({ display_name: null }).expect(200);
      expect(cleared.body.display_name).toBeNull();
      await t.http().patch('/v1/users/me').set(auth(access_token)).send({ display_name: 'x'.repeat(101) }).expect(422);
    });

    it('changes the password only with the right current_password, and signs out other refresh tokens', async () => {
      const { access_token, refresh_token } = await register('pw@example.com', 'old-password');
      const missing = await t.http().patch('/v1/users/me').set(auth(access_token)).send({ password: 'new-password' }).expect(422);
      expect(missing.body.errors[0].field).toBe('current_password');
      await t
        .http()
        .patch('/v1/users/me')
        .set(auth(access_token))
        .send({ password: 'new-password', current_password: 'not-the-password' })
        .expect(422);
      await login('pw@example.com', 'old-password').expect(200);
      await t
        .http()
        .patch('/v1/users/me')
        .set(auth(access_token))
        .send({ password: 'new-password', current_password: 'old-password' })
        .expect(200);
      await login('pw@example.com', 'old-password').expect(401);
      await login('pw@example.com', 'new-password').expect(200);
      await t.http().post('/v1/auth/refresh').send({ refresh_token }).expect(401);
    });

    it('changes the email with current_password; 409 when it is taken', async () => {
      await register('first@example.com');
      const { access_token } = await register('second@example.com');
      await t.http().patch('/v1/users/me').set(auth(access_token)).send({ email: 'moved@example.com' }).expect(422);
      await t
        .http()
        .patch('/v1/users/me')
        .set(auth(access_token))
        .send({ email: 'First@example.com', current_password: 'password123' })
        .expect(409);
      const res = await t
        .http()
        .patch('/v1/users/me')
        .set(auth(access_token))
        .send({ email: ' Moved@Example.com ', current_password: 'password123' })
        .expect(200);
      expect(res.body.email).toBe('moved@example.com');
      await login('moved@example.com', 'password123').expect(200);
    });

    it('lets an anonymous user claim an account, keeping its id and sessions', async () => {
      const anon = (await t.http().post('/v1/auth/anonymous').expect(201)).body;
      const sessionId = await seedUsage(anon.user.id, 'openai/gpt-4o-mini', 10, 20, 0.001);
      const half = await t.http().patch('/v1/users/me').set(auth(anon.access_token)).send({ email: 'claim@example.com' }).expect(422);
      expect(half.body.errors[0].field).toBe('password');
      const res = await t
        .http()
        .patch('/v1/users/me')
        .set(auth(anon.access_token))
        .send({ email: 'Claim@example.com', password: 'claimed-password', display_name: 'Claimer' })
        .expect(200);
      expect(res.body).toMatchObject({ id: anon.user.id, email: 'claim@example.com', is_anonymous: false, display_name: 'Claimer' });
      const logged = await login('claim@example.com', 'claimed-password').expect(200);
      expect(logged.body.user.id).toBe(anon.user.id);
      const rows = await db.query('SELECT user_id FROM chat_sessions WHERE id = $1', [sessionId]);
      expect(rows[0].user_id).toBe(anon.user.id);
      // The anonymous refresh token still works: same user, same login.
      await t.http().post('/v1/auth/refresh').send({ refresh_token: anon.refresh_token }).expect(200);
    });

    it('answers 409 when an anonymous user claims a taken email', async () => {
      await register('claimed-already@example.com');
      const anon = (await t.http().post('/v1/auth/anonymous').expect(201)).body;
      await t
        .http()
        .patch('/v1/users/me')
        .set(auth(anon.access_token))
        .send({ email: 'claimed-already@example.com', password: 'password123' })
        .expect(409);
      const me = await t.http().get('/v1/users/me').set(auth(anon.access_token)).expect(200);
      expect(me.body.is_anonymous).toBe(true);
    });

    it('deletes the account and everything it owns (204); its tokens stop working', async () => {
      const { access_token, refresh_token, user } = await register('leaving@example.com');
      await seedUsage(user.id, 'openai/gpt-4', 5, 5, 0.01);
      await t.http().post('/v1/applications').set(auth(access_token)).send({ name: 'app' }).expect(201);
      await t.http().delete('/v1/users/me').set(auth(access_token)).expect(204);
      await t.http().get('/v1/users/me').set(auth(access_token)).expect(401);
      await t.http().post('/v1/auth/refresh').send({ refresh_token }).expect(401);
      await login('leaving@example.com', 'password123').expect(401);
      for (const table of ['users', 'chat_sessions', 'applications', 'refresh_tokens']) {
        const column = table === 'users' ? 'id' : 'user_id';
        const rows = await db.query(`SELECT 1 FROM ${table} WHERE ${column} = $1`, [user.id]);
        expect({ table, rows: rows.length }).toEqual({ table, rows: 0 });
      }
    });
  });

  describe('/v1/users/me/stats', () => {
    it('counts sessions and messages, reports running totals, and groups assistant usage by model', async () => {
      const { access_token, user } = await register('stats@example.com');
      const empty = await t.http().get('/v1/users/me/stats').set(auth(access_token)).expect(200);
      expect(empty.body).toEqual({ sessions: 0, messages: 0, tokens_input: 0, tokens_output: 0, cost: 0, by_model: [] });
      await seedUsage(user.id, 'openai/gpt-4o-mini', 100, 50, 0.5);
      await seedUsage(user.id, 'openai/gpt-4o-mini', 10, 5, 0.25);
      await seedUsage(user.id, 'openai/gpt-4', 1, 2, 0.125);
      const res = await t.http().get('/v1/users/me/stats').set(auth(access_token)).expect(200);
      expect(res.body).toEqual({
        sessions: 3,
        messages: 6,
        tokens_input: 111,
        tokens_output: 57,
        cost: 0.875,
        by_model: [
          { model: 'openai/gpt-4o-mini', messages: 2, tokens_input: 110, tokens_output: 55, cost: 0.75 },
          { model: 'openai/gpt-4', messages: 1, tokens_input: 1, tokens_output: 2, cost: 0.125 },
        ],
      });
    });
  });

  describe('admin', () => {
    it('ADMIN_EMAIL/ADMIN_PASSWORD created an admin at start-up', async () => {
      const res = await login(ADMIN_EMAIL, ADMIN_PASSWORD).expect(200);
      expect(res.body.user).toMatchObject({ email: 'boss@example.com', role: 'admin' });
    });

    it('answers 403 to non-admins on every admin route', async () => {
      const { access_token, user } = await register('pleb@example.com');
      for (const [method, path] of [
        ['get', '/v1/users'],
        ['get', `/v1/users/${user.id}`],
        ['get', `/v1/users/${user.id}/stats`],
        ['patch', `/v1/users/${user.id}`],
        ['get', '/v1/stats/global'],
      ] as const) {
        const res = await t.http()[method](path).set(auth(access_token)).send(method === 'patch' ? { role: 'admin' } : undefined);
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 403 });
      }
      const me = await t.http().get('/v1/users/me').set(auth(access_token)).expect(200);
      expect(me.body.role).toBe('user');
    });

    it('lists users with pagination', async () => {
      const token = await adminToken();
      const res = await t.http().get('/v1/users?page=1&page_size=2').set(auth(token)).expect(200);
      expect(res.body).toMatchObject({ page: 1, page_size: 2 });
      expect(res.body.total).toBeGreaterThanOrEqual(3);
      expect(res.body.items).toHaveLength(2);
      expect(res.body.items[0]).toHaveProperty('disabled');
      expect(res.body.items[0]).not.toHaveProperty('password_hash');
      await t.http().get('/v1/users?page_size=101').set(auth(token)).expect(422);
    });

    it('reads one user and its stats; 404 for an unknown id, 400 for a malformed one', async () => {
      const token = await adminToken();
      const { user } = await register('watched@example.com');
      await seedUsage(user.id, 'groq/llama-3.3-70b-versatile', 3, 4, 0.5);
      const one = await t.http().get(`/v1/users/${user.id}`).set(auth(token)).expect(200);
      expect(one.body).toMatchObject({ id: user.id, email: 'watched@example.com', disabled: false });
      const stats = await t.http().get(`/v1/users/${user.id}/stats`).set(auth(token)).expect(200);
      expect(stats.body).toMatchObject({ sessions: 1, messages: 2, tokens_input: 3, tokens_output: 4, cost: 0.5 });
      await t.http().get('/v1/users/999999').set(auth(token)).expect(404);
      await t.http().get('/v1/users/99999999999').set(auth(token)).expect(404);
      await t.http().get('/v1/users/abc').set(auth(token)).expect(400);
    });

    it('changes role, tier and disabled; 422 for an unknown tier or another field', async () => {
      const token = await adminToken();
      const target = await register('promoted@example.com');
      const res = await t
        .http()
        .patch(`/v1/users/${target.user.id}`)
        .set(auth(token))
        .send({ role: 'admin', tier: 'pro' })
        .expect(200);
      expect(res.body).toMatchObject({ role: 'admin', tier: 'pro', disabled: false });
      const me = await t.http().get('/v1/users/me').set(auth(target.access_token)).expect(200);
      expect(me.body).toMatchObject({ role: 'admin', tier: 'pro' });

      const bad = await t.http().patch(`/v1/users/${target.user.id}`).set(auth(token)).send({ tier: 'platinum' }).expect(422);
      expect(bad.body.errors[0].field).toBe('tier');
      await t.http().patch(`/v1/users/${target.user.id}`).set(auth(token)).send({ role: 'superuser' }).expect(422);
      await t.http().patch(`/v1/users/${target.user.id}`).set(auth(token)).send({ email: 'x@example.com' }).expect(422);

      await t.http().patch(`/v1/users/${target.user.id}`).set(auth(token)).send({ disabled: true }).expect(200);
      await t.http().get('/v1/users/me').set(auth(target.access_token)).expect(401);
      await login('promoted@example.com', 'password123').expect(401);
      await t.http().patch(`/v1/users/${target.user.id}`).set(auth(token)).send({ disabled: false }).expect(200);
      // Disabling ended the user's login sessions: enabled again, they log in anew.
      await t.http().get('/v1/users/me').set(auth(target.access_token)).expect(401);
      const again = await login('promoted@example.com', 'password123').expect(200);
      await t.http().get('/v1/users/me').set(auth(again.body.access_token)).expect(200);
    });

    it('does not let an admin demote or disable itself', async () => {
      const res = await login(ADMIN_EMAIL, ADMIN_PASSWORD).expect(200);
      const id = res.body.user.id;
      await t.http().patch(`/v1/users/${id}`).set(auth(res.body.access_token)).send({ disabled: true }).expect(409);
      await t.http().patch(`/v1/users/${id}`).set(auth(res.body.access_token)).send({ role: 'user' }).expect(409);
      const me = await t.http().get('/v1/users/me').set(auth(res.body.access_token)).expect(200);
      expect(me.body.role).toBe('admin');
    });

    it('reports global stats', async () => {
      const token = await adminToken();
      const res = await t.http().get('/v1/stats/global').set(auth(token)).expect(200);
      const [counts] = await db.query(
        `SELECT (SELECT COUNT(*) FROM users)::int AS users, (SELECT COUNT(*) FROM chat_sessions)::int AS sessions,
                (SELECT COUNT(*) FROM messages)::int AS messages, (SELECT SUM(tokens_input) FROM users)::int AS tokens_input`,
      );
      expect(res.body).toMatchObject(counts);
      expect(res.body.sessions).toBeGreaterThan(0);
      expect(res.body.by_model.map((m: { model: string }) => m.model)).toEqual(
        expect.arrayContaining(['openai/gpt-4o-mini', 'groq/llama-3.3-70b-versatile']),
      );
    });

    it('promotes an existing user with ADMIN_EMAIL without resetting its password', async () => {
      await db.query(`UPDATE users SET role = 'user' WHERE email = 'boss@example.com'`);
      const other = await register('temp-password-source@example.com', 'a-changed-password');
      await db.query(
        `UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE id = $1) WHERE email = 'boss@example.com'`,
        [other.user.id],
      );
      await t.app.get(UsersService).ensureConfiguredAdmin();
      const res = await login(ADMIN_EMAIL, 'a-changed-password').expect(200);
      expect(res.body.user.role).toBe('admin');
      await login(ADMIN_EMAIL, ADMIN_PASSWORD).expect(401);
    });
  });
});
