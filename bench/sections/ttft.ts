import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { ArmName, Bench, Pace, Row, Section, StreamSample, envInt, ms, percentile, seeded, times } from '../harness';

const ARMS: ArmName[] = ['direct', 'floor', 'stack', 'app'];

/**
 * Runs `rounds` rounds; in each, every arm in turn (the order rotates) gets `concurrency` requests at once with the
 * same paces. Returns each arm's samples.
 */
async function interleaved(bench: Bench, rounds: number, concurrency: number, pace: (random: () => number) => Pace, timeoutMs: number) {
  const samples: Record<ArmName, StreamSample[]> = { direct: [], floor: [], stack: [], app: [] };
  const random = seeded(concurrency);
  for (let round = 0; round < rounds; round++) {
    const paces = Array.from({ length: concurrency }, () => pace(random));
    for (let k = 0; k < ARMS.length; k++) {
      const arm = ARMS[(round + k) % ARMS.length];
      samples[arm].push(...(await Promise.all(paces.map((p) => bench.stream(arm, p, { timeoutMs })))));
    }
  }
  return samples;
}

/** Added time to first token (arm − direct) at one concurrency, as table rows. */
function rows(label: string, samples: Record<ArmName, StreamSample[]>, check: (app: Added, floor: Added, errors: number) => { target: string; met: boolean }): Row[] {
  const ttft = (arm: ArmName) => samples[arm].filter((s) => s.ok).map((s) => s.ttftMs);
  const added = (arm: ArmName, p: number) => percentile(ttft(arm), p) - percentile(ttft('direct'), p);
  const floor = { p50: added('floor', 50), p99: added('floor', 99) };
  const app = { p50: added('app', 50), p99: added('app', 99) };
  const stack = { p50: added('stack', 50), p99: added('stack', 99) };
  const errors = (arm: ArmName) => samples[arm].filter((s) => !s.ok).length;
  const { target, met } = check(app, floor, errors('app'));
  const causes = [...new Set(samples.app.filter((s) => !s.ok).map((s) => s.error))].slice(0, 2).join('; ');
  return [
    { measure: `${label}: added TTFT p50`, floor: ms(floor.p50), app: ms(app.p50), ratio: times(app.p50, floor.p50), target, met },
    { measure: `${label}: added TTFT p99`, floor: ms(floor.p99), app: ms(app.p99), ratio: times(app.p99, floor.p99) },
    { measure: `${label}: the stack floor's added TTFT p50 (app column)`, floor: ms(floor.p50), app: ms(stack.p50), ratio: times(stack.p50, floor.p50) },
    { measure: `${label}: the stack floor's added TTFT p99 (app column)`, floor: ms(floor.p99), app: ms(stack.p99), ratio: times(stack.p99, floor.p99) },
    { measure: `${label}: direct TTFT p50 / p99 (the mock alone)`, app: `${ms(percentile(ttft('direct'), 50))} / ${ms(percentile(ttft('direct'), 99))}` },
    {
      measure: `${label}: errors (of ${samples.app.length} per arm; the stack floor's after the app's)`,
      floor: String(errors('floor')),
      app: `${errors('app')}${causes ? ` (${causes})` : ''}; ${errors('stack')}`,
    },
  ];
}

/**
 * ms of `count` one-row INSERTs, each its own transaction, on one connection: the commit (WAL flush) a send waits
 * for before its provider call, as the machine's disk gives it right now.
 */
async function commitLatency(databaseUrl: string, count: number): Promise<number[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('CREATE TABLE IF NOT EXISTS bench_commit (id serial PRIMARY KEY, at timestamptz DEFAULT now())');
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      await client.query('INSERT INTO bench_commit DEFAULT VALUES');
      times.push(performance.now() - started);
    }
    await client.query('DROP TABLE bench_commit');
    return times;
  } finally {
    await client.end();
  }
}

interface Added {
  p50: number;
  p99: number;
}

/** Paced like a real model: 20 ms between tokens, 50–200 tokens. */
const paced = (random: () => number): Pace => ({ ttftMs: 0, itlMs: 20, tokens: 50 + Math.floor(random() * 151) });

/**
 * Added time to first token: how much later than the mock itself each relay delivers the first token (the stack floor's
 * rows show what NestJS, the JWT guard, validation and the OpenAI SDK alone add, measured in the same rounds), at
 * concurrency 1 (BENCH_TTFT_C1_ROUNDS, 10 paced tokens each), 100 and 500 (paced 20 ms, 50–200 tokens; rounds
 * BENCH_TTFT_C100_ROUNDS, BENCH_TTFT_C500_ROUNDS).
 */
export const ttft: Section = {
  name: 'ttft',
  title: 'Time to first token added to the mock\'s (arm − direct)',
  async run(bench) {
    const c1 = await interleaved(bench, envInt('BENCH_TTFT_C1_ROUNDS', 40), 1, () => ({ ttftMs: 0, itlMs: 20, tokens: 10 }), 30_000);
    const commit = await commitLatency(bench.databaseUrl, 40);
    const c100 = await interleaved(bench, envInt('BENCH_TTFT_C100_ROUNDS', 2), 100, paced, 60_000);
    const c500 = await interleaved(bench, envInt('BENCH_TTFT_C500_ROUNDS', 1), 500, paced, 120_000);
    return [
      ...rows('C=1', c1, (app) => ({ target: '≤ 3 ms p50', met: app.p50 <= 3 })),
      {
        measure: 'C=1: one-row INSERT commit on this PostgreSQL p50 / p99 (a send waits for one)',
        app: `${ms(percentile(commit, 50))} / ${ms(percentile(commit, 99))}`,
      },
      ...rows('C=100', c100, (app, floor) => ({
        target: '≤ 3× floor p50 and p99',
        met: app.p50 <= 3 * Math.max(floor.p50, 1) && app.p99 <= 3 * Math.max(floor.p99, 1),
      })),
      ...rows('C=500', c500, (app, floor, errors) => ({ target: '≤ 5× floor p50, 0 errors', met: app.p50 <= 5 * Math.max(floor.p50, 1) && errors === 0 })),
    ];
  },
};
