import Redis from 'ioredis';
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { startApp, TestApp } from './support/app';
import { writeTestConfig } from './support/test-config';
import { registerUser, TestUser } from './support/users';

/**
 * A Redis outage, for real: a private `redis-server` on a free port that the test kills (or pauses) and restarts
 * while the app runs against it. While Redis is out of reach every Redis-backed route answers 503 problem+json with
 * `Retry-After` within milliseconds — not after waiting for reconnection attempts — and works again once Redis is
 * back, without a restart of the app.
 */

/** The typical answer time promised while Redis is down; measured from the client, over a kept-alive connection. */
const FAIL_FAST_MS = 100;
/** No single answer may take longer than this, even on a loaded machine. */
const MAX_MS = 1_000;
/** `redis.command_timeout_ms` of this file's app: the wait a paused Redis may cost the first requests. */
const COMMAND_TIMEOUT_MS = 300;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Starts `redis-server` on `port` without persistence; resolves once it accepts connections. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 10_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
  });
  child.stdout.resume();
  return child;
}

async function stopRedis(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

interface Timed {
  status: number;
  ms: number;
  type: string | null;
  retryAfter: string | null;
  body: string;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

describe('Redis outage: fail fast, recover by itself', () => {
  let redis: ChildProcess | undefined;
  let port: number;
  let t: TestApp;
  let alice: TestUser;
  let sessionId: number;

  const call = async (method: string, path: string, token?: string, body?: unknown): Promise<Timed> => {
    const started = performance.now();
    const res = await fetch(`${t.url}${path}`, {
      method,
      headers: { ...(token && { Authorization: `Bearer ${token}` }), ...(body !== undefined && { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, ms: performance.now() - started, type: res.headers.get('content-type'), retryAfter: res.headers.get('retry-after'), body: text };
  };
  const send = (token: string) => call('POST', '/v1/chat/stream', token, { stream: false, session_id: sessionId, messages: [{ role: 'user', content: 'hi' }] });
  /** One request to each kind of Redis-backed route. */
  const routes = (): Promise<Timed>[] => [
    call('GET', '/v1/chat/sessions', alice.token),
    call('GET', '/config'),
    call('POST', '/v1/auth/login', undefined, { email: alice.email, password: 'correct horse battery' }),
    call('GET', '/v1/users/me/limits', alice.token),
    send(alice.token),
  ];
  const expectRedis503 = (res: Timed) => {
    expect(res.status).toBe(503);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.retryAfter).toBe('1');
    expect(JSON.parse(res.body)).toMatchObject({ status: 503, detail: expect.stringContaining('Redis') });
  };
  /** Polls until every route answers as Redis up would; at most `withinMs`. @returns ms it took */
  const recovered = async (withinMs: number): Promise<number> => {
    const started = performance.now();
    for (;;) {
      const answers = await Promise.all(routes());
      if (answers.every((a) => a.status === 200)) return performance.now() - started;
      if (performance.now() - started > withinMs) throw new Error(`not recovered after ${withinMs} ms: ${answers.map((a) => a.status).join(',')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    const configFile = writeTestConfig((c) => {
      c.redis = { command_timeout_ms: COMMAND_TIMEOUT_MS, connect_timeout_ms: 500, reconnect_max_delay_ms: 200 };
      // A budget, so sends and GET /v1/users/me/limits read and write counters in Redis.
      c.rate_limits.tiers.free.tokens_per_minute = 1_000_000;
    });
    // A database index other than 0, so reconnections must select it again before the connection is ready.
    t = await startApp({ CONFIG_FILE: configFile, REDIS_URL: `redis://127.0.0.1:${port}/3` });
    alice = await registerUser(t.url);
    const first = await call('POST', '/v1/chat/stream', alice.token, { stream: false, messages: [{ role: 'user', content: 'hi' }] });
    expect(first.status).toBe(200);
    sessionId = JSON.parse(first.body).session_id;
  });
  afterAll(async () => {
    await t?.close();
    if (redis && redis.signalCode === null && redis.exitCode === null) redis.kill('SIGCONT');
    await stopRedis(redis);
  });

  it('with Redis up, the limited routes answer normally and carry the RateLimit header', async () => {
    const res = await fetch(`${t.url}/v1/chat/sessions`, { headers: { Authorization: `Bearer ${alice.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit')).toMatch(/"requests";r=\d+/);
    for (const answer of await Promise.all(routes())) expect(answer.status).toBe(200);
  });

  it('Redis killed: every Redis-backed route answers 503 at once, however long the outage lasts', async () => {
    await stopRedis(redis);
    const times: number[] = [];
    const started = performance.now();
    // 2.5 s of outage: the old client's waits grew with each reconnection attempt; these must not.
    while (performance.now() - started < 2_500) {
      for (const res of await Promise.all(routes())) {
        expectRedis503(res);
        times.push(res.ms);
      }
      const ready = await call('GET', '/health/ready');
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body)).toMatchObject({ checks: { redis: 'down' } });
      times.push(ready.ms);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(times.length).toBeGreaterThanOrEqual(30);
    expect(median(times)).toBeLessThanOrEqual(FAIL_FAST_MS);
    expect(Math.max(...times)).toBeLessThanOrEqual(MAX_MS);
    // Liveness never depended on Redis.
    expect((await call('GET', '/health')).status).toBe(200);
  });

  it('Redis back on the same port: the routes work again within seconds, without a restart', async () => {
    redis = await startRedis(port);
    const ms = await recovered(5_000);
    expect(ms).toBeLessThan(5_000);
    const ready = await call('GET', '/health/ready');
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'ok', checks: { redis: 'up' } });
  });

  it('Redis paused (accepts connections, answers nothing): the first requests wait at most the command timeout, then 503 at once', async () => {
    redis!.kill('SIGSTOP');
    try {
      const first = await call('GET', '/v1/chat/sessions', alice.token);
      expectRedis503(first);
      expect(first.ms).toBeLessThanOrEqual(COMMAND_TIMEOUT_MS + MAX_MS);
      // The silent connection was dropped: from now on nothing waits for it.
      await new Promise((r) => setTimeout(r, 50));
      const times: number[] = [];
      for (let i = 0; i < 4; i++) {
        for (const res of await Promise.all(routes())) {
          expectRedis503(res);
          times.push(res.ms);
        }
      }
      expect(median(times)).toBeLessThanOrEqual(FAIL_FAST_MS);
      expect(Math.max(...times)).toBeLessThanOrEqual(COMMAND_TIMEOUT_MS + MAX_MS);
    } finally {
      redis!.kill('SIGCONT');
    }
    expect(await recovered(5_000)).toBeLessThan(5_000);
  });
});

describe('Redis out of reach at start-up', () => {
  let redis: ChildProcess | undefined;
  let t: TestApp;

  afterAll(async () => {
    await t?.close();
    await stopRedis(redis);
  });

  it('the app starts anyway, answers 503 at once, and works as soon as Redis comes up', async () => {
    const port = await freePort();
    const configFile = writeTestConfig((c) => {
      c.redis = { connect_timeout_ms: 200, reconnect_max_delay_ms: 200 };
    });
    t = await startApp({ CONFIG_FILE: configFile, REDIS_URL: `redis://127.0.0.1:${port}` });
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      const res = await fetch(`${t.url}/config`);
      times.push(performance.now() - started);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
    }
    expect(median(times)).toBeLessThanOrEqual(FAIL_FAST_MS);

    redis = await startRedis(port);
    const started = performance.now();
    let status = 0;
    while (status !== 200 && performance.now() - started < 5_000) {
      status = (await fetch(`${t.url}/config`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(200);
    const ready = await fetch(`${t.url}/health/ready`);
    expect(ready.status).toBe(200);

    // Its subscribers (stop requests, auth invalidations) subscribed once Redis was there, though their first
    // connection attempts failed.
    const probe = new Redis(`redis://127.0.0.1:${port}`);
    try {
      const channels = ['answers:cancel', 'chat-backend:auth-invalidation'];
      let counts: number[] = [];
      for (let i = 0; i < 50; i++) {
        const reply = (await probe.call('PUBSUB', 'NUMSUB', ...channels)) as (string | number)[];
        counts = [Number(reply[1]), Number(reply[3])];
        if (counts.every((n) => n >= 1)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(counts).toEqual([1, 1]);
    } finally {
      probe.disconnect();
    }
  });
});
