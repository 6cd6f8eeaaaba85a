import { chainSessionMessages } from './support/database';
import { countTokens } from 'gpt-tokenizer';
import { Client } from 'pg';
import request from 'supertest';
import { SessionTitlesService, TITLE_INSTRUCTION } from '../src/chats/session-titles.service';
import { SUMMARY_INSTRUCTION, SummariesService } from '../src/context/summaries.service';
import { startApp, TestApp } from './support/app';
import { writeTestConfig } from './support/test-config';
import { FakeOpenAi, RecordedRequest, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse } from './support/sse';
import { registerUser, TestUser } from './support/users';

/** The test configuration with its `context_management` block replaced (model titles on unless the block says). */
const testConfigWith = (contextManagement: Record<string, unknown>) =>
  writeTestConfig((config) => {
    config.context_management = contextManagement;
  });

type Turn = { role: string; content: string };
const KEY = 'sk-context-test';
const OVERHEAD = 4;
const isTitle = (r: RecordedRequest) => r.body?.messages?.[0]?.content === TITLE_INSTRUCTION;
const isSummary = (r: RecordedRequest) => r.body?.messages?.[0]?.content === SUMMARY_INSTRUCTION;
const isAnswer = (r: RecordedRequest) => !isTitle(r) && !isSummary(r);
const turns = (r: RecordedRequest): Turn[] => r.body.messages.map(({ role, content }: Turn) => ({ role, content }));

/** Waits for the titles and summaries started by the answers so far (what shutdown waits for too). */
const settle = async (t: TestApp) => {
  await t.app.get(SessionTitlesService).whenIdle();
  await t.app.get(SummariesService).whenIdle();
};

describe('Context management, full mode, model titles (e2e)', () => {
  let t: TestApp;
  let fake: FakeOpenAi;
  let alice: TestUser;
  const DEFAULT_PROMPT = 'You are the default assistant of the tests.';

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    t = await startApp({
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: KEY,
      CONFIG_FILE: testConfigWith({ mode: 'full', default_system_prompt: DEFAULT_PROMPT }),
    });
    alice = await registerUser(t.url);
  });
  beforeEach(() => {
    fake.reset();
    fake.script((r) => (isTitle(r) ? { pieces: ['Title: "Trip to', ' Lisbon."'] } : { pieces: ['An answer.'] }));
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  // A model given with a session_id would become the session's: a send to a session names none.
  const send = (body: object) =>
    request(t.url).post('/v1/chat/stream').set(alice.auth).send({ ...(!('session_id' in body) && { model: 'gpt-4o-mini' }), stream: false, ...body });
  const session = async (id: number) => (await request(t.url).get(`/v1/chat/sessions/${id}`).set(alice.auth)).body;

  describe('auto title', () => {
    it('titles an untitled session with the model after the first exchange, in the background', async () => {
      const res = await request(t.url)
        .post('/v1/chat/stream')
        .set(alice.auth)
        .send({ model: 'gpt-4o-mini', stream_format: 'events', messages: [{ role: 'user', content: 'Plan my week in Lisbon' }] });
      const events = parseSse(res.text);
      const done = JSON.parse(events.find((e) => e.event === 'done')!.data);
      expect(done.title).toBeNull(); // the model title is not known yet when the answer ends
      await settle(t);

      const sessionId = Number(res.headers['x-session-id']);
      expect((await session(sessionId)).title).toBe('Trip to Lisbon');
      const titleRequests = fake.requests.filter(isTitle);
      expect(titleRequests).toHaveLength(1);
      expect(titleRequests[0].body.messages[1].content).toBe('User: Plan my week in Lisbon\n\nAssistant: An answer.');
      expect(titleRequests[0].body.max_completion_tokens).toBe(24);

      // The second exchange asks for no title.
      await send({ session_id: sessionId, messages: [{ role: 'user', content: 'And the week after?' }] });
      await settle(t);
      expect(fake.requests.filter(isTitle)).toHaveLength(1);
    });

    it('never asks for a title when the user gave one at creation', async () => {
      const created = await request(t.url).post('/v1/chat/sessions').set(alice.auth).send({ title: 'Mine', model: 'gpt-4o-mini' });
      const res = await send({ session_id: created.body.id, messages: [{ role: 'user', content: 'Hi' }] });
      expect(res.body.title).toBe('Mine');
      await settle(t);
      expect(fake.requests.filter(isTitle)).toHaveLength(0);
      expect((await session(created.body.id)).title).toBe('Mine');
    });

    it('keeps the title a PATCH set while the model was still titling', async () => {
      fake.script((r) => (isTitle(r) ? { pieces: ['Model', ' title'], delayMs: 150 } : { pieces: ['An answer.'] }));
      const res = await send({ messages: [{ role: 'user', content: 'Race me' }] });
      expect(res.body.title).toBeNull();
      let titleRequest: RecordedRequest | undefined;
      for (let i = 0; i < 100 && !titleRequest; i++) {
        titleRequest = fake.requests.find(isTitle);
        if (!titleRequest) await new Promise((r) => setTimeout(r, 10));
      }
      expect(titleRequest).toBeDefined(); // asked, and not answered yet
      expect(titleRequest!.closedAt).toBeUndefined();

      const patched = await request(t.url).patch(`/v1/chat/sessions/${res.body.session_id}`).set(alice.auth).send({ title: 'User title' });
      expect(patched.status).toBe(200);
      await settle(t);
      expect(titleRequest!.closedAt).toBeDefined(); // the model did answer…
      expect((await session(res.body.session_id)).title).toBe('User title'); // …and its title was not written
    });

    it('falls back to the first words when the title model fails', async () => {
      fake.script((r) => (isTitle(r) ? { failure: { status: 500 } } : { pieces: ['An answer.'] }));
      const res = await send({ messages: [{ role: 'user', content: 'What is the capital of Portugal, please?' }] });
      await settle(t);
      expect((await session(res.body.session_id)).title).toBe('What is the capital of Portugal, please?');
    });
  });

  describe('system prompt', () => {
    it('sends the prompt set at creation, then after PATCH, then the default once it is removed', async () => {
      const created = await request(t.url)
        .post('/v1/chat/sessions')
        .set(alice.auth)
        .send({ title: 'Prompts', model: 'gpt-4o-mini', system_prompt: 'Answer in French.' });
      const id = created.body.id;
      await send({ session_id: id, messages: [{ role: 'user', content: 'One' }] });
      await request(t.url).patch(`/v1/chat/sessions/${id}`).set(alice.auth).send({ system_prompt: 'Answer in German.' });
      await send({ session_id: id, messages: [{ role: 'user', content: 'Two' }] });
      await request(t.url).patch(`/v1/chat/sessions/${id}`).set(alice.auth).send({ system_prompt: null });
      await send({ session_id: id, messages: [{ role: 'user', content: 'Three' }] });
      const answers = fake.requests.filter(isAnswer);
      expect(answers.map((r) => r.body.messages[0])).toEqual([
        { role: 'system', content: 'Answer in French.' },
        { role: 'system', content: 'Answer in German.' },
        { role: 'system', content: DEFAULT_PROMPT },
      ]);
      expect((await session(id)).system_prompt).toBeNull(); // the default is not copied into the session
    });

    it('a system message of /v1/chat/stream becomes the session\'s prompt and is sent first', async () => {
      const res = await send({ messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hello' }] });
      expect(turns(fake.requests.filter(isAnswer)[0])).toEqual([
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'Hello' },
      ]);
      expect((await session(res.body.session_id)).system_prompt).toBe('Be terse.');

      // On an existing session a system message replaces the prompt from this turn on.
      await send({ session_id: res.body.session_id, messages: [{ role: 'system', content: 'Be verbose.' }, { role: 'user', content: 'Again' }] });
      expect(turns(fake.requests.filter(isAnswer)[1])[0]).toEqual({ role: 'system', content: 'Be verbose.' });
      expect((await session(res.body.session_id)).system_prompt).toBe('Be verbose.');
    });
  });

  describe('GET /v1/chat/sessions/{id}/context', () => {
    it('shows exactly what the next send gives the model, with tokens, budget and model', async () => {
      const first = await send({ messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'First question' }] });
      const id = first.body.session_id;
      await send({ session_id: id, messages: [{ role: 'user', content: 'Second question' }] });

      const preview = await request(t.url).get(`/v1/chat/sessions/${id}/context`).set(alice.auth);
      expect(preview.status).toBe(200);
      const p = preview.body;
      expect(p).toMatchObject({
        session_id: id,
        model: 'openai/gpt-4o-mini',
        mode: 'full',
        summary: null,
        documents: null,
        budget: { context_window: 128000, reserved_output: 16384, safety_margin: 256, available: 128000 - 16384 - 256, tokenizer: 'o200k_base' },
        dropped: { messages: 0, summarized_messages: 0, documents: [] },
      });
      expect(p.messages.map((m: { part: string }) => m.part)).toEqual(['system', 'message', 'message', 'message', 'message']);
      for (const m of p.messages) expect(m.tokens).toBe(countTokens(m.content) + OVERHEAD);
      const sum = p.messages.reduce((n: number, m: { tokens: number }) => n + m.tokens, 0);
      expect(p.tokens).toEqual({ system: p.messages[0].tokens, summary: 0, documents: 0, messages: sum - p.messages[0].tokens, total: sum });

      fake.reset();
      fake.script({ pieces: ['Third answer'] });
      await send({ session_id: id, messages: [{ role: 'user', content: 'Third question' }] });
      const sent = turns(fake.requests[0]);
      expect(sent).toEqual([...p.messages.map(({ role, content }: Turn) => ({ role, content })), { role: 'user', content: 'Third question' }]);
      // The output the preview reserves is the limit the send asks for, though the request named none.
      expect(fake.requests[0].body.max_completion_tokens).toBe(p.budget.reserved_output);
    });

    it('reserves max_tokens when asked, refuses more than the model allows, and hides other users\' sessions', async () => {
      const res = await send({ messages: [{ role: 'user', content: 'Hi' }] });
      const id = res.body.session_id;
      const withMax = await request(t.url).get(`/v1/chat/sessions/${id}/context`).query({ max_tokens: 1000 }).set(alice.auth);
      expect(withMax.body.budget).toMatchObject({ reserved_output: 1000, available: 128000 - 1000 - 256 });
      const tooMany = await request(t.url).get(`/v1/chat/sessions/${id}/context`).query({ max_tokens: 20000 }).set(alice.auth);
      expect(tooMany.status).toBe(422);
      const bob = await registerUser(t.url);
      const other = await request(t.url).get(`/v1/chat/sessions/${id}/context`).set(bob.auth);
      expect(other.status).toBe(404);
      expect(other.headers['content-type']).toMatch(/application\/problem\+json/);
      const missing = await request(t.url).get('/v1/chat/sessions/987654/context').set(alice.auth);
      expect(missing.status).toBe(404);
    });
  });

  describe('a 1,000-message session', () => {
    it('still answers and sends only the newest messages that fit the model\'s window', async () => {
      const created = await request(t.url).post('/v1/chat/sessions').set(alice.auth).send({ title: 'Long', model: 'gpt-4' });
      const id = created.body.id;
      const db = new Client({ connectionString: process.env.DATABASE_URL });
      await db.connect();
      try {
        await db.query(
          `INSERT INTO messages (session_id, role, content, parts)
           SELECT $1, CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END, m.text, jsonb_build_array(jsonb_build_object('type', 'text', 'text', m.text))
             FROM generate_series(1, 1000) g, LATERAL (SELECT 'Message number ' || g || ': ' || repeat('lorem ipsum ', 5) AS text) m`,
          [id],
        );
        await db.query('UPDATE chat_sessions SET message_count = 1000 WHERE id = $1', [id]);
        await chainSessionMessages(db, id);
      } finally {
        await db.end();
      }

      const preview = (await request(t.url).get(`/v1/chat/sessions/${id}/context`).set(alice.auth)).body;
      const res = await send({ session_id: id, messages: [{ role: 'user', content: 'Still there?' }] });
      expect(res.status).toBe(200);

      const sent = turns(fake.requests.filter(isAnswer)[0]);
      const available = 8192 - Math.min(8192, 8192 / 4) - 256; // gpt-4: context 8192, output reserved 2048
      const cost = (m: Turn) => countTokens(m.content) + OVERHEAD;
      const used = sent.reduce((n, m) => n + cost(m), 0);
      expect(used).toBeLessThanOrEqual(available);
      expect(sent[sent.length - 1]).toEqual({ role: 'user', content: 'Still there?' });
      expect(sent[sent.length - 2].content).toMatch(/^Message number 1000: /);
      // Contiguous newest messages from a question on; the older pair (answer and its question) would not have fit.
      expect(sent[0]).toEqual({ role: 'system', content: DEFAULT_PROMPT });
      const numbers = sent.slice(1, -1).map((m) => Number(/^Message number (\d+):/.exec(m.content)![1]));
      expect(numbers).toEqual(numbers.map((_, i) => 1000 - numbers.length + 1 + i));
      expect(sent[1].role).toBe('user');
      const older = (n: number) => cost({ role: 'user', content: `Message number ${n}: ${'lorem ipsum '.repeat(5)}` });
      expect(used + older(numbers[0] - 1) + older(numbers[0] - 2)).toBeGreaterThan(available);
      expect(sent.length).toBeGreaterThan(100);

      // The preview (before the new message) kept the same tail, one message longer at most.
      expect(preview.dropped.messages).toBe(1000 - (preview.messages.length - 1));
      expect(preview.messages[1]).toMatchObject({ part: 'message', role: 'user' });
      expect(preview.messages[preview.messages.length - 1].content).toMatch(/^Message number 1000: /);
      expect(preview.tokens.total).toBeLessThanOrEqual(available);
    });

    it('refuses with 422 a new message that alone does not fit, and stores nothing', async () => {
      const created = await request(t.url).post('/v1/chat/sessions').set(alice.auth).send({ title: 'Tight', model: 'gpt-4' });
      const res = await send({ session_id: created.body.id, max_tokens: 6000, messages: [{ role: 'user', content: 'word '.repeat(2000) }] });
      expect(res.status).toBe(422);
      expect(res.body.detail).toMatch(/too long for this model/);
      expect(fake.requests).toHaveLength(0);
      expect((await session(created.body.id)).message_count).toBe(0);
    });
  });
});

describe('Context management, summary_window mode (e2e)', () => {
  let t: TestApp;
  let fake: FakeOpenAi;
  let alice: TestUser;
  let summaries: number;

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    t = await startApp({
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: KEY,
      CONFIG_FILE: testConfigWith({ mode: 'summary_window', window_size: 2, summarize_after_messages: 6, summary_update_interval: 4 }),
    });
    alice = await registerUser(t.url);
  });
  beforeEach(() => {
    fake.reset();
    summaries = 0;
    fake.script((r) =>
      isSummary(r) ? { pieces: [`Summary #${++summaries}`] } : isTitle(r) ? { pieces: ['A title'] } : { pieces: [`Answer to ${r.body.messages.at(-1).content}`] },
    );
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  /** Sends `n` exchanges `Q1`…`Qn` (after `from`), waiting for background work after each. @returns the session id */
  const converse = async (sessionId: number | undefined, from: number, to: number) => {
    for (let i = from; i <= to; i++) {
      const res = await request(t.url)
        .post('/v1/chat/stream')
        .set(alice.auth)
        .send({ model: 'gpt-4o-mini', stream: false, session_id: sessionId, messages: [{ role: 'user', content: `Q${i}` }] });
      expect(res.status).toBe(200);
      sessionId = res.body.session_id;
      await settle(t);
    }
    return sessionId!;
  };
  const pair = (i: number): Turn[] => [
    { role: 'user', content: `Q${i}` },
    { role: 'assistant', content: `Answer to Q${i}` },
  ];

  it('summarizes on schedule and then sends the summary and only the window', async () => {
    const id = await converse(undefined, 1, 7);
    const kinds = fake.requests.filter((r) => !isTitle(r)).map((r) => (isSummary(r) ? 'S' : 'A'));
    // 6 messages after exchange 3, then every 4 more messages leaving the 2-pair window: after 5 and 7.
    expect(kinds.join('')).toBe('AAASAASAAS');

    const answers = fake.requests.filter(isAnswer);
    // Exchange 4: summary #1 covers Q1/A1; the window is the rest.
    expect(turns(answers[3])).toEqual([
      { role: 'system', content: expect.stringContaining('<summary>\nSummary #1\n</summary>') },
      ...pair(2),
      ...pair(3),
      { role: 'user', content: 'Q4' },
    ]);
    // Exchange 6: summary #2 covers up to A3; exactly the 2-pair window follows.
    expect(turns(answers[5])).toEqual([
      { role: 'system', content: expect.stringContaining('<summary>\nSummary #2\n</summary>') },
      ...pair(4),
      ...pair(5),
      { role: 'user', content: 'Q6' },
    ]);
    // Summary #2 folded the previous summary and the messages that left the window.
    const second = fake.requests.filter(isSummary)[1];
    const prompt = second.body.messages[1].content as string;
    expect(prompt).toContain('<summary>\nSummary #1\n</summary>');
    expect(prompt).toContain('<message role="user">\nQ2\n</message>');
    expect(prompt).toContain('<message role="assistant">\nAnswer to Q3\n</message>');
    expect(prompt).not.toContain('Q4');

    const s = (await request(t.url).get(`/v1/chat/sessions/${id}`).set(alice.auth)).body;
    expect(s.summary).toBe('Summary #3');
    const preview = (await request(t.url).get(`/v1/chat/sessions/${id}/context`).set(alice.auth)).body;
    expect(preview.mode).toBe('summary_window');
    expect(preview.summary).toMatchObject({ text: 'Summary #3', covers_message_id: expect.any(Number), updated_at: expect.any(String) });
    expect(preview.dropped.summarized_messages).toBe(10);
    expect(preview.messages.map(({ role, content }: Turn) => ({ role, content }))).toEqual([
      { role: 'system', content: expect.stringContaining('Summary #3') },
      ...pair(6),
      ...pair(7),
    ]);
    expect(preview.tokens.summary).toBe(preview.messages[0].tokens);
  });

  it('keeps the previous summary when an update fails, and loses no message meanwhile', async () => {
    const id = await converse(undefined, 1, 3); // summary #1 covers Q1/A1
    fake.script((r) => (isSummary(r) ? { failure: { status: 500 } } : { pieces: [`Answer to ${r.body.messages.at(-1).content}`] }));
    await converse(id, 4, 5); // the update after exchange 5 fails, on its retry too (retries.max_attempts: 2)
    expect(fake.requests.filter(isSummary)).toHaveLength(3);
    expect((await request(t.url).get(`/v1/chat/sessions/${id}`).set(alice.auth)).body.summary).toBe('Summary #1');

    fake.reset();
    fake.script({ pieces: ['Six'] });
    await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ stream: false, session_id: id, messages: [{ role: 'user', content: 'Q6' }] });
    expect(turns(fake.requests.filter(isAnswer)[0])).toEqual([
      { role: 'system', content: expect.stringContaining('Summary #1') },
      ...pair(2),
      ...pair(3),
      ...pair(4),
      ...pair(5),
      { role: 'user', content: 'Q6' },
    ]);
  });
});

describe('Usage of titles and summaries (e2e)', () => {
  it("adds each to the session's and the user's totals and to the ledger, at its own model's price", async () => {
    const fake = await startFakeOpenAi({ apiKey: KEY });
    // Answers by gpt-4o-mini (0.15/0.60 per 1M), titles by gpt-4 (30/60), summaries by Llama on Groq (0.59/0.79).
    fake.script((r) =>
      isTitle(r)
        ? { pieces: ['A title'], usage: { prompt_tokens: 50, completion_tokens: 5 } }
        : isSummary(r)
          ? { pieces: ['A summary'], usage: { prompt_tokens: 200, completion_tokens: 20 } }
          : { pieces: ['An answer'], usage: { prompt_tokens: 100, completion_tokens: 10 } },
    );
    const t = await startApp({
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: KEY,
      GROQ_BASE_URL: fake.url,
      GROQ_API_KEY: KEY,
      CONFIG_FILE: testConfigWith({
        mode: 'summary_window',
        window_size: 1,
        summarize_after_messages: 4,
        title_model: 'gpt-4',
        summary_model: 'llama-3.3-70b',
      }),
    });
    try {
      const alice = await registerUser(t.url);
      let id: number | undefined;
      for (const q of ['Q1', 'Q2']) {
        const res = await request(t.url)
          .post('/v1/chat/stream')
          .set(alice.auth)
          .send({ model: 'gpt-4o-mini', stream: false, session_id: id, messages: [{ role: 'user', content: q }] });
        expect(res.status).toBe(200);
        id = res.body.session_id;
        await settle(t);
      }
      // Exchange 1 is titled; after exchange 2 the session holds 4 messages, 2 of them outside the window.
      expect(fake.requests.map((r) => (isTitle(r) ? 'T' : isSummary(r) ? 'S' : 'A')).join('')).toBe('ATAS');
      const session = (await request(t.url).get(`/v1/chat/sessions/${id}`).set(alice.auth)).body;
      expect(session).toMatchObject({ title: 'A title', summary: 'A summary' });

      const answer = (100 * 0.15 + 10 * 0.6) / 1e6;
      const title = (50 * 30 + 5 * 60) / 1e6;
      const summary = (200 * 0.59 + 20 * 0.79) / 1e6;
      const row = (model: string, purpose: string, requests: number, input: number, output: number, cost: number) =>
        ({ day: expect.any(String), model, purpose, requests, tokens_input: input, tokens_output: output, tokens_cached: 0, tokens_reasoning: 0, cost });
      const usage = (await request(t.url).get('/v1/users/me/usage').set(alice.auth)).body;
      expect(usage.days).toEqual([
        row('groq/llama-3.3-70b-versatile', 'summary', 1, 200, 20, summary),
        row('openai/gpt-4', 'title', 1, 50, 5, title),
        row('openai/gpt-4o-mini', 'answer', 2, 200, 20, 2 * answer),
      ]);
      const all = { tokens_input: 450, tokens_output: 45 };
      expect(usage.totals).toMatchObject({ requests: 4, ...all });
      expect(usage.totals.cost).toBeCloseTo(2 * answer + title + summary, 10);
      expect(session).toMatchObject(all);
      expect(session.cost).toBeCloseTo(2 * answer + title + summary, 10);
      const stats = (await request(t.url).get('/v1/users/me/stats').set(alice.auth)).body;
      expect(stats).toMatchObject(all);
      expect(stats.cost).toBeCloseTo(2 * answer + title + summary, 10);
    } finally {
      await t.close();
      await fake.close();
    }
  });
});

describe('summary_window mode with the offline model (e2e)', () => {
  it('writes no summary, and sends every message that fits instead', async () => {
    const t = await startApp({ CONFIG_FILE: testConfigWith({ mode: 'summary_window', window_size: 1, summarize_after_messages: 2, summary_update_interval: 1 }) });
    try {
      const alice = await registerUser(t.url);
      let id: number | undefined;
      for (let i = 1; i <= 4; i++) {
        const res = await request(t.url)
          .post('/v1/chat/stream')
          .set(alice.auth)
          .send({ stream: false, session_id: id, messages: [{ role: 'user', content: `Q${i}` }] });
        id = res.body.session_id;
        await settle(t);
      }
      expect((await request(t.url).get(`/v1/chat/sessions/${id}`).set(alice.auth)).body.summary).toBeNull();
      const preview = (await request(t.url).get(`/v1/chat/sessions/${id}/context`).set(alice.auth)).body;
      expect(preview).toMatchObject({ model: 'offline/echo', mode: 'summary_window', summary: null });
      expect(preview.messages).toHaveLength(8);
    } finally {
      await t.close();
    }
  });
});

describe('Background work at shutdown (e2e)', () => {
  it('closing the app aborts a title still being made instead of leaving it running', async () => {
    const fake = await startFakeOpenAi({ apiKey: KEY });
    fake.script((r) => (isTitle(r) ? { pieces: ['Slow', ' title'], delayMs: 5000 } : { pieces: ['An answer.'] }));
    const t = await startApp({ OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY, CONFIG_FILE: testConfigWith({ mode: 'full' }) });
    try {
      const alice = await registerUser(t.url);
      const res = await request(t.url)
        .post('/v1/chat/stream')
        .set(alice.auth)
        .send({ model: 'gpt-4o-mini', stream: false, messages: [{ role: 'user', content: 'Hello' }] });
      expect(res.status).toBe(200);
      for (let i = 0; i < 100 && !fake.requests.some(isTitle); i++) await new Promise((r) => setTimeout(r, 10));
      const titleRequest = fake.requests.find(isTitle)!;
      expect(titleRequest).toBeDefined();
    } finally {
      await t.close();
    }
    const titleRequest = fake.requests.find(isTitle)!;
    await titleRequest.closed;
    expect(titleRequest.closedEarly).toBe(true); // the upstream call was aborted, not left running
    await fake.close();
  });
});
