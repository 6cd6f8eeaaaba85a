import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { FakeAnthropic, startFakeAnthropic } from './support/fake-anthropic-server';
import { FakeGemini, startFakeGemini } from './support/fake-gemini-server';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse, textOf } from './support/sse';
import { writeTestConfig } from './support/test-config';
import { registerUser, TestUser } from './support/users';

/**
 * `POST /v1/chat/stream` through each wire protocol (OpenAI Chat Completions, Anthropic Messages, Gemini
 * generateContent), each provider a local server speaking it, one session moving across all three, and an
 * OpenAI model (`gpt-4.1`) falling back to an Anthropic one (`claude-sonnet-4.6`).
 */
describe('POST /v1/chat/stream through the three provider protocols', () => {
  let t: TestApp;
  let openai: FakeOpenAi;
  let anthropic: FakeAnthropic;
  let gemini: FakeGemini;
  let alice: TestUser;
  const KEYS = { openai: 'sk-openai-e2e-key', anthropic: 'sk-ant-e2e-key', gemini: 'AIza-e2e-key' };

  beforeAll(async () => {
    [openai, anthropic, gemini] = await Promise.all([
      startFakeOpenAi({ apiKey: KEYS.openai }),
      startFakeAnthropic({ apiKey: KEYS.anthropic }),
      startFakeGemini({ apiKey: KEYS.gemini }),
    ]);
    const configFile = writeTestConfig((c) => {
      c.models.push(
        {
          id: 'openai/gpt-4.1',
          aliases: ['gpt-4.1'],
          context_window: 1047576,
          max_output_tokens: 32768,
          pricing: { input_per_1m: 2, output_per_1m: 8 },
          fallbacks: ['claude-sonnet-4.6'],
        },
        {
          id: 'anthropic/claude-sonnet-4-6',
          aliases: ['claude-sonnet-4.6'],
          context_window: 200000,
          max_output_tokens: 64000,
          pricing: { input_per_1m: 3, output_per_1m: 15 },
        },
      );
    });
    t = await startApp({
      CONFIG_FILE: configFile,
      OPENAI_BASE_URL: openai.url,
      OPENAI_API_KEY: KEYS.openai,
      ANTHROPIC_BASE_URL: anthropic.url,
      ANTHROPIC_API_KEY: KEYS.anthropic,
      GOOGLE_BASE_URL: gemini.url,
      // The second variable the registry accepts for Google's key.
      GEMINI_API_KEY: KEYS.gemini,
    });
    alice = await registerUser(t.url);
  });
  beforeEach(() => {
    openai.reset();
    anthropic.reset();
    gemini.reset();
  });
  afterAll(async () => {
    await t.close();
    await Promise.all([openai.close(), anthropic.close(), gemini.close()]);
  });

  const send = (body: object) => request(t.url).post('/v1/chat/stream').set(alice.auth).send(body);
  const messagesOf = async (sessionId: number) =>
    (await request(t.url).get(`/v1/chat/sessions/${sessionId}/messages`).set(alice.auth)).body.items;

  /** One case per protocol: how to script its fake with pieces and usage, and the model's price per 1M. */
  const protocols = [
    {
      protocol: 'openai',
      model: 'gpt-4o-mini',
      id: 'openai/gpt-4o-mini',
      price: { input: 0.15, output: 0.6 },
      script: (pieces: string[], input: number, output: number) => openai.script({ pieces, usage: { prompt_tokens: input, completion_tokens: output } }),
      received: () => openai.requests,
    },
    {
      protocol: 'anthropic',
      model: 'claude-sonnet',
      id: 'anthropic/claude-sonnet-5-5',
      price: { input: 2, output: 10 },
      script: (pieces: string[], input: number, output: number) => anthropic.script({ pieces, usage: { input_tokens: input, output_tokens: output } }),
      received: () => anthropic.requests,
    },
    {
      protocol: 'gemini',
      model: 'gemini-flash',
      id: 'google/gemini-2.5-flash',
      price: { input: 0.3, output: 2.5 },
      script: (pieces: string[], input: number, output: number) =>
        gemini.script({ pieces, usage: { promptTokenCount: input, candidatesTokenCount: output } }),
      received: () => gemini.requests,
    },
  ];

  describe.each(protocols)('$protocol', ({ model, id, price, script, received }) => {
    it('streams the reply byte-exact and stores the usage the provider reported and its cost', async () => {
      const pieces = ['Hi', ' there', ',\nfriend', ' — ünïcödé 🚀', '\n\nBye.'];
      script(pieces, 1234, 567);

      const res = await send({ model, messages: [{ role: 'user', content: 'Hello?' }], stream_format: 'events' });

      expect(res.status).toBe(200);
      const events = parseSse(res.text);
      const text = events.filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data).text).join('');
      expect(text).toBe(pieces.join(''));
      const done = JSON.parse(events.find((e) => e.event === 'done')!.data);
      const cost = (1234 * price.input + 567 * price.output) / 1_000_000;
      expect(done).toMatchObject({ finish_reason: 'stop', usage: { input_tokens: 1234, output_tokens: 567, estimated: false } });
      expect(done.cost).toBeCloseTo(cost, 8);
      expect(received()).toHaveLength(1);
      const [, answer] = await messagesOf(Number(res.headers['x-session-id']));
      expect(answer).toMatchObject({ content: pieces.join(''), status: 'complete', model: id, tokens_input: 1234, tokens_output: 567, usage_estimated: false });
      expect(answer.cost).toBeCloseTo(cost, 8);
    });

    it('answers the plain stream with the same text', async () => {
      script(['Plain', ' text'], 10, 2);

      const res = await send({ model, messages: [{ role: 'user', content: 'Hello?' }] });

      expect(res.status).toBe(200);
      expect(textOf(parseSse(res.text))).toBe('Plain text');
    });

    it('answers stream:false with the reply, the exact usage and its cost', async () => {
      script(['Forty', '-two'], 10, 2);

      const res = await send({ model, messages: [{ role: 'user', content: 'Question?' }], stream: false });

      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        output_text: 'Forty-two',
        model: id,
        usage: { input_tokens: 10, output_tokens: 2, total_tokens: 12, estimated: false },
        finish_reason: 'stop',
      });
      expect(res.body.cost).toBeCloseTo((10 * price.input + 2 * price.output) / 1e6, 10);
    });
  });

  it("sends each protocol the registry's limits: Anthropic's required max_tokens, temperature only where accepted", async () => {
    await send({ model: 'claude-sonnet', messages: [{ role: 'user', content: 'Hi' }], stream: false, temperature: 0.4 });
    await send({ model: 'gemini-flash', messages: [{ role: 'user', content: 'Hi' }], stream: false, temperature: 0.4, max_tokens: 77 });

    // The registry marks claude-sonnet-5-5 as refusing temperature; the request named no max_tokens, so the
    // output the context reserved is sent: min(128000, 1000000 / 4).
    expect(anthropic.requests[0].body).toMatchObject({ model: 'claude-sonnet-5-5', max_tokens: 128000 });
    expect(anthropic.requests[0].body).not.toHaveProperty('temperature');
    expect(gemini.requests[0].body.generationConfig).toEqual({ temperature: 0.4, maxOutputTokens: 77 });
  });

  it('falls back from an OpenAI model to an Anthropic one: one clean stream, the request in Anthropic\'s shape', async () => {
    openai.script({ failure: { status: 500 } });
    anthropic.script({ pieces: ['Claude', ' steps in'], usage: { input_tokens: 40, output_tokens: 3 } });

    const res = await send({
      model: 'gpt-4.1',
      stream_format: 'events',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'First part.' },
        { role: 'user', content: 'Second part.' },
      ],
    });

    expect(res.status).toBe(200);
    const events = parseSse(res.text);
    expect(events.map((e) => e.event ?? e.data)).toEqual(['start', 'delta', 'delta', 'done', '[DONE]']);
    expect(JSON.parse(events[0].data).model).toBe('anthropic/claude-sonnet-4-6');
    expect(events.filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data).text).join('')).toBe('Claude steps in');
    expect(openai.requests).toHaveLength(2); // the first call and its retry
    expect(anthropic.requests).toHaveLength(1);
    const upstream = anthropic.requests[0];
    expect(upstream.headers.authorization).toBe(`Bearer ${KEYS.anthropic}`);
    expect(JSON.stringify(upstream.headers)).not.toContain(KEYS.openai);
    // The context refitted for claude-sonnet-4-6: its own output reservation, min(64000, 200000 / 4), not
    // its whole max output nor what the OpenAI model had reserved (32768).
    expect(openai.requests[0].body.max_completion_tokens).toBe(32768);
    expect(upstream.body).toEqual({
      model: 'claude-sonnet-4-6',
      system: 'You are terse.',
      messages: [{ role: 'user', content: 'First part.\n\nSecond part.' }],
      max_tokens: 50000,
      temperature: 0.7,
      stream: true,
    });

    const answer = (await messagesOf(Number(res.headers['x-session-id']))).at(-1);
    expect(answer).toMatchObject({
      status: 'complete',
      content: 'Claude steps in',
      model: 'anthropic/claude-sonnet-4-6',
      tokens_input: 40,
      attempts: [
        { model: 'openai/gpt-4.1', error_kind: 'unavailable', upstream_status: 500, retries: 1 },
        { model: 'anthropic/claude-sonnet-4-6', error_kind: null, upstream_status: null, retries: 0 },
      ],
    });
  });

  it('switch-model moves a session across the three protocols, each receiving the whole history in its own shape', async () => {
    openai.script({ pieces: ['Answer one'] });
    const first = await send({
      model: 'gpt-4o-mini',
      stream: false,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'One' },
      ],
    });
    const sessionId = first.body.session_id;
    const turn = async (model: string, content: string) => {
      const switched = await request(t.url).post('/v1/chat/switch-model').set(alice.auth).send({ session_id: sessionId, model });
      expect(switched.status).toBe(200);
      const res = await send({ session_id: sessionId, stream: false, messages: [{ role: 'user', content }] });
      expect(res.status).toBe(200);
      return res.body;
    };

    anthropic.script({ pieces: ['Answer two'] });
    expect(await turn('claude-sonnet', 'Two')).toMatchObject({ model: 'anthropic/claude-sonnet-5-5', output_text: 'Answer two' });
    expect(anthropic.requests[0].body).toMatchObject({
      model: 'claude-sonnet-5-5',
      system: 'You are terse.',
      messages: [
        { role: 'user', content: 'One' },
        { role: 'assistant', content: 'Answer one' },
        { role: 'user', content: 'Two' },
      ],
    });

    gemini.script({ pieces: ['Answer three'] });
    expect(await turn('gemini-flash', 'Three')).toMatchObject({ model: 'google/gemini-2.5-flash', output_text: 'Answer three' });
    expect(gemini.requests[0].path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(gemini.requests[0].body).toMatchObject({
      systemInstruction: { parts: [{ text: 'You are terse.' }] },
      contents: [
        { role: 'user', parts: [{ text: 'One' }] },
        { role: 'model', parts: [{ text: 'Answer one' }] },
        { role: 'user', parts: [{ text: 'Two' }] },
        { role: 'model', parts: [{ text: 'Answer two' }] },
        { role: 'user', parts: [{ text: 'Three' }] },
      ],
    });

    openai.script({ pieces: ['Answer four'] });
    expect(await turn('gpt-3.5-turbo', 'Four')).toMatchObject({ model: 'openai/gpt-3.5-turbo', output_text: 'Answer four' });
    expect(openai.requests[1].body.messages).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'One' },
      { role: 'assistant', content: 'Answer one' },
      { role: 'user', content: 'Two' },
      { role: 'assistant', content: 'Answer two' },
      { role: 'user', content: 'Three' },
      { role: 'assistant', content: 'Answer three' },
      { role: 'user', content: 'Four' },
    ]);
  });

  it.each([
    ['claude-sonnet', 529, 502],
    ['claude-sonnet', 429, 429],
    ['gemini-flash', 503, 502],
    ['gemini-flash', 429, 429],
  ])('maps a %s provider %i before the first piece to a %i problem, never showing a key', async (model, upstream, status) => {
    const failure = { status: upstream, retryAfter: '9' };
    if (model === 'claude-sonnet') anthropic.script({ failure });
    else gemini.script({ failure });

    const res = await send({ model, messages: [{ role: 'user', content: 'Hello?' }] });

    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    if (status === 429) expect(res.headers['retry-after']).toBe('9');
    for (const key of Object.values(KEYS)) expect(JSON.stringify(res.body)).not.toContain(key);
  });

  it.each([
    ['claude-sonnet', () => anthropic.script({ pieces: ['Partial', ' answer', ' lost'], errorEvent: { afterPieces: 2, type: 'overloaded_error' } })],
    ['gemini-flash', () => gemini.script({ pieces: ['Partial', ' answer', ' lost'], errorChunk: { afterPieces: 2, status: 503 } })],
  ])('%s: an error inside the 200 stream sends the error event and keeps the partial answer as failed', async (model, fail) => {
    fail();

    const res = await send({ model, messages: [{ role: 'user', content: 'Hello?' }], stream_format: 'events' });

    expect(res.status).toBe(200);
    const events = parseSse(res.text);
    expect(JSON.parse(events.find((e) => e.event === 'error')!.data)).toMatchObject({ status: 502 });
    const [, answer] = await messagesOf(Number(res.headers['x-session-id']));
    expect(answer).toMatchObject({ status: 'failed', content: 'Partial answer', finish_reason: 'error' });
  });

  it('lists the models of every configured protocol as available, with cached-input price and price date', async () => {
    const res = await request(t.url).get('/v1/models').set(alice.auth);

    const byId = Object.fromEntries(res.body.data.map((m: { id: string }) => [m.id, m]));
    expect(byId['anthropic/claude-sonnet-5-5']).toMatchObject({
      provider: 'anthropic',
      created: Date.UTC(2026, 9, 24) / 1000,
      available: true,
      answered_by: 'anthropic/claude-sonnet-5-5',
      pricing: { input_per_1m: 2, output_per_1m: 10, cached_input_per_1m: 0.1, priced_at: '2026-10-24' },
    });
    expect(byId['google/gemini-2.5-flash']).toMatchObject({ provider: 'google', available: true, pricing: { cached_input_per_1m: 0.03 } });
    expect(byId['openai/gpt-4o-mini'].pricing).toEqual({ input_per_1m: 0.15, output_per_1m: 0.6, cached_input_per_1m: null, priced_at: null });
  });
});
