import { JwtService } from '@nestjs/jwt';
import { DataSource } from 'typeorm';
import { startApp, TEST_ENV, TestApp } from './support/app';

const SECRET = TEST_ENV.JWT_SECRET;
const ISSUER = 'chat-backend';
const AUDIENCE = 'chat-backend-api';
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('Auth security (e2e)', () => {
  let t: TestApp;
  let userId: number;
  let access: string;
  let refreshToken: string;
  let sid: string;
  const jwt = new JwtService();
  const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  /**
   * Signs like the server does, with the genuine login's `sid` unless the payload sets its own; `options` override
   * (an `undefined` value drops that option or claim).
   */
  const sign = (payload: Record<string, unknown>, options: Record<string, unknown> = {}) => {
    const merged = { secret: SECRET, algorithm: 'HS256', issuer: ISSUER, audience: AUDIENCE, expiresIn: 300, ...options };
    return jwt.sign(defined({ sid, ...payload }), defined(merged));
  };
  const me = (token: string) => t.http().get('/v1/users/me').set('Authorization', `Bearer ${token}`);

  beforeAll(async () => {
    t = await startApp();
    const res = await t.http().post('/v1/auth/register').send({ email: 'sec@example.com', password: 'password123' }).expect(201);
    userId = res.body.user.id;
    access = res.body.access_token;
    refreshToken = res.body.refresh_token;
    sid = jwt.decode(access).sid;
  });
  afterAll(() => t.close());

  describe('forged or misused access tokens → 401 on GET /v1/users/me', () => {
    it('accepts the genuine token, and a token the test signs correctly (the baseline the forgeries differ from)', async () => {
      await me(access).expect(200);
      await me(sign({ sub: String(userId), typ: 'access' })).expect(200);
    });

    it('rejects no token and a garbage token, with WWW-Authenticate: Bearer', async () => {
      const none = await t.http().get('/v1/users/me').expect(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expect(none.headers['content-type']).toMatch(/application\/problem\+json/);
      await me('not-a-token').expect(401);
    });

    it('rejects alg: none', async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = { sub: String(userId), typ: 'access', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300 };
      await me(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`).expect(401);
      await me(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}`).expect(401);
    });

    it('rejects a token signed with another key', async () => {
      await me(sign({ sub: String(userId), typ: 'access' }, { secret: 'another-secret-of-at-least-32-characters!' })).expect(401);
    });

    it('rejects another HMAC algorithm (HS512) even with the right key', async () => {
      await me(sign({ sub: String(userId), typ: 'access' }, { algorithm: 'HS512' })).expect(401);
    });

    it('rejects an expired token', async () => {
      const past = Math.floor(Date.now() / 1000) - 120;
      await me(sign({ sub: String(userId), typ: 'access', iat: past - 300, exp: past }, { expiresIn: undefined })).expect(401);
    });

    it('rejects a wrong audience and a wrong issuer', async () => {
      await me(sign({ sub: String(userId), typ: 'access' }, { audience: 'someone-else' })).expect(401);
      await me(sign({ sub: String(userId), typ: 'access' }, { issuer: 'evil-issuer' })).expect(401);
    });

    it('rejects a token with no typ claim, or another typ', async () => {
      await me(sign({ sub: String(userId) })).expect(401);
      await me(sign({ sub: String(userId), typ: 'refresh' })).expect(401);
    });

    it('rejects a token without a sid, with a malformed one, or with the sid of an ended login session', async () => {
      await me(sign({ sub: String(userId), typ: 'access', sid: undefined })).expect(401);
      await me(sign({ sub: String(userId), typ: 'access', sid: 'not-a-uuid' })).expect(401);
      const other = await t.http().post('/v1/auth/login').send({ email: 'sec@example.com', password: 'password123' }).expect(200);
      const otherSid = jwt.decode(other.body.access_token).sid;
      await me(sign({ sub: String(userId), typ: 'access', sid: otherSid })).expect(200);
      await t.http().post('/v1/auth/logout').set('Authorization', `Bearer ${access}`).send({ refresh_token: other.body.refresh_token }).expect(204);
      await me(sign({ sub: String(userId), typ: 'access', sid: otherSid })).expect(401);
    });

    it('rejects a token without exp', async () => {
      await me(sign({ sub: String(userId), typ: 'access' }, { expiresIn: undefined })).expect(401);
    });

    it('rejects a refresh token used as an access token', async () => {
      await me(refreshToken).expect(401);
    });

    it('rejects a token for a user that does not exist', async () => {
      await me(sign({ sub: '999999', typ: 'access' })).expect(401);
      await me(sign({ sub: '99999999999', typ: 'access' })).expect(401);
      await me(sign({ sub: 'abc', typ: 'access' })).expect(401);
    });

    it('rejects an access token sent in the query string instead of the header', async () => {
      await t.http().get(`/v1/users/me?access_token=${access}`).expect(401);
    });
  });

  describe('mass assignment → 422 and nothing changes', () => {
    it.each([
      ['role', 'admin'],
      ['tier', 'pro'],
      ['is_anonymous', true],
      ['user_id', 1],
      ['disabled', false],
      ['id', 12345],
    ])('register with %s is rejected', async (field, value) => {
      const email = `mass-${field}@example.com`;
      const res = await t.http().post('/v1/auth/register').send({ email, password: 'password123', [field]: value }).expect(422);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      const rows = await t.app.get(DataSource).query('SELECT 1 FROM users WHERE email = $1', [email]);
      expect(rows).toHaveLength(0);
    });

    it.each([
      ['role', 'admin'],
      ['tier', 'pro'],
      ['is_anonymous', true],
      ['user_id', 999],
      ['disabled', true],
    ])('PATCH /v1/users/me with %s is rejected', async (field, value) => {
      const res = await t
        .http()
        .patch('/v1/users/me')
        .set('Authorization', `Bearer ${access}`)
        .send({ display_name: 'Changed', [field]: value })
        .expect(422);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      const profile = await me(access).expect(200);
      expect(profile.body).toMatchObject({ role: 'user', tier: 'free', is_anonymous: false, display_name: null, id: userId });
    });
  });

  describe('API keys cannot act as the account owner', () => {
    /** Creates an application and one key for it with the user's access token. */
    const newApplicationKey = async (name: string) => {
      const app = await t.http().post('/v1/applications').set('Authorization', `Bearer ${access}`).send({ name }).expect(201);
      const key = await t
        .http()
        .post(`/v1/applications/${app.body.id}/keys`)
        .set('Authorization', `Bearer ${access}`)
        .send({})
        .expect(201);
      return { app, key };
    };

    it('an API key cannot change the password, delete the account, or manage applications (403)', async () => {
      const { app, key } = await newApplicationKey('bot');
      const asKey = (req: ReturnType<ReturnType<TestApp['http']>['get']>) => req.set('Authorization', `Bearer ${key.body.key}`);
      await asKey(t.http().get('/v1/users/me')).expect(200);
      await asKey(t.http().patch('/v1/users/me')).send({ password: 'hijacked-pass', current_password: 'password123' }).expect(403);
      await asKey(t.http().delete('/v1/users/me')).expect(403);
      await asKey(t.http().get('/v1/applications')).expect(403);
      await asKey(t.http().post(`/v1/applications/${app.body.id}/keys`)).send({}).expect(403);
      await me(access).expect(200);
    });

    it('an API key in the query string does not authenticate', async () => {
      const { key } = await newApplicationKey('q');
      await t.http().get(`/v1/users/me?access_token=${key.body.key}`).expect(401);
    });
  });
});

describe('JWT_SECRET at start-up', () => {
  const refusal = async (env: Record<string, string>): Promise<string> => {
    const err = await startApp(env).then(
      async (t) => {
        await t.close();
        throw new Error('the app started');
      },
      (e: Error) => e,
    );
    return err.message;
  };

  it('refuses a short secret without ever printing it', async () => {
    const message = await refusal({ JWT_SECRET: 'short-but-still-secret-value' });
    expect(message).toMatch(/JWT_SECRET must be at least 32 characters \(a value of 28 characters, not shown\)/);
    expect(message).not.toContain('short-but-still-secret-value');
  });

  it('never prints other secrets either (ADMIN_PASSWORD)', async () => {
    const message = await refusal({ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'hunter2' });
    expect(message).toMatch(/ADMIN_PASSWORD/);
    expect(message).not.toContain('hunter2');
  });

  it('refuses a long but repetitive secret in production, naming the rule and not the value', async () => {
    for (const secret of ['a'.repeat(32), 'ab'.repeat(24), 'passwordpasswordpasswordpassword']) {
      const message = await refusal({ NODE_ENV: 'production', JWT_SECRET: secret });
      expect(message).toMatch(/JWT_SECRET: too predictable for production: it has (only \d+ distinct characters|about \d+ bits)/);
      expect(message).not.toContain(secret);
    }
  });

  it('accepts a random secret in production, and a repetitive one outside production', async () => {
    const outcome = await startApp({ NODE_ENV: 'production', JWT_SECRET: 'Zk3v9Qx_LmT2rWp8YbN4cHd7JsF1gUa6' }).then(
      async (t) => {
        await t.close();
        return 'started';
      },
      (e: Error) => e.message,
    );
    expect(outcome).toBe('started');
    const t = await startApp({ NODE_ENV: 'development', JWT_SECRET: 'a'.repeat(32) });
    await t.close();
  });
});
