import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import http from 'node:http';
import { Bench, Pace, Row, Section, Server, envInt, percentile, pool, procStats, ms, times } from '../harness';

/** CPU ms the instance spent on `count` streams of `pace` at `concurrency`, and how many failed. */
async function cpuFor(bench: Bench, server: Server, count: number, concurrency: number, pace: Pace) {
  const before = procStats(server.pid).cpuMs;
  const samples = await pool(count, concurrency, () => bench.stream('app', pace, { port: server.port }));
  return { cpuMs: procStats(server.pid).cpuMs - before, errors: samples.filter((s) => !s.ok).length };
}

/** ms from sending `GET /v1/chat/messages/{id}/events` to the first byte of the replay. */
function resumeFirstByte(bench: Bench, server: Server, messageId: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.get(
      { host: '127.0.0.1', port: server.port, path: `/v1/chat/messages/${messageId}/events?after=1`, agent: bench.agent, headers: { Authorization: `Bearer ${bench.token}` }, timeout: 10_000 },
      (res) => {
        res.once('data', () => resolve(performance.now() - started));
        res.on('end', () => resolve(performance.now() - started));
        res.resume();
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('resume timed out')));
  });
}

/**
 * The answers' event log on Redis against the in-process one, measured on two instances of the built app side by
 * side, both with `REDIS_URL` (rate limits, budgets and stop requests on Redis in both), one of them keeping its
 * log in process (`streams.shared_log: false`): added time to first byte at concurrency 1 (BENCH_DURABLE_ROUNDS
 * rounds of 10 paced tokens, the arms alternating), CPU per relayed piece (BENCH_CPU_PACED_REQUESTS streams of 100
 * tokens paced 20 ms at C=50, less a 1-token stream's cost), and resume latency (request → first replayed byte) of
 * finished answers on each.
 */
export const durable: Section = {
  name: 'durable',
  title: 'Answers\' event log: on Redis (app column) against in-process (floor column), both instances on Redis otherwise',
  async run(bench) {
    const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/11';
    // Both instances use Redis for everything else (rate limits, budgets, stop requests); only the log differs.
    const prefix = `bench-answers-${randomUUID()}:`;
    const localLog = join(dirname(bench.configFile), 'bench.local-log.yaml');
    writeFileSync(localLog, `${readFileSync(bench.configFile, 'utf8')}streams:\n  shared_log: false\n`);
    const memory = await bench.startApp({ REDIS_URL: redisUrl, STREAMS_KEY_PREFIX: prefix, CONFIG_FILE: localLog });
    const redis = await bench.startApp({ REDIS_URL: redisUrl, STREAMS_KEY_PREFIX: prefix });
    const arms = { memory, redis };
    const rounds = envInt('BENCH_DURABLE_ROUNDS', 40);
    const ttft: Record<'memory' | 'redis', number[]> = { memory: [], redis: [] };
    for (let round = 0; round < rounds; round++) {
      for (const arm of round % 2 ? (['redis', 'memory'] as const) : (['memory', 'redis'] as const)) {
        const s = await bench.stream('app', { ttftMs: 0, itlMs: 20, tokens: 10 }, { port: arms[arm].port, timeoutMs: 30_000 });
        if (s.ok) ttft[arm].push(s.ttftMs);
      }
    }
    const tokens = 100;
    const paced = envInt('BENCH_CPU_PACED_REQUESTS', 100);
    const perPiece = async (server: Server) => {
      const fixed = await cpuFor(bench, server, paced, 10, { ttftMs: 0, itlMs: 0, tokens: 1 });
      const streamed = await cpuFor(bench, server, paced, 50, { ttftMs: 0, itlMs: 20, tokens });
      return { us: ((streamed.cpuMs - fixed.cpuMs) / paced / (tokens - 1)) * 1000, errors: fixed.errors + streamed.errors };
    };
    // Two rounds, the arms alternating, so the machine's swings hit both.
    const cpuMemory = { us: 0, errors: 0 };
    const cpuRedis = { us: 0, errors: 0 };
    for (let round = 0; round < 2; round++) {
      for (const arm of round % 2 ? (['redis', 'memory'] as const) : (['memory', 'redis'] as const)) {
        const measured = await perPiece(arms[arm]);
        const total = arm === 'redis' ? cpuRedis : cpuMemory;
        total.us += measured.us / 2;
        total.errors += measured.errors;
      }
    }

    // Resume the newest finished answers, each on the instance that ran it (the in-process log lives there).
    const resume: Record<'memory' | 'redis', number[]> = { memory: [], redis: [] };
    for (const arm of ['memory', 'redis'] as const) {
      for (let i = 0; i < 20; i++) await bench.stream('app', { ttftMs: 0, itlMs: 0, tokens: 20 }, { port: arms[arm].port });
      const ids = await bench.sql<{ id: number }>("SELECT id FROM messages WHERE role = 'assistant' AND status = 'complete' ORDER BY id DESC LIMIT 20");
      for (const { id } of ids) resume[arm].push(await resumeFirstByte(bench, arms[arm], id));
    }
    const p = (values: number[], q: number) => percentile(values, q);
    const addedP50 = p(ttft.redis, 50) - p(ttft.memory, 50);
    const rows: Row[] = [
      { measure: 'C=1 time to first byte p50', floor: ms(p(ttft.memory, 50)), app: ms(p(ttft.redis, 50)), ratio: times(p(ttft.redis, 50), p(ttft.memory, 50)), target: 'Redis adds ≤ 1 ms p50', met: addedP50 <= 1 },
      { measure: 'C=1 time to first byte p99', floor: ms(p(ttft.memory, 99)), app: ms(p(ttft.redis, 99)), ratio: times(p(ttft.redis, 99), p(ttft.memory, 99)) },
      {
        measure: 'CPU per relayed piece (paced 20 ms, 100 tokens, C=50)',
        floor: `${cpuMemory.us.toFixed(0)} µs`,
        app: `${cpuRedis.us.toFixed(0)} µs`,
        ratio: times(cpuRedis.us, cpuMemory.us, 0.001),
        target: 'Redis adds ≤ 10 %',
        met: cpuRedis.us <= cpuMemory.us * 1.1,
      },
      { measure: 'resume: request → first replayed byte p50', floor: ms(p(resume.memory, 50)), app: ms(p(resume.redis, 50)), target: '≤ 10 ms p50', met: p(resume.redis, 50) <= 10 && p(resume.memory, 50) <= 10 },
    ];
    if (cpuMemory.errors + cpuRedis.errors) rows.push({ measure: 'errors during the CPU runs', floor: String(cpuMemory.errors), app: String(cpuRedis.errors) });
    return rows;
  },
};
