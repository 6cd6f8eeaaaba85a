/**
 * `npm run bench`: the built app next to the least work any chat relay must do.
 *
 * Starts the upstream mock (an OpenAI Chat Completions server with controllable pace), the floor relay (accept,
 * call the mock, parse every frame, re-emit SSE) and the built app (`dist/src/main.js`, NODE_ENV=production,
 * OPENAI_BASE_URL pointed at the mock) on a throw-away PostgreSQL database, runs the sections of
 * bench/sections/index.ts in order, and prints one table: each figure for the floor and the app, their ratio, the
 * target and whether it is met. Absolute times swing ±30 % between runs on a shared 2-core machine; ratios measured
 * side by side in one run do not, so the arms run in interleaved rounds.
 *
 * Env: DATABASE_URL (any database on the server to use; default postgres://postgres@127.0.0.1:5432/postgres; the
 * bench creates `chat_bench_<pid>` there and drops it at the end), BENCH_ONLY / BENCH_SKIP (comma-separated section
 * names), and each section's counts (see bench/README.md). Only 127.0.0.1 is contacted; the run gives up after
 * BENCH_DEADLINE_S (default 900) seconds.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ArmName,
  BENCH_JWT_SECRET,
  Bench,
  Pace,
  ROOT,
  Row,
  Server,
  directive,
  envInt,
  freePort,
  request,
  sqlOnce,
  startInstrument,
  stop,
  timedStream,
  waitForHealth,
  NODE,
} from './harness';
import { SECTIONS } from './sections';

/** The app's configuration for the run: rate limits out of the way, one model on the mock. */
const BENCH_CONFIG = `# Written by bench/run.ts: no rate limit in the way; one OpenAI-compatible model served by the upstream mock.
default_model: openai/bench-mock
limits:
  provider_first_token_timeout_ms: 120000
  provider_idle_timeout_ms: 120000
rate_limits:
  window_seconds: 60
  unauthenticated_per_ip: 100000000
  auth_per_ip: 100000000
  tiers:
    free: { requests: 100000000, sends: 100000000 }
providers:
  openai:
    base_url: http://127.0.0.1:9/v1
    base_url_env: OPENAI_BASE_URL
    api_key_env: OPENAI_API_KEY
models:
  - id: openai/bench-mock
    context_window: 128000
    max_output_tokens: 4096
    pricing: { input_per_1m: 0.15, output_per_1m: 0.60 }
`;

/**
 * Variables that would point the app at something else than the mock and the throw-away database, or turn on
 * tracing and the metrics endpoint (the observability section turns them on for one instance of its own).
 */
const FOREIGN_VARS = /^(OPENAI|ANTHROPIC|GOOGLE|GEMINI|GROQ|MISTRAL|DEEPSEEK|OPENROUTER|OLLAMA|S3|OTEL|METRICS)_|^(REDIS_URL|DEFAULT_MODEL|ADMIN_EMAIL|ADMIN_PASSWORD|CONFIG_FILE|DATA_DIR|DATABASE_POOL_SIZE|PORT|HOST)$/;

const PROMPT = 'Tell me a story about a lighthouse keeper.';

/** Every child the run started, so a deadline or an error stops them all. */
const started: Server[] = [];

function selected(name: string): boolean {
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
  const skip = process.env.BENCH_SKIP?.split(',').map((s) => s.trim()) ?? [];
  return (!only?.length || only.includes(name)) && !skip.includes(name);
}

function printTable(groups: { title: string; rows: Row[] }[]): void {
  const header = ['measure', 'floor', 'app', 'app/floor', 'target', 'met'];
  const lines: string[][] = [header];
  const titleRows = new Set<number>();
  for (const group of groups) {
    titleRows.add(lines.length);
    lines.push([group.title, '', '', '', '', '']);
    for (const r of group.rows) {
      lines.push([`  ${r.measure}`, r.floor ?? '', r.app, r.ratio ?? '', r.target ?? '', r.met === undefined ? '' : r.met ? 'yes' : 'NO']);
    }
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l, n) => (titleRows.has(n) && i === 0 ? 0 : l[i].length))));
  for (const [n, l] of lines.entries()) {
    if (titleRows.has(n)) console.log(l[0]);
    else console.log(l.map((cell, i) => (i === 0 || i >= 4 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd());
  }
}

async function main(): Promise<void> {
  for (const key of Object.keys(process.env)) if (FOREIGN_VARS.test(key)) delete process.env[key];
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const host = new URL(adminUrl).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost') throw new Error(`DATABASE_URL must be on 127.0.0.1, not ${host}`);
  const dbName = `chat_bench_${process.pid}`;
  const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();
  const workDir = mkdtempSync(join(tmpdir(), 'chat-backend-bench-'));
  const configFile = join(workDir, 'bench.config.yaml');
  writeFileSync(configFile, BENCH_CONFIG);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  await sqlOnce(adminUrl, `CREATE DATABASE ${dbName}`);
  try {
    const direct = await startInstrument('upstream-mock.mjs', {});
    started.push(direct);
    const floor = await startInstrument('floor-relay.mjs', { UP: `http://127.0.0.1:${direct.port}` });
    started.push(floor);
    const stack = await startInstrument('stack-floor.ts', { UP: `http://127.0.0.1:${direct.port}`, JWT_SECRET: BENCH_JWT_SECRET });
    started.push(stack);

    const startApp = async (env: Record<string, string> = {}): Promise<Server> => {
      const port = await freePort();
      // BENCH_PROFILE_DIR=<dir>: each app instance writes a V8 CPU profile there when it stops (open it in Chrome's DevTools).
      const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
      const child = spawn(NODE, [...profile, join(ROOT, 'dist', 'src', 'main.js')], {
        cwd: workDir,
        env: {
          ...process.env,
          NODE_ENV: 'production',
          PORT: String(port),
          HOST: '127.0.0.1',
          JWT_SECRET: BENCH_JWT_SECRET,
          CONFIG_FILE: configFile,
          DATA_DIR: workDir,
          DATABASE_URL: databaseUrl,
          OPENAI_API_KEY: 'sk-bench',
          OPENAI_BASE_URL: `http://127.0.0.1:${direct.port}/v1`,
          ...env,
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      const server: Server = { port, pid: child.pid!, process: child };
      started.push(server);
      await waitForHealth(port, 60_000, child);
      return server;
    };
    const app = await startApp();

    const registered = await request({
      port: app.port,
      path: '/v1/auth/register',
      method: 'POST',
      body: JSON.stringify({ email: `bench-${Date.now()}@example.com`, password: 'correct horse battery' }),
      timeoutMs: 10_000,
      agent,
    });
    if (registered.status !== 201) throw new Error(`register answered ${registered.status}: ${registered.body}`);
    const token = (JSON.parse(registered.body) as { access_token: string }).access_token;

    const bench: Bench = {
      direct,
      floor,
      stack,
      app,
      token,
      configFile,
      databaseUrl,
      agent,
      startApp,
      sql: (text, params) => sqlOnce(databaseUrl, text, params),
      stream: (arm: ArmName, pace: Pace, options = {}) => {
        const timeoutMs = options.timeoutMs ?? 60_000;
        const text = `${PROMPT} ${directive(pace)}`;
        if (arm === 'direct') {
          return timedStream({
            port: direct.port,
            path: '/v1/chat/completions',
            body: JSON.stringify({ model: 'mock', stream: true, messages: [{ role: 'user', content: text }] }),
            tokenMarker: ' tok',
            endMarker: '[DONE]',
            timeoutMs,
            agent,
            onFirstToken: options.onFirstToken,
          });
        }
        if (arm === 'stack') {
          return timedStream({
            port: options.port ?? stack.port,
            path: '/chat',
            headers: { Authorization: `Bearer ${token}` },
            body: JSON.stringify({ messages: [{ role: 'user', content: text }], stream: true }),
            tokenMarker: 'data: ',
            endMarker: '[DONE]',
            timeoutMs,
            agent,
            onFirstToken: options.onFirstToken,
          });
        }
        if (arm === 'floor') {
          return timedStream({ port: options.port ?? floor.port, path: '/chat', body: text, tokenMarker: 'event: token', endMarker: 'event: done', timeoutMs, agent, onFirstToken: options.onFirstToken });
        }
        return timedStream({
          port: options.port ?? app.port,
          path: '/v1/chat/stream',
          headers: { Authorization: `Bearer ${token}` },
          body: JSON.stringify({
            messages: [{ role: 'user', content: text }],
            stream: true,
            ...(options.session && { session_id: options.session }),
          }),
          // The default SSE format: `data: <piece>` events, the first one the first piece of the answer.
          tokenMarker: 'data: ',
          endMarker: '[DONE]',
          timeoutMs,
          agent,
          onFirstToken: options.onFirstToken,
        });
      },
      complete: async (pace: Pace, timeoutMs = 30_000) => {
        try {
          const res = await request({
            port: app.port,
            path: '/v1/chat/stream',
            method: 'POST',
            headers: { Authorization: `Bearer ${token}` },
            body: JSON.stringify({ messages: [{ role: 'user', content: `${PROMPT} ${directive(pace)}` }], stream: false }),
            timeoutMs,
            agent,
          });
          return res.status;
        } catch {
          return 0;
        }
      },
    };

    // Warm-up: JIT, pools and keep-alive sockets on every arm.
    for (let i = 0; i < 20; i++) {
      for (const arm of ['direct', 'floor', 'stack', 'app'] as const) {
        const sample = await bench.stream(arm, { ttftMs: 0, itlMs: 0, tokens: 5 });
        if (!sample.ok) throw new Error(`warm-up on ${arm} failed: ${sample.error}`);
      }
    }

    const pg = (await bench.sql<{ server_version: string }>('SHOW server_version'))[0].server_version;
    console.log(`chat-backend bench: Node ${process.version}, PostgreSQL ${pg} (${dbName}), ${new Date().toISOString()}`);
    console.log('floor = the floor relay (bench/floor-relay.mjs); stack = the stack floor (bench/stack-floor.ts); app = dist/src/main.js; all in front of bench/upstream-mock.mjs\n');

    const groups: { title: string; rows: Row[] }[] = [];
    for (const section of SECTIONS.filter((s) => selected(s.name))) {
      const sectionStarted = Date.now();
      process.stderr.write(`bench: ${section.name}… `);
      try {
        groups.push({ title: `${section.title} [${section.name}]`, rows: await section.run(bench) });
      } catch (err) {
        groups.push({ title: `${section.title} [${section.name}]`, rows: [{ measure: `failed: ${(err as Error).message}`, app: '', met: false }] });
      }
      process.stderr.write(`${((Date.now() - sectionStarted) / 1000).toFixed(0)} s\n`);
    }
    printTable(groups);
    if (groups.some((g) => g.rows.some((r) => r.met === false))) console.log('\nSome targets are not met (met = NO).');
  } finally {
    agent.destroy();
    for (const server of started.reverse()) await stop(server);
    await sqlOnce(adminUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((err: Error) => console.error(`bench: could not drop ${dbName}: ${err.message}`));
    rmSync(workDir, { recursive: true, force: true });
  }
}

const deadline = setTimeout(() => {
  console.error('bench: gave up at BENCH_DEADLINE_S (the throw-away database chat_bench_<pid> may be left behind)');
  for (const server of started) server.process.kill('SIGKILL');
  process.exit(1);
}, envInt('BENCH_DEADLINE_S', 900, 3600) * 1000);
deadline.unref();

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
