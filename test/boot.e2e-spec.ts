import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_ENV } from './support/app';
import { databaseUrl, DB_PREFIX, prepareWorkerDatabase } from './support/database';
import { buildEntryPoint, EntryPointProcess, freePort, spawnEntryPoint } from './support/entry-point';

/**
 * The real entry point, built as `npm run build` builds it and run as `npm run start:prod` runs `dist/src/main.js`:
 * its first line is JSON and comes within a second of the spawn (bounded at FIRST_LINE_BOUND_MS here, headroom for a
 * loaded machine); a bad configuration stops start-up with one fatal line listing every problem and exit code 1; an
 * unreachable database is reported attempt by attempt, then as one error line and exit code 1; a good configuration
 * serves, and SIGTERM shuts it down cleanly with exit code 0; a crash while serving leaves one fatal line first.
 */
const FIRST_LINE_BOUND_MS = 2_000;

/** Resolves with ms from spawn to the first stdout chunk (the first log line), or NaN when the process wrote none. */
function firstLineAfter(run: EntryPointProcess, spawnedAt: number): Promise<number> {
  return new Promise((resolve) => {
    run.child.stdout!.once('data', () => resolve(performance.now() - spawnedAt));
    run.child.once('exit', () => resolve(NaN));
  });
}

/** Resolves with the exit, or with `'timeout'` after `ms` (the process is then killed). */
async function exitWithin(run: EntryPointProcess, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  const result = await Promise.race([run.exited, timeout]);
  clearTimeout(timer);
  if (result === 'timeout') run.child.kill('SIGKILL');
  return result;
}

describe('boot (src/main.ts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-backend-boot-'));
  const running: EntryPointProcess[] = [];
  let built: string;

  beforeAll(async () => {
    built = await buildEntryPoint();
  }, 60_000);

  afterAll(() => {
    for (const r of running) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    if (built) rmSync(built, { recursive: true, force: true });
  });

  it('refuses a bad configuration with exit code 1 and one fatal JSON line listing every problem, without a stack trace', async () => {
    const configFile = join(dir, 'bad.yaml');
    writeFileSync(
      configFile,
      [
        'models:',
        '  - id: gpt-4o',
        '    context_window: 128000',
        '    max_output_tokens: 16384',
        '    pricing: { input_per_1m: 2.5, output_per_1m: 10 }',
        '',
      ].join('\n'),
    );
    // An unknown LOG_LEVEL is one of the problems, not a crash of the logger before its first line.
    const run = spawnEntryPoint({ PORT: 'abc', LOG_LEVEL: 'loud', NODE_ENV: 'production', CONFIG_FILE: configFile, DATA_DIR: join(dir, 'data') }, built);
    running.push(run);

    const exit = await exitWithin(run, 40_000);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(run.stderr()).not.toMatch(/^\s{4}at /m);
    expect(run.stdout()).not.toMatch(/^\s{4}at /m);
    // Every line is JSON: the starting line, then one fatal line that lists the problems, in its message too.
    const entries = run.stdout().trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; problems?: string[] });
    expect(entries.map((e) => e.level)).toEqual([30, 60]);
    const fatal = entries[1];
    expect(fatal.msg).toMatch(/^start-up failed: the configuration has 4 problems: /);
    const lines = fatal.problems!;
    expect(lines).toHaveLength(4);
    expect(lines.filter((l) => l.startsWith('LOG_LEVEL') && l.includes('loud'))).toHaveLength(1);
    for (const problem of lines) expect(fatal.msg).toContain(problem);
    const portLines = lines.filter((l) => /\bPORT\b/.test(l));
    expect(portLines).toHaveLength(1);
    expect(portLines[0]).toContain('abc');
    expect(lines.filter((l) => /\bJWT_SECRET\b/.test(l))).toHaveLength(1);
    const modelLines = lines.filter((l) => l.includes('gpt-4o'));
    expect(modelLines).toHaveLength(1);
    expect(modelLines[0]).toMatch(/provider\/model/);
  }, 45_000);

  it('writes its first JSON line within the bound, says where it connects before every attempt, then one error line and exit 1; never the password', async () => {
    const port = await freePort(); // nothing listens there
    const spawnedAt = performance.now();
    const run = spawnEntryPoint({
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      JWT_SECRET: TEST_ENV.JWT_SECRET,
      CONFIG_FILE: TEST_ENV.CONFIG_FILE,
      DATABASE_URL: `postgres://someone:hunter2-secret@127.0.0.1:${port}/chat`,
      DATABASE_CONNECT_ATTEMPTS: '3',
      DATABASE_CONNECT_RETRY_MS: '50',
      DATA_DIR: join(dir, 'data'),
    }, built);
    running.push(run);
    const firstLineMs = await firstLineAfter(run, spawnedAt);
    const exit = await exitWithin(run, 50_000);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(firstLineMs).toBeLessThan(FIRST_LINE_BOUND_MS);
    const entries = run.stdout().trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; context?: string });
    expect(entries[0]).toMatchObject({ level: 30, msg: 'starting chat-backend', node: process.version, tracing: false });
    const attempts = entries.filter((e) => e.context === 'Database' && e.msg.startsWith(`connecting to the database at 127.0.0.1:${port}`));
    expect(attempts.map((e) => e.msg)).toEqual([
      `connecting to the database at 127.0.0.1:${port}`,
      `connecting to the database at 127.0.0.1:${port} (attempt 2 of 3; the last one failed: connect ECONNREFUSED 127.0.0.1:${port})`,
      `connecting to the database at 127.0.0.1:${port} (attempt 3 of 3; the last one failed: connect ECONNREFUSED 127.0.0.1:${port})`,
    ]);
    expect(entries.some((e) => e.context === 'TypeOrmModule')).toBe(false);
    const errors = entries.filter((e) => e.level >= 50);
    expect(errors.map((e) => e.msg)).toEqual([
      `could not connect to the database at 127.0.0.1:${port} after 3 attempts: connect ECONNREFUSED 127.0.0.1:${port}`,
    ]);
    expect(run.stdout()).not.toContain('hunter2');
  }, 60_000);

  it('a database that does not exist (3D000): no retries, one error line naming it and what to fix, exit 1, no stack trace', async () => {
    const missing = `${DB_PREFIX}_does_not_exist`;
    const run = spawnEntryPoint({
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      JWT_SECRET: TEST_ENV.JWT_SECRET,
      CONFIG_FILE: TEST_ENV.CONFIG_FILE,
      DATABASE_URL: databaseUrl(missing),
      DATABASE_CONNECT_ATTEMPTS: '5',
      DATABASE_CONNECT_RETRY_MS: '2000',
      DATA_DIR: join(dir, 'data'),
    }, built);
    running.push(run);
    const started = performance.now();
    const exit = await exitWithin(run, 40_000);
    expect(exit).toEqual({ code: 1, signal: null });
    // Not 5 attempts 2 s apart: a missing database does not appear by waiting.
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(run.stderr()).not.toMatch(/^\s{4}at /m);
    expect(run.stdout()).not.toMatch(/^\s{4}at /m);
    const entries = run.stdout().trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; context?: string });
    expect(entries.filter((e) => e.context === 'Database' && e.msg.startsWith('connecting'))).toHaveLength(1);
    const errors = entries.filter((e) => e.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0].msg).toContain(`3D000 database "${missing}" does not exist`);
    expect(errors[0].msg).toMatch(/create that database .* or fix the database name in DATABASE_URL/);
    expect(JSON.stringify(errors[0])).not.toMatch(/\n\s+at /);
  }, 45_000);

  it('refuses a configuration with an unknown key, naming the key and its path on one line', async () => {
    const configFile = join(dir, 'unknown-key.yaml');
    writeFileSync(configFile, ['rate_limits:', '  tiers:', '    free: { requests: 10, sends: 2, daily_budget_usd: 5 }', ''].join('\n'));
    const run = spawnEntryPoint({ CONFIG_FILE: configFile, DATA_DIR: join(dir, 'data-unknown-key') }, built);
    running.push(run);

    const exit = await exitWithin(run, 40_000);
    expect(exit).toEqual({ code: 1, signal: null });
    const lines = run.stdout().split('\n').filter((l) => l.includes('daily_budget_usd'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('rate_limits.tiers.free.daily_budget_usd: unknown key');
  }, 45_000);

  it('a crash after start-up leaves one fatal JSON line naming the error before Node exits non-zero', async () => {
    // A module preloaded into the real entry point throws from a timer once the app is serving: an uncaught
    // exception no code of ours catches, as a bug in a dependency's callback would be.
    const crasher = join(dir, 'crash-when-listening.js');
    writeFileSync(
      crasher,
      `const http = require('node:http');
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (...args) {
  this.once('listening', () => setTimeout(() => { throw new Error('induced crash 7f3a'); }, 50));
  return listen.apply(this, args);
};`,
    );
    const port = await freePort();
    const run = spawnEntryPoint({
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      NODE_OPTIONS: `--require ${crasher}`,
      HOST: '127.0.0.1',
      PORT: String(port),
      JWT_SECRET: TEST_ENV.JWT_SECRET,
      CONFIG_FILE: TEST_ENV.CONFIG_FILE,
      DATABASE_URL: await prepareWorkerDatabase(),
      DATA_DIR: join(dir, 'data-crash'),
    }, built);
    running.push(run);

    const exit = await exitWithin(run, 40_000);
    expect(exit).not.toBe('timeout');
    expect(exit).toEqual({ code: 1, signal: null });
    const entries = run.stdout().trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; origin?: string; err?: { message: string } });
    const fatal = entries.filter((e) => e.level === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0].msg).toBe('crashed: induced crash 7f3a');
    expect(fatal[0].origin).toBe('uncaughtException');
    expect(fatal[0].err?.message).toBe('induced crash 7f3a');
    // It is the last line: nothing of ours ran after the crash.
    expect(entries.at(-1)).toBe(fatal[0]);
  }, 60_000);

  it('starts with a good configuration, answers /health, and exits 0 soon after SIGTERM', async () => {
    const port = await freePort();
    const run = spawnEntryPoint({
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(port),
      JWT_SECRET: TEST_ENV.JWT_SECRET,
      CONFIG_FILE: TEST_ENV.CONFIG_FILE,
      DATABASE_URL: await prepareWorkerDatabase(),
      DATA_DIR: join(dir, 'data'),
    }, built);
    running.push(run);

    const deadline = Date.now() + 40_000;
    while (!/successfully started|listening/i.test(run.stdout()) && Date.now() < deadline && run.child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(run.stdout()).toMatch(/successfully started|listening/i);

    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const signalledAt = Date.now();
    run.child.kill('SIGTERM');
    const exit = await exitWithin(run, 5_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(5_000);
    expect(run.stderr()).not.toMatch(/^\s{4}at /m);
  }, 60_000);
});
