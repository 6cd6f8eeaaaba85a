import { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { TEST_ENV } from './support/app';
import { parseSse, textOf } from './support/sse';
import { freePort, spawnEntryPoint } from './support/entry-point';
import { registerUser, TestUser } from './support/users';

/**
 * The zero-setup default: no DATABASE_URL, so the app serves an embedded PostgreSQL (PGlite) under DATA_DIR.
 * The newcomer's journey works on it, and what it stored (and the JWT secret it generated) is still there after a
 * restart on the same DATA_DIR.
 *
 * The app runs as a child process of the real entry point rather than in jest's VM: PGlite's CommonJS build loads
 * Node built-ins with dynamic `import()`, which jest only allows under `--experimental-vm-modules`.
 */
const BOOT_TIMEOUT_MS = 45_000;

interface EmbeddedApp {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Starts `src/main.ts` with no DATABASE_URL on a free port and waits until `/health` answers. */
async function startEmbedded(dataDir: string): Promise<EmbeddedApp> {
  const port = await freePort();
  const run = spawnEntryPoint({
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    CONFIG_FILE: TEST_ENV.CONFIG_FILE,
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
  });
  const child = run.child;
  const output = () => run.stdout() + run.stderr();
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the app exited during start-up (${child.exitCode ?? child.signalCode}):\n${output()}`);
    }
    const up = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (up) return { child, url, output };
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`the app did not answer /health within ${BOOT_TIMEOUT_MS} ms:\n${output()}`);
}

/** Sends SIGTERM and waits for the process to end (SIGKILL after 10 s). */
async function stop(app: EmbeddedApp): Promise<void> {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => app.child.once('exit', () => r()));
  app.child.kill('SIGTERM');
  const timer = setTimeout(() => app.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

describe('embedded PostgreSQL (no DATABASE_URL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-backend-embedded-'));
  let app: EmbeddedApp | undefined;
  let alice: TestUser;
  let sessionId: number;
  let reply: string;

  afterAll(async () => {
    if (app) await stop(app);
    rmSync(dataDir, { recursive: true, force: true });
  }, 15_000);

  it('reports the database up, then registers, creates a session, streams a reply and shows both messages', async () => {
    app = await startEmbedded(dataDir);
    const { url } = app;

    const ready = await request(url).get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', checks: { database: 'up' } });

    alice = await registerUser(url);
    const created = await request(url).post('/v1/chat/sessions').set(alice.auth).send({ title: 'Embedded journey' });
    expect(created.status).toBe(201);
    sessionId = created.body.id;

    const streamed = await request(url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ session_id: sessionId, messages: [{ role: 'user', content: 'Hello from the embedded database' }] });
    expect(streamed.status).toBe(200);
    expect(Number(streamed.headers['x-session-id'])).toBe(sessionId);
    const events = parseSse(streamed.text);
    expect(events[events.length - 1].data).toBe('[DONE]');
    reply = textOf(events);
    expect(reply).toContain('Hello from the embedded database');

    const history = await request(url).get('/v1/chat/history').set(alice.auth);
    expect(history.status).toBe(200);
    expect(history.body.total).toBe(1);
    expect(history.body.sessions[0]).toMatchObject({
      id: sessionId,
      user_id: alice.id,
      title: 'Embedded journey',
      messages: [
        { role: 'user', content: 'Hello from the embedded database' },
        { role: 'assistant', content: reply },
      ],
    });
  }, 90_000);

  it('keeps users, sessions, messages and the generated JWT secret across a restart on the same DATA_DIR', async () => {
    expect(app).toBeDefined();
    await stop(app!);
    app = await startEmbedded(dataDir);
    const { url } = app;

    // The access token issued before the restart still verifies: the generated secret was kept in DATA_DIR.
    const me = await request(url).get('/v1/users/me').set(alice.auth);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: alice.id, email: alice.email });

    const login = await request(url).post('/v1/auth/login').send({ email: alice.email, password: 'correct horse battery' });
    expect(login.status).toBe(200);
    const auth = { Authorization: `Bearer ${login.body.access_token}` };

    const sessions = await request(url).get('/v1/chat/sessions').set(auth);
    expect(sessions.status).toBe(200);
    expect(sessions.body.total).toBe(1);
    expect(sessions.body.items[0]).toMatchObject({ id: sessionId, title: 'Embedded journey', message_count: 2 });

    const messages = await request(url).get(`/v1/chat/sessions/${sessionId}/messages`).set(auth);
    expect(messages.status).toBe(200);
    expect(messages.body.items.map((m: { role: string; content: string }) => [m.role, m.content])).toEqual([
      ['user', 'Hello from the embedded database'],
      ['assistant', reply],
    ]);
  }, 90_000);
});
