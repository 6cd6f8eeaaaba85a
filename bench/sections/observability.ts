import http from 'node:http';
import { AddressInfo } from 'node:net';
import { BENCH_JWT_SECRET, Bench, Pace, Row, Section, Server, envInt, ms, percentile, pool, procStats, request, startInstrument, stop, times } from '../harness';

/** The metrics token of the instrumented instance (any 16+ characters). */
const METRICS_TOKEN = 'bench-metrics-token-0123456789';

/**
 * A stand-in OTLP/HTTP collector: answers 200 with an empty body to `POST /v1/traces` (what the SDK's OTLP/HTTP
 * exporter sends, OTLP specification "OTLP/HTTP") and counts the exports and their bytes; 404 for anything else.
 */
async function startCollector() {
  const received = { exports: 0, bytes: 0 };
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        received.exports++;
        received.bytes += bytes;
        res.writeHead(200, { 'Content-Type': req.headers['content-type'] ?? 'application/x-protobuf' }).end();
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections()) };
}

type Arm = 'off' | 'on';

/** How long the SDK's batch span processor may hold spans before exporting them (its 5 s default, and a margin). */
const EXPORT_SETTLE_MS = 5500;

/**
 * CPU ms each instance spent while both served `count` streams of `pace` at `concurrency` each, at the same time
 * (so the machine's other load weighs on both alike), and what failed; then waits until the last spans are exported,
 * so their cost counts in this phase.
 */
async function cpuOfBoth(bench: Bench, arms: Record<Arm, Server>, count: number, concurrency: number, pace: Pace) {
  const before = { off: procStats(arms.off.pid).cpuMs, on: procStats(arms.on.pid).cpuMs };
  const [off, on] = await Promise.all((['off', 'on'] as const).map((arm) => pool(count, concurrency, () => bench.stream('app', pace, { port: arms[arm].port }))));
  await new Promise((resolve) => setTimeout(resolve, EXPORT_SETTLE_MS));
  const result = (arm: Arm, samples: typeof off) => {
    const failed = samples.filter((s) => !s.ok);
    return { cpuMs: procStats(arms[arm].pid).cpuMs - before[arm], errors: failed.length, causes: failed.map((s) => s.error ?? 'unknown') };
  };
  return { off: result('off', off), on: result('on', on) };
}

/**
 * Metrics and tracing on against off, on two fresh instances of the built app side by side: "off" has no
 * `METRICS_TOKEN` and no `OTEL_*` (the Prometheus registry still counts in-process: it is always on, only its
 * endpoint is gated); "on" has `METRICS_TOKEN` with `/metrics` scraped every BENCH_OBS_SCRAPE_MS (default 1,000 ms,
 * far more often than a Prometheus would) throughout, and the OpenTelemetry SDK exporting every span over OTLP/HTTP
 * to a stand-in collector in this process (sampling always on, the SDK's default batch processor). Measures the
 * added time to first byte at C=1 (BENCH_OBS_TTFT_ROUNDS rounds of one 3-token answer on each arm, the order
 * alternating; the difference of the p50s and the median of each round's difference), and CPU per relayed piece:
 * BENCH_OBS_CPU_ROUNDS rounds, in each of which both instances serve BENCH_OBS_STREAMS streams (default 50) of
 * BENCH_OBS_TOKENS tokens (default 500) paced 20 ms at C=50 at the same time, less as many 1-token streams at C=10
 * (their fixed cost), each phase counting until its spans are exported.
 */
export const observability: Section = {
  name: 'observability',
  title: 'Metrics and tracing on (app column) against off (floor column)',
  async run(bench) {
    const collector = await startCollector();
    // BENCH_OBS_CPU_PROF=<dir>: each instance writes a V8 CPU profile there when it stops (`node --cpu-prof`).
    const profileDir = process.env.BENCH_OBS_CPU_PROF;
    const profile = (name: string): Record<string, string> =>
      profileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir} --cpu-prof-name=${name}.cpuprofile` } : {};
    const otel = {
      OTEL_SERVICE_NAME: 'chat-backend-bench',
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}`,
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    };
    const arms: Record<Arm, Server> = {
      off: await bench.startApp(profile('observability-off')),
      on: await bench.startApp({ ...profile('observability-on'), METRICS_TOKEN, ...otel }),
    };
    // The stack floor (bench/stack-floor.ts) with and without the same tracing: what the SDK and its
    // instrumentations add to a bare NestJS route that calls the OpenAI SDK, before any span of the app's own.
    const bareUp = { UP: `http://127.0.0.1:${bench.direct.port}`, JWT_SECRET: BENCH_JWT_SECRET };
    const bare: Record<Arm, Server> = {
      off: await startInstrument('stack-floor.ts', bareUp),
      on: await startInstrument('stack-floor.ts', { ...bareUp, ...otel }),
    };
    const scrapes = { ok: 0, failed: 0, bytes: 0 };
    const scrapeEvery = envInt('BENCH_OBS_SCRAPE_MS', 1000, 60_000);
    let scraping = true;
    const scraper = (async () => {
      while (scraping) {
        const res = await request({ port: arms.on.port, path: '/metrics', headers: { Authorization: `Bearer ${METRICS_TOKEN}` }, timeoutMs: 10_000, agent: bench.agent }).catch(() => undefined);
        if (res?.status === 200) {
          scrapes.ok++;
          scrapes.bytes = res.body.length;
        } else scrapes.failed++;
        await new Promise((resolve) => setTimeout(resolve, scrapeEvery));
      }
    })();
    try {
      // Warm-up: JIT, the pools, and the SDK's first export.
      for (let i = 0; i < 30; i++) {
        for (const arm of ['off', 'on'] as const) {
          await bench.stream('app', { ttftMs: 0, itlMs: 0, tokens: 5 }, { port: arms[arm].port });
          await bench.stream('stack', { ttftMs: 0, itlMs: 0, tokens: 5 }, { port: bare[arm].port });
        }
      }

      const order = (round: number): Arm[] => (round % 2 ? ['on', 'off'] : ['off', 'on']);
      const ttft: Record<Arm, number[]> = { off: [], on: [] };
      // Each round's pair (on − off, sent one after the other) sees the same moment of a shared machine's load.
      const pairs: number[] = [];
      const barePairs: number[] = [];
      const rounds = envInt('BENCH_OBS_TTFT_ROUNDS', 200);
      for (let round = 0; round < rounds; round++) {
        const pair: Partial<Record<Arm, number>> = {};
        const barePair: Partial<Record<Arm, number>> = {};
        for (const arm of order(round)) {
          const s = await bench.stream('app', { ttftMs: 0, itlMs: 20, tokens: 3 }, { port: arms[arm].port, timeoutMs: 30_000 });
          if (s.ok) ttft[arm].push((pair[arm] = s.ttftMs));
        }
        for (const arm of order(round)) {
          const s = await bench.stream('stack', { ttftMs: 0, itlMs: 20, tokens: 3 }, { port: bare[arm].port, timeoutMs: 30_000 });
          if (s.ok) barePair[arm] = s.ttftMs;
        }
        if (pair.on !== undefined && pair.off !== undefined) pairs.push(pair.on - pair.off);
        if (barePair.on !== undefined && barePair.off !== undefined) barePairs.push(barePair.on - barePair.off);
      }

      // Long answers, so the pieces' CPU outweighs the per-request CPU it is separated from several times over.
      const tokens = envInt('BENCH_OBS_TOKENS', 500, 5000);
      const paced = envInt('BENCH_OBS_STREAMS', 50, 1000);
      const cpuRounds = envInt('BENCH_OBS_CPU_ROUNDS', 6, 50);
      const cpu: Record<Arm, { fixed: number; streamed: number; errors: number; causes: Set<string> }> = {
        off: { fixed: 0, streamed: 0, errors: 0, causes: new Set() },
        on: { fixed: 0, streamed: 0, errors: 0, causes: new Set() },
      };
      for (let round = 0; round < cpuRounds; round++) {
        const fixedOfBoth = await cpuOfBoth(bench, arms, paced, 10, { ttftMs: 0, itlMs: 0, tokens: 1 });
        const streamedOfBoth = await cpuOfBoth(bench, arms, paced, 50, { ttftMs: 0, itlMs: 20, tokens });
        for (const arm of ['off', 'on'] as const) {
          const fixed = fixedOfBoth[arm];
          const streamed = streamedOfBoth[arm];
          cpu[arm].fixed += fixed.cpuMs;
          cpu[arm].streamed += streamed.cpuMs;
          cpu[arm].errors += fixed.errors + streamed.errors;
          for (const cause of [...fixed.causes, ...streamed.causes]) cpu[arm].causes.add(cause);
        }
      }
      const streams = paced * cpuRounds;
      const perPieceUs = (arm: Arm) => ((cpu[arm].streamed - cpu[arm].fixed) / streams / (tokens - 1)) * 1000;
      const perRequestMs = (arm: Arm) => cpu[arm].fixed / streams;

      const p = (arm: Arm, q: number) => percentile(ttft[arm], q);
      const addedP50 = p('on', 50) - p('off', 50);
      const pairedP50 = percentile(pairs, 50);
      const off = perPieceUs('off');
      const on = perPieceUs('on');
      const rows: Row[] = [
        { measure: 'C=1 time to first byte p50', floor: ms(p('off', 50)), app: ms(p('on', 50)), ratio: times(p('on', 50), p('off', 50)), target: 'adds ≤ 0.5 ms p50', met: addedP50 <= 0.5 },
        { measure: 'C=1 time to first byte: median of paired differences (on − off)', app: ms(pairedP50) },
        {
          measure: 'the same on the stack floor, tracing only (its http, Express and undici spans)',
          app: `${ms(percentile(barePairs, 50))} (${barePairs.length} pairs)`,
        },
        { measure: 'C=1 time to first byte p99', floor: ms(p('off', 99)), app: ms(p('on', 99)), ratio: times(p('on', 99), p('off', 99)) },
        {
          measure: `CPU per relayed piece (paced 20 ms, ${tokens} tokens, C=50)`,
          floor: `${off.toFixed(1)} µs`,
          app: `${on.toFixed(1)} µs`,
          ratio: times(on, off, 0.001),
          target: 'adds ≤ 5 %',
          met: on <= off * 1.05,
        },
        { measure: 'CPU per request (a 1-token stream, C=10)', floor: `${perRequestMs('off').toFixed(2)} ms`, app: `${perRequestMs('on').toFixed(2)} ms`, ratio: times(perRequestMs('on'), perRequestMs('off'), 0.001) },
        { measure: 'scrapes of /metrics during the run (ok / failed; last size)', app: `${scrapes.ok} / ${scrapes.failed}; ${(scrapes.bytes / 1024).toFixed(0)} KB` },
        { measure: 'OTLP exports the collector received (requests; bytes)', app: `${collector.received.exports}; ${(collector.received.bytes / 1024).toFixed(0)} KB` },
      ];
      if (cpu.off.errors + cpu.on.errors) {
        const causes = (arm: Arm) => (cpu[arm].causes.size ? ` (${[...cpu[arm].causes].slice(0, 2).join('; ')})` : '');
        rows.push({ measure: 'errors during the CPU runs', floor: `${cpu.off.errors}${causes('off')}`, app: `${cpu.on.errors}${causes('on')}` });
      }
      return rows;
    } finally {
      scraping = false;
      await scraper;
      await stop(arms.on);
      await stop(arms.off);
      await stop(bare.on);
      await stop(bare.off);
      await collector.close();
    }
  },
};
