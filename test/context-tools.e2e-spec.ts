import { countTokens } from 'gpt-tokenizer';
import request from 'supertest';
import { SessionTitlesService } from '../src/chats/session-titles.service';
import { messageTokens } from '../src/context/context-builder';
import { SUMMARY_INSTRUCTION, SummariesService } from '../src/context/summaries.service';
import { ContentPart, ImagePart } from '../src/providers/content-parts';
import { ModelRegistry } from '../src/providers/model-registry';
import { imageTokens, tokenCounterFor } from '../src/providers/tokenizer';
import { AppConfig, appConfig } from '../src/config/app-config';
import { startFakeAnthropic, FakeAnthropic } from './support/fake-anthropic-server';
import { dataUrl, png } from './support/images';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, RecordedRequest, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse, SseEvent } from './support/sse';
import { writeTestConfig } from './support/test-config';
import { registerUser, TestUser } from './support/users';

/** A 1×1 transparent PNG. */
const PNG_1X1 =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city now.',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

const dataOf = (events: SseEvent[], name: string) => events.filter((e) => e.event === name).map((e) => JSON.parse(e.data));

/** A tool round trip with no provider key: the offline model calls the tool named, then reports its result. */
describe('tools and images on the offline model, in the context (e2e)', () => {
  let t: TestApp;
  let alice: TestUser;

  beforeAll(async () => {
    t = await startApp();
    alice = await registerUser(t.url);
  });
  afterAll(() => t.close());

  const send = (body: object) => request(t.url).post('/v1/chat/stream').set(alice.auth).send(body);
  const preview = async (sessionId: number) =>
    (await request(t.url).get(`/v1/chat/sessions/${sessionId}/context`).set(alice.auth).expect(200)).body;
  const stored = async (sessionId: number) =>
    (await request(t.url).get(`/v1/chat/sessions/${sessionId}/messages`).set(alice.auth).expect(200)).body.items;

  it('streams a tool call, takes the result back, answers reporting it; the preview shows the exchange', async () => {
    const first = await send({
      model: 'offline',
      stream_format: 'events',
      messages: [{ role: 'user', content: 'Please call get_weather for "Paris".' }],
      tools: [WEATHER_TOOL],
    });
    expect(first.status).toBe(200);
    const sessionId = Number(first.headers['x-session-id']);
    const events = parseSse(first.text);
    const deltas = dataOf(events, 'tool_call_delta');
    expect(deltas[0]).toMatchObject({ index: 0, id: 'call_offline_1', name: 'get_weather', arguments: '' });
    expect(deltas.length).toBeGreaterThan(1);
    const args = deltas.map((d: { arguments: string }) => d.arguments).join('');
    expect(JSON.parse(args)).toEqual({ city: 'Paris' });
    expect(dataOf(events, 'tool_call')).toEqual([expect.objectContaining({ index: 0, id: 'call_offline_1', name: 'get_weather', arguments: args })]);
    expect(dataOf(events, 'delta')).toEqual([]);
    expect(dataOf(events, 'done')[0]).toMatchObject({ finish_reason: 'tool_calls', model: 'offline/echo' });

    const result = '{"temperature":21,"sky":"clear"}';
    const second = await send({
      session_id: sessionId,
      stream_format: 'events',
      messages: [{ role: 'tool', tool_call_id: 'call_offline_1', content: result }],
      tools: [WEATHER_TOOL],
    });
    expect(second.status).toBe(200);
    const answer = dataOf(parseSse(second.text), 'delta')
      .map((d: { text: string }) => d.text)
      .join('');
    expect(answer).toBe(`The tool "get_weather" returned: "${result}"`);
    expect(dataOf(parseSse(second.text), 'done')[0]).toMatchObject({ finish_reason: 'stop' });

    const call = { type: 'tool_call', id: 'call_offline_1', name: 'get_weather', arguments: args };
    expect((await stored(sessionId)).map((m: { role: string; parts: ContentPart[] }) => [m.role, m.parts])).toEqual([
      ['user', [{ type: 'text', text: 'Please call get_weather for "Paris".' }]],
      ['assistant', [call]],
      ['tool', [{ type: 'text', text: result }]],
      ['assistant', [{ type: 'text', text: answer }]],
    ]);
    const context = await preview(sessionId);
    const messages = context.messages.filter((m: { part: string }) => m.part === 'message');
    expect(messages.map(({ role, content, parts, tool_call_id }: Record<string, unknown>) => ({ role, content, parts, tool_call_id }))).toEqual([
      { role: 'user', content: 'Please call get_weather for "Paris".', parts: null, tool_call_id: null },
      { role: 'assistant', content: '', parts: [call], tool_call_id: null },
      { role: 'tool', content: result, parts: null, tool_call_id: 'call_offline_1' },
      { role: 'assistant', content: answer, parts: null, tool_call_id: null },
    ]);
    // A tool call costs its name and arguments, as the model reads them.
    expect(messages[1].tokens).toBe(countTokens('get_weather') + countTokens(args) + 4);
  });

  it('answers with tool calls through /v1/chat/completions too', async () => {
    const res = await request(t.url)
      .post('/v1/chat/completions')
      .set(alice.auth)
      .send({ model: 'offline/echo', messages: [{ role: 'user', content: 'What does get_weather say about "Oslo"?' }], tools: [WEATHER_TOOL] })
      .expect(200);
    expect(res.body.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: {
        role: 'assistant',
        tool_calls: [{ id: 'call_offline_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }],
      },
    });
  });

  it('describes an image by what is stored of it; the preview shows the image without its data and counts it', async () => {
    const res = await send({
      model: 'offline',
      stream: false,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image', url: PNG_1X1 }] }],
    });
    expect(res.status).toBe(200);
    const [question] = await stored(res.body.session_id);
    const image = question.parts[1] as ImagePart;
    expect(image).toMatchObject({ media_type: 'image/png', width: 1, height: 1 }); // as the server checked it
    expect(res.body.output_text).toContain(' You sent an image/png image, 1×1 pixels. You said: "What is this?"');

    const context = await preview(res.body.session_id);
    expect(JSON.stringify(context)).not.toContain('base64');
    const { url: _url, ...meta } = image;
    const [asked] = context.messages.filter((m: { part: string }) => m.part === 'message');
    expect(asked.parts).toEqual([
      { type: 'text', text: 'What is this?' },
      { ...meta, inline: true },
    ]);
    const offline = t.app.get(ModelRegistry).resolve('offline/echo');
    expect(asked.tokens).toBe(messageTokens(tokenCounterFor(offline, 1.25), question));
    expect(asked.tokens).toBeGreaterThan(countTokens('What is this?') + 4);
  });
});

/** An image costs what the answering model's protocol says, in the context as in the budget. */
describe('image tokens by the protocol of the model (e2e)', () => {
  const KEY = 'sk-ant-context-images';
  let t: TestApp;
  let anthropic: FakeAnthropic;
  let alice: TestUser;

  beforeAll(async () => {
    anthropic = await startFakeAnthropic({ apiKey: KEY });
    t = await startApp({ ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_API_KEY: KEY });
    alice = await registerUser(t.url);
  });
  afterAll(async () => {
    await t.close();
    await anthropic.close();
  });

  it("counts a Claude model's image by Anthropic's rule in the preview", async () => {
    const res = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({
        model: 'claude-sonnet',
        stream: false,
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Describe it.' }, { type: 'image', url: dataUrl('image/png', png(1200, 900)) }] }],
      });
    expect(res.status).toBe(200);
    const context = (await request(t.url).get(`/v1/chat/sessions/${res.body.session_id}/context`).set(alice.auth).expect(200)).body;
    expect(context.model).toBe('anthropic/claude-sonnet-5-5');
    const [asked] = context.messages.filter((m: { part: string }) => m.part === 'message');
    expect(asked.parts[1]).toEqual({ type: 'image', inline: true, media_type: 'image/png', width: 1200, height: 900, bytes: expect.any(Number) });
    const factor = t.app.get<AppConfig>(appConfig.KEY).contextManagement.token_estimate_factor;
    // Anthropic "Vision": ⌈1200 × 900 / 750⌉ = 1,440 tokens (OpenAI's tiles would give 765).
    expect(imageTokens('anthropic', 1200, 900)).toBe(1440);
    expect(asked.tokens).toBe(Math.ceil(countTokens('Describe it.') * factor) + 4 + 1440);
  });
});

/** Summaries read tool use and images as text, and never end inside a tool exchange. */
describe('summaries of tool exchanges and images (e2e)', () => {
  const KEY = 'sk-context-tools';
  let t: TestApp;
  let fake: FakeOpenAi;
  let alice: TestUser;
  const isSummary = (r: RecordedRequest) => r.body?.messages?.[0]?.content === SUMMARY_INSTRUCTION;

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    const config = writeTestConfig((c) => {
      c.context_management = { mode: 'summary_window', window_size: 1, summarize_after_messages: 4, summary_update_interval: 2 };
    });
    t = await startApp({ OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY, CONFIG_FILE: config });
    alice = await registerUser(t.url);
    let summaries = 0;
    fake.script((r) => (isSummary(r) ? { pieces: [`Summary #${++summaries}`] } : { pieces: ['An answer.'] }));
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const send = async (body: object) => {
    const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send({ stream: false, ...body });
    expect(res.status).toBe(200);
    await t.app.get(SessionTitlesService).whenIdle();
    await t.app.get(SummariesService).whenIdle();
    return res.body as { session_id: number };
  };

  it('folds tool calls, results and images in as text, never their data, and ends each summary after a whole exchange', async () => {
    const { session_id } = await send({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Look at this.' }, { type: 'image', url: PNG_1X1 }] }],
    });
    const call = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
    await send({
      session_id,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temperature":21}' },
      ],
    });
    // Six messages: the first summary folds all but the newest pair, yet stops before the unfinished exchange.
    const [first] = fake.requests.filter(isSummary);
    const folded = first.body.messages[1].content as string;
    expect(folded).toContain('<message role="user">\nLook at this.\n[image: image/png 1×1]\n</message>');
    expect(folded).toContain('<message role="user">\nWeather in Paris?\n</message>');
    expect(folded).not.toContain('get_weather');
    expect(folded).not.toContain('base64');
    const context = (await request(t.url).get(`/v1/chat/sessions/${session_id}/context`).set(alice.auth).expect(200)).body;
    expect(context.messages.filter((m: { part: string }) => m.part !== 'system').map((m: { part: string; role: string }) => [m.part, m.role])).toEqual([
      ['summary', 'system'],
      ['message', 'assistant'],
      ['message', 'tool'],
      ['message', 'assistant'],
    ]);

    await send({ session_id, messages: [{ role: 'user', content: 'Thanks!' }] });
    const second = fake.requests.filter(isSummary)[1].body.messages[1].content as string;
    expect(second).toContain('<message role="assistant">\n[called tool get_weather with {"city":"Paris"}]\n</message>');
    expect(second).toContain('<message role="tool">\n[tool result: {"temperature":21}]\n</message>');
  });
});
