import { Row, Section, envInt, pool, times } from '../harness';

/**
 * Non-streamed sends per second at concurrency 10: the app answering `stream: false` (one JSON object) against the
 * floor relaying the same 20-token answer (the floor has only a streaming path). BENCH_THROUGHPUT_REQUESTS per arm
 * and round, two rounds, arms alternating.
 */
export const throughput: Section = {
  name: 'throughput',
  title: 'Non-streamed sends per second, C=10',
  async run(bench) {
    const count = envInt('BENCH_THROUGHPUT_REQUESTS', 400);
    const pace = { ttftMs: 0, itlMs: 0, tokens: 20 };
    const rate = { floor: [] as number[], app: [] as number[] };
    const errors = { floor: 0, app: 0 };
    for (let round = 0; round < 2; round++) {
      for (const arm of round % 2 ? (['app', 'floor'] as const) : (['floor', 'app'] as const)) {
        const started = performance.now();
        const ok =
          arm === 'app'
            ? await pool(count, 10, async () => (await bench.complete(pace)) === 200)
            : await pool(count, 10, async () => (await bench.stream('floor', pace)).ok);
        rate[arm].push(count / ((performance.now() - started) / 1000));
        errors[arm] += ok.filter((x) => !x).length;
      }
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const rows: Row[] = [
      {
        measure: 'sends per second (floor: its streaming path)',
        floor: mean(rate.floor).toFixed(0),
        app: mean(rate.app).toFixed(0),
        ratio: times(mean(rate.app), mean(rate.floor)),
        target: '≥ 0.3× floor',
        met: mean(rate.app) >= 0.3 * mean(rate.floor),
      },
    ];
    if (errors.floor + errors.app) rows.push({ measure: 'errors', floor: String(errors.floor), app: String(errors.app) });
    return rows;
  },
};
