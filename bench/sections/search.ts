import { Bench, Row, Section, envInt, ms, percentile, request, seeded } from '../harness';

/** Syllables of the made-up vocabulary: 20 × 20 × 20 = 8,000 words such as `kalomi`, none an English stop word. */
const SYLLABLES = ['ka', 'lo', 'mi', 'ru', 'te', 'sa', 'no', 'vi', 'da', 'pe', 'zu', 'ho', 'ri', 'ga', 'bo', 'fe', 'ju', 'ne', 'wa', 'xi'];
const VOCABULARY = SYLLABLES.flatMap((a) => SYLLABLES.flatMap((b) => SYLLABLES.map((c) => a + b + c)));

/**
 * A text of 30–80 words, each drawn with Zipf's law over the vocabulary (word of rank r with weight 1/r), as words
 * of natural language are: a few words in many messages, most in few.
 */
function textMaker(random: () => number): () => string {
  const cumulative: number[] = [];
  let sum = 0;
  for (let r = 1; r <= VOCABULARY.length; r++) cumulative.push((sum += 1 / r));
  const word = () => {
    const x = random() * sum;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return VOCABULARY[lo];
  };
  return () => Array.from({ length: 30 + Math.floor(random() * 51) }, word).join(' ');
}

/**
 * Registers a user of its own and gives it `sessions` sessions of `perSession` messages each (alternating roles),
 * inserted in SQL in batches, so `messages.search_vector` and its GIN index are filled as by real sends.
 */
async function seed(bench: Bench, sessions: number, perSession: number): Promise<string> {
  const registered = await request({
    port: bench.app.port,
    path: '/v1/auth/register',
    method: 'POST',
    body: JSON.stringify({ email: `search-bench-${Date.now()}@example.com`, password: 'correct horse battery' }),
    timeoutMs: 10_000,
    agent: bench.agent,
  });
  if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
  const { access_token: token, user } = JSON.parse(registered.body) as { access_token: string; user: { id: number } };
  const ids = (
    await bench.sql<{ id: number }>(
      `INSERT INTO chat_sessions (user_id, model, title, message_count)
       SELECT $1, 'openai/bench-mock', 'Bench conversation ' || n, $3 FROM generate_series(1, $2::int) AS n RETURNING id`,
      [user.id, sessions, perSession],
    )
  ).map((r) => r.id);
  const text = textMaker(seeded(18));
  const batch = 5_000;
  const all = ids.flatMap((id) => Array.from({ length: perSession }, (_, i) => ({ id, role: i % 2 ? 'assistant' : 'user' })));
  for (let start = 0; start < all.length; start += batch) {
    const rows = all.slice(start, start + batch);
    await bench.sql(
      // Every message is stored as parts too: one text part holding its content.
      `INSERT INTO messages (session_id, role, content, parts)
       SELECT s, r, c, jsonb_build_array(jsonb_build_object('type', 'text', 'text', c))
       FROM unnest($1::int[], $2::varchar[], $3::text[]) AS t(s, r, c)`,
      [rows.map((r) => r.id), rows.map((r) => r.role), rows.map(() => text())],
    );
  }
  // Moves the GIN index's pending entries into the index and gives the planner its statistics, as autovacuum would.
  await bench.sql('VACUUM (ANALYZE) messages');
  await bench.sql('ANALYZE chat_sessions');
  return token;
}

/** The vocabulary word whose stem is in the number of messages closest to `share` of them. */
async function wordIn(bench: Bench, share: number, messages: number): Promise<{ word: string; count: number }> {
  const [row] = await bench.sql<{ word: string; ndoc: number }>(
    `SELECT word, ndoc FROM ts_stat('SELECT search_vector FROM messages WHERE search_vector IS NOT NULL')
      WHERE word ~ '^[a-z]{6}$' ORDER BY abs(ndoc - $1) LIMIT 1`,
    [Math.round(share * messages)],
  );
  return { word: row.word, count: row.ndoc };
}

/**
 * Full-text search over 100,000 messages of one user (1,000 sessions of 100 messages, made-up words drawn with
 * Zipf's law, inserted in SQL): p50 of `GET /v1/chat/search` (one page of 20 best hits with snippets, and the count
 * of all) for a word in about 1 % of the messages, the target; then for information a word in 0.1 % and in 10 %,
 * two words together, and the session list `GET /v1/chat/sessions?search=` for the 1 % word. The queries alternate,
 * BENCH_SEARCH_REQUESTS of each after a warm-up.
 */
export const search: Section = {
  name: 'search',
  title: 'Full-text search over 100,000 messages',
  async run(bench) {
    const sessions = envInt('BENCH_SEARCH_SESSIONS', 1_000);
    const perSession = envInt('BENCH_SEARCH_PER_SESSION', 100, 10_000);
    const token = await seed(bench, sessions, perSession);
    const total = sessions * perSession;
    const medium = await wordIn(bench, 0.01, total);
    const rare = await wordIn(bench, 0.001, total);
    const common = await wordIn(bench, 0.1, total);
    const cases = [
      { measure: `search, a word in ${medium.count} messages (~1 %)`, path: `/v1/chat/search?q=${medium.word}`, target: true },
      { measure: `search, a word in ${rare.count} messages (~0.1 %)`, path: `/v1/chat/search?q=${rare.word}` },
      { measure: `search, a word in ${common.count} messages (~10 %)`, path: `/v1/chat/search?q=${common.word}` },
      { measure: 'search, the ~1 % and ~10 % words together', path: `/v1/chat/search?q=${medium.word}+${common.word}` },
      { measure: 'session list with search=, the ~1 % word', path: `/v1/chat/sessions?search=${medium.word}` },
    ];
    const timesOf = cases.map(() => [] as number[]);
    const hits: number[] = [];
    const get = async (i: number) => {
      const res = await request({ port: bench.app.port, path: cases[i].path, headers: { Authorization: `Bearer ${token}` }, timeoutMs: 10_000, agent: bench.agent });
      if (res.status !== 200) throw new Error(`${cases[i].path} answered ${res.status}`);
      hits[i] = (JSON.parse(res.body) as { total: number }).total;
      return res.ms;
    };
    for (let round = 0; round < 10; round++) for (let i = 0; i < cases.length; i++) await get(i);
    const count = envInt('BENCH_SEARCH_REQUESTS', 200);
    for (let round = 0; round < count; round++) for (let i = 0; i < cases.length; i++) timesOf[i].push(await get(i));
    return cases.map((c, i): Row => {
      const p50 = percentile(timesOf[i], 50);
      const row: Row = { measure: `${c.measure}: p50 / p99 (total ${hits[i]})`, app: `${ms(p50)} / ${ms(percentile(timesOf[i], 99))}` };
      return c.target ? { ...row, target: '≤ 20 ms p50', met: p50 <= 20 } : row;
    });
  },
};
