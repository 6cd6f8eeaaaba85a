// Adapted from the project's shared perf instruments (shared/perf/floor-relay.mjs, 2026-12-04); kept as close to the
// original as possible so figures stay comparable. Changes: PORT=0 takes an ephemeral port, and the chosen port is
// printed as JSON on stdout (`{"port":N}`) for bench/run.ts.
// The floor relay: the least work any chat relay must do (POST /chat -> upstream Chat Completions stream -> parse each
// frame -> re-emit SSE events + usage). A benchmark runs it beside the app to turn absolute times into ratios.
// Needs undici. Env: PORT, UP (upstream base URL), MODE=parse|pipe. GET /stats: tokens relayed, CPU, RSS.
import http from 'node:http';
import { Pool } from 'undici';
const PORT = +(process.env.PORT ?? 9200), UP = process.env.UP || 'http://127.0.0.1:9100', MODE = process.env.MODE || 'parse';
const pool = new Pool(UP, { connections: null, pipelining: 1, keepAliveTimeout: 60000, bodyTimeout: 0, headersTimeout: 0 });
let tokens = 0;
const srv = http.createServer(async (req, res) => { try { await handle(req, res); } catch (e) { res.destroy(); } });
async function handle(req, res) {
  if (req.url.startsWith('/stats')) { if (req.url.includes('gc')) global.gc?.(); const cu = process.cpuUsage(); return res.end(JSON.stringify({ tokens, cpu_us: cu.user + cu.system, rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed })); }
  let body = ''; for await (const c of req) body += c;
  const hdr = {}; for (const k of ['x-mock-ttft','x-mock-itl','x-mock-tokens']) if (req.headers[k]) hdr[k] = req.headers[k];
  const up = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json', ...hdr }, body: JSON.stringify({ model: 'mock', stream: true, messages: [{ role: 'user', content: body || 'hi' }] }) });
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.flushHeaders();
  req.socket.setNoDelay(true);
  if (MODE === 'pipe') { for await (const c of up.body) res.write(c); return res.end(); }
  let buf = '', text = '', usage = null;
  up.body.setEncoding('utf8');
  for await (const chunk of up.body) {
    buf += chunk; let i;
    while ((i = buf.indexOf('\n\n')) !== -1) {
      const ev = buf.slice(0, i); buf = buf.slice(i + 2);
      if (!ev.startsWith('data: ')) continue; const d = ev.slice(6);
      if (d === '[DONE]') continue;
      const j = JSON.parse(d);
      if (j.usage) usage = j.usage;
      const t = j.choices?.[0]?.delta?.content;
      if (t) { text += t; tokens++; res.write('event: token\ndata: ' + JSON.stringify({ t }) + '\n\n'); }
    }
  }
  res.end('event: done\ndata: ' + JSON.stringify({ usage, len: text.length }) + '\n\n');
}
srv.keepAliveTimeout = 120000; srv.headersTimeout = 121000; srv.requestTimeout = 0; srv.maxRequestsPerSocket = 0;
srv.listen(PORT, '127.0.0.1', () => console.log(JSON.stringify({ port: srv.address().port })));
