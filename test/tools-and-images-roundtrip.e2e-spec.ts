import OpenAI from 'openai';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { FakeAnthropic, startFakeAnthropic } from './support/fake-anthropic-server';
import { FakeGemini, startFakeGemini } from './support/fake-gemini-server';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse, SseEvent } from './support/sse';
import { writeTestConfig } from './support/test-config';
import { registerUser, TestUser } from './support/users';

const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'The weather in a city now.',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

/** The typed events of a stream, their JSON payloads parsed. */
const typed = (body: string) =>
  parseSse(body)
    .filter((e): e is SseEvent & { event: string } => e.event !== undefined)
    .map((e) => ({ event: e.event, data: JSON.parse(e.data) as Record<string, unknown> }));

/** The payloads of the tool-call events, without their sequence numbers. */
const toolEvents = (events: ReturnType<typeof typed>) =>
  events
    .filter((e) => e.event.startsWith('tool_call'))
    .map(({ event, data: { sequence_number: _n, ...data } }) => ({ event, data }));

/**
 * A whole tool round trip through the app against provider stand-ins speaking their real wire formats: the model
 * calls a tool (typed SSE `tool_call_delta` and `tool_call` events, `finish_reason: "tool_calls"`), the client sends
 * the result as a `tool` message, the model answers; the same over OpenAI's Chat Completions with the OpenAI SDK;
 * and a session that switches provider between the call and its result.
 */
describe('tools: the round trip through the app', () => {
  let t: TestApp;
  let openai: FakeOpenAi;
  let anthropic: FakeAnthropic;
  let gemini: FakeGemini;
  let alice: TestUser;

  beforeAll(async () => {
    openai = await startFakeOpenAi({ apiKey: 'sk-openai' });
    anthropic = await startFakeAnthropic({ apiKey: 'sk-ant' });
    gemini = await startFakeGemini({ apiKey: 'g-key' });
    // A short log retention, so a resume after it replays from the stored row.
    const config = writeTestConfig((c) => (c.streams = { ...c.streams, retention_seconds: 1 }));
    t = await startApp({
      CONFIG_FILE: config,
      OPENAI_BASE_URL: openai.url,
      OPENAI_API_KEY: 'sk-openai',
      ANTHROPIC_BASE_URL: anthropic.url,
      ANTHROPIC_API_KEY: 'sk-ant',
      GOOGLE_BASE_URL: gemini.url,
      GOOGLE_API_KEY: 'g-key',
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
    await openai.close();
    await anthropic.close();
    await gemini.close();
  });

  const send = (body: object) => request(t.url).post('/v1/chat/stream').set(alice.auth).send(body);
  const messagesOf = async (sessionId: number) =>
    (await request(t.url).get(`/v1/chat/sessions/${sessionId}/messages`).set(alice.auth).expect(200)).body.items as Record<string, unknown>[];
  const callWeather = { toolCalls: [{ id: 'call_w1', name: 'get_weather', arguments: ['{"city":', '"Oslo"}'] }] };

  it('streams the call as typed events, stores it, takes the result and answers (OpenAI protocol)', async () => {
    openai.script(callWeather);
    const first = await send({ model: 'gpt-4o-mini', stream_format: 'events', messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: [WEATHER_TOOL] });
    expect(first.status).toBe(200);
    const events = typed(first.text);
    expect(events.map((e) => e.event)).toEqual(['start', 'tool_call_delta', 'tool_call_delta', 'tool_call_delta', 'tool_call', 'done']);
    expect(toolEvents(events)).toEqual([
      { event: 'tool_call_delta', data: { index: 0, id: 'call_w1', name: 'get_weather', arguments: '' } },
      { event: 'tool_call_delta', data: { index: 0, arguments: '{"city":' } },
      { event: 'tool_call_delta', data: { index: 0, arguments: '"Oslo"}' } },
      { event: 'tool_call', data: { index: 0, id: 'call_w1', name: 'get_weather', arguments: '{"city":"Oslo"}' } },
    ]);
    expect(events.at(-1)!.data).toMatchObject({ finish_reason: 'tool_calls' });
    expect(openai.requests[0].body).toMatchObject({
      tools: [WEATHER_TOOL],
      messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    });

    const sessionId = Number(first.headers['x-session-id']);
    const answerId = events[0].data.message_id as number;
    const [, answer] = await messagesOf(sessionId);
    expect(answer).toMatchObject({
      id: answerId,
      role: 'assistant',
      content: '',
      parts: [{ type: 'tool_call', id: 'call_w1', name: 'get_weather', arguments: '{"city":"Oslo"}' }],
      finish_reason: 'tool_calls',
      status: 'complete',
    });

    openai.script({ pieces: ['It is 4 °C', ' in Oslo.'] });
    const second = await send({
      session_id: sessionId,
      stream_format: 'events',
      messages: [{ role: 'tool', tool_call_id: 'call_w1', content: '{"celsius":4}' }],
      tools: [WEATHER_TOOL],
    });
    expect(second.status).toBe(200);
    expect(typed(second.text).filter((e) => e.event === 'delta').map((e) => e.data.text).join('')).toBe('It is 4 °C in Oslo.');
    expect(openai.requests.at(-1)!.body).toMatchObject({
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', tool_calls: [{ id: 'call_w1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
        { role: 'tool', tool_call_id: 'call_w1', content: '{"celsius":4}' },
      ],
    });
    const stored = await messagesOf(sessionId);
    expect(stored.slice(2)).toMatchObject([
      { role: 'tool', tool_call_id: 'call_w1', content: '{"celsius":4}', parts: [{ type: 'text', text: '{"celsius":4}' }] },
      { role: 'assistant', content: 'It is 4 °C in Oslo.', finish_reason: 'stop' },
    ]);
    // The API guide's history keeps plain strings.
    const history = await request(t.url).get('/v1/chat/history').set(alice.auth).expect(200);
    const session = history.body.sessions.find((s: { id: number }) => s.id === sessionId);
    expect(session.messages.map((m: { role: string; content: string }) => m.content)).toEqual(['Weather in Oslo?', '', '{"celsius":4}', 'It is 4 °C in Oslo.']);
  });

  it('keeps the plain data: format text-only, and replays tool-call events on resume (from the log, then the row)', async () => {
    openai.script({ pieces: ['Let me look.'], ...callWeather });
    const plain = await send({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: [WEATHER_TOOL] });
    expect(plain.status).toBe(200);
    const events = parseSse(plain.text);
    expect(events.every((e) => e.event === undefined)).toBe(true);
    expect(events.map((e) => e.data).join('')).toBe('Let me look.[DONE]');

    const [, answer] = await messagesOf(Number(plain.headers['x-session-id']));
    const resume = () =>
      request(t.url).get(`/v1/chat/messages/${answer.id as number}/events`).set(alice.auth).set('Accept', 'text/event-stream; profile=events');
    const call = { index: 0, id: 'call_w1', name: 'get_weather', arguments: '{"city":"Oslo"}' };
    const fromLog = typed((await resume().expect(200)).text);
    expect(toolEvents(fromLog).filter((e) => e.event === 'tool_call')).toEqual([{ event: 'tool_call', data: call }]);
    expect(fromLog.at(-1)!.data).toMatchObject({ finish_reason: 'tool_calls' });

    await new Promise((r) => setTimeout(r, 1500)); // the log's retention
    const fromRow = typed((await resume().expect(200)).text);
    expect(fromRow.map((e) => e.event)).toEqual(['start', 'delta', 'tool_call', 'done']);
    expect(toolEvents(fromRow)).toEqual([{ event: 'tool_call', data: call }]);
    expect(fromRow.at(-1)!.data).toMatchObject({ finish_reason: 'tool_calls' });
  });

  it('answers stream:false with the tool calls among the message parts', async () => {
    openai.script(callWeather);
    const res = await send({ model: 'gpt-4o-mini', stream: false, messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: [WEATHER_TOOL], tool_choice: 'required' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      output_text: '',
      finish_reason: 'tool_calls',
      message: { role: 'assistant', content: '', parts: [{ type: 'tool_call', id: 'call_w1', name: 'get_weather', arguments: '{"city":"Oslo"}' }] },
    });
    expect(openai.requests[0].body).toMatchObject({ tool_choice: 'required' });
  });

  it('switches provider between the call and its result: OpenAI calls, Anthropic answers', async () => {
    openai.script(callWeather);
    const first = await send({ model: 'gpt-4o-mini', stream: false, messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: [WEATHER_TOOL] });
    expect(first.status).toBe(200);

    anthropic.script({ pieces: ['Four degrees', ' in Oslo.'] });
    const second = await send({
      session_id: first.body.session_id,
      model: 'claude-sonnet',
      stream: false,
      messages: [{ role: 'tool', tool_call_id: 'call_w1', content: '{"celsius":4}' }],
      tools: [WEATHER_TOOL],
    });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ model: 'anthropic/claude-sonnet-5-5', output_text: 'Four degrees in Oslo.', finish_reason: 'stop' });
    const upstream = anthropic.requests[0].body as { messages: { role: string; content: unknown }[]; tools: unknown[] };
    expect(upstream.tools).toEqual([expect.objectContaining({ name: 'get_weather', input_schema: WEATHER_TOOL.function.parameters })]);
    expect(upstream.messages).toEqual([
      { role: 'user', content: expect.anything() },
      { role: 'assistant', content: [expect.objectContaining({ type: 'tool_use', id: 'call_w1', name: 'get_weather', input: { city: 'Oslo' } })] },
      { role: 'user', content: [expect.objectContaining({ type: 'tool_result', tool_use_id: 'call_w1' })] },
    ]);
    expect(openai.requests).toHaveLength(1);
  });

  it('does the round trip on the Gemini protocol: functionCall stored as a tool call, the result sent back as functionResponse', async () => {
    gemini.script({ functionCalls: [{ name: 'get_weather', args: { city: 'Oslo' } }] });
    const first = await send({ model: 'gemini-flash', stream: false, messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: [WEATHER_TOOL] });
    expect(first.status).toBe(200);
    expect(first.body.finish_reason).toBe('tool_calls');
    const calls = (first.body.message.parts as { type: string; id: string; name: string; arguments: string }[]).filter((p) => p.type === 'tool_call');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ name: 'get_weather' });
    expect(JSON.parse(calls[0].arguments)).toEqual({ city: 'Oslo' });
    const offered = gemini.requests[0].body as { tools: { functionDeclarations: { name: string }[] }[] };
    expect(offered.tools[0].functionDeclarations.map((d) => d.name)).toEqual(['get_weather']);

    gemini.script({ pieces: ['Four degrees', ' in Oslo.'] });
    const second = await send({
      session_id: first.body.session_id,
      stream: false,
      messages: [{ role: 'tool', tool_call_id: calls[0].id, content: '{"celsius":4}' }],
      tools: [WEATHER_TOOL],
    });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ output_text: 'Four degrees in Oslo.', finish_reason: 'stop' });
    const upstream = gemini.requests[1].body as { contents: { role: string; parts: Record<string, unknown>[] }[] };
    expect(upstream.contents.map((c) => c.role)).toEqual(['user', 'model', 'user']);
    expect(upstream.contents[1].parts).toEqual([expect.objectContaining({ functionCall: expect.objectContaining({ name: 'get_weather', args: { city: 'Oslo' } }) })]);
    expect(upstream.contents[2].parts).toEqual([
      { functionResponse: expect.objectContaining({ name: 'get_weather', response: { celsius: 4 } }) },
    ]);
  });

  it('sends an image to a vision model in its protocol\'s form, and keeps it in the session for the next turn', async () => {
    const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
    openai.script({ pieces: ['A dot.'] });
    const res = await send({
      model: 'gpt-4o-mini',
      stream: false,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: png, detail: 'low' } }] }],
    });
    expect(res.status).toBe(200);
    expect(openai.requests[0].body).toMatchObject({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: png, detail: 'low' } }] }],
    });

    anthropic.script({ pieces: ['Still a dot.'] });
    const next = await send({ session_id: res.body.session_id, model: 'claude-sonnet', stream: false, messages: [{ role: 'user', content: 'And now?' }] });
    expect(next.status).toBe(200);
    const [question] = (anthropic.requests[0].body as { messages: { content: unknown }[] }).messages;
    expect(question.content).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'image', source: expect.objectContaining({ type: 'base64', media_type: 'image/png' }) })]),
    );
  });

  it('does a tool round trip with the OpenAI SDK through /v1/chat/completions, streamed and not', async () => {
    const client = new OpenAI({ apiKey: alice.token, baseURL: `${t.url}/v1`, maxRetries: 0 });
    const question: OpenAI.ChatCompletionMessageParam = { role: 'user', content: 'Weather in Oslo?' };

    openai.script(callWeather);
    const called = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [question], tools: [WEATHER_TOOL] });
    expect(called.choices[0].finish_reason).toBe('tool_calls');
    expect(called.choices[0].message).toMatchObject({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_w1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }],
    });

    openai.script({ pieces: ['4 °C.'] });
    const answered = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      tools: [WEATHER_TOOL],
      messages: [question, called.choices[0].message, { role: 'tool', tool_call_id: 'call_w1', content: '{"celsius":4}' }],
    });
    expect(answered.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: '4 °C.' } });
    expect(openai.requests[1].body).toMatchObject({
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', tool_calls: [{ id: 'call_w1', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
        { role: 'tool', tool_call_id: 'call_w1', content: '{"celsius":4}' },
      ],
    });

    // Streamed: the SDK's chunks carry delta.tool_calls as OpenAI sends them.
    openai.script({ toolCalls: [{ id: 'call_s1', name: 'get_weather', arguments: ['{"city"', ':"Bergen"}'] }] });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [question], tools: [WEATHER_TOOL], stream: true });
    const calls: { id?: string; name?: string; arguments: string }[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const piece of chunk.choices[0]?.delta.tool_calls ?? []) {
        const call = (calls[piece.index] ??= { arguments: '' });
        call.id ??= piece.id;
        call.name ??= piece.function?.name;
        call.arguments += piece.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(calls).toEqual([{ id: 'call_s1', name: 'get_weather', arguments: '{"city":"Bergen"}' }]);
    expect(finish).toBe('tool_calls');
  });
});

/** The offline model plays tools, so the whole round trip works with no key at all. */
describe('tools: the round trip with the offline model', () => {
  let t: TestApp;
  let alice: TestUser;

  beforeAll(async () => {
    t = await startApp();
    alice = await registerUser(t.url);
  });
  afterAll(() => t.close());

  it('calls the tool named in the message, then reports its result', async () => {
    const first = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ stream_format: 'events', messages: [{ role: 'user', content: 'Use get_weather for "Oslo"' }], tools: [WEATHER_TOOL] });
    expect(first.status).toBe(200);
    const events = typed(first.text);
    const [call] = events.filter((e) => e.event === 'tool_call').map((e) => e.data);
    expect(call).toMatchObject({ index: 0, name: 'get_weather', arguments: '{"city":"Oslo"}' });
    expect(events.at(-1)!.data).toMatchObject({ finish_reason: 'tool_calls', model: 'offline/echo' });

    const second = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ session_id: Number(first.headers['x-session-id']), messages: [{ role: 'tool', tool_call_id: call.id, content: 'Sunny, 4 °C' }], tools: [WEATHER_TOOL] });
    expect(second.status).toBe(200);
    expect(parseSse(second.text).map((e) => e.data).join('')).toBe('The tool "get_weather" returned: "Sunny, 4 °C"[DONE]');
  });
});
