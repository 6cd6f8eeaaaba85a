import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ArmName, Bench, Pace, Row, Section, Server, StreamSample, envInt, ms, percentile, seeded, stop } from '../harness';

type Arm = 'off' | 'on';

/** The tier line of the run's configuration (bench/run.ts), and the same tier with every budget set, none in reach. */
const TIER_LINE = '    free: { requests: 100000000, sends: 100000000 }';
const TIER_WITH_BUDGETS =
  '    free: { requests: 100000000, sends: 100000000, tokens_per_minute: 1000000000, daily_tokens: 1000000000000, ' +
  'daily_cost_usd: 1000000, monthly_cost_usd: 10000000, allowed_models: ["openai/*"], max_output_tokens: 4096 }';

/**
 * `rounds` rounds of `concurrency` streams at once on each arm (the order alternates); the samples of each arm.
 * `stream` is one stream on one arm.
 */
async function interleaved(rounds: number, concurrency: number, stream: (arm: Arm, pace: Pace) => Promise<StreamSample>, pace: (random: () => number) => Pace) {
  const samples: Record<Arm, StreamSample[]> = { off: [], on: [] };
  const random = seeded(concurrency + 7);
  for (let round = 0; round < rounds; round++) {
    const paces = Array.from({ length: concurrency }, () => pace(random));
    for (const arm of round % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
      samples[arm].push(...(await Promise.all(paces.map((p) => stream(arm, p)))));
    }
  }
  return samples;
}

/** The first two distinct failures of either arm, for the errors row. */
function causes(...arms: StreamSample[][]): string {
  const seen = [...new Set(arms.flat().filter((s) => !s.ok).map((s) => s.error))].slice(0, 2);
  return seen.length ? ` (${seen.join('; ')})` : '';
}

/**
 * Added first-byte time (on − off) at one concurrency, as table rows. The target is judged on the median of the
 * rounds' paired differences (each round's p50 on − p50 off, the two arms run back to back): the machine's load
 * drifts between rounds, and pairing takes that drift out, as the difference of the two overall p50s does not.
 */
function rows(label: string, samples: Record<Arm, StreamSample[]>, concurrency: number): Row[] {
  const first = (arm: Arm) => samples[arm].filter((s) => s.ok).map((s) => s.ttftMs);
  const p = (arm: Arm, q: number) => percentile(first(arm), q);
  const roundsOf = (arm: Arm) =>
    Array.from({ length: Math.floor(samples[arm].length / concurrency) }, (_, r) => samples[arm].slice(r * concurrency, (r + 1) * concurrency));
  const on = roundsOf('on');
  const off = roundsOf('off');
  const paired = on.map((round, r) => {
    const ok = (arm: StreamSample[]) => arm.filter((s) => s.ok).map((s) => s.ttftMs);
    return percentile(ok(round), 50) - percentile(ok(off[r]), 50);
  });
  const added = percentile(paired, 50);
  const errors = (arm: Arm) => samples[arm].filter((s) => !s.ok).length;
  return [
    {
      measure: `${label}: first byte p50, no budgets (floor column) / every budget (app column)`,
      floor: ms(p('off', 50)),
      app: ms(p('on', 50)),
    },
    { measure: `${label}: added first byte p50, median of ${paired.length} paired rounds (every budget − none)`, app: ms(added), target: '≤ 1 ms', met: added <= 1 && errors('on') === 0 },
    { measure: `${label}: difference of the p50s / of the p99s`, app: `${ms(p('on', 50) - p('off', 50))} / ${ms(p('on', 99) - p('off', 99))}` },
    {
      measure: `${label}: errors (of ${samples.on.length} per arm)`,
      floor: String(errors('off')),
      app: `${errors('on')}${causes(samples.on, samples.off)}`,
    },
  ];
}

/**
 * What the budget checks add to a send's first byte: two extra instances of the built app, both with `REDIS_URL`
 * (rate limits on Redis in both), one whose tier sets every budget (`tokens_per_minute`, `daily_tokens`,
 * `daily_cost_usd`, `monthly_cost_usd`, `allowed_models`, `max_output_tokens`; none within reach, so nothing is
 * refused) and one with none. Each send on the first reserves its worst case against four counters in one Lua
 * script before the provider is called and settles it after. Concurrency 1 (BENCH_BUDGETS_C1_ROUNDS rounds of 10
 * tokens paced 20 ms) and 50 (BENCH_BUDGETS_C50_ROUNDS rounds of 50 streams, 20–60 tokens paced 20 ms), the arms
 * alternating round by round. Redis: BENCH_REDIS_URL (`redis://127.0.0.1:6379/11`).
 */
export const budgets: Section = {
  name: 'budgets',
  title: 'Budget checks: every budget on (app column) against none (floor column), both on Redis',
  async run(bench: Bench) {
    const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/11';
    const base = readFileSync(bench.configFile, 'utf8');
    if (!base.includes(TIER_LINE)) throw new Error('the run\'s configuration has no tier line to change');
    const own = `budgets:\n  redis_key_prefix: "bench-budgets-${randomUUID()}:"\n`;
    const dir = dirname(bench.configFile);
    const offFile = join(dir, 'bench.budgets-off.yaml');
    const onFile = join(dir, 'bench.budgets-on.yaml');
    writeFileSync(offFile, base + own);
    writeFileSync(onFile, base.replace(TIER_LINE, TIER_WITH_BUDGETS) + own);
    const servers: Record<Arm, Server> = {
      off: await bench.startApp({ REDIS_URL: redisUrl, CONFIG_FILE: offFile }),
      on: await bench.startApp({ REDIS_URL: redisUrl, CONFIG_FILE: onFile }),
    };
    try {
      const stream = (arm: Arm, pace: Pace) => bench.stream('app' satisfies ArmName, pace, { port: servers[arm].port, timeoutMs: 60_000 });
      // Warm-up: JIT, pools, the Lua script cached by Redis, the counters of the windows created.
      for (let i = 0; i < 20; i++) for (const arm of ['off', 'on'] as const) await stream(arm, { ttftMs: 0, itlMs: 0, tokens: 5 });
      const c1 = await interleaved(envInt('BENCH_BUDGETS_C1_ROUNDS', 60), 1, stream, () => ({ ttftMs: 0, itlMs: 20, tokens: 10 }));
      const c50 = await interleaved(envInt('BENCH_BUDGETS_C50_ROUNDS', 16), 50, stream, (random) => ({ ttftMs: 0, itlMs: 20, tokens: 20 + Math.floor(random() * 41) }));
      return [...rows('C=1', c1, 1), ...rows('C=50', c50, 50)];
    } finally {
      await stop(servers.on);
      await stop(servers.off);
    }
  },
};
