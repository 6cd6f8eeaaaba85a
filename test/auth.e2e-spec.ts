import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { JwtService } from '@nestjs/jwt';
import { readFileSync, statSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, TestApp } from './support/app';

const PASSWORD = 'correct horse battery';

describe('Auth (e2e): /v1/auth/*', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'root-password' });
  });
  afterAll(() => t.close());

  const register = (email: string, password = PASSWORD, extra: Record<string, unknown> = {}) =>
    t.http().post('/v1/auth/register').send({ email, password, ...extra });
  const me = (token: string) => t.http().get('/v1/users/me').set('Authorization', `Bearer ${token}`);
  const refresh = (refresh_token: string) => t.http().post('/v1/auth/refresh').send({ refresh_token });
  /** Moves a spent refresh token's spend a minute back, past the reuse overlap (10 s in the test configuration). */
  const spentLongAgo = (refreshToken: string) =>
    t.app
      .get(DataSource)
      .query(`UPDATE refresh_tokens SET used_at = now() - interval '1 minute' WHERE token_hash = $1 AND used_at IS NOT NULL`, [
        createHash('sha256').update(refreshToken).digest('hex'),
      ]);

  describe('register', () => {
    it('creates an account and answers 201 with a token pair and the profile', async () => {
      const res = await register('  Alice@Example.COM ', PASSWORD, { display_name: 'Alice' }).expect(201);
      expect(res.body).toEqual({
        access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
        refresh_token: expect.stringMatching(/^[\w-]{43}$/),
        token_type: 'bearer',
        expires_in: 900,
        user: {
          id: expect.any(Number),
          email: 'alice@example.com',
          display_name: 'Alice',
          role: 'user',
          tier: 'free',
          is_anonymous: false,
          created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
        },
      });
      const profile = await me(res.body.access_token).expect(200);
      expect(profile.body.id).toBe(res.body.user.id);
      expect(profile.body).not.toHaveProperty('password_hash');
      expect(profile.body).not.toHaveProperty('passwordHash');
    });

    it('answers 409 for a taken email, whatever its case', async () => {
      await register('taken@example.com').expect(201);
      const res = await register('TAKEN@example.com').expect(409);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.detail).toMatch(/already exists/);
    });

    it('rejects short, overlong and missing passwords and bad emails with 422 naming the field', async () => {
      const short = await register('short@example.com', 'seven77').expect(422);
      expect(short.body.errors.map((e: { field: string }) => e.field)).toContain('password');
      await register('long@example.com', 'x'.repeat(129)).expect(422);
      const bad = await register('not-an-email').expect(422);
      expect(bad.body.errors.map((e: { field: string }) => e.field)).toContain('email');
      await t.http().post('/v1/auth/register').send({ email: 'nopw@example.com' }).expect(422);
    });
  });

  describe('login', () => {
    beforeAll(async () => {
      await register('bob@example.com').expect(201);
    });

    it('logs in with the right password (email case-insensitive) and answers 200 with a working pair', async () => {
      const res = await t.http().post('/v1/auth/login').send({ email: 'BOB@example.com', password: PASSWORD }).expect(200);
      expect(res.body.token_type).toBe('bearer');
      expect(res.body.user.email).toBe('bob@example.com');
      await me(res.body.access_token).expect(200);
      await refresh(res.body.refresh_token).expect(200);
    });

    it('answers 401 with the same detail for an unknown email and a wrong password', async () => {
      const wrong = await t.http().post('/v1/auth/login').send({ email: 'bob@example.com', password: 'wrong password' }).expect(401);
      const unknown = await t.http().post('/v1/auth/login').send({ email: 'nobody@example.com', password: PASSWORD }).expect(401);
      expect(wrong.body.detail).toBe(unknown.body.detail);
      expect(wrong.body.title).toBe(unknown.body.title);
      expect(wrong.body.type).toBe(unknown.body.type);
      expect(wrong.body).not.toHaveProperty('access_token');
    });

    it('spends comparable time on an unknown email and on a wrong password (dummy Argon2 verification)', async () => {
      const once = async (email: string) => {
        const start = process.hrtime.bigint();
        await t.http().post('/v1/auth/login').send({ email, password: 'wrong password' }).expect(401);
        return Number(process.hrtime.bigint() - start) / 1e6;
      };
      // Interleaved, and compared by their fastest runs: load on the machine only ever adds time.
      const wrongPassword: number[] = [];
      const unknownEmail: number[] = [];
      for (let i = 0; i < 7; i++) {
        wrongPassword.push(await once('bob@example.com'));
        unknownEmail.push(await once('nobody@example.com'));
      }
      // Argon2 dominates both; without the dummy hash an unknown email would answer many times faster.
      expect(Math.min(...unknownEmail)).toBeGreaterThan(Math.min(...wrongPassword) * 0.5);
    });
  });

  describe('anonymous', () => {
    it('creates an anonymous user with no email and a working pair', async () => {
      const res = await t.http().post('/v1/auth/anonymous').expect(201);
      expect(res.body.user).toMatchObject({ is_anonymous: true, email: null, role: 'user' });
      const profile = await me(res.body.access_token).expect(200);
      expect(profile.body.is_anonymous).toBe(true);
      const next = await refresh(res.body.refresh_token).expect(200);
      expect(next.body.user.id).toBe(res.body.user.id);
    });

    it('gives each call a new user', async () => {
      const a = await t.http().post('/v1/auth/anonymous').expect(201);
      const b = await t.http().post('/v1/auth/anonymous').expect(201);
      expect(a.body.user.id).not.toBe(b.body.user.id);
    });
  });

  describe('refresh', () => {
    it('rotates: a new pair, and the old refresh token is spent', async () => {
      const first = await register('carol@example.com').expect(201);
      const second = await refresh(first.body.refresh_token).expect(200);
      expect(second.body.refresh_token).not.toBe(first.body.refresh_token);
      expect(second.body.user.email).toBe('carol@example.com');
      await me(second.body.access_token).expect(200);
      const third = await refresh(second.body.refresh_token).expect(200);
      expect(third.body.refresh_token).not.toBe(second.body.refresh_token);
    });

    it('revokes the whole family when a spent token is reused after the overlap: the newest token stops working too', async () => {
      const first = await register('dave@example.com').expect(201);
      const second = await refresh(first.body.refresh_token).expect(200);
      await spentLongAgo(first.body.refresh_token);
      const reuse = await refresh(first.body.refresh_token).expect(401);
      expect(reuse.body.detail).toMatch(/refresh token/);
      await refresh(second.body.refresh_token).expect(401);
      // Another login (another family) is unaffected.
      const other = await t.http().post('/v1/auth/login').send({ email: 'dave@example.com', password: PASSWORD }).expect(200);
      await refresh(other.body.refresh_token).expect(200);
    });

    it('gives concurrent refreshes with the same token (two tabs) the same new pair, and the family lives on', async () => {
      const first = await register('erin@example.com').expect(201);
      const results = await Promise.all(Array.from({ length: 6 }, () => refresh(first.body.refresh_token)));
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
      const pairs = new Set(results.map((r) => `${r.body.access_token} ${r.body.refresh_token}`));
      expect(pairs.size).toBe(1);
      await me(results[0].body.access_token).expect(200);
      const next = await refresh(results[0].body.refresh_token).expect(200);
      await me(next.body.access_token).expect(200);
      // The spent token replayed after the overlap is reuse: the session ends, newest tokens included.
      await spentLongAgo(first.body.refresh_token);
      await refresh(first.body.refresh_token).expect(401);
      await me(next.body.access_token).expect(401);
      await refresh(next.body.refresh_token).expect(401);
    });

    it('answers a replay within the overlap with the successor even after a sequential refresh', async () => {
      const first = await register('erin2@example.com').expect(201);
      const a = await refresh(first.body.refresh_token).expect(200);
      const b = await refresh(first.body.refresh_token).expect(200);
      expect(b.body).toEqual(a.body);
    });

    it('answers 401 for an unknown token and 422 for a missing one', async () => {
      await refresh('x'.repeat(43)).expect(401);
      await t.http().post('/v1/auth/refresh').send({}).expect(422);
    });

    it('answers 401 for an expired refresh token', async () => {
      const first = await register('frank@example.com').expect(201);
      const ds = t.app.get(DataSource);
      await ds.query(`UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [first.body.user.id]);
      await refresh(first.body.refresh_token).expect(401);
    });

    it('deletes a user\'s expired refresh tokens when a new family starts', async () => {
      const first = await register('oscar@example.com').expect(201);
      const ds = t.app.get(DataSource);
      const userId = first.body.user.id;
      await ds.query(`UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [userId]);
      await t.http().post('/v1/auth/login').send({ email: 'oscar@example.com', password: PASSWORD }).expect(200);
      const rows: { expired: boolean }[] = await ds.query(
        'SELECT expires_at < now() AS expired FROM refresh_tokens WHERE user_id = $1',
        [userId],
      );
      expect(rows).toEqual([{ expired: false }]);
    });

    it('stores refresh tokens only as SHA-256 hashes', async () => {
      const res = await register('grace@example.com').expect(201);
      const rows: { token_hash: string }[] = await t.app
        .get(DataSource)
        .query('SELECT token_hash FROM refresh_tokens WHERE user_id = $1', [res.body.user.id]);
      expect(rows).toHaveLength(1);
      expect(rows[0].token_hash).toBe(createHash('sha256').update(res.body.refresh_token).digest('hex'));
    });
  });

  describe('logout', () => {
    it('answers 204 and revokes the family; the access token still needs authentication to call it', async () => {
      const res = await register('heidi@example.com').expect(201);
      await t.http().post('/v1/auth/logout').send({ refresh_token: res.body.refresh_token }).expect(401);
      await t
        .http()
        .post('/v1/auth/logout')
        .set('Authorization', `Bearer ${res.body.access_token}`)
        .send({ refresh_token: res.body.refresh_token })
        .expect(204);
      await refresh(res.body.refresh_token).expect(401);
    });

    it("does not revoke another user's refresh token", async () => {
      const mallory = await register('mallory@example.com').expect(201);
      const victim = await register('victim@example.com').expect(201);
      await t
        .http()
        .post('/v1/auth/logout')
        .set('Authorization', `Bearer ${mallory.body.access_token}`)
        .send({ refresh_token: victim.body.refresh_token })
        .expect(204);
      await refresh(victim.body.refresh_token).expect(200);
    });
  });

  describe('disabled users', () => {
    it('cannot log in, refresh, or use an access token they already hold', async () => {
      const res = await register('ivan@example.com').expect(201);
      await me(res.body.access_token).expect(200);
      const admin = await t.http().post('/v1/auth/login').send({ email: 'root@example.com', password: 'root-password' }).expect(200);
      await t
        .http()
        .patch(`/v1/users/${res.body.user.id}`)
        .set('Authorization', `Bearer ${admin.body.access_token}`)
        .send({ disabled: true })
        .expect(200);
      await me(res.body.access_token).expect(401);
      await refresh(res.body.refresh_token).expect(401);
      const login = await t.http().post('/v1/auth/login').send({ email: 'ivan@example.com', password: PASSWORD }).expect(401);
      expect(login.body.detail).toMatch(/disabled/);
    });
  });

  describe('password storage', () => {
    it('stores Argon2id at OWASP parameters, never the password', async () => {
      const res = await register('judy@example.com').expect(201);
      const [row]: { password_hash: string }[] = await t.app
        .get(DataSource)
        .query('SELECT password_hash FROM users WHERE id = $1', [res.body.user.id]);
      expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      expect(row.password_hash).not.toContain(PASSWORD);
    });
  });
});

describe('Auth (e2e): JWT secret without JWT_SECRET', () => {
  it('generates a 0600 secret file under DATA_DIR once, and reuses it on the next start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'auth-secret-'));
    const first = await startApp({ JWT_SECRET: undefined, DATA_DIR: dataDir });
    const path = join(dataDir, 'jwt-secret');
    let secret: string;
    try {
      secret = readFileSync(path, 'utf8');
      expect(secret.length).toBeGreaterThanOrEqual(64);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const res = await first.http().post('/v1/auth/anonymous').expect(201);
      await first.http().get('/v1/users/me').set('Authorization', `Bearer ${res.body.access_token}`).expect(200);
    } finally {
      await first.close();
    }
    const second = await startApp({ JWT_SECRET: undefined, DATA_DIR: dataDir });
    try {
      expect(readFileSync(path, 'utf8')).toBe(secret);
      const res = await second.http().post('/v1/auth/anonymous').expect(201);
      // A token signed with the file's secret is accepted: the second start uses the same secret.
      const forged = new JwtService().sign(
        { sub: String(res.body.user.id), typ: 'access', sid: new JwtService().decode(res.body.access_token).sid },
        { secret, algorithm: 'HS256', issuer: 'chat-backend', audience: 'chat-backend-api', expiresIn: 60 },
      );
      await second.http().get('/v1/users/me').set('Authorization', `Bearer ${forged}`).expect(200);
    } finally {
      await second.close();
    }
  });
});
