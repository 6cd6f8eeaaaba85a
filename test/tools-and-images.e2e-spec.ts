import request from 'supertest';
import { DataSource } from 'typeorm';
import { MessageParts1795601700000 } from '../migrations/1795601700000-MessageParts';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { runMigrationsLocked } from '../src/database/migrate';
import { ENTITIES } from '../src/entities';
import { startApp, TestApp } from './support/app';
import { databaseUrl, DB_PREFIX, withAdmin } from './support/database';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { modelIn, writeTestConfig } from './support/test-config';
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

/**
 * Messages made of parts through the API: what a request may hold (validation with field paths), which models may
 * take it (capabilities), how parts are stored and returned, and the migration that turned stored text into parts.
 */
describe('tools and images: requests, capabilities and storage', () => {
  let t: TestApp;
  let fake: FakeOpenAi;
  let alice: TestUser;
  const KEY = 'sk-test-tools';

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    const config = writeTestConfig((c) => {
      modelIn(c, 'openai/gpt-3.5-turbo').supports_tools = false;
      // gpt-4o-mini falls back to gpt-4 (no vision) and then gpt-3.5-turbo (no tools).
      modelIn(c, 'openai/gpt-4o-mini').fallbacks = ['openai/gpt-4', 'openai/gpt-3.5-turbo'];
    });
    t = await startApp({ OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY, CONFIG_FILE: config });
    alice = await registerUser(t.url);
  });
  beforeEach(() => fake.reset());
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const send = (body: object) => request(t.url).post('/v1/chat/stream').set(alice.auth).send(body);
  const errorsOf = (res: request.Response) => res.body.errors as { field: string; message: string }[];

  it('names the field at fault for malformed parts, tools and tool messages (422), and calls no model', async () => {
    const user = (content: unknown) => ({ role: 'user', content });
    const call = (id: string) => ({ id, type: 'function', function: { name: 'get_weather', arguments: '{}' } });
    const callPart = (id: string) => ({ type: 'tool_call', id, name: 'get_weather', arguments: '{}' });
    const cases: [object, string][] = [
      [{ messages: [user([{ type: 'text', text: 'a' }, { type: 'image_url', image_url: { url: 'http://example.com/a.png' } }])] }, 'messages.0.content.1.image_url.url'],
      [{ messages: [user([{ type: 'image', url: 42 }])] }, 'messages.0.content.0.url'],
      [{ messages: [user([{ type: 'audio', data: 'x' }])] }, 'messages.0.content.0.type'],
      [{ messages: [user(42)] }, 'messages.0.content'],
      [{ messages: [user('hi')], tools: [{ type: 'function', function: { name: 'get weather' } }] }, 'tools.0.function.name'],
      [{ messages: [user('hi')], tools: [{ type: 'function', function: { name: 'x'.repeat(65) } }] }, 'tools.0.function.name'],
      [{ messages: [user('hi')], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'string' } } }] }, 'tools.0.function.parameters'],
      [{ messages: [user('hi')], tools: [{ type: 'retrieval' }] }, 'tools.0.type'],
      [{ messages: [user('hi')], tools: [WEATHER_TOOL, WEATHER_TOOL] }, 'tools.1.function.name'],
      [{ messages: [user('hi')], tools: [WEATHER_TOOL], tool_choice: { type: 'function', function: { name: 'get_time' } } }, 'tool_choice.function.name'],
      [{ messages: [user('hi')], tools: [WEATHER_TOOL], tool_choice: 'sometimes' }, 'tool_choice'],
      [{ messages: [user('hi')], tool_choice: 'required' }, 'tool_choice'],
      [{ messages: [user('hi'), { role: 'tool', tool_call_id: 'call_1', content: '20 °C' }] }, 'messages.1.tool_call_id'],
      [{ messages: [user('hi'), { role: 'tool', content: '20 °C' }] }, 'messages.1.tool_call_id'],
      [{ messages: [{ role: 'user', content: 'hi', tool_call_id: 'call_1' }] }, 'messages.0.tool_call_id'],
      [{ messages: [user('hi'), { role: 'assistant', content: [{ type: 'image', url: PNG_1X1 }] }, user('and?')] }, 'messages.1.content.0'],
      [{ messages: [user([{ type: 'tool_call', id: 'c', name: 'f', arguments: '{}' }])] }, 'messages.0.content.0'],
      [{ messages: [user('hi'), { role: 'user', content: 'x', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }] }, 'messages.1.tool_calls.0'],
      [{ messages: [user('hi'), { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: 1 } }] }] }, 'messages.1.tool_calls.0.function.arguments'],
      [{ messages: [user('hi'), { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }] }, 'messages'],
      [{ messages: [user([])] }, 'messages.0.content'],
      // Tool results right after the calls they answer, every call answered.
      [{ messages: [user('hi'), { role: 'assistant', tool_calls: [call('c1')] }, user('never mind')] }, 'messages.1.tool_calls.0'],
      [{ messages: [user('hi'), { role: 'assistant', content: [callPart('c1'), callPart('c2')] }, { role: 'tool', tool_call_id: 'c1', content: 'ok' }] }, 'messages.1.content.1'],
      [{ messages: [user('hi'), { role: 'assistant', tool_calls: [call('c1')] }, { role: 'tool', tool_call_id: 'c1', content: 'ok' }, { role: 'tool', tool_call_id: 'c1', content: 'again' }] }, 'messages.3.tool_call_id'],
      [{ messages: [user('hi'), { role: 'assistant', tool_calls: [call('c1')] }, { role: 'tool', tool_call_id: 'c1', content: 'ok' }, user('and'), { role: 'tool', tool_call_id: 'c1', content: 'late' }] }, 'messages.4.tool_call_id'],
    ];
    for (const [body, field] of cases) {
      const res = await send({ model: 'gpt-4o-mini', ...body });
      expect({ body, status: res.status }).toEqual({ body, status: 422 });
      expect({ body, fields: errorsOf(res).map((e) => e.field) }).toEqual({ body, fields: expect.arrayContaining([field]) });
    }
    expect(fake.requests).toHaveLength(0);

    // A whole exchange in one request is fine (stateless on the completions route too).
    const exchange = [user('Weather?'), { role: 'assistant', tool_calls: [call('c1'), call('c2')] }, { role: 'tool', tool_call_id: 'c2', content: '4 °C' }, { role: 'tool', tool_call_id: 'c1', content: '5 °C' }];
    await send({ model: 'offline', stream: false, messages: exchange }).expect(200);
    await request(t.url).post('/v1/chat/completions').set(alice.auth).send({ model: 'offline', messages: exchange }).expect(200);
  });

  it('limits images per request and tools by the configuration', async () => {
    const images = Array.from({ length: 9 }, () => ({ type: 'image', url: PNG_1X1 }));
    const res = await send({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: [{ type: 'text', text: 'Look' }, ...images] }] });
    expect(res.status).toBe(422);
    expect(errorsOf(res)).toEqual([{ field: 'messages.0.content.9', message: 'a request may hold at most 8 images' }]);

    const deep: Record<string, unknown> = { type: 'object' };
    let at = deep;
    for (let i = 0; i < 20; i++) at = (at.properties = { x: { type: 'object' } }).x;
    const tooDeep = await send({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'f', parameters: deep } }] });
    expect(tooDeep.status).toBe(422);
    expect(errorsOf(tooDeep)[0]).toEqual({ field: 'tools.0.function.parameters', message: 'must be nested at most 16 levels deep' });

    const long = await send({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'f', description: 'd'.repeat(4097) } }] });
    expect(errorsOf(long)[0].field).toBe('tools.0.function.description');
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses tools or images for a model without the capability (400 naming both), on both routes', async () => {
    const sessions = async () => (await request(t.url).get('/v1/chat/sessions').set(alice.auth)).body.total as number;
    const before = await sessions();
    const image = await send({ model: 'gpt-4', messages: [{ role: 'user', content: [{ type: 'text', text: 'What is it?' }, { type: 'image', url: PNG_1X1 }] }] });
    expect(image.status).toBe(400);
    expect(image.body).toMatchObject({
      type: expect.stringMatching(/model-capability$/),
      status: 400,
      detail: expect.stringContaining('openai/gpt-4'),
      model: 'openai/gpt-4',
      capability: 'supports_vision',
      errors: [{ field: 'messages.0.content.1', message: expect.any(String) }],
    });
    expect(image.body.detail).toContain('supports_vision');

    const tools = await send({ model: 'gpt-3.5-turbo', messages: [{ role: 'user', content: 'Weather?' }], tools: [WEATHER_TOOL] });
    expect(tools.status).toBe(400);
    expect(tools.body).toMatchObject({ model: 'openai/gpt-3.5-turbo', capability: 'supports_tools', errors: [{ field: 'tools' }] });

    const completion = await request(t.url)
      .post('/v1/chat/completions')
      .set(alice.auth)
      .send({ model: 'gpt-4', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: PNG_1X1 } }] }] });
    expect(completion.status).toBe(400);
    expect(completion.body.error).toMatchObject({ type: 'invalid_request_error', param: 'messages.0.content.0' });
    expect(completion.body.error.message).toContain('supports_vision');

    // Nothing was stored or sent.
    expect(fake.requests).toHaveLength(0);
    expect(await sessions()).toBe(before);
  });

  it('shows supports_tools and supports_vision in /v1/models', async () => {
    const { body } = await request(t.url).get('/v1/models').set(alice.auth).expect(200);
    const byId = Object.fromEntries((body.data as { id: string }[]).map((m) => [m.id, m]));
    expect(byId['openai/gpt-4o-mini']).toMatchObject({ supports_tools: true, supports_vision: true });
    expect(byId['openai/gpt-4']).toMatchObject({ supports_tools: true, supports_vision: false });
    expect(byId['openai/gpt-3.5-turbo']).toMatchObject({ supports_tools: false });
    // Defaults by protocol: Anthropic and Gemini models read images.
    expect(byId['anthropic/claude-sonnet-5-5']).toMatchObject({ supports_tools: true, supports_vision: true });
    expect(byId['offline/echo']).toMatchObject({ supports_tools: true, supports_vision: true });
  });

  it('never falls back to a model lacking a capability the request needs', async () => {
    // gpt-4o-mini fails; its fallbacks are gpt-4 (no vision) and gpt-3.5-turbo (no tools).
    const failing = { failure: { status: 500 } };
    fake.script(failing);
    const res = await send({
      model: 'gpt-4o-mini',
      stream: false,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is it?' }, { type: 'image', url: PNG_1X1 }] }],
      tools: [WEATHER_TOOL],
    });
    expect(res.status).toBe(502);
    // Only gpt-4o-mini was called (twice: one retry); neither fallback was.
    expect(fake.requests.map((r) => (r.body as { model: string }).model)).toEqual(['gpt-4o-mini', 'gpt-4o-mini']);

    fake.reset();
    fake.script(failing);
    const textOnly = await send({ model: 'gpt-4o-mini', stream: false, messages: [{ role: 'user', content: [{ type: 'image', url: PNG_1X1 }] }] });
    // Images only: gpt-4 (no vision) is skipped, gpt-3.5-turbo (vision off too) as well: no fallback can take it.
    expect(textOnly.status).toBe(502);
    expect(fake.requests.map((r) => (r.body as { model: string }).model)).toEqual(['gpt-4o-mini', 'gpt-4o-mini']);

    fake.reset();
    fake.script((req) => ((req.body as { model: string }).model === 'gpt-4' ? { pieces: ['From gpt-4'] } : failing));
    const withTools = await send({ model: 'gpt-4o-mini', stream: false, messages: [{ role: 'user', content: 'Weather?' }], tools: [WEATHER_TOOL] });
    // Tools only: gpt-4 takes tools and answers.
    expect(withTools.status).toBe(200);
    expect(withTools.body.model).toBe('openai/gpt-4');
  });

  it('stores a user message as its parts and returns them next to its text; the JSON answer carries parts', async () => {
    const res = await send({
      model: 'offline',
      stream: false,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is ' }, { type: 'image_url', image_url: { url: PNG_1X1, detail: 'low' } }, { type: 'text', text: 'this?' }] }],
    });
    expect(res.status).toBe(200);
    expect(res.body.message).toEqual({ role: 'assistant', content: res.body.output_text, parts: [{ type: 'text', text: res.body.output_text }] });

    const page = await request(t.url).get(`/v1/chat/sessions/${res.body.session_id}/messages`).set(alice.auth).expect(200);
    const [question, answer] = page.body.items;
    expect(question).toMatchObject({
      role: 'user',
      content: 'What is this?',
      tool_call_id: null,
      parts: [{ type: 'text', text: 'What is ' }, expect.objectContaining({ type: 'image', url: PNG_1X1, detail: 'low' }), { type: 'text', text: 'this?' }],
    });
    expect(answer).toMatchObject({ role: 'assistant', content: res.body.output_text, parts: [{ type: 'text', text: res.body.output_text }] });
    // The API guide's history keeps its string content.
    const history = await request(t.url).get('/v1/chat/history').set(alice.auth).expect(200);
    const stored = history.body.sessions.find((s: { id: number }) => s.id === res.body.session_id);
    expect(stored.messages[0]).toEqual({ role: 'user', content: 'What is this?' });
  });

  it('titles a session started by images only after them', async () => {
    const one = await send({ model: 'offline', stream: false, messages: [{ role: 'user', content: [{ type: 'image', url: PNG_1X1 }] }] });
    expect(one.status).toBe(200);
    expect(one.body.title).toBe('Image');
    const two = await send({
      model: 'offline',
      stream: false,
      messages: [{ role: 'user', content: [{ type: 'image', url: PNG_1X1 }, { type: 'image', url: PNG_1X1 }] }],
    });
    expect(two.body.title).toBe('2 images');
  });
});

/** The migration that turned every stored message into parts, on a database of its own. */
describe('migration MessageParts1795601700000', () => {
  const name = `${DB_PREFIX}_message_parts_${process.pid}`;
  const url = databaseUrl(name);

  beforeAll(async () => {
    await withAdmin(async (admin) => {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.query(`CREATE DATABASE "${name}"`);
    });
  });
  afterAll(async () => {
    await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  });

  it('turns every existing message into one text part holding its content (none for an empty one)', async () => {
    const dataSource = await new DataSource(buildDataSourceOptions(url, 2, ENTITIES)).initialize();
    const runner = dataSource.createQueryRunner();
    const migration = new MessageParts1795601700000();
    try {
      await runMigrationsLocked(dataSource);
      // The schema as it was before: no parts, no tool_call_id.
      await migration.down(runner);
      const [user] = await runner.query(`INSERT INTO users (email) VALUES ('migrated@example.com') RETURNING id`);
      const [session] = await runner.query(`INSERT INTO chat_sessions (user_id, model) VALUES ($1, 'offline/echo') RETURNING id`, [user.id]);
      await runner.query(
        `INSERT INTO messages (session_id, role, content, status) VALUES ($1, 'user', 'Hello "there" \\ ünï', 'complete'),
           ($1, 'assistant', 'Hi!', 'complete'), ($1, 'assistant', '', 'failed')`,
        [session.id],
      );
      await migration.up(runner);
      const rows = await runner.query('SELECT content, parts, tool_call_id FROM messages WHERE session_id = $1 ORDER BY id', [session.id]);
      expect(rows).toEqual([
        { content: 'Hello "there" \\ ünï', parts: [{ type: 'text', text: 'Hello "there" \\ ünï' }], tool_call_id: null },
        { content: 'Hi!', parts: [{ type: 'text', text: 'Hi!' }], tool_call_id: null },
        { content: '', parts: [], tool_call_id: null },
      ]);
      const columns = await runner.query(`SELECT is_nullable FROM information_schema.columns WHERE table_name = 'messages' AND column_name = 'parts'`);
      expect(columns).toEqual([{ is_nullable: 'NO' }]);
    } finally {
      await runner.release();
      await dataSource.destroy();
    }
  });
});
