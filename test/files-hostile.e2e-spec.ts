import http from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { startApp, TestApp } from './support/app';
import { writeTestConfig } from './support/test-config';
import { compressionBombPdf, manyPagesPdf, textPdf } from './support/pdfs';
import { registerUser, TestUser } from './support/users';

/** Budgets of test/support/config.test.yaml. */
const TIMEOUT_MS = 4000;
const MEMORY_MB = 256;
/** The time budget of the compression-bomb test's own app: the memory budget must stop the bomb long before. */
const BOMB_TIMEOUT_MS = 20_000;
/** Time allowed beyond the budget for starting the child, killing it and answering, on a busy 2-core machine. */
const SLACK_MS = 3000;

/** Process ids of the PDF extraction children of this process (the app runs inside the jest worker). */
function extractionChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('pdf-extract.worker.js')) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

async function waitForChildren(n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (extractionChildren().length < n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} extraction processes`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Awaits `p` and says how long it took. */
async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await p;
  return { value, ms: Date.now() - started };
}

/**
 * A compression bomb, on an app of its own whose time budget is far beyond the memory kill, so that a slow (busy)
 * machine still shows the memory budget at work.
 */
describe('Files: a compression bomb (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({ CONFIG_FILE: writeTestConfig((c) => void (c.files.extraction_timeout_ms = BOMB_TIMEOUT_MS)) });
  });
  afterAll(() => t.close());
  afterEach(() => expect(extractionChildren()).toEqual([]));

  it('is stopped at the memory budget with a 422, while /health keeps answering', async () => {
    const user = await registerUser(t.url);
    const bomb = await compressionBombPdf(400); // ~400 KB that inflates to 400 MiB
    expect(bomb.length).toBeLessThan(1024 * 1024);
    let uploading = true;
    const health: number[] = [];
    const probe = (async () => {
      while (uploading) {
        const { value, ms } = await timed(request(t.url).get('/health'));
        expect(value.status).toBe(200);
        health.push(ms);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const session = (await request(t.url).post('/v1/chat/sessions').set(user.auth).send({}).expect(201)).body.id;
    const { value: res, ms } = await timed(
      request(t.url).post(`/api/chat/sessions/${session}/upload`).set(user.auth).attach('file', bomb, 'hostile.pdf'),
    );
    uploading = false;
    await probe;

    expect(res.status).toBe(422);
    expect(res.body.detail).toBe(`The PDF needed more memory than the budget (${MEMORY_MB} MiB) to process; it was stopped.`);
    expect(ms).toBeLessThan(BOMB_TIMEOUT_MS / 2);
    expect(health.length).toBeGreaterThan(3);
    expect(Math.max(...health)).toBeLessThan(500);
    const [{ n }] = await t.app.get(DataSource).query('SELECT count(*)::int AS n FROM files');
    expect(n).toBe(0);
  });
});

/**
 * Hostile PDFs: the extraction runs in a child process that is killed on its time and memory budgets, the API
 * keeps answering meanwhile, and concurrent extractions are capped per user and per instance (429).
 */
describe('Files: hostile PDFs (e2e)', () => {
  let t: TestApp;
  let users: TestUser[];

  const newSession = async (u: TestUser) => (await request(t.url).post('/v1/chat/sessions').set(u.auth).send({}).expect(201)).body.id as number;
  const upload = async (u: TestUser, bytes: Buffer) =>
    request(t.url).post(`/api/chat/sessions/${await newSession(u)}/upload`).set(u.auth).attach('file', bytes, 'hostile.pdf');
  /** An upload whose headers promise a 5 MiB body that never comes: its answer can only be a refusal up front. */
  const bodiless = async (u: TestUser) => {
    const url = `${t.url}/api/chat/sessions/${await newSession(u)}/upload`;
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      const headers = { ...u.auth, 'Content-Type': 'multipart/form-data; boundary=x', 'Content-Length': String(5 * 1024 * 1024) };
      const req = http.request(url, { method: 'POST', headers });
      req.on('response', (res) => {
        res.resume();
        resolve(res);
        req.destroy();
      });
      req.on('error', reject);
      req.flushHeaders();
    });
  };

  beforeAll(async () => {
    t = await startApp();
    users = [await registerUser(t.url), await registerUser(t.url), await registerUser(t.url)];
  });
  afterAll(() => t.close());
  afterEach(() => expect(extractionChildren()).toEqual([]));


  it('a slow file is stopped at the time budget; meanwhile extractions beyond the per-user and per-instance caps are 429', async () => {
    // ~360 KB: 400 pages of 50,000 empty text runs each, so no text cap ends it early; far more than 4 s of work.
    const slow = manyPagesPdf(400, '', 50_000);
    const small = await textPdf(['small and quick']);
    const [a, b, c] = users;

    const first = timed(upload(a, slow));
    await waitForChildren(1);
    const sameUser = await upload(a, small);
    expect(sameUser.status).toBe(429);
    expect(sameUser.headers['retry-after']).toBe(String(TIMEOUT_MS / 1000));
    expect(sameUser.body.detail).toMatch(/already have a PDF being processed/);
    // The slot is taken before the body is read: the refusal comes without waiting for one, and closes.
    const noBody = await bodiless(a);
    expect({ status: noBody.statusCode, connection: noBody.headers.connection }).toEqual({ status: 429, connection: 'close' });

    const second = timed(upload(b, slow));
    await waitForChildren(2);
    const instanceFull = await upload(c, small);
    expect(instanceFull.status).toBe(429);
    expect(instanceFull.body.detail).toMatch(/Too many PDFs are being processed/);
    expect(instanceFull.headers['retry-after']).toBe(String(TIMEOUT_MS / 1000));
    expect((await bodiless(c)).statusCode).toBe(429);

    for (const { value, ms } of [await first, await second]) {
      expect(value.status).toBe(422);
      expect(value.body.detail).toBe(`The PDF could not be processed within the time budget (${TIMEOUT_MS} ms); it was stopped.`);
      expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS);
      expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    }
    // The slots are free again.
    expect((await upload(a, small)).status).toBe(201);
    expect((await upload(c, small)).status).toBe(201);
  }, 20_000);
});

describe('Files: many form parts around the file (e2e)', () => {
  let t: TestApp;
  let user: TestUser;
  beforeAll(async () => {
    t = await startApp({ CONFIG_FILE: writeTestConfig((c) => void (c.files.max_multipart_parts = 40)) });
    user = await registerUser(t.url);
  });
  afterAll(() => t.close());

  /** An upload with `before` text fields ahead of the file and `after` behind it. */
  const uploadAmong = async (before: number, after: number) => {
    const session = (await request(t.url).post('/v1/chat/sessions').set(user.auth).send({}).expect(201)).body.id;
    let req = request(t.url).post(`/api/chat/sessions/${session}/upload`).set(user.auth);
    for (let i = 0; i < before; i++) req = req.field(`before${i}`, `value ${i}`);
    req = req.attach('file', await textPdf([`among ${before} and ${after}`]), 'among.pdf');
    for (let i = 0; i < after; i++) req = req.field(`after${i}`, `value ${i}`);
    return req;
  };

  it('skips other fields wherever they are, far beyond busboy’s old 24-field cut', async () => {
    const res = await uploadAmong(30, 9);
    expect(res.status).toBe(201);
    expect(res.body.file.extracted_text).toContain('among 30 and 9');
  });

  it('refuses a body with more parts than files.max_multipart_parts with a 413 that says so', async () => {
    const res = await uploadAmong(40, 0);
    expect(res.status).toBe(413);
    expect(res.body.detail).toBe('The multipart body has more than 40 parts; send the PDF with fewer other fields.');
  });
});
