import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { parseSse, textOf } from './support/sse';
import { registerUser, TestUser } from './support/users';

/** The API guide's streaming endpoint with no provider configured: the offline model answers. */
describe('POST /v1/chat/stream (offline model)', () => {
  let t: TestApp;
  let alice: TestUser;
  const seedBody = { model: 'gpt-4', messages: [{ role: 'user', content: 'Tell me a story' }], temperature: 0.7 };

  beforeAll(async () => {
    t = await startApp();
    alice = await registerUser(t.url);
  });
  afterAll(() => t.close());

  it('streams the plain data events, ends with [DONE], and stores both messages', async () => {
    const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send(seedBody);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const sessionId = Number(res.headers['x-session-id']);
    expect(sessionId).toBeGreaterThan(0);
    const events = parseSse(res.text);
    expect(events[events.length - 1].data).toBe('[DONE]');
    expect(events.filter((e) => !e.event && e.data !== '[DONE]').length).toBeGreaterThan(3);
    const text = textOf(events);
    expect(text).toContain('Tell me a story');
    // The API guide's aiohttp client: every line starting with "data: ", stripped, printed without separators.
    const printed: string[] = [];
    for (const line of res.text.split('\n')) {
      if (!line.startsWith('data: ')) continue;
      const content = line.slice(6).trim();
      if (content === '[DONE]') break;
      printed.push(content);
    }
    expect(printed.join('')).toBe(text);

    const page = await request(t.url).get(`/v1/chat/sessions/${sessionId}/messages`).set(alice.auth);
    expect(page.status).toBe(200);
    expect(page.body.total).toBe(2);
    const [user, assistant] = page.body.items;
    expect(user).toMatchObject({ role: 'user', content: 'Tell me a story', status: 'complete' });
    expect(assistant).toMatchObject({ role: 'assistant', content: text, status: 'complete', model: 'offline/echo', finish_reason: 'stop' });
    expect(assistant.tokens_output).toBeGreaterThan(0);

    const history = await request(t.url).get('/v1/chat/history').query({ page: 1, page_size: 10 }).set(alice.auth);
    expect(history.status).toBe(200);
    expect(history.body).toMatchObject({ total: 1, page: 1, page_size: 10 });
    expect(history.body.sessions[0]).toMatchObject({
      id: sessionId,
      user_id: alice.id,
      application_id: null,
      model: 'openai/gpt-4',
      title: 'Tell me a story',
      messages: [
        { role: 'user', content: 'Tell me a story' },
        { role: 'assistant', content: text },
      ],
    });
  });

  it('answers stream:false with the documented JSON shape', async () => {
    const res = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ ...seedBody, stream: false, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi there' }] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: expect.any(Number),
      session_id: Number(res.headers['x-session-id']),
      model: 'offline/echo',
      output_text: expect.stringContaining('Hi there'),
      message: { role: 'assistant', content: res.body.output_text, parts: [{ type: 'text', text: res.body.output_text }] },
      title: 'Hi there',
      message_count: 2,
      usage: {
        input_tokens: expect.any(Number),
        output_tokens: expect.any(Number),
        total_tokens: res.body.usage.input_tokens + res.body.usage.output_tokens,
        cached_tokens: 0,
        reasoning_tokens: 0,
        estimated: true,
      },
      cost: 0,
      finish_reason: 'stop',
    });
    const session = await request(t.url).get(`/v1/chat/sessions/${res.body.session_id}`).set(alice.auth);
    expect(session.body.system_prompt).toBe('Be brief.');
    expect(session.body.tokens_output).toBe(res.body.usage.output_tokens);
  });

  it('sends typed events when asked by Accept profile or stream_format', async () => {
    for (const variant of [
      { headers: { Accept: 'text/event-stream; profile=events' }, body: seedBody },
      { headers: {}, body: { ...seedBody, stream_format: 'events' } },
    ]) {
      const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).set(variant.headers).send(variant.body);
      expect(res.status).toBe(200);
      const events = parseSse(res.text);
      const names = events.map((e) => e.event ?? 'data');
      expect(names[0]).toBe('start');
      expect(names.slice(-2)).toEqual(['done', 'data']);
      expect(events[events.length - 1].data).toBe('[DONE]');
      const start = JSON.parse(events[0].data);
      expect(start).toMatchObject({ session_id: Number(res.headers['x-session-id']), model: 'offline/echo' });
      const text = events.filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data).text).join('');
      const done = JSON.parse(events[events.length - 2].data);
      expect(done).toMatchObject({ message_id: start.message_id, finish_reason: 'stop', cost: 0, title: 'Tell me a story' });
      expect(done.usage.total_tokens).toBe(done.usage.input_tokens + done.usage.output_tokens);
      const stored = await request(t.url).get(`/v1/chat/sessions/${start.session_id}/messages`).set(alice.auth);
      expect(stored.body.items[1]).toMatchObject({ id: start.message_id, content: text });
    }
  });

  it('appends to an existing session and sends the stored history', async () => {
    const first = await request(t.url).post('/v1/chat/stream').set(alice.auth).send({ ...seedBody, stream: false });
    const sessionId = first.body.session_id;
    const second = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ ...seedBody, stream: false, session_id: sessionId, messages: [{ role: 'user', content: 'And then?' }] });
    expect(second.status).toBe(200);
    expect(second.body.session_id).toBe(sessionId);
    expect(second.body.message_count).toBe(4);
    expect(second.body.title).toBe('Tell me a story');
    const page = await request(t.url).get(`/v1/chat/sessions/${sessionId}/messages`).set(alice.auth);
    expect(page.body.items.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
  });

  it('pages messages by keyset', async () => {
    const first = await request(t.url).post('/v1/chat/stream').set(alice.auth).send({ ...seedBody, stream: false });
    const sessionId = first.body.session_id;
    for (let i = 0; i < 2; i++) {
      await request(t.url)
        .post('/v1/chat/stream')
        .set(alice.auth)
        .send({ stream: false, session_id: sessionId, messages: [{ role: 'user', content: `turn ${i}` }] })
        .expect(200);
    }
    const seen: number[] = [];
    let after: number | null = 0;
    while (after !== null) {
      const page: request.Response = await request(t.url)
        .get(`/v1/chat/sessions/${sessionId}/messages`)
        .query({ after_id: after, page_size: 4 })
        .set(alice.auth);
      expect(page.status).toBe(200);
      expect(page.body.total).toBe(6);
      seen.push(...page.body.items.map((m: { id: number }) => m.id));
      after = page.body.next_after_id;
    }
    expect(seen).toHaveLength(6);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  it.each([
    ['an unknown field', 422, { ...seedBody, user_id: 5 }],
    ['a temperature above 2', 422, { ...seedBody, temperature: 3 }],
    ['a last message that is not the user\'s', 422, { ...seedBody, messages: [{ role: 'assistant', content: 'x' }] }],
    ['no messages', 422, { ...seedBody, messages: [] }],
    ['a bad role', 422, { ...seedBody, messages: [{ role: 'tool', content: 'x' }] }],
    ['a user message over MAX_INPUT_LENGTH', 422, { ...seedBody, messages: [{ role: 'user', content: 'x'.repeat(10_001) }] }],
    ['an unknown model', 400, { ...seedBody, model: 'no-such-model' }],
    ['a string session_id', 422, { ...seedBody, session_id: '1' }],
    ['a session that does not exist', 404, { ...seedBody, session_id: 999999 }],
  ])('refuses %s with %d and stores nothing', async (_name, status, body) => {
    const before = await request(t.url).get('/v1/users/me/stats').set(alice.auth);
    const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send(body);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
    const after = await request(t.url).get('/v1/users/me/stats').set(alice.auth);
    expect(after.body.messages).toBe(before.body.messages);
    expect(after.body.sessions).toBe(before.body.sessions);
  });

  it('names the known models when the model is unknown', async () => {
    const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send({ ...seedBody, model: 'gpt-9' });
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain('openai/gpt-4o-mini');
  });

  it('refuses malformed JSON with 400 and a missing token with 401', async () => {
    const bad = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .set('Content-Type', 'application/json')
      .send('{"model": ');
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/JSON/);
    const anon = await request(t.url).post('/v1/chat/stream').send(seedBody);
    expect(anon.status).toBe(401);
    expect(anon.headers['www-authenticate']).toBe('Bearer');
  });

  it('says offline mode in /v1/models and /config', async () => {
    const models = await request(t.url).get('/v1/models').set(alice.auth);
    expect(models.status).toBe(200);
    expect(models.headers['x-offline-mode']).toBe('true');
    const gpt4 = models.body.data.find((m: { id: string }) => m.id === 'openai/gpt-4');
    expect(gpt4).toMatchObject({ available: false, answered_by: 'offline/echo', aliases: ['gpt-4'] });
    const config = await request(t.url).get('/config');
    expect(config.status).toBe(200);
    expect(config.body).toMatchObject({ offline_mode: true, default_model: 'offline/echo', max_input_length: 10000 });
  });
});
