import http from 'node:http';
import { Row, Section, Server, directive, envInt, procStats, sleep, startInstrument, stop, times } from '../harness';

/**
 * The process's RSS once it has stopped moving (within 1 MB over 2 s, at most 20 s): after a load the heap keeps
 * shrinking for a while, which would read as negative memory per stream.
 */
async function settledRss(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 40; i++) {
    samples.push(procStats(pid).rssKb);
    const recent = samples.slice(-5);
    if (recent.length === 5 && Math.max(...recent) - Math.min(...recent) < 1024) break;
    await sleep(500);
  }
  return samples[samples.length - 1];
}

/**
 * Opens `count` streams whose answer will not start for a minute and measures how much the relay's resident
 * memory grew per open stream; then drops them all. A stream counts as open once its response headers arrived or,
 * for one that sends none before the first token, when it has not failed 3 s after the last one was sent.
 */
async function rssPerStream(server: Server, arm: 'floor' | 'app', count: number, token: string) {
  const before = await settledRss(server.pid);
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const requests: http.ClientRequest[] = [];
  let failed = 0;
  let headers = 0;
  const content = `Tell me a story. ${directive({ ttftMs: 60_000, itlMs: 0, tokens: 1 })}`;
  for (let i = 0; i < count; i++) {
    const app = arm === 'app';
    const req = http.request({
      host: '127.0.0.1',
      port: server.port,
      path: app ? '/v1/chat/stream' : '/chat',
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'application/json', ...(app && { Authorization: `Bearer ${token}` }) },
    });
    req.on('response', (res) => {
      if (res.statusCode === 200) headers++;
      else failed++;
      res.resume();
    });
    req.on('error', () => failed++);
    req.end(app ? JSON.stringify({ messages: [{ role: 'user', content }], stream: true }) : content);
    requests.push(req);
    if (i % 50 === 49) await sleep(20); // opened over ~0.5 s per 1,000, not in one burst
  }
  const waitUntil = performance.now() + 15_000;
  while (headers + failed < count && performance.now() < waitUntil) await sleep(100);
  if (headers + failed < count) await sleep(3000);
  const after = procStats(server.pid).rssKb;
  const failedWhileOpen = failed;
  for (const req of requests) req.destroy();
  agent.destroy();
  await sleep(2000);
  const open = count - failedWhileOpen;
  return { kbPerStream: open > 0 ? (after - before) / open : NaN, failed: failedWhileOpen, open };
}

/**
 * RSS per idle open stream (BENCH_IDLE_STREAMS, default 1,000, at most 5,000), on a fresh floor and a fresh app
 * instance warmed by 20 short answers: a process that already served a big load reuses its free heap, and its RSS
 * would hardly move.
 */
export const idle: Section = {
  name: 'idle',
  title: 'Memory per idle open stream (RSS growth / streams, fresh processes)',
  async run(bench) {
    const count = envInt('BENCH_IDLE_STREAMS', 1000, 5000);
    const short = { ttftMs: 0, itlMs: 0, tokens: 5 };
    const floorServer = await startInstrument('floor-relay.mjs', { UP: `http://127.0.0.1:${bench.direct.port}` });
    let appServer: Server | undefined;
    try {
      appServer = await bench.startApp();
      for (let i = 0; i < 20; i++) {
        await bench.stream('floor', short, { port: floorServer.port });
        await bench.stream('app', short, { port: appServer.port });
      }
      const floor = await rssPerStream(floorServer, 'floor', count, bench.token);
      const app = await rssPerStream(appServer, 'app', count, bench.token);
      const rows: Row[] = [
        {
          measure: `RSS per idle stream (${count} open)`,
          floor: `${floor.kbPerStream.toFixed(0)} KB`,
          app: `${app.kbPerStream.toFixed(0)} KB`,
          ratio: times(app.kbPerStream, floor.kbPerStream),
          target: '≤ 96 KB',
          met: app.kbPerStream <= 96 && app.failed === 0,
        },
      ];
      if (floor.failed + app.failed) rows.push({ measure: 'streams refused or failed while opening', floor: String(floor.failed), app: String(app.failed) });
      return rows;
    } finally {
      await stop(appServer);
      await stop(floorServer);
    }
  },
};
