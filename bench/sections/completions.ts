import { Pace, Row, Section, StreamSample, directive, envInt, ms, percentile, timedStream, times } from '../harness';

/** The same prompt as the other arms' (bench/run.ts). */
const PROMPT = 'Tell me a story about a lighthouse keeper.';

type Arm = 'direct' | 'stream' | 'completions' | 'completions-store';
const ARMS: Arm[] = ['direct', 'stream', 'completions', 'completions-store'];

/**
 * `POST /v1/chat/completions` (OpenAI's format, stateless and `store: true`) beside `POST /v1/chat/stream`: time to
 * the first byte of the answer's body at concurrency 1 (10 tokens paced 20 ms), the arms in interleaved rounds
 * (BENCH_COMPLETIONS_ROUNDS, default 40; the order rotates). Both are transports over the same turn engine, so
 * their first-byte p50 should be within 10 %.
 */
export const completions: Section = {
  name: 'completions',
  title: 'First byte: /v1/chat/completions (app) beside /v1/chat/stream (floor column), C=1',
  async run(bench) {
    const pace: Pace = { ttftMs: 0, itlMs: 20, tokens: 10 };
    const text = `${PROMPT} ${directive(pace)}`;
    const completion = (store: boolean) =>
      timedStream({
        port: bench.app.port,
        path: '/v1/chat/completions',
        headers: { Authorization: `Bearer ${bench.token}` },
        body: JSON.stringify({
          model: 'openai/bench-mock',
          messages: [{ role: 'user', content: text }],
          stream: true,
          stream_options: { include_usage: true },
          ...(store && { store: true }),
        }),
        // The first event on the wire (the role chunk goes out with the first piece of text).
        tokenMarker: 'data: ',
        endMarker: '[DONE]',
        timeoutMs: 30_000,
        agent: bench.agent,
      });
    const run: Record<Arm, () => Promise<StreamSample>> = {
      direct: () => bench.stream('direct', pace, { timeoutMs: 30_000 }),
      stream: () => bench.stream('app', pace, { timeoutMs: 30_000 }),
      completions: () => completion(false),
      'completions-store': () => completion(true),
    };
    const samples: Record<Arm, StreamSample[]> = { direct: [], stream: [], completions: [], 'completions-store': [] };
    const rounds = envInt('BENCH_COMPLETIONS_ROUNDS', 40);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < ARMS.length; k++) {
        const arm = ARMS[(round + k) % ARMS.length];
        samples[arm].push(await run[arm]());
      }
    }
    const p50 = (arm: Arm) => percentile(samples[arm].filter((s) => s.ok).map((s) => s.ttftMs), 50);
    const errors = (arm: Arm) => samples[arm].filter((s) => !s.ok).length;
    const rows: Row[] = [];
    for (const arm of ['completions', 'completions-store'] as const) {
      const label = arm === 'completions' ? 'stateless' : 'store: true';
      rows.push({
        measure: `first byte p50, ${label}`,
        floor: ms(p50('stream')),
        app: ms(p50(arm)),
        ratio: times(p50(arm), p50('stream')),
        target: '≤ 1.1× /v1/chat/stream',
        met: p50(arm) <= 1.1 * p50('stream') && errors(arm) === 0,
      });
    }
    rows.push({ measure: 'first byte p50, the mock alone (direct)', app: ms(p50('direct')) });
    rows.push({
      measure: `errors (of ${rounds} per arm): stream / stateless / store`,
      floor: String(errors('stream')),
      app: `${errors('completions')} / ${errors('completions-store')}`,
    });
    return rows;
  },
};
