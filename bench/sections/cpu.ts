import { Bench, Pace, Row, Section, envInt, pool, procStats, times } from '../harness';

/** CPU ms the arm's process spent on `count` requests at `concurrency`, and how many failed. */
async function cpuFor(bench: Bench, arm: 'floor' | 'stack' | 'app', count: number, concurrency: number, pace: Pace, session?: number) {
  const pid = bench[arm].pid;
  const before = procStats(pid).cpuMs;
  const samples = await pool(count, concurrency, () => bench.stream(arm, pace, { session }));
  return { cpuMs: procStats(pid).cpuMs - before, errors: samples.filter((s) => !s.ok).length };
}

/**
 * CPU per request and per token, from /proc/<pid>/stat (user + system time, 10 ms ticks) of the floor's and the
 * app's process: BENCH_CPU_REQUESTS streams of one token at concurrency 10 give the fixed cost of a request;
 * BENCH_CPU_PACED_REQUESTS streams of 100 tokens paced 20 ms at concurrency 50 give, less that, the cost of a token.
 * The stack floor gets the same two runs. Two rounds, the arms alternating.
 */
export const cpu: Section = {
  name: 'cpu',
  title: 'CPU of the relay process (/proc/<pid>/stat)',
  async run(bench) {
    const fixedCount = envInt('BENCH_CPU_REQUESTS', 300);
    const pacedCount = envInt('BENCH_CPU_PACED_REQUESTS', 100);
    const tokens = 100;
    const totals = {
      floor: { fixed: 0, paced: 0, existing: 0, errors: 0 },
      stack: { fixed: 0, paced: 0, existing: 0, errors: 0 },
      app: { fixed: 0, paced: 0, existing: 0, errors: 0 },
    };
    const onePiece = { ttftMs: 0, itlMs: 0, tokens: 1 };
    for (let round = 0; round < 2; round++) {
      for (const arm of round % 2 ? (['app', 'stack', 'floor'] as const) : (['floor', 'stack', 'app'] as const)) {
        const fixed = await cpuFor(bench, arm, fixedCount, 10, onePiece);
        if (arm === 'app') {
          // Sends into one existing session: no session to create and no title to make.
          const [{ id }] = await bench.sql<{ id: number }>('SELECT max(id) AS id FROM chat_sessions');
          const existing = await cpuFor(bench, arm, fixedCount, 10, onePiece, id);
          totals.app.existing += existing.cpuMs / (2 * fixedCount);
          totals.app.errors += existing.errors;
        }
        const paced = await cpuFor(bench, arm, pacedCount, 50, { ttftMs: 0, itlMs: 20, tokens });
        totals[arm].fixed += fixed.cpuMs / (2 * fixedCount);
        totals[arm].paced += paced.cpuMs / (2 * pacedCount);
        totals[arm].errors += fixed.errors + paced.errors;
      }
    }
    const perToken = (arm: 'floor' | 'stack' | 'app') => ((totals[arm].paced - totals[arm].fixed) / (tokens - 1)) * 1000;
    const rows: Row[] = [
      {
        measure: 'CPU per request (fixed: a 1-token stream)',
        floor: `${totals.floor.fixed.toFixed(2)} ms`,
        app: `${totals.app.fixed.toFixed(2)} ms`,
        ratio: times(totals.app.fixed, totals.floor.fixed, 0.001),
        target: '≤ 2 ms',
        met: totals.app.fixed <= 2,
      },
      {
        measure: 'CPU per request (the same, into an existing session)',
        floor: `${totals.floor.fixed.toFixed(2)} ms`,
        app: `${totals.app.existing.toFixed(2)} ms`,
        ratio: times(totals.app.existing, totals.floor.fixed, 0.001),
        target: '≤ 2 ms',
        met: totals.app.existing <= 2,
      },
      {
        measure: 'CPU per token (paced 20 ms, 100 tokens, C=50)',
        floor: `${perToken('floor').toFixed(0)} µs`,
        app: `${perToken('app').toFixed(0)} µs`,
        ratio: times(perToken('app'), perToken('floor'), 0.001),
      },
      {
        measure: "the stack floor's CPU per request (app column; a 1-token stream)",
        floor: `${totals.floor.fixed.toFixed(2)} ms`,
        app: `${totals.stack.fixed.toFixed(2)} ms`,
        ratio: times(totals.stack.fixed, totals.floor.fixed, 0.001),
      },
      {
        measure: "the stack floor's CPU per token (app column)",
        floor: `${perToken('floor').toFixed(0)} µs`,
        app: `${perToken('stack').toFixed(0)} µs`,
        ratio: times(perToken('stack'), perToken('floor'), 0.001),
      },
    ];
    if (totals.floor.errors + totals.stack.errors + totals.app.errors) {
      rows.push({ measure: 'errors during the CPU runs (the app; the stack floor)', floor: String(totals.floor.errors), app: `${totals.app.errors}; ${totals.stack.errors}` });
    }
    return rows;
  },
};
