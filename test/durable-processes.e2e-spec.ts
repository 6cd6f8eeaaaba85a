import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { TEST_ENV } from './support/app';
import { prepareWorkerDatabase } from './support/database';
import { EntryPointProcess, freePort, spawnEntryPoint } from './support/entry-point';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse, streamPost } from './support/sse';
import { registerUser } from './support/users';

const KEY = 'sk-shutdown';

/** Starts the real entry point with its own configuration file (the test one plus `extraYaml`). */
async function spawnInstance(dir: string, extraYaml: string, env: Record<string, string>): Promise<{ run: EntryPointProcess; url: string }> {
  const config = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(config, `${readFileSync(TEST_ENV.CONFIG_FILE, 'utf8')}\n${extraYaml}\n`);
  const port = await freePort();
  const run = spawnEntryPoint({
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(port),
    JWT_SECRET: TEST_ENV.JWT_SECRET,
    CONFIG_FILE: config,
    DATA_DIR: join(dir, 'data'),
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (run.child.exitCode !== null || Date.now() > deadline) throw new Error(`instance did not start: ${run.stderr()}`);
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (ok) return { run, url };
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('Durable answers through a deploy (SIGTERM) and a crash (kill -9)', () => {
  let fake: FakeOpenAi;
  let dir: string;
  let databaseUrl: string;
  const runs: EntryPointProcess[] = [];

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    dir = mkdtempSync(join(tmpdir(), 'durable-'));
    databaseUrl = await prepareWorkerDatabase();
  });

  afterAll(async () => {
    for (const r of runs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = () => ({ DATABASE_URL: databaseUrl, OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY });
  const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Go on.' }] };

  async function rows(): Promise<Map<number, { status: string; content: string }>> {
    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ id: number; status: string; content: string }>("SELECT id, status, content FROM messages WHERE role = 'assistant'");
      return new Map(rows.map((r) => [r.id, r]));
    } finally {
      await db.end();
    }
  }

  it('SIGTERM with three open streams: exit 0; each client got done or error then [DONE]; each row holds what its client got', async () => {
    const { run, url } = await spawnInstance(dir, 'shutdown:\n  grace_ms: 800\n', env());
    runs.push(run);
    const user = await registerUser(url);
    // One answer ends within the grace time, two do not.
    fake.script((_req, i) => ({ pieces: Array.from({ length: 40 }, (_, k) => `p${k} `), delayMs: i === 0 ? 10 : 150 }));
    const bodies = ['', '', ''];
    const streams = [0, 1, 2].map((i) =>
      streamPost(url, '/v1/chat/stream', { ...ask, stream_format: 'events' }, user.auth, (soFar) => {
        bodies[i] = soFar;
      }),
    );
    while (!bodies.every((b) => b.includes('event: delta'))) await new Promise((r) => setTimeout(r, 20));

    run.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const ready = await fetch(`${url}/health/ready`).then((r) => r.status, () => 0);
    const results = await Promise.all(streams);
    const exit = await run.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect([503, 0]).toContain(ready); // not ready at once (or the listener is already closed)

    const stored = await rows();
    for (const result of results) {
      const events = parseSse(result.body);
      expect(events[events.length - 1].data).toBe('[DONE]');
      const last = events[events.length - 2];
      expect(['done', 'error']).toContain(last.event);
      if (last.event === 'error') {
        expect(JSON.parse(last.data)).toMatchObject({ status: 503, detail: expect.stringMatching(/\/events/) });
      }
      const start = JSON.parse(events.find((e) => e.event === 'start')!.data);
      const received = events.filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data).text as string).join('');
      const row = stored.get(start.message_id)!;
      expect(row.content.startsWith(received)).toBe(true);
      expect(row.status).toBe(last.event === 'done' ? 'complete' : 'incomplete');
    }
    expect(results.some((r) => r.body.includes('event: error'))).toBe(true);
  }, 90_000);

  it('kill -9 A mid-stream: within lease + sweep interval B marks the answer incomplete with its checkpointed text', async () => {
    const streams = 'streams:\n  checkpoint_ms: 100\n  lease_ms: 1000\n  sweep_interval_ms: 200\n';
    const [a, b] = await Promise.all([spawnInstance(dir, streams, env()), spawnInstance(dir, streams, env())]);
    runs.push(a.run, b.run);
    const user = await registerUser(a.url);
    const pieces = Array.from({ length: 100 }, (_, k) => `k${k} `);
    fake.script({ pieces, delayMs: 60 });
    let body = '';
    void streamPost(a.url, '/v1/chat/stream', { ...ask, stream_format: 'events' }, user.auth, (soFar) => {
      body = soFar;
    }).catch(() => undefined);
    const received = () => parseSse(body).filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data).text as string).join('');
    while (received().length < 15) await new Promise((r) => setTimeout(r, 20));
    // Text the client had this long before the crash has been checkpointed (every 100 ms) by then.
    const early = received();
    await new Promise((r) => setTimeout(r, 400));
    const messageId = JSON.parse(parseSse(body).find((e) => e.event === 'start')!.data).message_id as number;
    expect((await rows()).get(messageId)?.status).toBe('in_progress');

    a.run.child.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await a.run.exited).toEqual({ code: null, signal: 'SIGKILL' });
    let row = (await rows()).get(messageId)!;
    while (row.status === 'in_progress' && Date.now() - killedAt < 10_000) {
      await new Promise((r) => setTimeout(r, 50));
      row = (await rows()).get(messageId)!;
    }
    const markedAfter = Date.now() - killedAt;
    expect(row.status).toBe('incomplete');
    // lease 1000 ms + one sweep interval 200 ms, plus the slack of a loaded machine
    expect(markedAfter).toBeLessThan(1000 + 200 + 2000);
    expect(row.content.startsWith(early)).toBe(true);
    expect(pieces.join('').startsWith(row.content)).toBe(true);
    // B (the only instance left) did it, and says so.
    const logs = () => b.run.stdout() + b.run.stderr();
    for (let i = 0; i < 50 && !logs().includes(`incomplete: ${messageId}`); i++) await new Promise((r) => setTimeout(r, 20));
    expect(logs()).toContain(`Marked 1 abandoned answer(s) incomplete: ${messageId}`);
    // Its state says so from B too.
    const state = await fetch(`${b.url}/v1/chat/messages/${messageId}`, { headers: user.auth }).then((r) => r.json() as Promise<{ status: string; content: string }>);
    expect(state).toMatchObject({ status: 'incomplete', content: row.content });
    b.run.child.kill('SIGTERM');
    await b.run.exited;
  }, 120_000);
});
