/**
 * What every benchmark section shares: the three arms (the upstream mock called directly, the floor relay, the
 * built app pointed at the mock), HTTP clients that time the first token, CPU and RSS of a process from
 * /proc/<pid>/stat, percentiles, and the throw-away PostgreSQL database. Only 127.0.0.1 is ever contacted; every
 * request has a time limit and every loop a fixed count.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net, { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';

/** One line of the printed table. Figures are already formatted; `met` is undefined when there is no target. */
export interface Row {
  measure: string;
  floor?: string;
  app: string;
  ratio?: string;
  target?: string;
  met?: boolean;
}

/** A benchmark section: a file in bench/sections/ plus one line in bench/sections/index.ts. */
export interface Section {
  /** The key BENCH_ONLY / BENCH_SKIP select by (comma-separated). */
  name: string;
  /** What it measures, printed above its rows. */
  title: string;
  run(bench: Bench): Promise<Row[]>;
}

/**
 * direct: the upstream mock itself; floor: the floor relay; stack: the stack floor (bench/stack-floor.ts: NestJS, a
 * JWT guard, class-validator and the OpenAI SDK, nothing else); app: the built app.
 */
export type ArmName = 'direct' | 'floor' | 'stack' | 'app';

/** A server the bench started: its port and the pid whose /proc entry gives CPU and RSS. */
export interface Server {
  port: number;
  pid: number;
  process: ChildProcess;
}

/** Mock timing for one request: ms before the first token, ms between tokens, token count. */
export interface Pace {
  ttftMs: number;
  itlMs: number;
  tokens: number;
}

/** One timed streaming request. */
export interface StreamSample {
  ok: boolean;
  /** ms from sending the request to the first token on the wire; NaN when none came */
  ttftMs: number;
  /** ms from sending the request to the end of the answer */
  totalMs: number;
  error?: string;
}

export const ROOT = join(__dirname, '..');

/** The HS256 secret of every app instance and stack floor the bench starts, so one bearer token serves them all. */
export const BENCH_JWT_SECRET = 'bench-secret-that-is-at-least-32-characters-long';
export const NODE = process.execPath;

/** Reads a positive integer from the environment (for counts and limits), with a ceiling against typos. */
export function envInt(name: string, fallback: number, max = 100_000): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`${name} must be an integer from 1 to ${max}`);
  return value;
}

/** The p-th percentile (0..100, nearest rank) of the values; NaN for none. */
export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** `12.3 ms`, `1.23 s`. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return Math.abs(value) >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

/** `3.1×`, or `—` when the divisor is too small to divide by honestly. */
export function times(numerator: number, denominator: number, floor = 0.05): string {
  if (!Number.isFinite(numerator) || !Number.isFinite(denominator) || denominator < floor) return '—';
  return `${(numerator / denominator).toFixed(2)}×`;
}

export const sleep = (msToWait: number) => new Promise<void>((resolve) => setTimeout(resolve, msToWait));

/** A deterministic pseudo-random sequence (mulberry32), so every arm of a round gets the same token counts. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** CPU time (user + system) and resident memory of a process, from /proc (Linux). */
export function procStats(pid: number): { cpuMs: number; rssKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuMs: (ticks * 1000) / CLOCK_TICKS, rssKb: rss ? Number(rss[1]) : NaN };
}
/** USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS = 100;

/** A port free right now on 127.0.0.1 (for a child that must be told its port up front). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts one of the instruments (an .mjs file, or a .ts file run through ts-node) and waits for the `{"port":N}` line
 * it prints.
 */
export function startInstrument(script: string, env: Record<string, string>): Promise<Server> {
  const loader = script.endsWith('.ts') ? ['--require', 'ts-node/register/transpile-only'] : [];
  const child = spawn(NODE, ['--expose-gc', ...loader, join(__dirname, script)], {
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const startS = loader.length ? 60 : 10;
    const timer = setTimeout(() => reject(new Error(`${script} did not start within ${startS} s`)), startS * 1000);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /\{"port":(\d+)\}/.exec(out);
      if (match) {
        clearTimeout(timer);
        child.stdout.resume();
        resolve({ port: Number(match[1]), pid: child.pid!, process: child });
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

/** Waits until GET /health answers 200, or throws after `timeoutMs`. */
export async function waitForHealth(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the app exited with ${child.exitCode} before answering /health`);
    const status = await new Promise<number>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/health', timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
      req.on('timeout', () => req.destroy());
    });
    if (status === 200) return;
    await sleep(100);
  }
  throw new Error(`the app did not answer /health within ${timeoutMs} ms`);
}

/** Stops a child: SIGTERM, then SIGKILL after 5 s. */
export async function stop(server: Server | undefined): Promise<void> {
  if (!server || server.process.exitCode !== null) return;
  const exited = new Promise((resolve) => server.process.once('exit', resolve));
  server.process.kill('SIGTERM');
  const timer = setTimeout(() => server.process.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Options of one HTTP request made by the bench. */
interface RequestOptions {
  port: number;
  path: string;
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  agent: http.Agent;
}

/** Sends a request and reads the whole answer. Rejects on a network error or when the time limit passes. */
export function request(options: RequestOptions): Promise<{ status: number; body: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      {
        host: '127.0.0.1',
        port: options.port,
        path: options.path,
        method: options.method ?? 'GET',
        agent: options.agent,
        headers: { ...(options.body !== undefined && { 'Content-Type': 'application/json' }), ...options.headers },
        timeout: options.timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Sends a streaming request and times it: the first token is the first chunk that carries `tokenMarker` (the
 * arm's framing of a piece of text); the answer is complete when `endMarker` arrived with status 200.
 * `onFirstToken` runs when the first token arrives (the queries section takes a count there).
 */
export function timedStream(
  options: RequestOptions & { tokenMarker: string; endMarker: string; onFirstToken?: () => void },
): Promise<StreamSample> {
  return new Promise((resolve) => {
    const started = performance.now();
    let ttftMs = NaN;
    let tail = '';
    let settled = false;
    const done = (sample: StreamSample) => {
      if (!settled) resolve(sample);
      settled = true;
    };
    const req = http.request(
      {
        host: '127.0.0.1',
        port: options.port,
        path: options.path,
        method: 'POST',
        agent: options.agent,
        headers: { 'Content-Type': 'application/json', ...options.headers },
        timeout: options.timeoutMs,
      },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (Number.isNaN(ttftMs) && (tail + chunk).includes(options.tokenMarker)) {
            ttftMs = performance.now() - started;
            options.onFirstToken?.();
          }
          tail = (tail + chunk).slice(-256);
        });
        res.on('end', () => {
          const ok = res.statusCode === 200 && tail.includes(options.endMarker) && !Number.isNaN(ttftMs);
          done({ ok, ttftMs, totalMs: performance.now() - started, ...(!ok && { error: `HTTP ${res.statusCode}${res.statusCode === 200 ? ' without the closing event' : ''}: ${tail.slice(-120).replace(/\s+/g, ' ')}` }) });
        });
        res.on('error', (err) => done({ ok: false, ttftMs, totalMs: NaN, error: err.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`over ${options.timeoutMs} ms`)));
    req.on('error', (err) => done({ ok: false, ttftMs, totalMs: NaN, error: err.message }));
    req.end(options.body);
  });
}

/** Runs `count` tasks with at most `concurrency` in flight; returns their results in start order. */
export async function pool<T>(count: number, concurrency: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await task(index);
      }
    }),
  );
  return results;
}

/** What the run shares with every section. */
export interface Bench {
  direct: Server;
  floor: Server;
  stack: Server;
  app: Server;
  /** The app's bearer token, of a registered user (the stack floor accepts it too: the same HS256 secret). */
  token: string;
  /** The app's configuration file (YAML) written by the run; a section may start an instance on a variant of it. */
  configFile: string;
  /** The throw-away database's connection string (the app's DATABASE_URL). */
  databaseUrl: string;
  /** One SQL statement on the throw-away database. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Starts another instance of the built app on the same database (e.g. behind a query-counting proxy). */
  startApp(env?: Record<string, string>): Promise<Server>;
  /** A streaming request on one arm with the mock's pace; `session` continues an app session; `port` picks another instance of the floor or the app. */
  stream(arm: ArmName, pace: Pace, options?: { session?: number; onFirstToken?: () => void; timeoutMs?: number; port?: number }): Promise<StreamSample>;
  /** A non-streamed send on the app (`stream: false`); resolves to the HTTP status. */
  complete(pace: Pace, timeoutMs?: number): Promise<number>;
  /** An HTTP agent for sections' own requests (keep-alive, no socket cap). */
  agent: http.Agent;
}

/** The mock's directive, read from the last user message (shared/perf's upstream-mock.mjs). */
export const directive = (pace: Pace) => `mock:${pace.ttftMs},${pace.itlMs},${pace.tokens}`;

/** Connects to PostgreSQL, runs one statement, disconnects. */
export async function sqlOnce<T>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}
