import { readFileSync, writeFileSync } from 'node:fs';
import net, { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { Bench, Pace, Row, Section, envInt, sleep, stop } from '../harness';

/**
 * A TCP proxy in front of PostgreSQL that counts the statements the app sends: simple-protocol Query ('Q') and
 * extended-protocol Execute ('E') messages (PostgreSQL docs, "Frontend/Backend Protocol", message formats). BEGIN and
 * COMMIT count, as they are round trips too.
 */
async function countingProxy(target: URL) {
  const counter = { queries: 0 };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    let buffer = Buffer.alloc(0);
    let startup = true;
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (startup) {
          if (buffer.length < 8) break;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) break;
          startup = buffer.readInt32BE(4) === 80877103; // SSLRequest: the real startup message follows
          buffer = buffer.subarray(length);
        } else {
          if (buffer.length < 5) break;
          const length = buffer.readInt32BE(1);
          if (buffer.length < 1 + length) break;
          if (buffer[0] === 0x51 || buffer[0] === 0x45) counter.queries++;
          buffer = buffer.subarray(1 + length);
        }
      }
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { counter, port: (server.address() as AddressInfo).port, close: () => server.close() };
}

/** Sends `count` answers one at a time and counts statements before the first token and in all (settled 300 ms). */
async function countPerSend(bench: Bench, port: number, counter: { queries: number }, count: number, session?: number) {
  // Paced, so the first token reaches the client before the answer ends (an answer sent in one burst is stored
  // before its first SSE write, and its last statements would count as "before the first token").
  const pace: Pace = { ttftMs: 0, itlMs: 5, tokens: 20 };
  let before = 0;
  let total = 0;
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const start = counter.queries;
    let atFirstToken = start;
    const sample = await bench.stream('app', pace, { port, session, onFirstToken: () => (atFirstToken = counter.queries) });
    await sleep(300); // background work of the send (titles, usage) lands too
    if (!sample.ok) failed++;
    before += atFirstToken - start;
    total += counter.queries - start;
  }
  return { before: before / count, after: (total - before) / count, failed };
}

/**
 * PostgreSQL statements per send, counted on the wire by a proxy in front of a second instance of the built app:
 * BENCH_QUERIES_SENDS sends that start a session (the title is written after the answer), then as many on one
 * existing session.
 */
export const queries: Section = {
  name: 'queries',
  title: 'PostgreSQL statements per send (counted on the wire)',
  async run(bench) {
    const count = envInt('BENCH_QUERIES_SENDS', 20);
    const proxy = await countingProxy(new URL(bench.databaseUrl));
    const url = Object.assign(new URL(bench.databaseUrl), { hostname: '127.0.0.1', port: String(proxy.port) }).toString();
    // Statements made per interval rather than per send are pushed past the run, so what is counted is the sends'
    // own: the instance's timers (the checkpoint of running answers with their heartbeat, the sweep of abandoned
    // ones: one statement each per interval for all answers) and the refresh of a cached caller (one per caller
    // every `auth.cache_ttl_ms`, 5 s by default, however many requests it makes).
    const config = join(dirname(bench.configFile), 'bench.queries.yaml');
    writeFileSync(
      config,
      `${readFileSync(bench.configFile, 'utf8')}streams:\n  checkpoint_ms: 600000\n  lease_ms: 1200000\n  sweep_interval_ms: 600000\nauth:\n  cache_ttl_ms: 300000\n`,
    );
    const app = await bench.startApp({ DATABASE_URL: url, CONFIG_FILE: config });
    try {
      for (let i = 0; i < 5; i++) await bench.stream('app', { ttftMs: 0, itlMs: 0, tokens: 5 }, { port: app.port });
      const fresh = await countPerSend(bench, app.port, proxy.counter, count);
      const [{ id }] = await bench.sql<{ id: number }>('SELECT max(id) AS id FROM chat_sessions');
      const existing = await countPerSend(bench, app.port, proxy.counter, count, id);
      const row = (label: string, r: typeof fresh): Row => ({
        measure: `${label}: before the first token / after it`,
        app: `${r.before.toFixed(1)} / ${r.after.toFixed(1)}${r.failed ? ` (${r.failed} failed)` : ''}`,
        target: '≤ 4 / ≤ 2',
        met: r.before <= 4 && r.after <= 2 && r.failed === 0,
      });
      return [row('new session (then titled)', fresh), row('existing session', existing)];
    } finally {
      await stop(app);
      proxy.close();
    }
  },
};
