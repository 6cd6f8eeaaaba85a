import http from 'node:http';
import { Row, Section, Server, directive, envInt, freePort, procStats, sleep, startInstrument, stop, times } from '../harness';

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

/** A full garbage collection in the process, so a reading counts what is alive, not what awaits collection. */
type CollectGarbage = () => Promise<void>;

/** The floor relay (started with `--expose-gc`) collects on `GET /stats?gc`. */
function floorCollector(server: Server): CollectGarbage {
  return async () => {
    await fetch(`http://127.0.0.1:${server.port}/stats?gc`).then((r) => r.text());
  };
}

/**
 * The app, started with `--inspect=127.0.0.1:<port>`, collects on the Chrome DevTools Protocol's
 * `HeapProfiler.collectGarbage`, over one inspector session opened before the first reading (the session's own
 * memory is then part of the baseline).
 */
async function inspectorCollector(inspectPort: number): Promise<{ collect: CollectGarbage; close: () => void }> {
  const [target] = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const collect = () =>
    new Promise<void>((resolve, reject) => {
      const mine = ++id;
      const timer = setTimeout(() => reject(new Error('no answer to HeapProfiler.collectGarbage within 30 s')), 30_000);
      ws.onmessage = (event) => {
        if ((JSON.parse(String(event.data)) as { id?: number }).id !== mine) return;
        clearTimeout(timer);
        resolve();
      };
      ws.send(JSON.stringify({ id: mine, method: 'HeapProfiler.collectGarbage' }));
    });
  return { collect, close: () => ws.close() };
}

/**
 * Opens `count` streams whose answer will not start for 100 s, in two equal halves, and measures the relay's
 * resident memory before, between and after, each time after a full garbage collection; then drops them all. A stream counts as open once its response
 * headers arrived or, for one that sends none before the first token, when it has not failed 3 s after the last
 * one was sent.
 *
 * The first half also pays once-per-process costs: V8 grows its young generation to its maximum (Node 22 and
 * later size it from the machine's memory: up to 64 MB per semi-space here) the first time a burst allocates, and
 * whether the idle-time memory reducer shrank it before the start decides whether that reads as 100+ KB per
 * stream or not at all. The second half's growth is what one more stream costs: that is the figure judged.
 */
async function rssPerStream(server: Server, arm: 'floor' | 'app', count: number, token: string, collect: CollectGarbage) {
  const reading = async () => {
    await collect();
    return settledRss(server.pid);
  };
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const requests: http.ClientRequest[] = [];
  let failed = 0;
  let headers = 0;
  const content = `Tell me a story. ${directive({ ttftMs: 100_000, itlMs: 0, tokens: 1 })}`;
  const open = async (n: number) => {
    const target = requests.length + n;
    for (let i = 0; i < n; i++) {
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
    while (headers + failed < target && performance.now() < waitUntil) await sleep(100);
    if (headers + failed < target) await sleep(3000);
  };
  const half = Math.floor(count / 2);
  const before = await reading();
  await open(half);
  const middle = await reading();
  const failedFirst = failed;
  await open(count - half);
  const after = await reading();
  const failedWhileOpen = failed;
  for (const req of requests) req.destroy();
  agent.destroy();
  await sleep(2000);
  const openFirst = half - failedFirst;
  const openSecond = count - half - (failedWhileOpen - failedFirst);
  return {
    kbPerStream: openSecond > 0 ? (after - middle) / openSecond : NaN,
    kbPerStreamFromFresh: openFirst + openSecond > 0 ? (after - before) / (openFirst + openSecond) : NaN,
    failed: failedWhileOpen,
  };
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
    let inspector: Awaited<ReturnType<typeof inspectorCollector>> | undefined;
    try {
      const inspectPort = await freePort();
      appServer = await bench.startApp({ NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}` });
      inspector = await inspectorCollector(inspectPort);
      for (let i = 0; i < 20; i++) {
        await bench.stream('floor', short, { port: floorServer.port });
        await bench.stream('app', short, { port: appServer.port });
      }
      const floor = await rssPerStream(floorServer, 'floor', count, bench.token, floorCollector(floorServer));
      const app = await rssPerStream(appServer, 'app', count, bench.token, inspector.collect);
      const half = Math.floor(count / 2);
      const rows: Row[] = [
        {
          measure: `RSS per idle stream (streams ${half + 1}–${count})`,
          floor: `${floor.kbPerStream.toFixed(0)} KB`,
          app: `${app.kbPerStream.toFixed(0)} KB`,
          ratio: times(app.kbPerStream, floor.kbPerStream),
          target: '≤ 96 KB',
          met: app.kbPerStream <= 96 && app.failed === 0,
        },
        {
          measure: `  from the fresh process (all ${count}, once-per-process growth included)`,
          floor: `${floor.kbPerStreamFromFresh.toFixed(0)} KB`,
          app: `${app.kbPerStreamFromFresh.toFixed(0)} KB`,
          ratio: times(app.kbPerStreamFromFresh, floor.kbPerStreamFromFresh),
        },
      ];
      if (floor.failed + app.failed) rows.push({ measure: 'streams refused or failed while opening', floor: String(floor.failed), app: String(app.failed) });
      return rows;
    } finally {
      inspector?.close();
      await stop(appServer);
      await stop(floorServer);
    }
  },
};
