/**
 * Streaming benchmark for the offline model (`npm run bench`).
 *
 * Boots the real AppModule in this process on 127.0.0.1 — on the embedded PostgreSQL under a temporary DATA_DIR, or
 * on DATABASE_URL when it is set — with generous rate limits and an offline model that does not pause between
 * pieces, registers one user, then measures `POST /v1/chat/stream`:
 *   - time to first byte and total stream time over N sequential requests (p50 / p95 / max),
 *   - requests per second for M requests at concurrency C,
 *   - the process's RSS afterwards.
 * Every request has a time limit and the counts are fixed, so a run is bounded. Only 127.0.0.1 is contacted.
 * Tune with BENCH_SEQUENTIAL (50), BENCH_REQUESTS (100), BENCH_CONCURRENCY (10).
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const SEQUENTIAL = positiveInt('BENCH_SEQUENTIAL', 50);
const REQUESTS = positiveInt('BENCH_REQUESTS', 100);
const CONCURRENCY = positiveInt('BENCH_CONCURRENCY', 10);
const REQUEST_TIMEOUT_MS = 15_000;
const PROMPT = 'Tell me a story about a lighthouse keeper who collects sea glass.';

/** Variables that would send requests somewhere else than the offline model, or change the setup. */
const FOREIGN_VARS = /^(OPENAI|ANTHROPIC|GOOGLE|GROQ|MISTRAL|DEEPSEEK|OPENROUTER|OLLAMA)_|^(REDIS_URL|DEFAULT_MODEL|ADMIN_EMAIL|ADMIN_PASSWORD|CONFIG_FILE|DATA_DIR)$/;

const BENCH_CONFIG = `# Written by bench/stream.bench.ts: no rate limit in the way, no pause between offline pieces.
rate_limits:
  window_seconds: 60
  unauthenticated_per_ip: 1000000
  auth_per_ip: 1000000
  tiers:
    free: { requests: 1000000, sends: 1000000 }
offline:
  piece_delay_ms: 0
models: []
`;

/** One timed streaming request. */
interface Sample {
  status: number;
  /** ms from sending the request to the first byte of the body (the first SSE event) */
  firstByteMs: number;
  /** ms from sending the request to the end of the stream */
  totalMs: number;
  bytes: number;
}

function positiveInt(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1 || value > 10_000) throw new Error(`${name} must be an integer from 1 to 10000`);
  return value;
}

/**
 * Posts a JSON body and reads the streamed answer to its end.
 * @returns the timings of this request; rejects on a network error or after REQUEST_TIMEOUT_MS
 */
function timedPost(agent: http.Agent, port: number, path: string, body: unknown, token?: string): Promise<Sample & { text: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const started = performance.now();
    let firstByteMs = -1;
    let text = '';
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(payload),
          ...(token && { Authorization: `Bearer ${token}` }),
        },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (firstByteMs < 0) firstByteMs = performance.now() - started;
          text += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, firstByteMs, totalMs: performance.now() - started, bytes: Buffer.byteLength(text), text }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${path} took longer than ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function row(label: string, values: number[]): string[] {
  const f = (n: number) => n.toFixed(2);
  return [label, f(percentile(values, 50)), f(percentile(values, 95)), f(Math.max(...values))];
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')).join('\n');
}

/** Boots the app, runs the measurements, prints the table, and shuts everything down. */
async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-backend-bench-'));
  const configFile = join(dataDir, 'bench.config.yaml');
  writeFileSync(configFile, BENCH_CONFIG);
  for (const key of Object.keys(process.env)) if (FOREIGN_VARS.test(key)) delete process.env[key];
  Object.assign(process.env, {
    NODE_ENV: 'test',
    LOG_LEVEL: 'error',
    JWT_SECRET: 'bench-secret-that-is-at-least-32-characters-long',
    CONFIG_FILE: configFile,
    DATA_DIR: dataDir,
  });
  const database = process.env.DATABASE_URL ? `DATABASE_URL (${new URL(process.env.DATABASE_URL).host})` : 'embedded PGlite';

  // Imported only now: the configuration is read from process.env as the modules load.
  const { NestFactory } = await import('@nestjs/core');
  const { AppModule } = await import('../src/app.module');
  const { configureApp } = await import('../src/bootstrap');

  const bootStarted = performance.now();
  const app = await NestFactory.create<import('@nestjs/platform-express').NestExpressApplication>(AppModule, {
    logger: ['error'],
  });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const bootMs = performance.now() - bootStarted;
  const { port } = app.getHttpServer().address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

  try {
    const email = `bench-${Date.now()}@example.com`;
    const registered = await timedPost(agent, port, '/v1/auth/register', { email, password: 'correct horse battery' });
    if (registered.status !== 201) throw new Error(`register answered ${registered.status}: ${registered.text}`);
    const token = JSON.parse(registered.text).access_token as string;
    const body = { messages: [{ role: 'user', content: PROMPT }], stream: true };
    /** Failed requests by cause (`HTTP 401`, `network: …`); the run goes on, and the table counts them. */
    const failures = new Map<string, number>();
    const stream = async (): Promise<Sample | undefined> => {
      try {
        const sample = await timedPost(agent, port, '/v1/chat/stream', body, token);
        if (sample.status === 200 && sample.text.includes('data: [DONE]')) return sample;
        const cause = `HTTP ${sample.status}${sample.status === 200 ? ' without [DONE]' : ''}`;
        failures.set(cause, (failures.get(cause) ?? 0) + 1);
      } catch (err) {
        const cause = `network: ${(err as Error).message}`;
        failures.set(cause, (failures.get(cause) ?? 0) + 1);
      }
      return undefined;
    };

    for (let i = 0; i < 5; i++) await stream(); // warm-up: JIT, pool connections, prepared paths
    if (failures.size) throw new Error(`warm-up failed: ${[...failures.keys()].join(', ')}`);

    const sequential: Sample[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const sample = await stream();
      if (sample) sequential.push(sample);
    }
    const sequentialFailures = SEQUENTIAL - sequential.length;

    const concurrent: Sample[] = [];
    let next = 0;
    const loadStarted = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, REQUESTS) }, async () => {
        while (next < REQUESTS) {
          next++;
          const sample = await stream();
          if (sample) concurrent.push(sample);
        }
      }),
    );
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const rssMb = process.memoryUsage().rss / 1024 / 1024;

    console.log(`\nPOST /v1/chat/stream, offline model, ${database}, Node ${process.version}, boot ${bootMs.toFixed(0)} ms`);
    console.log(`reply: ${(sequential[0] ?? concurrent[0])?.bytes ?? 0} bytes of SSE per request\n`);
    const rows = [['measure (ms)', 'p50', 'p95', 'max']];
    if (sequential.length) {
      rows.push(row(`first byte, ${sequential.length} sequential`, sequential.map((s) => s.firstByteMs)));
      rows.push(row(`whole stream, ${sequential.length} sequential`, sequential.map((s) => s.totalMs)));
    }
    if (concurrent.length) {
      rows.push(row(`first byte, ${concurrent.length} at concurrency ${CONCURRENCY}`, concurrent.map((s) => s.firstByteMs)));
      rows.push(row(`whole stream, ${concurrent.length} at concurrency ${CONCURRENCY}`, concurrent.map((s) => s.totalMs)));
    }
    console.log(table(rows));
    console.log(
      `\nthroughput: ${(concurrent.length / loadSeconds).toFixed(1)} complete streams/s ` +
        `(${concurrent.length} of ${REQUESTS} requests at concurrency ${CONCURRENCY} in ${loadSeconds.toFixed(2)} s)`,
    );
    const failed = sequentialFailures + (REQUESTS - concurrent.length);
    if (failed) {
      console.log(`FAILED: ${failed} requests (${sequentialFailures} sequential): ${[...failures].map(([c, n]) => `${n} × ${c}`).join(', ')}`);
      process.exitCode = 1;
    }
    console.log(`RSS after: ${rssMb.toFixed(0)} MB (app${process.env.DATABASE_URL ? '' : ' and embedded PostgreSQL'} in this process)\n`);
  } finally {
    agent.destroy();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const deadline = setTimeout(() => {
  console.error('bench: gave up after 5 minutes');
  process.exit(1);
}, 5 * 60_000);
deadline.unref();

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
