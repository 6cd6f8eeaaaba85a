import { join } from 'node:path';
import { Section, pool, procStats, Server, ROOT } from '../harness';
export const exp: Section = {
  name: 'exp',
  title: 'A/B: .base/dist vs dist',
  async run(bench) {
    const n = Number(process.env.EXP_N ?? 300);
    const rounds = Number(process.env.EXP_ROUNDS ?? 4);
    const pace = { ttftMs: 0, itlMs: 0, tokens: 1 };
    const base = await bench.startApp({ BENCH_APP_ENTRY: join(ROOT, '.base', 'dist', 'src', 'main.js') });
    const res: Record<string, number> = {};
    for (let r = 0; r < rounds; r++) {
      const arms = (r % 2 ? [['base', base], ['new', bench.app]] : [['new', bench.app], ['base', base]]) as [string, Server][];
      for (const [name, srv] of arms) {
        for (const mode of ['new-session', 'existing']) {
          let session: number | undefined;
          if (mode === 'existing') {
            await bench.stream('app', pace, { port: srv.port });
            session = (await bench.sql<{ id: number }>('SELECT max(id) AS id FROM chat_sessions'))[0].id;
          }
          const before = procStats(srv.pid).cpuMs;
          await pool(n, 10, () => bench.stream('app', pace, { session, port: srv.port }));
          const k = `${name} ${mode}`;
          res[k] = (res[k] ?? 0) + (procStats(srv.pid).cpuMs - before) / n / rounds;
        }
      }
    }
    return Object.keys(res).sort().map((k) => ({ measure: `${k} cpu/request`, app: res[k].toFixed(2) + ' ms' }));
  },
};
