import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startApp, TEST_ENV, TestApp } from './support/app';
import { prepareWorkerDatabase, withAdmin } from './support/database';
import { spawnEntryPoint } from './support/entry-point';
import { writeTestConfig } from './support/test-config';
import { registerUser, TestUser } from './support/users';

/** A hit of `GET /v1/chat/search`. */
interface Hit {
  session_id: number;
  session_title: string | null;
  message_id: number;
  role: string;
  snippet: string;
  rank: number;
  created_at: string;
}

/**
 * Full-text search of messages on real PostgreSQL: `GET /v1/chat/search` (ranking, snippets, ids, ownership,
 * paging, any query text), the generated `messages.search_vector` and its language from `search.language`.
 */
describe('Search (e2e): GET /v1/chat/search', () => {
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;

  /** One send without a session: a new session holding `content` and the offline model's answer echoing it. */
  const send = async (u: TestUser, content: string, sessionId?: number) => {
    const res = await request(t.url)
      .post('/v1/chat/stream')
      .set(u.auth)
      .send({ stream: false, messages: [{ role: 'user', content }], ...(sessionId ? { session_id: sessionId } : {}) })
      .expect(200);
    return { sessionId: res.body.session_id as number, answerId: res.body.id as number };
  };
  const search = (u: TestUser, query: Record<string, unknown>) => request(t.url).get('/v1/chat/search').query(query).set(u.auth);
  const messagesOf = async (u: TestUser, sessionId: number) =>
    (await request(t.url).get(`/v1/chat/sessions/${sessionId}/messages`).set(u.auth).expect(200)).body.items as {
      id: number;
      role: string;
    }[];

  beforeAll(async () => {
    t = await startApp();
    alice = await registerUser(t.url);
    bob = await registerUser(t.url);
  });
  afterAll(() => t.close());

  describe('ranking, snippets and ids', () => {
    let twice: number;
    let once: number;

    beforeAll(async () => {
      once = (await send(alice, 'The harbour has an old lighthouse near the rocks')).sessionId;
      twice = (await send(alice, 'A lighthouse keeper kept the lighthouse lamp burning')).sessionId;
      await send(alice, 'Nothing about the coast in this one');
    });

    it('finds every message holding the word, its user message and the answer echoing it, best first', async () => {
      const res = await search(alice, { q: 'lighthouse' }).expect(200);
      expect(res.body).toMatchObject({ total: 4, page: 1, page_size: 20 });
      const hits: Hit[] = res.body.items;
      // The messages with the word twice (the question and its echo) rank above those with it once.
      expect(hits.slice(0, 2).map((h) => h.session_id)).toEqual([twice, twice]);
      expect(hits.slice(2).map((h) => h.session_id)).toEqual([once, once]);
      expect(hits[1].rank).toBeGreaterThan(hits[2].rank);
      expect(hits.every((h) => h.rank > 0)).toBe(true);
      // Ties go to the newest message: the answer, then the question.
      const [question, answer] = await messagesOf(alice, twice);
      expect(hits.slice(0, 2).map((h) => [h.message_id, h.role])).toEqual([
        [answer.id, 'assistant'],
        [question.id, 'user'],
      ]);
      expect(hits[1]).toEqual({
        session_id: twice,
        session_title: expect.any(String),
        message_id: question.id,
        role: 'user',
        snippet: 'A <mark>lighthouse</mark> keeper kept the <mark>lighthouse</mark> lamp burning',
        rank: expect.any(Number),
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
    });

    it('matches other forms of a word (the language stems them) and marks them', async () => {
      const hits: Hit[] = (await search(alice, { q: 'lighthouses' }).expect(200)).body.items;
      expect(hits).toHaveLength(4);
      expect(hits[0].snippet).toContain('<mark>lighthouse</mark>');
    });

    it('takes web-search syntax: a phrase, or, an excluded word', async () => {
      const ids = async (q: string) => [...new Set(((await search(alice, { q }).expect(200)).body.items as Hit[]).map((h) => h.session_id))];
      expect(await ids('"keeper kept"')).toEqual([twice]);
      expect(await ids('"kept keeper"')).toEqual([]);
      expect((await ids('rocks or lamp')).sort()).toEqual([once, twice].sort());
      expect(await ids('lighthouse -keeper')).toEqual([once]);
    });

    it('never fails on query syntax, and a query with nothing to look for finds nothing', async () => {
      for (const q of ['"unclosed', 'a & | ! ( :*', "o'reilly)", '-lighthouse', 'the', '\\', '<script>', '%_%', 'or or or']) {
        const res = await search(alice, { q });
        expect({ q, status: res.status }).toEqual({ q, status: 200 });
      }
      expect((await search(alice, { q: '-lighthouse' }).expect(200)).body.total).toBe(0);
      expect((await search(alice, { q: 'the' }).expect(200)).body.total).toBe(0);
    });

    it('pages, best first, with the total of all pages', async () => {
      const all: Hit[] = (await search(alice, { q: 'lighthouse' }).expect(200)).body.items;
      const p1 = await search(alice, { q: 'lighthouse', page_size: 3 }).expect(200);
      const p2 = await search(alice, { q: 'lighthouse', page_size: 3, page: 2 }).expect(200);
      const p3 = await search(alice, { q: 'lighthouse', page_size: 3, page: 3 }).expect(200);
      expect(p1.body).toMatchObject({ total: 4, page: 1, page_size: 3 });
      expect(p3.body).toMatchObject({ total: 4, page: 3, items: [] });
      expect([...p1.body.items, ...p2.body.items].map((h: Hit) => h.message_id)).toEqual(all.map((h) => h.message_id));
    });
  });

  it('escapes the text of snippets and keeps only <mark> as markup', async () => {
    await send(alice, 'if 5 < 6 && "quoted" the albatross says \u0001hi\u0002');
    const [user] = ((await search(alice, { q: 'albatross' }).expect(200)).body.items as Hit[]).filter((h) => h.role === 'user');
    expect(user.snippet).toBe('if 5 &lt; 6 &amp;&amp; &quot;quoted&quot; the <mark>albatross</mark> says hi');
  });

  it('cuts long messages into fragments around the matches', async () => {
    const filler = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');
    const { sessionId } = await send(alice, `${filler(60)} cormorant ${filler(60)} cormorant ${filler(60)}`);
    const [hit] = ((await search(alice, { q: 'cormorant' }).expect(200)).body.items as Hit[]).filter((h) => h.role === 'user');
    expect(hit.session_id).toBe(sessionId);
    expect(hit.snippet.match(/<mark>cormorant<\/mark>/g)).toHaveLength(2);
    expect(hit.snippet).toContain(' … ');
    expect(hit.snippet.split(' ').length).toBeLessThanOrEqual(2 * 30 + 2);
  });

  it("never finds another user's messages, and another user never finds mine", async () => {
    await send(bob, 'My private pelican notes');
    const bobs: Hit[] = (await search(bob, { q: 'pelican' }).expect(200)).body.items;
    expect(bobs).toHaveLength(2);
    expect((await search(alice, { q: 'pelican' }).expect(200)).body).toMatchObject({ total: 0, items: [] });
    expect((await search(bob, { q: 'lighthouse' }).expect(200)).body.total).toBe(0);
    // Not through other parameters either.
    expect((await search(alice, { q: 'pelican', user_id: bob.id })).status).toBe(422);
  });

  it('searches active sessions, or archived ones with archived=true', async () => {
    const { sessionId } = await send(alice, 'The puffin colony');
    expect((await search(alice, { q: 'puffin' }).expect(200)).body.total).toBe(2);
    await request(t.url).delete(`/v1/chat/sessions/${sessionId}?soft=true`).set(alice.auth).expect(200);
    expect((await search(alice, { q: 'puffin' }).expect(200)).body.total).toBe(0);
    const archived: Hit[] = (await search(alice, { q: 'puffin', archived: true }).expect(200)).body.items;
    expect(archived.map((h) => h.session_id)).toEqual([sessionId, sessionId]);
    await request(t.url).delete(`/v1/chat/sessions/${sessionId}`).set(alice.auth).expect(200);
    expect((await search(alice, { q: 'puffin', archived: true }).expect(200)).body.total).toBe(0);
  });

  it('finds an answer only once it has ended, not while it is generated', async () => {
    const { answerId } = await send(alice, 'Where do gannets nest?');
    const ids = async () => ((await search(alice, { q: 'gannets' }).expect(200)).body.items as Hit[]).map((h) => h.message_id);
    expect(await ids()).toContain(answerId);
    await withAdmin((db) => db.query("UPDATE messages SET status = 'in_progress' WHERE id = $1", [answerId]), process.env.DATABASE_URL);
    expect(await ids()).not.toContain(answerId);
    await withAdmin((db) => db.query("UPDATE messages SET status = 'complete' WHERE id = $1", [answerId]), process.env.DATABASE_URL);
    expect(await ids()).toContain(answerId);
  });

  it.each([
    ['no q', {}],
    ['an empty q', { q: '' }],
    ['a q over 200 characters', { q: 'x'.repeat(201) }],
    ['two q', { q: ['a', 'b'] }],
    ['page_size=101', { q: 'a', page_size: 101 }],
    ['archived=maybe', { q: 'a', archived: 'maybe' }],
    ['an unknown parameter', { q: 'a', session: 1 }],
  ])('rejects %s with 422', async (_what, query) => {
    const res = await search(alice, query);
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('needs a token', async () => {
    await request(t.url).get('/v1/chat/search?q=lighthouse').expect(401);
  });
});

/** `search.language`: checked against PostgreSQL at start-up; the generated column follows it. */
describe('Search (e2e): search.language', () => {
  const vectorExpression = async (url: string) =>
    withAdmin(async (db) => {
      const { rows } = await db.query<{ expr: string }>(
        `SELECT pg_get_expr(d.adbin, d.adrelid) AS expr FROM pg_attribute a
           JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = 'messages'::regclass AND a.attname = 'search_vector'`,
      );
      return rows[0]?.expr;
    }, url);

  it('rebuilds messages.search_vector for another language at start-up, and back', async () => {
    const simple = await startApp({ CONFIG_FILE: writeTestConfig((c) => (c.search = { language: 'simple' })) });
    const url = process.env.DATABASE_URL!;
    try {
      expect(await vectorExpression(url)).toContain("to_tsvector('simple'::regconfig, content)");
      const u = await registerUser(simple.url);
      await request(simple.url)
        .post('/v1/chat/stream')
        .set(u.auth)
        .send({ stream: false, messages: [{ role: 'user', content: 'The lighthouses of the coast' }] })
        .expect(200);
      const total = async (q: string) => (await request(simple.url).get('/v1/chat/search').query({ q }).set(u.auth).expect(200)).body.total;
      // No stemming and no stop words in `simple`.
      expect(await total('lighthouse')).toBe(0);
      expect(await total('lighthouses')).toBe(2);
      expect(await total('the')).toBe(2);
    } finally {
      await simple.close();
    }
    // The next start with the default language rebuilds it again, and the rows stay searchable.
    const english = await startApp({ DATABASE_URL: url });
    try {
      expect(await vectorExpression(url)).toContain("to_tsvector('english'::regconfig, content)");
      const { rows } = await withAdmin((db) => db.query('SELECT count(*)::int AS n FROM messages WHERE search_vector @@ to_tsquery($1, $2)', ['english', 'lighthous']), url);
      expect(rows[0].n).toBe(2);
    } finally {
      await english.close();
    }
  });

  it('stops start-up on a language PostgreSQL does not have: exit 1, one fatal line naming the setting and the ones it has', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-backend-search-'));
    const run = spawnEntryPoint({
      NODE_ENV: 'test',
      JWT_SECRET: TEST_ENV.JWT_SECRET,
      CONFIG_FILE: writeTestConfig((c) => (c.search = { language: 'klingon' })),
      DATABASE_URL: await prepareWorkerDatabase(),
      DATA_DIR: dir,
      PORT: '0',
    });
    try {
      expect(await run.exited).toEqual({ code: 1, signal: null });
      const fatal = run
        .stdout()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { level: number; problems?: string[] })
        .filter((e) => e.level === 60);
      expect(fatal).toHaveLength(1);
      expect(fatal[0].problems).toEqual([expect.stringMatching(/^search\.language: PostgreSQL has no text search configuration "klingon" \(it has .*english.*simple/)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses a language that is not a configuration name before connecting', async () => {
    await expect(startApp({ CONFIG_FILE: writeTestConfig((c) => (c.search = { language: "english'; DROP TABLE messages; --" })) })).rejects.toThrow(
      /search\.language/,
    );
  });
});
