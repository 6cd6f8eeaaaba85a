import request from 'supertest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApp, TestApp } from './support/app';
import { registerUser, TestUser } from './support/users';

/** `match` of a session in a searched list. */
interface Match {
  rank: number;
  title: boolean;
  message_count: number;
  message_ids: number[];
  snippet: string | null;
}
interface Listed {
  id: number;
  title: string | null;
  match?: Match;
}

/**
 * One list grammar: `GET /v1/chat/sessions` and `GET /v1/chat/history` take the same filters (`search`, `model`,
 * `start_date`, `end_date`, `archived`, `application_id`) and page by `page` or by `cursor`; messages page by
 * `page` too. Over real HTTP and PostgreSQL.
 */
describe('Session lists (e2e): one grammar for /v1/chat/sessions and /v1/chat/history', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(() => t.close());

  const LISTS = ['/v1/chat/sessions', '/v1/chat/history'] as const;
  type List = (typeof LISTS)[number];
  const get = (u: TestUser | { Authorization: string }, list: List, query: Record<string, unknown> = {}) =>
    request(t.url)
      .get(list)
      .query(query)
      .set('Authorization' in u ? u : u.auth);
  /** The sessions of an answer of either list. */
  const itemsOf = (list: List, body: { items?: Listed[]; sessions?: Listed[] }): Listed[] =>
    (list === '/v1/chat/sessions' ? body.items : body.sessions)!;
  const ids = (items: { id: number }[]) => items.map((s) => s.id);
  const create = async (u: TestUser | { Authorization: string }, body: object = {}) =>
    (await request(t.url).post('/v1/chat/sessions').set('Authorization' in u ? u : u.auth).send(body).expect(201)).body as {
      id: number;
      created_at: string;
    };
  const send = async (u: TestUser, content: string, sessionId?: number) =>
    (
      await request(t.url)
        .post('/v1/chat/stream')
        .set(u.auth)
        .send({ stream: false, messages: [{ role: 'user', content }], ...(sessionId ? { session_id: sessionId } : {}) })
        .expect(200)
    ).body.session_id as number;

  /**
   * A session titled `title` holding `contents` as user messages, each answered by the offline model (which echoes
   * it). The title is given first, so no title is generated from the messages.
   */
  const session = async (u: TestUser, title: string, ...contents: string[]) => {
    const { id } = await create(u, { title });
    for (const content of contents) await send(u, content, id);
    return id;
  };

  /** Every page of a list by cursor, calling `between` after each page; the ids in order. */
  const walk = async (u: TestUser, list: List, query: Record<string, unknown>, between: (n: number) => Promise<void> = async () => {}) => {
    const seen: number[] = [];
    let cursor: string | null = null;
    for (let n = 0; n < 50; n++) {
      const res: request.Response = await get(u, list, { ...query, ...(cursor ? { cursor } : {}) }).expect(200);
      expect(res.body.page).toBe(cursor ? null : 1);
      seen.push(...ids(itemsOf(list, res.body)));
      cursor = res.body.next_cursor;
      if (!cursor) return seen;
      await between(n);
    }
    throw new Error('more than 50 pages');
  };

  describe('the same filters on both lists', () => {
    let u: TestUser;
    const made: Record<string, { id: number; created_at: string }> = {};
    let appId: number;
    let keyAuth: { Authorization: string };

    beforeAll(async () => {
      u = await registerUser(t.url);
      const app = (await request(t.url).post('/v1/applications').set(u.auth).send({ name: 'lists' }).expect(201)).body;
      appId = app.id;
      keyAuth = { Authorization: `Bearer ${(await request(t.url).post(`/v1/applications/${appId}/keys`).set(u.auth).send({}).expect(201)).body.key}` };
      made.first = await create(u, { title: 'first gpt-4', model: 'gpt-4' });
      await sleep(30);
      made.second = await create(u, { title: 'second fast', model: 'fast' });
      await sleep(30);
      made.byKey = await create(keyAuth, { title: 'made with a key', model: 'gpt-4' });
      await sleep(30);
      made.archived = await create(u, { title: 'archived gpt-4', model: 'gpt-4' });
      await request(t.url).delete(`/v1/chat/sessions/${made.archived.id}?soft=true`).set(u.auth).expect(200);
      await sleep(30);
      made.last = await create(u, { title: 'last fast', model: 'fast' });
    });

    /** `cursor` with its field `index` set to `value`. */
    const tampered = (cursor: string, index: number, value: unknown) => {
      const fields = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
      fields[index] = value;
      return Buffer.from(JSON.stringify(fields)).toString('base64url');
    };
    const between = (a: { created_at: string }, b: { created_at: string }) =>
      new Date((Date.parse(a.created_at) + Date.parse(b.created_at)) / 2).toISOString();

    it.each([
      ['no filter', () => ({}), () => ['last', 'byKey', 'second', 'first']],
      ['model (alias)', () => ({ model: 'gpt-4' }), () => ['byKey', 'first']],
      ['model (id)', () => ({ model: 'openai/gpt-4o-mini' }), () => ['last', 'second']],
      ['start_date', () => ({ start_date: between(made.second, made.byKey) }), () => ['last', 'byKey']],
      ['end_date', () => ({ end_date: between(made.second, made.byKey) }), () => ['second', 'first']],
      ['archived=true', () => ({ archived: true }), () => ['archived']],
      ['archived=false', () => ({ archived: false }), () => ['last', 'byKey', 'second', 'first']],
      ['application_id', () => ({ application_id: appId }), () => ['byKey']],
      ['search (title)', () => ({ search: 'FAST' }), () => ['last', 'second']],
      ['model and search', () => ({ model: 'gpt-4', search: 'first' }), () => ['first']],
      ['archived, model and dates', () => ({ archived: true, model: 'gpt-4', start_date: made.first.created_at }), () => ['archived']],
    ])('filters by %s, the same on both lists', async (_what, query, expected) => {
      const want = expected().map((k) => made[k].id);
      for (const list of LISTS) {
        const res = await get(u, list, query()).expect(200);
        expect({ list, ids: ids(itemsOf(list, res.body)), total: res.body.total }).toEqual({ list, ids: want, total: want.length });
      }
    });

    it('an API key of the application lists what it made, and application_id of another user is simply empty', async () => {
      for (const list of LISTS) {
        expect(ids(itemsOf(list, (await get(keyAuth, list, { application_id: appId }).expect(200)).body))).toEqual([made.byKey.id]);
        const other = await registerUser(t.url);
        expect((await get(other, list, { application_id: appId }).expect(200)).body.total).toBe(0);
      }
    });

    it.each(LISTS)('%s keeps the page shape of the API guide and adds next_cursor', async (list) => {
      const res = await get(u, list, { page: 1, page_size: 3 }).expect(200);
      expect(res.body).toMatchObject({ total: 4, page: 1, page_size: 3, next_cursor: expect.any(String) });
      const last = await get(u, list, { page: 2, page_size: 3 }).expect(200);
      expect(last.body).toMatchObject({ total: 4, page: 2, page_size: 3, next_cursor: null });
      expect(itemsOf(list, last.body)).toHaveLength(1);
      expect(itemsOf(list, res.body)[0]).not.toHaveProperty('match');
    });

    it.each(LISTS)('%s: a page number continues by cursor where the numbered page ended', async (list) => {
      const p1 = await get(u, list, { page_size: 2 }).expect(200);
      const next = await get(u, list, { page_size: 2, cursor: p1.body.next_cursor }).expect(200);
      const p2 = await get(u, list, { page_size: 2, page: 2 }).expect(200);
      expect(ids(itemsOf(list, next.body))).toEqual(ids(itemsOf(list, p2.body)));
      expect(next.body).toMatchObject({ page: null, total: 4, next_cursor: null });
    });

    it.each([
      ['page and cursor together', (c: string) => ({ page: 2, cursor: c }), /send cursor or page, not both/],
      ['a cursor with other filters', (c: string) => ({ cursor: c, model: 'fast' }), /other filters/],
      ['a cursor with a search it was not made with', (c: string) => ({ cursor: c, search: 'fast' }), /other filters/],
      ['a made-up cursor', () => ({ cursor: 'eyJpZCI6MX0' }), /not a cursor this list returned/],
      ['a cursor that is not base64url', () => ({ cursor: 'not a cursor!' }), /not a cursor this list returned/],
      ['a cursor with a changed time', (c: string) => ({ cursor: tampered(c, 2, 'yesterday') }), /not a cursor this list returned/],
      ['a cursor with a changed id', (c: string) => ({ cursor: tampered(c, 1, -1) }), /not a cursor this list returned/],
      ['an overlong cursor', () => ({ cursor: 'A'.repeat(201) }), /cursor/],
      ['an unknown parameter', () => ({ user_id: 1 }), /user_id/],
      ['application_id=0', () => ({ application_id: 0 }), /application_id/],
      ['start_date in a form JavaScript does not read', () => ({ start_date: '2024-01-01T10Z' }), /start_date/],
      ['start_date=2024-02-30', () => ({ start_date: '2024-02-30' }), /start_date/],
    ])('answers 422 on both lists for %s, naming the parameter', async (_what, query, detail) => {
      for (const list of LISTS) {
        const cursor = (await get(u, list, { page_size: 1 }).expect(200)).body.next_cursor as string;
        const res = await get(u, list, query(cursor));
        expect({ list, status: res.status }).toEqual({ list, status: 422 });
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.body.detail).toMatch(detail);
      }
    });

    it("never lists another user's sessions, whatever the cursor says", async () => {
      const other = await registerUser(t.url);
      await create(other, { title: 'other fast' });
      for (const list of LISTS) {
        const mine = await walk(u, list, { page_size: 1 });
        expect(mine.sort()).toEqual(['last', 'byKey', 'second', 'first'].map((k) => made[k].id).sort());
        expect(await walk(other, list, { page_size: 1 })).toHaveLength(1);
      }
    });
  });

  describe('cursor paging while sessions are added', () => {
    it.each(LISTS)('%s: every session exactly once, newest first, while sends add sessions between pages', async (list) => {
      const u = await registerUser(t.url);
      const before: number[] = [];
      for (let i = 0; i < 7; i++) before.push((await create(u, { title: `s${i}` })).id);
      const added: number[] = [];
      const seen = await walk(u, list, { page_size: 3 }, async () => {
        added.push(await send(u, 'a new conversation'));
        added.push((await create(u, { title: 'another' })).id);
      });
      expect(added).toHaveLength(4);
      // The sessions that existed when paging began, each once, in order; the new ones went to the front.
      expect(seen).toEqual([...before].reverse());
      // Page numbers, by contrast, shift: the second page now shows what the first one showed.
      const byNumber = await get(u, list, { page_size: 3, page: 2 }).expect(200);
      expect(ids(itemsOf(list, byNumber.body))).toContain(before[6]);
    });

    it.each(LISTS)('%s: a searched list pages by rank, each match once, while matching sessions are added', async (list) => {
      const u = await registerUser(t.url);
      const before: number[] = [];
      for (let i = 0; i < 5; i++) before.push(await session(u, `log ${i}`, `heron ${'heron '.repeat(i)}sighting number ${i}`));
      before.push((await create(u, { title: 'Heron list' })).id);
      const seen = await walk(u, list, { search: 'heron', page_size: 2 }, async (n) => {
        await session(u, `added ${n}`, 'one more heron');
        await session(u, `added again ${n}`, 'heron heron heron heron heron heron heron heron');
      });
      // Sessions added meanwhile show up only if they rank below the page they were added after.
      expect(new Set(seen).size).toBe(seen.length);
      // Best first: the title hit, then more herons before fewer; each once.
      expect(seen.filter((id) => before.includes(id))).toEqual([before[5], before[4], before[3], before[2], before[1], before[0]]);
    });
  });

  describe('search on both lists', () => {
    let u: TestUser;
    let titled: number;
    let twice: number;
    let once: number;
    let both: number;

    beforeAll(async () => {
      u = await registerUser(t.url);
      once = await session(u, 'By the river', 'We saw a kingfisher by the river');
      twice = await session(u, 'All day', 'Kingfisher after kingfisher, all day long', 'More about the kingfisher');
      titled = await session(u, 'Kingfisher photos');
      both = await session(u, 'Kingfishers and more', 'One kingfisher only');
      await session(u, 'Elsewhere', 'Nothing to see here');
      await session(u, 'Unrelated');
    });

    it.each(LISTS)('%s: titles and message content, ranked, with match, snippets and matching message ids', async (list) => {
      const res = await get(u, list, { search: 'kingfisher' }).expect(200);
      const items = itemsOf(list, res.body);
      expect(res.body.total).toBe(4);
      // A title hit (1) plus its messages' rank, then the title alone; then more occurrences before fewer.
      expect(ids(items)).toEqual([both, titled, twice, once]);
      const byId = new Map(items.map((s) => [s.id, s.match!]));
      expect(byId.get(titled)).toEqual({ rank: 1, title: true, message_count: 0, message_ids: [], snippet: null });
      expect(byId.get(both)!.title).toBe(true);
      expect(byId.get(both)!.rank).toBeGreaterThan(1);
      const messages = (await request(t.url).get(`/v1/chat/sessions/${twice}/messages`).set(u.auth).expect(200)).body.items as { id: number; content: string }[];
      expect(messages).toHaveLength(4);
      const twiceMatch = byId.get(twice)!;
      expect(twiceMatch).toMatchObject({ title: false, message_count: 4 });
      // Best first: the two messages with the word twice, the newer one first.
      expect(twiceMatch.message_ids.slice(0, 2)).toEqual([messages[1].id, messages[0].id]);
      expect([...twiceMatch.message_ids].sort()).toEqual(messages.map((m) => m.id).sort());
      expect(twiceMatch.snippet).toMatch(/<mark>Kingfisher<\/mark>/i);
      expect(twiceMatch.snippet!.match(/<mark>/g)).toHaveLength(2);
      expect(byId.get(twice)!.rank).toBeGreaterThan(byId.get(once)!.rank);
      expect(byId.get(once)).toMatchObject({ title: false, message_count: 2, snippet: expect.stringContaining('<mark>kingfisher</mark>') });
    });

    it('at most search.message_ids_per_session ids per session', async () => {
      await session(u, 'Birds of prey', 'osprey', 'osprey 1', 'osprey 2', 'osprey 3');
      const [item] = itemsOf('/v1/chat/sessions', (await get(u, '/v1/chat/sessions', { search: 'osprey' }).expect(200)).body);
      expect(item.match).toMatchObject({ message_count: 8 });
      expect(item.match!.message_ids).toHaveLength(5);
    });

    it('keeps finding titles by substring, % and _ taken literally', async () => {
      const s = await create(u, { title: 'snake_case 100%' });
      const found = async (search: string) => ids(itemsOf('/v1/chat/history', (await get(u, '/v1/chat/history', { search }).expect(200)).body));
      expect(await found('ake_ca')).toEqual([s.id]);
      expect(await found('100%')).toEqual([s.id]);
      expect(await found('e_c%')).toEqual([]);
    });

    it("never matches another user's messages or titles", async () => {
      const other = await registerUser(t.url);
      await send(other, 'my own kingfisher');
      await create(other, { title: 'kingfisher too' });
      for (const list of LISTS) expect((await get(u, list, { search: 'kingfisher' }).expect(200)).body.total).toBe(4);
      for (const list of LISTS) expect((await get(other, list, { search: 'kingfisher' }).expect(200)).body.total).toBe(2);
    });
  });

  describe('GET /v1/chat/sessions/{id}/messages by page', () => {
    it('pages by number as well as by after_id, and not both at once', async () => {
      const u = await registerUser(t.url);
      const s = await send(u, 'one');
      await send(u, 'two', s);
      await send(u, 'three', s);
      const path = `/v1/chat/sessions/${s}/messages`;
      const all = (await request(t.url).get(path).set(u.auth).expect(200)).body;
      expect(all).toMatchObject({ total: 6, page: null, next_after_id: null });
      const p2 = (await request(t.url).get(path).query({ page: 2, page_size: 2 }).set(u.auth).expect(200)).body;
      expect(p2).toMatchObject({ total: 6, page: 2, page_size: 2, next_after_id: all.items[3].id });
      expect(p2.items.map((m: { id: number }) => m.id)).toEqual([all.items[2].id, all.items[3].id]);
      const p3 = (await request(t.url).get(path).query({ page: 3, page_size: 2 }).set(u.auth).expect(200)).body;
      expect(p3).toMatchObject({ page: 3, next_after_id: null });
      expect((await request(t.url).get(path).query({ page: 4, page_size: 2 }).set(u.auth).expect(200)).body.items).toEqual([]);
      const both = await request(t.url).get(path).query({ page: 2, after_id: all.items[0].id }).set(u.auth);
      expect(both.status).toBe(422);
      expect(both.body.detail).toMatch(/send page or after_id, not both/);
      expect((await request(t.url).get(path).query({ page: 0 }).set(u.auth)).status).toBe(422);
    });
  });
});
