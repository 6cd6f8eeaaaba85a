import { chainSessionMessages } from './support/database';
import { countTokens } from 'gpt-tokenizer';
import http from 'node:http';
import { Client } from 'pg';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse, SseEvent } from './support/sse';
import { modelIn, writeTestConfig } from './support/test-config';
import { registerUser, TestUser } from './support/users';

/**
 * Timeouts, retries and fallbacks, against two local servers speaking OpenAI's Chat Completions protocol:
 * `openai` (the primary) and `groq` (the fallback). `gpt-4` has no fallback; `gpt-4o-mini` falls back to
 * `llama-3.3-70b` (groq), whose 131k-token window falls back to `gpt-4`'s 8k; `mistral-small` has no configured
 * provider and falls back to `gpt-4`.
 */
describe('resilience: timeouts, retries and fallbacks', () => {
  const FIRST_TOKEN_MS = 1000;
  const IDLE_MS = 1000;
  const OPENAI_KEY = 'sk-openai-key-never-shown';
  const GROQ_KEY = 'gsk-groq-key-never-shown';
  let t: TestApp;
  let openai: FakeOpenAi;
  let groq: FakeOpenAi;
  let alice: TestUser;

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: OPENAI_KEY });
    groq = await startFakeOpenAi({ apiKey: GROQ_KEY });
    const configFile = writeTestConfig((c) => {
      c.limits.provider_first_token_timeout_ms = FIRST_TOKEN_MS;
      c.limits.provider_idle_timeout_ms = IDLE_MS;
      c.retries = { max_attempts: 2, base_delay_ms: 50, max_delay_ms: 3000 };
      modelIn(c, 'openai/gpt-4o-mini').fallbacks = ['llama-3.3-70b'];
      modelIn(c, 'groq/llama-3.3-70b-versatile').fallbacks = ['gpt-4'];
      c.models.push({
        id: 'mistral/mistral-small-latest',
        aliases: ['mistral-small'],
        context_window: 32000,
        max_output_tokens: 4096,
        pricing: { input_per_1m: 0.1, output_per_1m: 0.3 },
        fallbacks: ['gpt-4'],
      });
    });
    t = await startApp({
      CONFIG_FILE: configFile,
      OPENAI_BASE_URL: openai.url,
      OPENAI_API_KEY: OPENAI_KEY,
      GROQ_BASE_URL: groq.url,
      GROQ_API_KEY: GROQ_KEY,
    });
    alice = await registerUser(t.url);
  });
  beforeEach(() => {
    openai.reset();
    groq.reset();
  });
  afterAll(async () => {
    await t.close();
    await Promise.all([openai.close(), groq.close()]);
  });

  const send = (model: string, extra: object = {}) =>
    request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ model, messages: [{ role: 'user', content: 'Hello?' }], stream_format: 'events', ...extra });
  const answerOf = async (res: { headers: Record<string, string> }) => {
    const items = (await request(t.url).get(`/v1/chat/sessions/${res.headers['x-session-id']}/messages`).set(alice.auth)).body.items;
    return items[items.length - 1];
  };
  const deltas = (events: SseEvent[]) =>
    events
      .filter((e) => e.event === 'delta')
      .map((e) => JSON.parse(e.data).text)
      .join('');
  const eventData = (events: SseEvent[], name: string) => {
    const event = events.find((e) => e.event === name);
    return event ? JSON.parse(event.data) : undefined;
  };

  it('retries a 429 after the Retry-After the provider asked for, and the answer succeeds', async () => {
    openai.script((_, i) => (i === 0 ? { failure: { status: 429, retryAfter: '1' } } : { pieces: ['Second', ' try'] }));
    const res = await send('gpt-4');
    expect(res.status).toBe(200);
    const events = parseSse(res.text);
    expect(deltas(events)).toBe('Second try');
    expect(openai.requests).toHaveLength(2);
    expect(openai.requests[1].receivedAt - openai.requests[0].receivedAt).toBeGreaterThanOrEqual(1000);
    expect(await answerOf(res)).toMatchObject({
      status: 'complete',
      content: 'Second try',
      model: 'openai/gpt-4',
      attempts: [{ model: 'openai/gpt-4', error_kind: null, upstream_status: null, retries: 1 }],
    });
  });

  it.each([true, false])('retries a 500 and answers from the second call (stream: %s)', async (stream) => {
    openai.script((_, i) => (i === 0 ? { failure: { status: 500 } } : { pieces: ['Fine', ' now'] }));
    const res = await send('gpt-4', { stream });
    expect(res.status).toBe(200);
    if (stream) expect(deltas(parseSse(res.text))).toBe('Fine now');
    else expect(res.body).toMatchObject({ output_text: 'Fine now', model: 'openai/gpt-4' });
    expect(openai.requests).toHaveLength(2);
    expect((await answerOf(res)).attempts).toEqual([{ model: 'openai/gpt-4', error_kind: null, upstream_status: null, retries: 1 }]);
  });

  it('never retries nor falls back once a piece reached the client: error event, failed row, one upstream request', async () => {
    openai.script({ pieces: ['Partial', ' answer', ' lost'], cut: { afterPieces: 2 } });
    const res = await send('gpt-4o-mini');
    expect(res.status).toBe(200);
    const events = parseSse(res.text);
    expect(deltas(events)).toBe('Partial answer');
    expect(eventData(events, 'error')).toMatchObject({ status: 502 });
    expect(events[events.length - 1].data).toBe('[DONE]');
    expect(openai.requests).toHaveLength(1);
    expect(groq.requests).toHaveLength(0);
    expect(await answerOf(res)).toMatchObject({
      status: 'failed',
      content: 'Partial answer',
      model: 'openai/gpt-4o-mini',
      attempts: [{ model: 'openai/gpt-4o-mini', error_kind: 'unavailable', upstream_status: null, retries: 0 }],
    });
  });

  it('a first-token stall times out, aborts the upstream request, is retried once, then answers 504', async () => {
    openai.script({ pieces: ['too', ' late'], delaysMs: [10_000] });
    const started = Date.now();
    const res = await send('gpt-4');
    expect(res.status).toBe(504);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toMatch(/sent nothing within 1000 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * FIRST_TOKEN_MS);
    expect(openai.requests).toHaveLength(2);
    await Promise.all(openai.requests.map((r) => r.closed));
    expect(openai.requests.every((r) => r.closedEarly)).toBe(true);
    expect(await answerOf(res)).toMatchObject({
      status: 'failed',
      attempts: [{ model: 'openai/gpt-4', error_kind: 'timeout', upstream_status: null, retries: 1 }],
    });
  });

  it('a first-token stall on a model with a fallback is answered by the fallback', async () => {
    openai.script({ pieces: ['too', ' late'], delaysMs: [10_000] });
    groq.script({ pieces: ['From', ' groq'] });
    const res = await send('gpt-4o-mini');
    expect(res.status).toBe(200);
    const events = parseSse(res.text);
    expect(eventData(events, 'start').model).toBe('groq/llama-3.3-70b-versatile');
    expect(deltas(events)).toBe('From groq');
    expect(openai.requests).toHaveLength(2);
    expect(groq.requests).toHaveLength(1);
  });

  it('an idle stall mid-stream ends with an error event (504) and keeps the text as failed', async () => {
    openai.script({ pieces: ['One', ' two', ' never'], delaysMs: [0, 0, 10_000] });
    const res = await send('gpt-4o-mini');
    expect(res.status).toBe(200);
    const events = parseSse(res.text);
    expect(eventData(events, 'error')).toMatchObject({ status: 504, detail: expect.stringMatching(/stopped sending for 1000 ms/) });
    expect(openai.requests).toHaveLength(1);
    expect(groq.requests).toHaveLength(0);
    expect(openai.requests[0].closedEarly).toBe(true);
    expect(await answerOf(res)).toMatchObject({ status: 'failed', content: 'One two', finish_reason: 'error' });
  });

  it('falls back when the primary keeps failing: one clean stream, the fallback recorded as the answering model', async () => {
    openai.script({ failure: { status: 500 } });
    groq.script({ pieces: ['Fallback', ' answer'], usage: { prompt_tokens: 100, completion_tokens: 10 } });
    const res = await send('gpt-4o-mini');
    expect(res.status).toBe(200);
    const events = parseSse(res.text);
    expect(events.map((e) => e.event ?? e.data)).toEqual(['start', 'delta', 'delta', 'done', '[DONE]']);
    expect(eventData(events, 'start').model).toBe('groq/llama-3.3-70b-versatile');
    expect(eventData(events, 'done')).toMatchObject({ model: 'groq/llama-3.3-70b-versatile', finish_reason: 'stop' });
    expect(eventData(events, 'done').cost).toBeCloseTo((100 * 0.59 + 10 * 0.79) / 1e6, 10);
    expect(openai.requests).toHaveLength(2);
    expect(groq.requests).toHaveLength(1);
    expect(groq.requests[0].body.model).toBe('llama-3.3-70b-versatile');
    expect(groq.requests[0].headers.authorization).toBe(`Bearer ${GROQ_KEY}`);
    const answer = await answerOf(res);
    expect(answer).toMatchObject({
      status: 'complete',
      content: 'Fallback answer',
      model: 'groq/llama-3.3-70b-versatile',
      attempts: [
        { model: 'openai/gpt-4o-mini', error_kind: 'unavailable', upstream_status: 500, retries: 1 },
        { model: 'groq/llama-3.3-70b-versatile', error_kind: null, upstream_status: null, retries: 0 },
      ],
    });
    // The session keeps the model it asked for; only the answer records who answered.
    const session = (await request(t.url).get(`/v1/chat/sessions/${res.headers['x-session-id']}`).set(alice.auth)).body;
    expect(session.model).toBe('openai/gpt-4o-mini');
  });

  it('rejected credentials: 502 saying so without the key, no retry; with a fallback the fallback answers at once', async () => {
    openai.script({ failure: { status: 401, message: `Incorrect API key provided: ${OPENAI_KEY}.` } });
    const res = await send('gpt-4');
    expect(res.status).toBe(502);
    expect(res.body.detail).toMatch(/rejected this server's credentials/);
    expect(JSON.stringify(res.body)).not.toContain(OPENAI_KEY);
    expect(openai.requests).toHaveLength(1);
    expect((await answerOf(res)).attempts).toEqual([{ model: 'openai/gpt-4', error_kind: 'auth', upstream_status: 401, retries: 0 }]);

    openai.reset();
    openai.script({ failure: { status: 403 } });
    const fallback = await send('gpt-4o-mini', { stream: false });
    expect(fallback.status).toBe(200);
    expect(fallback.body.model).toBe('groq/llama-3.3-70b-versatile');
    expect(openai.requests).toHaveLength(1);
  });

  it('when every model fails, the client gets the last failure: a 429 passing on a Retry-After too long to wait', async () => {
    openai.script({ failure: { status: 500 } });
    groq.script({ failure: { status: 429, retryAfter: '30' } });
    const started = Date.now();
    const res = await send('gpt-4o-mini');
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('30');
    expect(res.body.detail).toMatch(/rate limiting/);
    expect(Date.now() - started).toBeLessThan(10_000); // it did not sit out the 30 s
    expect(groq.requests).toHaveLength(1);
    expect(await answerOf(res)).toMatchObject({
      status: 'failed',
      model: 'groq/llama-3.3-70b-versatile',
      attempts: [
        { model: 'openai/gpt-4o-mini', error_kind: 'unavailable', upstream_status: 500, retries: 1 },
        { model: 'groq/llama-3.3-70b-versatile', error_kind: 'rate_limited', upstream_status: 429, retries: 0 },
      ],
    });
  });

  it('a client that leaves during a retry wait ends the answer: no further call, the row kept as incomplete', async () => {
    openai.script({ failure: { status: 429, retryAfter: '2' } });
    const req = http.request(`${t.url}/v1/chat/stream`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...alice.auth } });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'Hello?' }] }));
    while (!openai.requests.length) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    req.destroy();
    await new Promise((r) => setTimeout(r, 2500)); // past the 2 s the provider asked to wait
    // Nothing reached the client, so the newest session (this one) has only the user's turn and the placeholder.
    expect(openai.requests).toHaveLength(1);
    const sessions = (await request(t.url).get('/v1/chat/sessions?page_size=100').set(alice.auth)).body.items;
    const newest = sessions.reduce((a: { id: number }, b: { id: number }) => (a.id > b.id ? a : b));
    const items = (await request(t.url).get(`/v1/chat/sessions/${newest.id}/messages`).set(alice.auth)).body.items;
    expect(items[items.length - 1]).toMatchObject({
      status: 'incomplete',
      content: '',
      attempts: [{ model: 'openai/gpt-4', error_kind: 'rate_limited', upstream_status: 429, retries: 0 }],
    });
  });

  it('skips a model whose provider is not configured and answers with its fallback', async () => {
    openai.script({ pieces: ['GPT-4', ' here'] });
    const res = await send('mistral-small', { stream: false });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model: 'openai/gpt-4', output_text: 'GPT-4 here' });
    expect(openai.requests[0].body.model).toBe('gpt-4');
    expect((await answerOf(res)).attempts).toEqual([
      { model: 'mistral/mistral-small-latest', error_kind: 'not_configured', upstream_status: null, retries: 0 },
      { model: 'openai/gpt-4', error_kind: null, upstream_status: null, retries: 0 },
    ]);
  });

  it('lists the configured fallback as the model answering for a model whose provider is not configured', async () => {
    const res = await request(t.url).get('/v1/models').set(alice.auth);

    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.data.map((m: { id: string }) => [m.id, m]));
    expect(byId['mistral/mistral-small-latest']).toMatchObject({ available: false, answered_by: 'openai/gpt-4' });
    expect(byId['openai/gpt-4o-mini']).toMatchObject({ available: true, answered_by: 'openai/gpt-4o-mini' });
    expect(openai.requests).toHaveLength(0);
  });

  describe('a large-window model falling back to a small-window one', () => {
    const OVERHEAD = 4;
    const GPT4_AVAILABLE = 8192 - 8192 / 4 - 256; // gpt-4: window 8192, output reserved 2048, safety margin 256
    const cost = (m: { content: string }) => countTokens(m.content) + OVERHEAD;

    /** A llama-3.3-70b session holding `n` stored messages (inserted directly: no model call). */
    const longSession = async (n: number) => {
      const created = await request(t.url).post('/v1/chat/sessions').set(alice.auth).send({ title: 'Long', model: 'llama-3.3-70b' });
      const db = new Client({ connectionString: process.env.DATABASE_URL });
      await db.connect();
      try {
        await db.query(
          `INSERT INTO messages (session_id, role, content, parts)
           SELECT $1, CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END, m.text, jsonb_build_array(jsonb_build_object('type', 'text', 'text', m.text))
             FROM generate_series(1, $2::int) g, LATERAL (SELECT 'Message number ' || g || ': ' || repeat('lorem ipsum ', 5) AS text) m`,
          [created.body.id, n],
        );
        await db.query('UPDATE chat_sessions SET message_count = $2 WHERE id = $1', [created.body.id, n]);
        await chainSessionMessages(db, created.body.id);
      } finally {
        await db.end();
      }
      return created.body.id as number;
    };

    it("refits the context to the fallback's window and tokenizer, keeping the newest messages", async () => {
      const id = await longSession(1000);
      groq.script({ failure: { status: 500 } });
      openai.script({ pieces: ['Small', ' window'] });

      const res = await send('llama-3.3-70b', { session_id: id, messages: [{ role: 'user', content: 'Still there?' }] });

      expect(res.status).toBe(200);
      const events = parseSse(res.text);
      expect(eventData(events, 'start').model).toBe('openai/gpt-4');
      // The primary had room for the whole session…
      expect(groq.requests).toHaveLength(2);
      expect(groq.requests[0].body.messages).toHaveLength(1001);
      expect(groq.requests[0].body.max_tokens).toBe(32768); // min(32768, 131072 / 4)
      // …the fallback gets what fits its own window, counted with its own (exact) tokenizer, and its own reservation.
      const sent: { role: string; content: string }[] = openai.requests[0].body.messages;
      expect(openai.requests[0].body).toMatchObject({ model: 'gpt-4', max_completion_tokens: 2048 });
      const used = sent.reduce((n, m) => n + cost(m), 0);
      expect(used).toBeLessThanOrEqual(GPT4_AVAILABLE);
      expect(sent.at(-1)).toEqual({ role: 'user', content: 'Still there?' });
      const numbers = sent.slice(0, -1).map((m) => Number(/^Message number (\d+):/.exec(m.content)![1]));
      expect(numbers.at(-1)).toBe(1000);
      expect(numbers).toEqual(numbers.map((_, i) => 1000 - numbers.length + 1 + i)); // contiguous, newest kept
      expect(sent[0].role).toBe('user');
      const older = (k: number) => cost({ content: `Message number ${k}: ${'lorem ipsum '.repeat(5)}` });
      expect(used + older(numbers[0] - 1) + older(numbers[0] - 2)).toBeGreaterThan(GPT4_AVAILABLE);
      const answerId = eventData(events, 'done').message_id;
      const page = await request(t.url).get(`/v1/chat/sessions/${id}/messages`).query({ after_id: answerId - 1 }).set(alice.auth);
      expect(page.body.items[0]).toMatchObject({
        status: 'complete',
        model: 'openai/gpt-4',
        attempts: [
          { model: 'groq/llama-3.3-70b-versatile', error_kind: 'unavailable', upstream_status: 500, retries: 1 },
          { model: 'openai/gpt-4', error_kind: null, upstream_status: null, retries: 0 },
        ],
      });
    });

    it('skips a fallback the new message does not fit, and the client gets the primary\'s failure', async () => {
      groq.script({ failure: { status: 500 } });
      // 2000 tokens fit llama-3.3-70b, but not gpt-4 once 6000 are reserved for the answer (8192 − 6000 − 256).
      const res = await send('llama-3.3-70b', { max_tokens: 6000, messages: [{ role: 'user', content: 'word '.repeat(2000) }] });

      expect(res.status).toBe(502);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(groq.requests).toHaveLength(2);
      expect(openai.requests).toHaveLength(0);
      expect(await answerOf(res)).toMatchObject({
        status: 'failed',
        model: 'groq/llama-3.3-70b-versatile',
        attempts: [
          { model: 'groq/llama-3.3-70b-versatile', error_kind: 'unavailable', upstream_status: 500, retries: 1 },
          { model: 'openai/gpt-4', error_kind: 'context_too_small', upstream_status: null, retries: 0 },
        ],
      });
    });
  });
});
