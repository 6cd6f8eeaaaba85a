import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Bench, Row, Section, envInt, freePort, ms, percentile, request, sleep, stop } from '../harness';

/** Starts a private `redis-server` (no persistence) on `port`; resolves once it accepts connections. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start within 10 s')), 10_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)));
  });
  child.stdout.resume();
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

/**
 * A Redis outage under a second app instance whose `REDIS_URL` points at a private `redis-server`: the time of each
 * answer to a rate-limited route while Redis is killed (every one must be a 503, the promise being ≤ 100 ms each),
 * then while it is paused (SIGSTOP: the connection stays open and silent; the first requests may wait
 * `redis.command_timeout_ms`, the rest must not), and how long the routes take to work again once it is back.
 */
export const redisOutage: Section = {
  name: 'redis-outage',
  title: 'Redis outage: answer times of a rate-limited route (GET /v1/chat/sessions), all 503',
  async run(bench: Bench) {
    const count = envInt('BENCH_REDIS_REQUESTS', 300, 10_000);
    const port = await freePort();
    let redis = await startRedis(port);
    const app = await bench.startApp({ REDIS_URL: `redis://127.0.0.1:${port}` });
    const get = () =>
      request({ port: app.port, path: '/v1/chat/sessions', headers: { Authorization: `Bearer ${bench.token}` }, timeoutMs: 10_000, agent: bench.agent });
    /** `count` requests one after another; every one must answer 503. */
    const timed503 = async (n: number): Promise<number[]> => {
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const res = await get();
        if (res.status !== 503) throw new Error(`expected 503 while Redis is out of reach, got ${res.status}`);
        times.push(res.ms);
      }
      return times;
    };
    const recovery = async (): Promise<number> => {
      const started = performance.now();
      while (performance.now() - started < 30_000) {
        if ((await get()).status === 200) return performance.now() - started;
        await sleep(10);
      }
      throw new Error('the route did not work again within 30 s of Redis coming back');
    };
    try {
      for (let i = 0; i < 20; i++) if ((await get()).status !== 200) throw new Error('the route does not answer 200 with Redis up');

      await kill(redis);
      const killed = await timed503(count);
      redis = await startRedis(port);
      const afterKill = await recovery();

      redis.kill('SIGSTOP');
      const first = (await timed503(1))[0];
      const paused = await timed503(count);
      redis.kill('SIGCONT');
      const afterPause = await recovery();

      const rows: Row[] = [
        { measure: 'killed: p50 / p99 / max', app: `${ms(percentile(killed, 50))} / ${ms(percentile(killed, 99))} / ${ms(Math.max(...killed))}`, target: '≤ 100 ms each', met: Math.max(...killed) <= 100 },
        { measure: 'killed: back to 200 after restart', app: ms(afterKill), target: '≤ 3 s', met: afterKill <= 3_000 },
        { measure: 'paused: first request', app: ms(first), target: '≤ 500 ms + 100 ms', met: first <= 600 },
        { measure: 'paused: then p50 / p99 / max', app: `${ms(percentile(paused, 50))} / ${ms(percentile(paused, 99))} / ${ms(Math.max(...paused))}`, target: '≤ 100 ms each', met: Math.max(...paused) <= 100 },
        { measure: 'paused: back to 200 after SIGCONT', app: ms(afterPause), target: '≤ 3 s', met: afterPause <= 3_000 },
      ];
      return rows;
    } finally {
      if (redis.signalCode === null && redis.exitCode === null) redis.kill('SIGCONT');
      await stop(app);
      await kill(redis);
    }
  },
};
