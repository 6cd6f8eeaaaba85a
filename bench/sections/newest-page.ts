import { Bench, Row, Section, envInt, ms, percentile, request, times } from '../harness';

/** Creates a session of the bench user and fills it with `count` messages straight in SQL (alternating roles). */
async function seedSession(bench: Bench, count: number): Promise<{ id: number; afterId: number }> {
  const created = await request({
    port: bench.app.port,
    path: '/v1/chat/sessions',
    method: 'POST',
    headers: { Authorization: `Bearer ${bench.token}` },
    body: '{}',
    timeoutMs: 10_000,
    agent: bench.agent,
  });
  if (created.status !== 201) throw new Error(`creating a session answered ${created.status}`);
  const { id } = JSON.parse(created.body) as { id: number };
  await bench.sql(
    `INSERT INTO messages (session_id, role, content, parts)
     SELECT $1, CASE WHEN n % 2 = 0 THEN 'user' ELSE 'assistant' END, m.text, jsonb_build_array(jsonb_build_object('type', 'text', 'text', m.text))
     FROM generate_series(1, $2::int) AS n, LATERAL (SELECT 'Message ' || n || ' of a long conversation about lighthouses.' AS text) m`,
    [id, count],
  );
  await bench.sql('UPDATE chat_sessions SET message_count = $2 WHERE id = $1', [id, count]);
  // The newest page is the one after the 51st newest message.
  const [{ after }] = await bench.sql<{ after: number }>(
    'SELECT id AS after FROM messages WHERE session_id = $1 ORDER BY id DESC OFFSET 50 LIMIT 1',
    [id],
  );
  return { id, afterId: after };
}

/**
 * The newest page (50 messages) of a session of 100,000 messages against one of 100: the messages are inserted in
 * SQL, then BENCH_PAGE_REQUESTS requests per session alternate. `GET /v1/chat/sessions/{id}/messages` pages oldest
 * first, so the newest page is the one after the 51st newest id.
 */
export const newestPage: Section = {
  name: 'newest-page',
  title: 'Newest page of messages, 100,000-message session vs 100',
  async run(bench) {
    const large = await seedSession(bench, envInt('BENCH_PAGE_LARGE', 100_000, 1_000_000));
    const small = await seedSession(bench, 100);
    await bench.sql('ANALYZE messages');
    const times100k: number[] = [];
    const times100: number[] = [];
    const get = async (s: { id: number; afterId: number }) => {
      const res = await request({
        port: bench.app.port,
        path: `/v1/chat/sessions/${s.id}/messages?after_id=${s.afterId}&page_size=50`,
        headers: { Authorization: `Bearer ${bench.token}` },
        timeoutMs: 10_000,
        agent: bench.agent,
      });
      if (res.status !== 200) throw new Error(`the page answered ${res.status}`);
      return res.ms;
    };
    const count = envInt('BENCH_PAGE_REQUESTS', 200);
    for (let i = 0; i < 10; i++) {
      await get(large);
      await get(small);
    }
    for (let i = 0; i < count; i++) {
      times100k.push(await get(large));
      times100.push(await get(small));
    }
    const p100k = percentile(times100k, 50);
    const p100 = percentile(times100, 50);
    const rows: Row[] = [
      { measure: 'p50, 100 messages', app: ms(p100) },
      { measure: 'p50, 100,000 messages', app: ms(p100k) },
      { measure: 'p50 ratio 100,000 / 100', app: times(p100k, p100, 0.001), target: '≤ 1.3×', met: p100k <= 1.3 * p100 },
    ];
    return rows;
  },
};
