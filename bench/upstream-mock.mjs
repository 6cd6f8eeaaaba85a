// Adapted from the project's shared perf instruments (shared/perf/upstream-mock.mjs, 2026-12-04); kept as close to the
// original as possible so figures stay comparable. Changes: PORT=0 takes an ephemeral port, and the chosen port is
// printed as JSON on stdout (`{"port":N}`) for bench/run.ts.
// Upstream mock: speaks OpenAI Chat Completions (SSE and JSON) with controllable timing, for side-by-side benchmarks.
// Parameters: x-mock-ttft / x-mock-itl / x-mock-tokens headers, else "mock:TTFT,ITL,TOKENS" (ms, ms, count) in the last
// user message, else env TTFT_MS / ITL_MS / TOKENS. GET /stats: requests, CPU, RSS.
import http from 'node:http';
const PORT = +(process.env.PORT ?? 9100);
const D = { ttft: +(process.env.TTFT_MS ?? 0), itl: +(process.env.ITL_MS ?? 0), tokens: +(process.env.TOKENS ?? 50) };
const sleep = (ms) => ms > 0 ? new Promise(r => setTimeout(r, ms)) : null;
let reqs = 0;
const srv = http.createServer(async (req, res) => {
  if (req.url.startsWith('/stats')) { if (req.url.includes('gc')) global.gc?.(); const cu = process.cpuUsage(); return res.end(JSON.stringify({ reqs, cpu_us: cu.user + cu.system, rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed })); }
  reqs++;
  let body = ''; for await (const c of req) body += c;
  let j = {}; try { j = JSON.parse(body || '{}'); } catch {}
  let dir = null; const msgs = j.messages || []; for (let k = msgs.length - 1; k >= 0; k--) if (msgs[k].role === 'user') { const m = /mock:(\d+),(\d+),(\d+)/.exec(msgs[k].content || ''); if (m) dir = m; break; }
  const ttft = +(req.headers['x-mock-ttft'] ?? (dir ? dir[1] : D.ttft)), itl = +(req.headers['x-mock-itl'] ?? (dir ? dir[2] : D.itl)), n = +(req.headers['x-mock-tokens'] ?? (dir ? dir[3] : D.tokens));
  const id = 'chatcmpl-mock', created = 1700000000, model = j.model || 'mock';
  if (!j.stream) { await sleep(ttft); const content = ' tok'.repeat(n);
    res.writeHead(200, {'content-type':'application/json'});
    return res.end(JSON.stringify({id, object:'chat.completion', created, model, choices:[{index:0, message:{role:'assistant', content}, finish_reason:'stop'}], usage:{prompt_tokens:10, completion_tokens:n, total_tokens:n+10}})); }
  res.writeHead(200, {'content-type':'text/event-stream', 'cache-control':'no-cache', connection:'keep-alive'});
  res.flushHeaders?.();
  const frame = (delta, fr=null, usage) => 'data: ' + JSON.stringify({id, object:'chat.completion.chunk', created, model, choices: usage ? [] : [{index:0, delta, finish_reason:fr}], ...(usage?{usage}:{})}) + '\n\n';
  await sleep(ttft);
  res.write(frame({role:'assistant', content:''}));
  for (let i = 0; i < n; i++) { if (i) await sleep(itl); if (res.destroyed) return; res.write(frame({content:' tok'})); }
  res.write(frame({}, 'stop'));
  res.write(frame(null, null, {prompt_tokens:10, completion_tokens:n, total_tokens:n+10}));
  res.end('data: [DONE]\n\n');
});
srv.keepAliveTimeout = 120000; srv.headersTimeout = 121000; srv.requestTimeout = 0; srv.maxRequestsPerSocket = 0;
srv.listen(PORT, '127.0.0.1', () => console.log(JSON.stringify({ port: srv.address().port })));
