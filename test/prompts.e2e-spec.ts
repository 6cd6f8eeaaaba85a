import request from 'supertest';
import { DataSource } from 'typeorm';
import { MAX_USER_PROMPT_ID, SYSTEM_PROMPT_TEMPLATES } from '../migrations/1795600200000-PromptTemplates';
import { MAX_ID } from '../src/common/parse-id.pipe';
import { countTokens } from '../src/providers/tokenizer';
import { startApp, TestApp } from './support/app';
import { withAdmin } from './support/database';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { registerUser, TestUser } from './support/users';

const ADMIN = { ADMIN_EMAIL: 'prompt-admin@example.com', ADMIN_PASSWORD: 'prompt-admin-password' };
const KEY = 'sk-prompts-test';
/** The system templates' fixed ids. */
const [SUMMARIZER, TRANSLATOR, CODE_EXPLAINER, GRAMMAR_FIXER, EMAIL_WRITER, ASSISTANT] = SYSTEM_PROMPT_TEMPLATES.map((tpl) => tpl.id);
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/**
 * The API guide's prompt management API over real HTTP and PostgreSQL, with previews answered by a local server
 * speaking OpenAI's Chat Completions protocol (which records the rendered prompt it received).
 * Limits come from test/support/config.test.yaml (`prompts`: content 2000, variable 100, 5 variables).
 */
describe('Prompt templates (e2e)', () => {
  let t: TestApp;
  let fake: FakeOpenAi;
  let db: DataSource;
  let alice: TestUser;
  let bob: TestUser;
  let admin: { Authorization: string };

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    t = await startApp({ OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY, ...ADMIN });
    db = t.app.get(DataSource);
    alice = await registerUser(t.url);
    bob = await registerUser(t.url);
    const login = await request(t.url).post('/v1/auth/login').send({ email: ADMIN.ADMIN_EMAIL, password: ADMIN.ADMIN_PASSWORD }).expect(200);
    admin = { Authorization: `Bearer ${login.body.access_token}` };
  });
  beforeEach(() => fake.reset());
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const create = (u: { Authorization: string }, body: object) => request(t.url).post('/api/chat/prompts').set(u).send(body);
  const get = (u: { Authorization: string }, id: number) => request(t.url).get(`/api/chat/prompts/${id}`).set(u);
  const put = (u: { Authorization: string }, id: number, body: object) => request(t.url).put(`/api/chat/prompts/${id}`).set(u).send(body);
  const del = (u: { Authorization: string }, id: number) => request(t.url).delete(`/api/chat/prompts/${id}`).set(u);
  const list = (u: { Authorization: string }, query: object = {}) => request(t.url).get('/api/chat/prompts').query(query).set(u);
  const preview = (u: { Authorization: string }, body: object) => request(t.url).post('/api/chat/prompts/preview').set(u).send(body);
  const versions = (u: { Authorization: string }, id: number, query: object = {}) =>
    request(t.url).get(`/api/chat/prompts/${id}/versions`).query(query).set(u);
  const usageOf = async (id: number) =>
    Number((await db.query('SELECT usage_count FROM prompts WHERE id = $1', [id]))[0].usage_count);
  const newPrompt = async (u: TestUser, body: object = {}) =>
    (await create(u.auth, { title: 'A prompt', content: 'Say {thing}', ...body }).expect(201)).body;
  const expectProblem = (res: request.Response, status: number) => {
    expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { status, detail: expect.any(String) } });
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  };
  const fieldsOf = (res: request.Response) => (res.body.errors ?? []).map((e: { field: string }) => e.field);

  /**
   * The API guide's cURL examples in the API guide's order, with its literal ids. This file's database is fresh and the
   * block runs first, so the prompt created is id 1, as the seed shows, and `prompt_id: 1`, `PUT …/1` and
   * `DELETE …/1` act on it (the system templates' ids lie far above).
   */
  describe("the API guide's examples, as printed, in order, on a fresh database", () => {
    it('POST /api/chat/prompts (the cURL body) answers the documented prompt, with id 1', async () => {
      expect((await db.query('SELECT count(*)::int AS n FROM prompts WHERE NOT is_template'))[0].n).toBe(0);
      const res = await request(t.url).post('/api/chat/prompts').set(alice.auth).send({
        title: 'Text Summarizer',
        content: 'Summarize the following text: {text}',
        scenario: 'summarization',
        description: 'Generates concise summaries',
      });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        id: 1,
        user_id: alice.id,
        title: 'Text Summarizer',
        content: 'Summarize the following text: {text}',
        scenario: 'summarization',
        description: 'Generates concise summaries',
        metadata: {},
        is_template: false,
        usage_count: 0,
        variables: ['text'],
        version: 1,
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      });
      expect((await request(t.url).get('/api/chat/prompts/1').set(alice.auth).expect(200)).body).toEqual(res.body);
    });

    it('GET /api/chat/prompts?scenario=summarization&page=1&page_size=20 lists prompt 1 (and the summariser template)', async () => {
      const res = await request(t.url).get('/api/chat/prompts?scenario=summarization&page=1&page_size=20').set(alice.auth);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['items', 'page', 'page_size', 'total']);
      expect(res.body).toMatchObject({ total: 2, page: 1, page_size: 20 });
      expect(res.body.items.map((p: { id: number }) => p.id)).toEqual([1, SUMMARIZER]);
      expect(res.body.items[0]).toMatchObject({ id: 1, title: 'Text Summarizer', is_template: false, usage_count: 0 });
      expect(res.body.items[1]).toMatchObject({ id: SUMMARIZER, user_id: null, is_template: true, scenario: 'summarization' });
    });

    it('POST /api/chat/prompts/preview with prompt_id 1 runs prompt 1, rendered, through the model', async () => {
      fake.script({ pieces: ['Generated summary', ' of the sample text...'], usage: { prompt_tokens: 120, completion_tokens: 30 } });
      const res = await request(t.url)
        .post('/api/chat/prompts/preview')
        .set(alice.auth)
        .send({ prompt_id: 1, variables: { text: 'Sample text to summarize' } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        preview: 'Generated summary of the sample text...',
        tokens_used: 150,
        model_used: 'openai/gpt-4o-mini',
      });
      expect(res.headers['ratelimit-policy']).toMatch(/"sends";q=[1-9]\d*;w=\d+/);
      expect(fake.requests).toHaveLength(1);
      expect(fake.requests[0].body).toMatchObject({
        model: 'gpt-4o-mini',
        max_completion_tokens: 64,
        messages: [{ role: 'user', content: 'Summarize the following text: Sample text to summarize' }],
      });
      expect([await usageOf(1), await usageOf(SUMMARIZER)]).toEqual([1, 0]);
    });

    it('POST /api/chat/prompts/preview with content sends exactly the rendered text', async () => {
      const res = await preview(alice.auth, { content: 'Summarize this text: {text}', variables: { text: 'Sample text to summarize' } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ preview: 'Hello world!', tokens_used: expect.any(Number), model_used: 'openai/gpt-4o-mini' });
      expect(res.body.tokens_used).toBeGreaterThan(0);
      expect(fake.requests[0].body.messages).toEqual([{ role: 'user', content: 'Summarize this text: Sample text to summarize' }]);
    });

    it('PUT /api/chat/prompts/1 (the cURL body, then the request body) answers prompt 1, updated', async () => {
      const res = await request(t.url).put('/api/chat/prompts/1').set(alice.auth).send({ title: 'Updated Title', content: 'Updated content' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id: 1,
        user_id: alice.id,
        title: 'Updated Title',
        content: 'Updated content',
        scenario: 'summarization',
        description: 'Generates concise summaries',
        is_template: false,
        usage_count: 1,
        variables: [],
        version: 2,
      });
      const full = await put(alice.auth, 1, {
        title: 'Updated Title',
        content: 'Updated content with {variable}',
        scenario: 'new_scenario',
        description: 'Updated description',
      }).expect(200);
      expect(full.body).toMatchObject({ id: 1, scenario: 'new_scenario', description: 'Updated description', variables: ['variable'], version: 3 });
    });

    it('DELETE /api/chat/prompts/1 answers the documented message, and prompt 1 is gone', async () => {
      const res = await request(t.url).delete('/api/chat/prompts/1').set(alice.auth);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ message: 'Prompt deleted successfully' });
      expectProblem(await get(alice.auth, 1), 404);
      expectProblem(await del(alice.auth, 1), 404);
      expect((await get(alice.auth, SUMMARIZER).expect(200)).body.title).toBe(SYSTEM_PROMPT_TEMPLATES[0].title);
    });

    it('POST /api/chat/prompts (the request body with metadata) keeps the metadata', async () => {
      const res = await create(alice.auth, {
        title: 'Text Summarizer',
        content: 'Summarize the following text: {text}',
        scenario: 'summarization',
        description: 'Generates concise summaries',
        metadata: { tags: ['summary', 'concise'] },
      }).expect(201);
      expect(res.body).toMatchObject({ id: 2, metadata: { tags: ['summary', 'concise'] }, is_template: false, usage_count: 0 });
      await del(alice.auth, res.body.id).expect(200);
    });
  });

  describe('system templates', () => {
    it('ship with the migration, visible to every user, with their variables', async () => {
      for (const template of SYSTEM_PROMPT_TEMPLATES) {
        const res = await get(bob.auth, template.id).expect(200);
        expect(res.body).toMatchObject({ id: template.id, user_id: null, is_template: true, title: template.title, content: template.content, version: 1 });
      }
      expect((await get(bob.auth, TRANSLATOR).expect(200)).body.variables).toEqual(['language', 'text']);
      const mine = await list(bob.auth, { page_size: 100 }).expect(200);
      expect(mine.body.total).toBe(SYSTEM_PROMPT_TEMPLATES.length);
    });

    it('have fixed ids above every id the sequence can give a user prompt, valid as path ids', async () => {
      const [seq] = await db.query("SELECT max_value FROM pg_sequences WHERE sequencename = 'prompts_id_seq'");
      expect(Number(seq.max_value)).toBe(MAX_USER_PROMPT_ID);
      for (const id of SYSTEM_PROMPT_TEMPLATES.map((tpl) => tpl.id)) {
        expect(id > MAX_USER_PROMPT_ID && id <= MAX_ID).toBe(true);
      }
      expect(new Set(SYSTEM_PROMPT_TEMPLATES.map((tpl) => tpl.id)).size).toBe(SYSTEM_PROMPT_TEMPLATES.length);
    });

    it('a non-admin cannot change or delete one (403), and it stays as it was', async () => {
      const before = (await get(alice.auth, CODE_EXPLAINER).expect(200)).body;
      expectProblem(await put(alice.auth, CODE_EXPLAINER, { title: 'Hijacked' }), 403);
      expectProblem(await put(alice.auth, CODE_EXPLAINER, {}), 403);
      expectProblem(await del(alice.auth, CODE_EXPLAINER), 403);
      expect((await get(alice.auth, CODE_EXPLAINER).expect(200)).body).toEqual(before);
    });

    it('an admin can change one (a new version) and everyone sees the change', async () => {
      const res = await put(admin, GRAMMAR_FIXER, { content: 'Proofread this, keep the meaning:\n\n{text}', description: 'Proofreading' }).expect(200);
      expect(res.body).toMatchObject({ id: GRAMMAR_FIXER, is_template: true, user_id: null, version: 2, description: 'Proofreading' });
      expect((await get(bob.auth, GRAMMAR_FIXER).expect(200)).body.content).toBe('Proofread this, keep the meaning:\n\n{text}');
      const v = await versions(bob.auth, GRAMMAR_FIXER).expect(200);
      expect(v.body.items).toEqual([
        { prompt_id: GRAMMAR_FIXER, version: 1, title: SYSTEM_PROMPT_TEMPLATES[3].title, content: SYSTEM_PROMPT_TEMPLATES[3].content, created_at: expect.stringMatching(ISO) },
      ]);
    });

    it('nobody can make a template through the body: is_template, usage_count, user_id are refused (422)', async () => {
      for (const extra of [{ is_template: true }, { usage_count: 5 }, { user_id: bob.id }, { version: 9 }]) {
        const res = await create(admin, { title: 'x', content: 'y', ...extra });
        expectProblem(res, 422);
        expect(fieldsOf(res)).toEqual([Object.keys(extra)[0]]);
      }
      expectProblem(await put(alice.auth, SUMMARIZER, { is_template: false }), 422);
    });
  });

  describe('ownership', () => {
    let secret: { id: number };
    beforeAll(async () => {
      secret = await newPrompt(alice, { title: 'Secret plan', content: 'Alice only {x}', description: 'mine' });
    });

    it("another user's prompt is a 404 on every route, like a missing one, and stays untouched", async () => {
      const missing = await get(bob.auth, 999_999);
      expectProblem(missing, 404);
      for (const res of [
        await get(bob.auth, secret.id),
        await put(bob.auth, secret.id, { title: 'mine now' }),
        await del(bob.auth, secret.id),
        await versions(bob.auth, secret.id),
        await preview(bob.auth, { prompt_id: secret.id, variables: { x: '1' } }),
        await request(t.url).post('/v1/chat/sessions').set(bob.auth).send({ prompt_id: secret.id, variables: { x: '1' } }),
      ]) {
        expectProblem(res, 404);
        expect(res.body.detail).toBe(missing.body.detail);
      }
      // An admin is not special for users' own prompts.
      expectProblem(await put(admin, secret.id, { title: 'admin was here' }), 404);
      expect((await get(alice.auth, secret.id).expect(200)).body).toMatchObject({ title: 'Secret plan', usage_count: 0, version: 1 });
    });

    it('listings and searches never show another user\'s prompts', async () => {
      const res = await list(bob.auth, { search: 'secret plan', page_size: 100 }).expect(200);
      expect(res.body).toMatchObject({ total: 0, items: [] });
      const all = await list(bob.auth, { page_size: 100 }).expect(200);
      expect(all.body.items.every((p: { user_id: number | null }) => p.user_id === null || p.user_id === bob.id)).toBe(true);
    });

    it('answers 401 without a token and 400 for a malformed id', async () => {
      await request(t.url).get('/api/chat/prompts').expect(401);
      await request(t.url).post('/api/chat/prompts/preview').send({ content: 'x' }).expect(401);
      expectProblem(await get(alice.auth, 0), 400);
      expectProblem(await request(t.url).get('/api/chat/prompts/abc').set(alice.auth), 400);
    });
  });

  describe('listing: filters, search, pagination', () => {
    let carol: TestUser;
    const ids = (res: request.Response) => res.body.items.map((p: { id: number }) => p.id);
    let inTitle: number, inDescription: number, inContent: number, other: number;

    beforeAll(async () => {
      carol = await registerUser(t.url);
      inContent = (await newPrompt(carol, { title: 'Reply helper', content: 'Answer the customer about {topic} politely.', scenario: 'support' })).id;
      inDescription = (await newPrompt(carol, { title: 'Ticket triage', content: 'Classify: {ticket}', description: 'Sorts customer tickets', scenario: 'support' })).id;
      inTitle = (await newPrompt(carol, { title: 'Customer greeting', content: 'Greet {name}.', scenario: 'sales' })).id;
      other = (await newPrompt(carol, { title: 'Haiku', content: 'Write a haiku about {subject}: 5-7-5 syllables.', scenario: 'poetry' })).id;
    });

    it('include_templates defaults to true; false lists only mine; page_size defaults to 20', async () => {
      const all = await list(carol.auth).expect(200);
      expect(all.body).toMatchObject({ total: 4 + SYSTEM_PROMPT_TEMPLATES.length, page: 1, page_size: 20 });
      const mine = await list(carol.auth, { include_templates: 'false' }).expect(200);
      expect(mine.body.total).toBe(4);
      expect(ids(mine).sort()).toEqual([inContent, inDescription, inTitle, other].sort());
      expect((await list(carol.auth, { include_templates: 'true' }).expect(200)).body.total).toBe(all.body.total);
    });

    it('filters by scenario, alone and with include_templates', async () => {
      expect(ids(await list(carol.auth, { scenario: 'support' }).expect(200)).sort()).toEqual([inContent, inDescription].sort());
      expect(ids(await list(carol.auth, { scenario: 'translation' }).expect(200))).toEqual([TRANSLATOR]);
      expect((await list(carol.auth, { scenario: 'translation', include_templates: false }).expect(200)).body.total).toBe(0);
    });

    it('searches title, description and content, best match first (title > description > content)', async () => {
      const res = await list(carol.auth, { search: 'customer' }).expect(200);
      expect(ids(res)).toEqual([inTitle, inDescription, inContent]);
      expect(res.body.total).toBe(3);
      expect(ids(await list(carol.auth, { search: 'haiku syllables' }).expect(200))).toEqual([other]);
      expect(ids(await list(carol.auth, { search: 'customer -greeting' }).expect(200)).sort()).toEqual([inContent, inDescription].sort());
      expect(ids(await list(carol.auth, { search: '"customer about"' }).expect(200))).toEqual([inContent]);
      expect(ids(await list(carol.auth, { search: 'haiku OR triage' }).expect(200)).sort()).toEqual([inDescription, other].sort());
    });

    it('plain words match as word prefixes, all of them required', async () => {
      expect(ids(await list(carol.auth, { search: 'custom' }).expect(200))).toEqual([inTitle, inDescription, inContent]);
      expect(ids(await list(carol.auth, { search: 'summ' }).expect(200))).toEqual([SUMMARIZER]);
      expect(ids(await list(carol.auth, { search: 'transl TEXT' }).expect(200))).toEqual([TRANSLATOR]);
      expect((await list(carol.auth, { search: 'haiku customer' }).expect(200)).body.total).toBe(0);
    });

    it('search combines with scenario and include_templates; templates are searchable', async () => {
      expect(ids(await list(carol.auth, { search: 'customer', scenario: 'support' }).expect(200))).toEqual([inDescription, inContent]);
      expect(ids(await list(carol.auth, { search: 'translate' }).expect(200))).toEqual([TRANSLATOR]);
      expect((await list(carol.auth, { search: 'translate', include_templates: false }).expect(200)).body.total).toBe(0);
    });

    it('a very short or punctuation-only term matches as a substring', async () => {
      expect(ids(await list(carol.auth, { search: '5-', include_templates: false }).expect(200))).toEqual([other]);
      expect(ids(await list(carol.auth, { search: 'Ha', include_templates: false }).expect(200))).toEqual([other]);
      expect((await list(carol.auth, { search: '%', include_templates: false }).expect(200)).body.total).toBe(0);
    });

    it('an empty or blank search (a cleared search box) is no filter', async () => {
      const all = await list(carol.auth, { page_size: 100 }).expect(200);
      expect(all.body.total).toBe(4 + SYSTEM_PROMPT_TEMPLATES.length);
      for (const query of ['search=', 'search=%20%20', 'search=%09&include_templates=true']) {
        const res = await request(t.url).get(`/api/chat/prompts?${query}&page_size=100`).set(carol.auth);
        expect({ query, status: res.status, body: res.body }).toEqual({ query, status: 200, body: all.body });
      }
      const mine = await request(t.url).get('/api/chat/prompts?search=&include_templates=false').set(carol.auth).expect(200);
      expect(ids(mine).sort()).toEqual([inContent, inDescription, inTitle, other].sort());
      expectProblem(await list(carol.auth, { search: 'x'.repeat(201) }), 422);
    });

    it('paginates; page_size above 100 or a bad flag is 422', async () => {
      const first = await list(carol.auth, { page_size: 3, page: 1 }).expect(200);
      const second = await list(carol.auth, { page_size: 3, page: 2 }).expect(200);
      expect(first.body).toMatchObject({ page: 1, page_size: 3, total: 4 + SYSTEM_PROMPT_TEMPLATES.length });
      expect(first.body.items).toHaveLength(3);
      expect(ids(second).some((id: number) => ids(first).includes(id))).toBe(false);
      expect((await list(carol.auth, { page: 99 }).expect(200)).body.items).toEqual([]);
      expectProblem(await list(carol.auth, { page_size: 101 }), 422);
      expectProblem(await list(carol.auth, { page_size: 0 }), 422);
      expectProblem(await list(carol.auth, { include_templates: 'maybe' }), 422);
    });
  });

  describe('rendering and preview', () => {
    it('a missing variable is 422 naming every missing one; unused ones are ignored; nothing is counted', async () => {
      const p = await newPrompt(alice, { content: 'From {sender} to {recipient} about {subject}' });
      const res = await preview(alice.auth, { prompt_id: p.id, variables: { subject: 'cats', unused: 'x' } });
      expectProblem(res, 422);
      expect(fieldsOf(res)).toEqual(['variables.sender', 'variables.recipient']);
      expect(res.body.detail).toMatch(/\{sender\}.*\{recipient\}/);
      expect(fake.requests).toHaveLength(0);
      expect(await usageOf(p.id)).toBe(0);
    });

    it('dry_run renders without a model: braces escaped, values never expanded again, tokens counted', async () => {
      const p = await newPrompt(alice, { content: 'JSON {{"a": {a}}} then {b}; {not a placeholder}' });
      expect(p.variables).toEqual(['a', 'b']);
      const res = await preview(alice.auth, { prompt_id: p.id, variables: { a: '{b}', b: 2 }, dry_run: true }).expect(200);
      const rendered = 'JSON {"a": {b}} then 2; {not a placeholder}';
      expect(res.body).toEqual({ preview: rendered, tokens_used: countTokens(rendered), model_used: null });
      expect(fake.requests).toHaveLength(0);
      expect(await usageOf(p.id)).toBe(1);
    });

    it('refuses neither or both of prompt_id and content, bad variables, and limits (422)', async () => {
      expectProblem(await preview(alice.auth, { variables: {} }), 422);
      expectProblem(await preview(alice.auth, { prompt_id: 1, content: 'x' }), 422);
      expectProblem(await preview(alice.auth, { content: 'x', variables: 'text' }), 422);
      const nested = await preview(alice.auth, { content: '{x}', variables: { x: { y: 1 } } });
      expectProblem(nested, 422);
      expect(fieldsOf(nested)).toEqual(['variables.x']);
      const long = await preview(alice.auth, { content: '{x}', variables: { x: 'v'.repeat(101) } });
      expect(fieldsOf(long)).toEqual(['variables.x']);
      const many = await preview(alice.auth, { content: 'x', variables: { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 } });
      expect([many.status, fieldsOf(many)]).toEqual([422, ['variables']]);
      expect([(await preview(alice.auth, { content: 'y'.repeat(2001) })).status, 0]).toEqual([422, 0]);
      const tooLong = await create(alice.auth, { title: 'long', content: 'y'.repeat(2001) });
      expect([tooLong.status, fieldsOf(tooLong)]).toEqual([422, ['content']]);
      const placeholders = await create(alice.auth, { title: 'many', content: '{a}{b}{c}{d}{e}{f}' });
      expect([placeholders.status, fieldsOf(placeholders)]).toEqual([422, ['content']]);
      expectProblem(await put(alice.auth, (await newPrompt(alice)).id, { content: 'z'.repeat(2001) }), 422);
      expect(fake.requests).toHaveLength(0);
    });

    it('runs the named model; an unknown model is 400; a provider failure is 502 and counts nothing', async () => {
      const p = await newPrompt(alice, { content: 'Ping {x}' });
      const res = await preview(alice.auth, { prompt_id: p.id, variables: { x: '1' }, model: 'gpt-4' }).expect(200);
      expect(res.body.model_used).toBe('openai/gpt-4');
      expect(fake.requests[0].body.model).toBe('gpt-4');
      expectProblem(await preview(alice.auth, { prompt_id: p.id, variables: { x: '1' }, model: 'no-such-model' }), 400);
      fake.script({ failure: { status: 500 } });
      expectProblem(await preview(alice.auth, { prompt_id: p.id, variables: { x: '1' } }), 502);
      expect(await usageOf(p.id)).toBe(1);
    });

    it("adds a model's preview to the caller's usage and totals under the answering model; dry runs and failures add nothing", async () => {
      const carol = await registerUser(t.url);
      fake.script({ pieces: ['Pong'], usage: { prompt_tokens: 120, completion_tokens: 30 } });
      await preview(carol.auth, { content: 'Ping', model: 'gpt-4' }).expect(200);
      await preview(carol.auth, { content: 'Ping', dry_run: true }).expect(200);
      fake.script({ failure: { status: 400 } });
      expectProblem(await preview(carol.auth, { content: 'Ping' }), 502);

      const cost = (120 * 30 + 30 * 60) / 1e6; // openai/gpt-4's prices
      const usage = (await request(t.url).get('/v1/users/me/usage').set(carol.auth).expect(200)).body;
      expect(usage.days).toEqual([
        { day: expect.any(String), model: 'openai/gpt-4', purpose: 'preview', requests: 1, tokens_input: 120, tokens_output: 30, tokens_cached: 0, tokens_reasoning: 0, cost },
      ]);
      const stats = (await request(t.url).get('/v1/users/me/stats').set(carol.auth).expect(200)).body;
      expect(stats).toMatchObject({ sessions: 0, tokens_input: 120, tokens_output: 30 });
      expect(stats.cost).toBeCloseTo(cost, 10);
    });

    it('a client that disconnects aborts the model call at once, and the preview counts nothing', async () => {
      const p = await newPrompt(alice, { content: 'Slow {x}' });
      fake.script({ pieces: ['a', 'b', 'c'], delayMs: 2000 });
      const controller = new AbortController();
      const pending = fetch(`${t.url}/api/chat/prompts/preview`, {
        method: 'POST',
        headers: { ...alice.auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ prompt_id: p.id, variables: { x: '1' } }),
        signal: controller.signal,
      }).catch((err: { name: string }) => err);
      while (fake.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
      controller.abort();
      expect(await pending).toMatchObject({ name: 'AbortError' });
      const closedAt = await fake.requests[0].closed;
      expect(closedAt - fake.requests[0].receivedAt).toBeLessThan(1500);
      expect(fake.requests[0].closedEarly).toBe(true);
      expect(await usageOf(p.id)).toBe(0);
    });

    it('N parallel previews raise usage_count by exactly N', async () => {
      const p = await newPrompt(alice, { content: 'Count {n}' });
      const n = 20;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) => preview(alice.auth, { prompt_id: p.id, variables: { n: i } })),
      );
      expect(results.map((r) => r.status)).toEqual(Array(n).fill(200));
      expect((await get(alice.auth, p.id).expect(200)).body.usage_count).toBe(n);
      expect(fake.requests).toHaveLength(n);
    });
  });

  describe('versions', () => {
    it('each change of title or content keeps the previous pair; other fields make no version', async () => {
      const p = await newPrompt(alice, { title: 'v1 title', content: 'v1 {a}' });
      await put(alice.auth, p.id, { content: 'v2 {a}' }).expect(200);
      await put(alice.auth, p.id, { metadata: { k: 1 }, scenario: 'x', description: 'd' }).expect(200);
      await put(alice.auth, p.id, { title: 'v1 title', content: 'v2 {a}' }).expect(200);
      const last = await put(alice.auth, p.id, { title: 'v3 title' }).expect(200);
      expect(last.body).toMatchObject({ version: 3, title: 'v3 title', content: 'v2 {a}', metadata: { k: 1 } });
      const res = await versions(alice.auth, p.id).expect(200);
      expect(res.body).toMatchObject({ total: 2, page: 1, page_size: 20 });
      expect(res.body.items.map((v: { version: number; title: string; content: string }) => [v.version, v.title, v.content])).toEqual([
        [2, 'v1 title', 'v2 {a}'],
        [1, 'v1 title', 'v1 {a}'],
      ]);
      const paged = await versions(alice.auth, p.id, { page: 2, page_size: 1 }).expect(200);
      expect(paged.body.items.map((v: { version: number }) => v.version)).toEqual([1]);
      const cleared = await put(alice.auth, p.id, { scenario: null, description: null }).expect(200);
      expect(cleared.body).toMatchObject({ scenario: null, description: null, version: 3 });
      expectProblem(await put(alice.auth, p.id, { title: null }), 422);
    });

    it('concurrent updates take distinct consecutive version numbers', async () => {
      const p = await newPrompt(alice, { content: 'start' });
      const n = 12;
      const results = await Promise.all(Array.from({ length: n }, (_, i) => put(alice.auth, p.id, { content: `edit ${i}` })));
      expect(results.map((r) => r.status)).toEqual(Array(n).fill(200));
      expect(results.map((r) => r.body.version).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 2));
      const res = await versions(alice.auth, p.id, { page_size: 100 }).expect(200);
      expect(res.body.items.map((v: { version: number }) => v.version)).toEqual(Array.from({ length: n }, (_, i) => n - i));
      expect((await get(alice.auth, p.id).expect(200)).body.version).toBe(n + 1);
    });

    it('go with their prompt', async () => {
      const p = await newPrompt(alice);
      await put(alice.auth, p.id, { content: 'changed' }).expect(200);
      await del(alice.auth, p.id).expect(200);
      const [row] = await db.query('SELECT count(*)::int AS n FROM prompt_versions WHERE prompt_id = $1', [p.id]);
      expect(row.n).toBe(0);
    });
  });

  describe('sessions started from a prompt', () => {
    const createSession = (u: TestUser, body: object) => request(t.url).post('/v1/chat/sessions').set(u.auth).send(body);
    const sessionCount = async () => Number((await db.query('SELECT count(*)::int AS n FROM chat_sessions'))[0].n);

    it('the rendered prompt becomes the system prompt; prompt_id and version are recorded; the use is counted', async () => {
      const p = await newPrompt(alice, { content: 'You are a {role}. Answer in {language}.' });
      await put(alice.auth, p.id, { content: 'You are a {role}. Always answer in {language}.' }).expect(200);
      const res = await createSession(alice, { prompt_id: p.id, variables: { role: 'pirate', language: 'French' }, title: 'Arr' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        system_prompt: 'You are a pirate. Always answer in French.',
        prompt_id: p.id,
        prompt_version: 2,
        title: 'Arr',
      });
      expect(await usageOf(p.id)).toBe(1);
      expect((await request(t.url).get(`/v1/chat/sessions/${res.body.id}`).set(alice.auth).expect(200)).body).toMatchObject({
        prompt_id: p.id,
        prompt_version: 2,
      });

      // The model sees it as the system prompt.
      await request(t.url)
        .post('/v1/chat/stream')
        .set(alice.auth)
        .send({ stream: false, session_id: res.body.id, messages: [{ role: 'user', content: 'Hi' }] })
        .expect(200);
      expect(fake.requests[0].body.messages[0]).toEqual({ role: 'system', content: 'You are a pirate. Always answer in French.' });

      // Deleting the prompt leaves the session's copy and version.
      await del(alice.auth, p.id).expect(200);
      const after = await request(t.url).get(`/v1/chat/sessions/${res.body.id}`).set(alice.auth).expect(200);
      expect(after.body).toMatchObject({ prompt_id: null, prompt_version: 2, system_prompt: 'You are a pirate. Always answer in French.' });
    });

    it('works from a system template, for any user', async () => {
      const before = await usageOf(ASSISTANT);
      const res = await createSession(bob, { prompt_id: ASSISTANT }).expect(201);
      expect(res.body).toMatchObject({ system_prompt: SYSTEM_PROMPT_TEMPLATES[5].content, prompt_id: ASSISTANT, prompt_version: 1 });
      expect(await usageOf(ASSISTANT)).toBe(before + 1);
    });

    it('a prompt deleted between rendering and the insert is a 404, and nothing is written', async () => {
      const p = await newPrompt(alice, { content: 'Hello {who}' });
      const missingDetail = (await createSession(alice, { prompt_id: 999_999 })).body.detail;
      const before = await sessionCount();
      const res = await withAdmin(async (deleter) => {
        // An uncommitted delete: the request still reads and renders the prompt, then waits on its row.
        await deleter.query('BEGIN');
        await deleter.query('DELETE FROM prompts WHERE id = $1', [p.id]);
        const pending = createSession(alice, { prompt_id: p.id, variables: { who: 'x' } }).then((r) => r);
        for (let waited = 0; ; waited += 20) {
          const { rows } = await deleter.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
          );
          if (rows[0].n > 0) break;
          if (waited > 10_000) throw new Error('the request never waited on the deleted prompt');
          await new Promise((r) => setTimeout(r, 20));
        }
        await deleter.query('COMMIT');
        return pending;
      }, (db.options as { url: string }).url);
      expectProblem(res, 404);
      expect(res.body.detail).toBe(missingDetail);
      expect(await sessionCount()).toBe(before);
    });

    it('refuses system_prompt with prompt_id (400), variables alone (400), missing variables (422), writing nothing', async () => {
      const p = await newPrompt(alice, { content: 'Hello {who}' });
      const before = await sessionCount();
      expectProblem(await createSession(alice, { prompt_id: p.id, variables: { who: 'x' }, system_prompt: 'Be brief.' }), 400);
      expectProblem(await createSession(alice, { variables: { who: 'x' } }), 400);
      const missing = await createSession(alice, { prompt_id: p.id });
      expectProblem(missing, 422);
      expect(fieldsOf(missing)).toEqual(['variables.who']);
      expectProblem(await createSession(alice, { prompt_id: p.id, variables: { who: 'x' }, model: 'no-such-model' }), 400);
      expectProblem(await createSession(alice, { prompt_id: 999_999 }), 404);
      expect(await sessionCount()).toBe(before);
      expect(await usageOf(p.id)).toBe(0);
    });
  });

  describe('an admin deleting a template', () => {
    it('removes it for everyone', async () => {
      await del(admin, EMAIL_WRITER).expect(200);
      expectProblem(await get(bob.auth, EMAIL_WRITER), 404);
    });
  });
});
