import http from 'node:http';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse, streamPost, textOf } from './support/sse';
import { registerUser, TestUser } from './support/users';

/** The messages path against a local server speaking OpenAI's Chat Completions protocol. */
describe('POST /v1/chat/stream through an OpenAI-compatible provider', () => {
  let t: TestApp;
  let fake: FakeOpenAi;
  let alice: TestUser;
  const KEY = 'sk-test-key-never-shown';
  const body = (extra: object = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello?' }], ...extra });

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    t = await startApp({ OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY });
    alice = await registerUser(t.url);
  });
  beforeEach(() => fake.reset());
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const messagesOf = async (sessionId: number) =>
    (await request(t.url).get(`/v1/chat/sessions/${sessionId}/messages`).set(alice.auth)).body.items;

  it('relays the pieces byte-exact and records the usage and cost the provider reported', async () => {
    const pieces = ['Hi', ' there', ',\nfriend', ' — ünïcödé 🚀', '\n\nBye.'];
    fake.script({ pieces, usage: { prompt_tokens: 1234, completion_tokens: 567 } });
    const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send(body({ temperature: 0.3, max_tokens: 99 }));
    expect(res.status).toBe(200);
    const events = parseSse(res.text);
    expect(textOf(events)).toBe(pieces.join(''));
    // Event boundaries sit inside words, so a client that strips each line loses no space.
    for (const e of events.filter((x) => !x.event && x.data !== '[DONE]')) expect(e.data).toBe(e.data.trim());

    const upstream = fake.requests[0];
    expect(upstream.path).toBe('/v1/chat/completions');
    expect(upstream.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(upstream.body).toMatchObject({
      model: 'gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.3,
      max_completion_tokens: 99,
      messages: [{ role: 'user', content: 'Hello?' }],
    });

    const sessionId = Number(res.headers['x-session-id']);
    const [, answer] = await messagesOf(sessionId);
    expect(answer).toMatchObject({
      content: pieces.join(''),
      status: 'complete',
      model: 'openai/gpt-4o-mini',
      tokens_input: 1234,
      tokens_output: 567,
      usage_estimated: false,
    });
    const expectedCost = (1234 * 0.15 + 567 * 0.6) / 1_000_000;
    expect(answer.cost).toBeCloseTo(expectedCost, 8);
    const session = (await request(t.url).get(`/v1/chat/sessions/${sessionId}`).set(alice.auth)).body;
    expect(session).toMatchObject({ tokens_input: 1234, tokens_output: 567, message_count: 2 });
    expect(session.cost).toBeCloseTo(expectedCost, 8);
  });

  it('answers stream:false with the provider\'s text and usage', async () => {
    fake.script({ pieces: ['Forty', '-two'], usage: { prompt_tokens: 10, completion_tokens: 2 } });
    const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send(body({ stream: false }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      output_text: 'Forty-two',
      model: 'openai/gpt-4o-mini',
      usage: { input_tokens: 10, output_tokens: 2, total_tokens: 12, estimated: false },
      finish_reason: 'stop',
    });
    expect(res.body.cost).toBeCloseTo((10 * 0.15 + 2 * 0.6) / 1e6, 10);
    expect(fake.requests[0].body.stream).toBeFalsy();
  });

  it('sends the system prompt and the stored history on the next turn, and switch-model keeps it', async () => {
    fake.script({ pieces: ['First answer'] });
    const first = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send(body({ stream: false, messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'One' }] }));
    const sessionId = first.body.session_id;

    const switched = await request(t.url)
      .post('/v1/chat/switch-model')
      .set(alice.auth)
      .send({ session_id: sessionId, model: 'gpt-3.5-turbo' });
    expect(switched.status).toBe(200);
    expect(switched.body).toEqual({
      session_id: sessionId,
      model: 'openai/gpt-3.5-turbo',
      messages: [
        { role: 'user', content: 'One' },
        { role: 'assistant', content: 'First answer' },
      ],
      title: 'One',
    });

    fake.script({ pieces: ['Second answer'] });
    const second = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ stream: false, session_id: sessionId, messages: [{ role: 'user', content: 'Two' }] }); // no model: the session's
    expect(second.body.model).toBe('openai/gpt-3.5-turbo');
    expect(fake.requests[1].body).toMatchObject({
      model: 'gpt-3.5-turbo',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'One' },
        { role: 'assistant', content: 'First answer' },
        { role: 'user', content: 'Two' },
      ],
    });
  });

  it('switch-model: 400 for an unknown model, 404 for a missing session', async () => {
    const created = await request(t.url).post('/v1/chat/sessions').set(alice.auth).send({});
    const unknown = await request(t.url).post('/v1/chat/switch-model').set(alice.auth).send({ session_id: created.body.id, model: 'nope' });
    expect(unknown.status).toBe(400);
    const missing = await request(t.url).post('/v1/chat/switch-model').set(alice.auth).send({ session_id: 987654, model: 'gpt-4' });
    expect(missing.status).toBe(404);
    const unconfigured = await request(t.url).post('/v1/chat/switch-model').set(alice.auth).send({ session_id: created.body.id, model: 'llama-3.3-70b' });
    expect(unconfigured.status).toBe(503);
    const after = await request(t.url).get(`/v1/chat/sessions/${created.body.id}`).set(alice.auth);
    expect(after.body.model).toBe('openai/gpt-4o-mini');
  });

  it('a client that leaves mid-stream closes the upstream socket within 1 s and keeps exactly the text sent as incomplete', async () => {
    fake.script({ pieces: Array.from({ length: 40 }, (_, i) => ` piece${i}`), delayMs: 150 });
    const res = await streamPost(t.url, '/v1/chat/stream', body(), alice.auth, (soFar) =>
      textOf(parseSse(soFar)).split(' piece').length > 3 ? 'abort' : undefined,
    );
    expect(res.abortedAt).toBeDefined();
    const received = textOf(parseSse(res.body));
    const upstreamClosedAt = await fake.requests[0].closed;
    expect(fake.requests[0].closedEarly).toBe(true);
    expect(upstreamClosedAt - res.abortedAt!).toBeLessThan(1000);

    const sessionId = Number(res.headers['x-session-id']);
    let answers: { role: string; status: string; content: string }[] = [];
    for (let i = 0; i < 50; i++) {
      answers = (await messagesOf(sessionId)).filter((m: { role: string }) => m.role === 'assistant');
      if (answers[0] && answers[0].status !== 'in_progress') break; // settled
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatchObject({ status: 'incomplete', content: received });
    expect(received.length).toBeGreaterThan(0);
  });

  it('a client that leaves a stream:false request aborts the upstream call and leaves an incomplete row', async () => {
    fake.script({ pieces: ['slow', ' answer'], delayMs: 400 });
    const before = Date.now();
    const req = http.request(`${t.url}/v1/chat/stream`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...alice.auth },
    });
    req.on('error', () => undefined);
    req.end(JSON.stringify(body({ stream: false })));
    while (!fake.requests.length) await new Promise((r) => setTimeout(r, 20));
    const leftAt = Date.now();
    req.destroy();
    expect((await fake.requests[0].closed) - leftAt).toBeLessThan(1000);
    expect(fake.requests[0].closedEarly).toBe(true);
    const sessions = (await request(t.url).get('/v1/chat/sessions').set(alice.auth)).body.items;
    const newest = sessions.find((s: { created_at: string }) => Date.parse(s.created_at) >= before - 1000);
    // The placeholder row is `incomplete` from the start; the stored outcome adds the estimated usage.
    let answer = (await messagesOf(newest.id))[1];
    for (let i = 0; i < 50 && !answer.usage_estimated; i++) {
      await new Promise((r) => setTimeout(r, 50));
      answer = (await messagesOf(newest.id))[1];
    }
    expect(answer.usage_estimated).toBe(true);
    expect(answer.tokens_input).toBeGreaterThan(0);
    expect(answer).toMatchObject({ status: 'incomplete', content: '' });
  });

  it('a provider failure mid-stream sends the error event and keeps the partial answer as failed', async () => {
    fake.script({ pieces: ['Partial', ' answer', ' lost'], cut: { afterPieces: 2 } });
    const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send(body({ stream_format: 'events' }));
    expect(res.status).toBe(200);
    const events = parseSse(res.text);
    const error = events.find((e) => e.event === 'error');
    expect(error).toBeDefined();
    expect(JSON.parse(error!.data)).toMatchObject({ status: 502, title: 'Bad Gateway' });
    expect(events[events.length - 1].data).toBe('[DONE]');
    const [, answer] = await messagesOf(Number(res.headers['x-session-id']));
    expect(answer).toMatchObject({ status: 'failed', content: 'Partial answer', finish_reason: 'error' });
  });

  it.each([
    [401, {}, 502, /rejected this server's credentials/],
    [500, {}, 502, /provider failed/],
    [429, { retryAfter: '7' }, 429, /rate limiting/],
  ])('maps a provider %d before the first piece to %d problem details', async (upstream, extra, status, detail) => {
    fake.script({ failure: { status: upstream, ...extra } });
    const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send(body());
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toMatch(detail);
    expect(JSON.stringify(res.body)).not.toContain(KEY);
    if (status === 429) expect(res.headers['retry-after']).toBe('7');
    // The user's message was acknowledged before the call, so it stays; the answer row says what happened.
    const items = await messagesOf(Number(res.headers['x-session-id']));
    expect(items.map((m: { role: string; status: string }) => `${m.role}:${m.status}`)).toEqual(['user:complete', 'assistant:failed']);
  });

  it('serves /v1/models with availability from credentials', async () => {
    const res = await request(t.url).get('/v1/models').set(alice.auth);
    expect(res.headers['x-offline-mode']).toBe('false');
    const byId = Object.fromEntries(res.body.data.map((m: { id: string }) => [m.id, m]));
    expect(byId['openai/gpt-4o-mini']).toMatchObject({
      provider: 'openai',
      available: true,
      context_window: 128000,
      pricing: { input_per_1m: 0.15, output_per_1m: 0.6 },
    });
    expect(byId['groq/llama-3.3-70b-versatile'].available).toBe(false);
  });
});
