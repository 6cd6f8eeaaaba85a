import { Bench, Row, Section, envInt, ms, percentile, request, times } from '../harness';

/** Creates an empty session of the bench user. @returns its id */
export async function createSession(bench: Bench): Promise<number> {
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
  return (JSON.parse(created.body) as { id: number }).id;
}

/**
 * The `after_id` of a session's newest page (`size` messages): the id of the message `size + 1` places up its
 * active branch from the active leaf.
 */
export async function newestPageAfter(bench: Bench, sessionId: number, size: number): Promise<number> {
  const [{ after }] = await bench.sql<{ after: number }>(
    `WITH RECURSIVE branch AS (
       SELECT m.id, m.parent_id FROM messages m JOIN chat_sessions s ON m.id = s.active_leaf_id WHERE s.id = $1
       UNION ALL
       SELECT p.id, p.parent_id FROM branch b JOIN messages p ON p.id = b.parent_id
     ) SELECT id AS after FROM branch LIMIT 1 OFFSET $2`,
    [sessionId, size],
  );
  return after;
}

/** Creates a session of the bench user and fills it with `count` messages straight in SQL: one chain, roles alternating. */
export async function seedChain(bench: Bench, count: number): Promise<{ id: number; afterId: number }> {
  const id = await createSession(bench);
  await bench.sql(
    `INSERT INTO messages (session_id, role, content, parts)
     SELECT $1, CASE WHEN n % 2 = 0 THEN 'user' ELSE 'assistant' END, m.text, jsonb_build_array(jsonb_build_object('type', 'text', 'text', m.text))
     FROM generate_series(1, $2::int) AS n, LATERAL (SELECT 'Message ' || n || ' of a long conversation about lighthouses.' AS text) m`,
    [id, count],
  );
  // As sends would have chained them: each message follows the one before it; the newest is the active leaf.
  await bench.sql(
    `UPDATE messages m SET parent_id = c.previous
       FROM (SELECT id, lag(id) OVER (ORDER BY id) AS previous FROM messages WHERE session_id = $1) c
      WHERE c.id = m.id AND c.previous IS NOT NULL`,
    [id],
  );
  await bench.sql(
    'UPDATE chat_sessions SET message_count = $2, active_leaf_id = (SELECT max(id) FROM messages WHERE session_id = $1) WHERE id = $1',
    [id, count],
  );
  // The newest page is the one after the 51st newest message.
  return { id, afterId: await newestPageAfter(bench, id, 50) };
}

/** p50 of the newest page of two sessions, requests alternating after a warm-up. */
export async function newestPageTimes(
  bench: Bench,
  a: { id: number; afterId: number },
  b: { id: number; afterId: number },
  count: number,
): Promise<{ a: number; b: number }> {
  const get = async (s: { id: number; afterId: number }) => {
    const res = await request({
      port: bench.app.port,
      path: `/v1/chat/sessions/${s.id}/messages?after_id=${s.afterId}&page_size=50`,
      headers: { Authorization: `Bearer ${bench.token}` },
      timeoutMs: 10_000,
      agent: bench.agent,
    });
    if (res.status !== 200) throw new Error(`the page answered ${res.status}`);
    const items = (JSON.parse(res.body) as { items: unknown[] }).items;
    if (items.length !== 50) throw new Error(`the newest page held ${items.length} messages, not 50`);
    return res.ms;
  };
  for (let i = 0; i < 10; i++) {
    await get(a);
    await get(b);
  }
  const timesA: number[] = [];
  const timesB: number[] = [];
  for (let i = 0; i < count; i++) {
    timesA.push(await get(a));
    timesB.push(await get(b));
  }
  return { a: percentile(timesA, 50), b: percentile(timesB, 50) };
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
    const large = await seedChain(bench, envInt('BENCH_PAGE_LARGE', 100_000, 1_000_000));
    const small = await seedChain(bench, 100);
    await bench.sql('ANALYZE messages');
    const { a: p100k, b: p100 } = await newestPageTimes(bench, large, small, envInt('BENCH_PAGE_REQUESTS', 200));
    const rows: Row[] = [
      { measure: 'p50, 100 messages', app: ms(p100) },
      { measure: 'p50, 100,000 messages', app: ms(p100k) },
      { measure: 'p50 ratio 100,000 / 100', app: times(p100k, p100, 0.001), target: '≤ 1.3×', met: p100k <= 1.3 * p100 },
    ];
    return rows;
  },
};
