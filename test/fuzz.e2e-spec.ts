import fc from 'fast-check';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { FuzzContext, FuzzRequest, Identity, Operation, operationsOf, requestArbitrary, StatusTable } from './support/fuzz';
import { textPdf } from './support/pdfs';
import { registerUser, TestUser } from './support/users';

/** Reproduce a run with `FUZZ_SEED=<seed> npx jest test/fuzz.e2e-spec.ts` (add `-t <operationId>` for one operation). */
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
/** Requests per operation: `npm test` sends ~60 to each of the ~50 operations; `npm run fuzz` sends more. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
/** A request without an answer after this long counts as a hang. */
const ANSWER_WITHIN_MS = 5_000;
const ADMIN = { ADMIN_EMAIL: 'fuzz-admin@example.com', ADMIN_PASSWORD: 'fuzz-admin-password' };
const PASSWORD = 'correct horse battery';
/** Operations that end the caller's account when they succeed. */
const ENDS_ACCOUNT = new Set(['deleteMyAccount']);

interface Answer {
  status: number;
  body: string;
}

/** Sends a request as written (a body on a GET, any content type), and fails when no answer comes in time. */
function send(base: string, req: FuzzRequest, token: string | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...req.headers };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (req.body) headers['Content-Length'] = req.body.length;
    const r = httpRequest(`${base}${req.url}`, { method: req.method, headers, timeout: ANSWER_WITHIN_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 500) }));
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error(`no answer within ${ANSWER_WITHIN_MS} ms`)));
    r.on('error', reject);
    r.end(req.body);
  });
}

/** A stable number per operation, so each operation's requests depend only on the seed and its own id. */
const hash = (text: string) => [...text].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) | 0, 0);

/**
 * Fuzzes every operation of the committed `openapi.json` with valid credentials and hostile values, and holds the
 * server to its promises: no answer ≥ 500, every answer within 5 s, the server alive after, and the fuzz user's
 * role and tier what they were (no request could raise them).
 */
describe('fuzzing every operation of openapi.json', () => {
  const doc = JSON.parse(readFileSync(join(__dirname, '..', 'openapi.json'), 'utf8'));
  const operations: Operation[] = operationsOf(doc);
  const table = new StatusTable();
  let t: TestApp;
  let user: TestUser;
  let victim: TestUser;
  const tokens: Record<Identity, string | undefined> = { user: undefined, admin: undefined, victim: undefined, forged: undefined };
  let ctx: FuzzContext;

  const login = async (email: string, password: string) => {
    const res = await request(t.url).post('/v1/auth/login').send({ email, password });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
    return res.body.access_token as string;
  };

  beforeAll(async () => {
    process.stdout.write(`fuzz: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} (${operations.length} operations)\n`);
    t = await startApp(ADMIN);
    user = await registerUser(t.url);
    victim = await registerUser(t.url);
    tokens.user = user.token;
    tokens.victim = victim.token;
    tokens.admin = await login(ADMIN.ADMIN_EMAIL, ADMIN.ADMIN_PASSWORD);
    tokens.forged = `${user.token.slice(0, -4)}AAAA`;

    const as = (path: string, body: object) => request(t.url).post(path).set(user.auth).send(body);
    const sessions: number[] = [];
    for (let i = 0; i < 4; i++) sessions.push((await as('/v1/chat/sessions', { title: `fuzz ${i}` }).expect(201)).body.id);
    await as('/v1/chat/stream', { session_id: sessions[0], stream: false, messages: [{ role: 'user', content: 'hello' }] }).expect(200);
    const prompts: number[] = [];
    for (let i = 0; i < 3; i++) prompts.push((await as('/api/chat/prompts', { title: `p${i}`, content: 'Say {thing}' }).expect(201)).body.id);
    const apps: number[] = [];
    for (let i = 0; i < 2; i++) apps.push((await as('/v1/applications', { name: `app${i}` }).expect(201)).body.id);
    const key = (await as(`/v1/applications/${apps[0]}/keys`, { name: 'k' }).expect(201)).body.id;
    const pdf = await textPdf(['fuzz']);
    const file = await request(t.url)
      .post(`/api/chat/sessions/${sessions[1]}/upload`)
      .set(user.auth)
      .attach('file', pdf, { filename: 'f.pdf', contentType: 'application/pdf' })
      .expect(201);
    ctx = {
      pdf,
      ids: { session_id: sessions, prompt_id: prompts, id: apps, keyId: [key], file_id: [file.body.file.id], user_id: [victim.id] },
    };
  });

  afterAll(async () => {
    if (process.env.FUZZ_REPORT) process.stdout.write(`\nfuzz: FUZZ_SEED=${SEED}, statuses per operation\n${table.render()}\n`);
    await t?.close();
  });

  /** A revoked token (a fuzzed logout) is replaced by a fresh login, so later requests still carry valid auth. */
  const renewIfRevoked = async (identity: Identity) => {
    if (identity !== 'user' && identity !== 'admin') return;
    const me = await request(t.url).get('/v1/users/me').set('Authorization', `Bearer ${tokens[identity]}`);
    if (me.status === 401) tokens[identity] = identity === 'user' ? await login(user.email, PASSWORD) : await login(ADMIN.ADMIN_EMAIL, ADMIN.ADMIN_PASSWORD);
  };

  it.each(operations.map((op) => [op.id, op] as const))('%s answers hostile requests with < 500 within 5 s', async (_id, op) => {
    const components = doc.components.schemas;
    // An admin acting on a user id acts on the victim, never on the fuzz user (whose role and tier are checked).
    const opCtx = op.path.startsWith('/v1/users/{id}') ? { ...ctx, ids: { ...ctx.ids, id: ctx.ids.user_id } } : ctx;
    await fc.assert(
      fc.asyncProperty(requestArbitrary(op, components, opCtx), async (req) => {
        // Deleting one's own account succeeds for a valid token whatever the body: it runs as a throw-away user, so
        // the fuzz user and the admin outlive the campaign.
        const token = ENDS_ACCOUNT.has(op.id) && req.identity !== 'forged' ? (await registerUser(t.url)).token : tokens[req.identity];
        const answer = await send(t.url, req, token);
        table.add(op.id, answer.status);
        if (answer.status >= 500) {
          throw new Error(`${req.method} ${req.url.slice(0, 300)} as ${req.identity} (${req.bodyKind}) → ${answer.status} ${answer.body}`);
        }
        if (answer.status === 401) await renewIfRevoked(req.identity);
      }),
      { seed: SEED ^ hash(op.id), numRuns: RUNS, endOnFailure: true },
    );
  }, 300_000);

  it('leaves the server alive and the fuzz user a plain free-tier user', async () => {
    await request(t.url).get('/health').expect(200);
    const token = await login(user.email, PASSWORD);
    const me = await request(t.url).get('/v1/users/me').set('Authorization', `Bearer ${token}`).expect(200);
    expect(me.body).toMatchObject({ id: user.id, role: 'user', tier: 'free' });
    expect(table.total).toBeGreaterThanOrEqual(operations.length * RUNS);
  });
});
