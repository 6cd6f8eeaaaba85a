import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse } from './support/sse';
import { writeTestConfig } from './support/test-config';
import { registerUser, TestUser } from './support/users';

const KEY = 'sk-completions-test';
/** Sends a user may make per window in this file's configuration. */
const SENDS = 6;
const USAGE = { prompt_tokens: 321, completion_tokens: 45, prompt_tokens_details: { cached_tokens: 21 }, completion_tokens_details: { reasoning_tokens: 5 } };

/**
 * `POST /v1/chat/completions`: OpenAI's Chat Completions wire format over the turn engine, against the OpenAI
 * stand-in, over real HTTP and PostgreSQL; driven by raw HTTP and by the official `openai` SDK.
 */
describe('POST /v1/chat/completions (OpenAI Chat Completions)', () => {
  let t: TestApp;
  let fake: FakeOpenAi;

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    const config = writeTestConfig((c) => {
      c.rate_limits.tiers.free.sends = SENDS;
    });
    t = await startApp({ CONFIG_FILE: config, OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY });
  });
  beforeEach(() => fake.reset());
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  const complete = (user: TestUser | { Authorization: string }, body: object) =>
    request(t.url)
      .post('/v1/chat/completions')
      .set('auth' in user ? user.auth : user)
      .send({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi there' }], ...body });

  const usageOf = async (user: TestUser) => (await request(t.url).get('/v1/users/me/usage').set(user.auth).expect(200)).body.totals;
  const sessionsOf = async (user: TestUser) => (await request(t.url).get('/v1/chat/history').set(user.auth).expect(200)).body;

  it('answers one chat.completion whose usage is the provider\'s; stateless: no session, but counted in the ledger', async () => {
    const alice = await registerUser(t.url);
    fake.script({ pieces: ['Hello', ' there!'], usage: USAGE });
    const res = await complete(alice, {});
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['x-session-id']).toBeUndefined();
    expect(res.body).toEqual({
      id: expect.stringMatching(/^chatcmpl-/),
      object: 'chat.completion',
      created: expect.any(Number),
      model: 'openai/gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there!', refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 321, completion_tokens: 45, total_tokens: 366, prompt_tokens_details: { cached_tokens: 21 }, completion_tokens_details: { reasoning_tokens: 5 } },
    });
    expect(Math.abs(res.body.created - Date.now() / 1000)).toBeLessThan(60);
    // Not streamed upstream either.
    expect(fake.requests[0].body).toMatchObject({ model: 'gpt-4o-mini', stream: false });

    const history = await sessionsOf(alice);
    expect(history.total).toBe(0);
    const totals = await usageOf(alice);
    expect(totals).toMatchObject({ requests: 1, tokens_input: 321, tokens_output: 45, tokens_cached: 21, tokens_reasoning: 5 });
  });

  it('the messages are the whole context as given (no default system prompt); options reach the provider', async () => {
    const alice = await registerUser(t.url);
    const messages = [
      { role: 'developer', content: 'Answer in French.' },
      { role: 'user', content: [{ type: 'text', text: 'What is ' }, { type: 'text', text: '2+2?' }] },
      { role: 'assistant', content: 'Quatre.' },
      { role: 'user', content: 'And 3+3?' },
    ];
    const res = await complete(alice, { messages, temperature: 0.3, top_p: 0.9, stop: ['END'], max_completion_tokens: 50 });
    expect(res.status).toBe(200);
    expect(fake.requests[0].body).toMatchObject({
      messages: [
        { role: 'system', content: 'Answer in French.' },
        { role: 'user', content: 'What is 2+2?' },
        { role: 'assistant', content: 'Quatre.' },
        { role: 'user', content: 'And 3+3?' },
      ],
      temperature: 0.3,
      top_p: 0.9,
      stop: ['END'],
      max_completion_tokens: 50,
    });
    expect((fake.requests[0].body as { messages: unknown[] }).messages).toHaveLength(4);
  });

  it('the offline model honours stop too: the answer ends where a stop sequence would begin', async () => {
    const alice = await registerUser(t.url);
    const whole = await complete(alice, { model: 'offline/echo', messages: [{ role: 'user', content: 'ping' }] }).expect(200);
    expect(whole.body.choices[0].message.content).toContain('You said: "ping"');
    const cut = await complete(alice, { model: 'offline/echo', messages: [{ role: 'user', content: 'ping' }], stop: 'You said' }).expect(200);
    const content = cut.body.choices[0].message.content as string;
    expect(content.length).toBeGreaterThan(0);
    expect(whole.body.choices[0].message.content.startsWith(content)).toBe(true);
    expect(content).not.toContain('You said');
  });

  it('stateless messages that do not fit the model\'s window are a 400, never cut silently', async () => {
    const alice = await registerUser(t.url);
    const long = 'word '.repeat(4000); // about 4,000 tokens: two of them overflow gpt-4's 8,192-token window
    const messages = [
      { role: 'user', content: 'Tell me.' },
      { role: 'assistant', content: long },
      { role: 'user', content: 'More.' },
      { role: 'assistant', content: long },
      { role: 'user', content: 'Thanks.' },
    ];
    const res = await complete(alice, { model: 'gpt-4', messages });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param: 'messages' });
    expect(res.body.error.message).toContain('context window 8192');
    expect(fake.requests).toHaveLength(0);
    await complete(alice, { model: 'gpt-4', messages: messages.slice(2) }).expect(200);
  });

  it('streams chat.completion.chunk events: role, text, finish, a usage-only chunk (include_usage), [DONE]', async () => {
    const alice = await registerUser(t.url);
    fake.script({ pieces: ['One', ' two', ' three'], usage: USAGE });
    const res = await complete(alice, { stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = parseSse(res.text);
    expect(events.at(-1)!.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    for (const c of chunks) expect(c).toMatchObject({ object: 'chat.completion.chunk', model: 'openai/gpt-4o-mini', created: expect.any(Number) });
    expect(chunks[0].choices).toEqual([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }]);
    const text = chunks.flatMap((c) => c.choices).map((ch) => ch.delta.content ?? '').join('');
    expect(text).toBe('One two three');
    const finish = chunks.at(-2);
    expect(finish.choices).toEqual([{ index: 0, delta: {}, finish_reason: 'stop', logprobs: null }]);
    expect(finish.usage).toBeNull();
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 321, completion_tokens: 45, total_tokens: 366 } });
    expect(fake.requests[0].body).toMatchObject({ stream: true });
    expect(await usageOf(alice)).toMatchObject({ requests: 1, tokens_input: 321, tokens_output: 45 });

    // Without include_usage: no usage field at all.
    const plain = await complete(alice, { stream: true });
    const plainChunks = parseSse(plain.text).slice(0, -1).map((e) => JSON.parse(e.data));
    expect(plainChunks.every((c) => !('usage' in c) && c.choices.length === 1)).toBe(true);
  });

  it('store: true keeps the exchange as a session of the caller (history, metadata, X-Session-Id); nobody else sees it', async () => {
    const alice = await registerUser(t.url);
    const bob = await registerUser(t.url);
    fake.script({ pieces: ['Stored answer'] });
    const res = await complete(alice, { store: true, metadata: { ticket: 'T-1' }, user: 'end-user-7', stream: true });
    expect(res.status).toBe(200);
    const sessionId = Number(res.headers['x-session-id']);
    expect(sessionId).toBeGreaterThan(0);
    const history = await sessionsOf(alice);
    expect(history.sessions).toHaveLength(1);
    expect(history.sessions[0]).toMatchObject({
      id: sessionId,
      model: 'openai/gpt-4o-mini',
      messages: [
        { role: 'user', content: 'Hi there' },
        { role: 'assistant', content: 'Stored answer' },
      ],
    });
    const session = await request(t.url).get(`/v1/chat/sessions/${sessionId}`).set(alice.auth).expect(200);
    expect(session.body.metadata).toEqual({ ticket: 'T-1', user: 'end-user-7' });

    expect((await sessionsOf(bob)).total).toBe(0);
    await request(t.url).get(`/v1/chat/sessions/${sessionId}`).set(bob.auth).expect(404);
    await request(t.url).get(`/v1/chat/sessions/${sessionId}/messages`).set(bob.auth).expect(404);
    // A stateless completion of Bob's stores nothing either.
    await complete(bob, {}).expect(200);
    expect((await sessionsOf(bob)).total).toBe(0);
  });

  it('refuses what it does not implement with 400 naming the field, in OpenAI\'s error body; never silently', async () => {
    let alice = await registerUser(t.url);
    const cases: [object, string][] = [
      [{ n: 2 }, 'n'],
      [{ logprobs: true }, 'logprobs'],
      [{ tools: [{ type: 'function', function: { name: 'no spaces' } }] }, 'tools.0.function.name'],
      [{ tool_choice: 'required' }, 'tool_choice'],
      [{ parallel_tool_calls: false }, 'parallel_tool_calls'],
      [{ response_format: { type: 'json_object' } }, 'response_format'],
      [{ seed: 1 }, 'seed'],
      [{ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }, 'messages.0.content.0.type'],
      [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://example.com/a.png' } }] }] }, 'messages.0.content.0.image_url.url'],
      [{ messages: [{ role: 'tool', content: 'x', tool_call_id: 'a' }] }, 'messages.0.tool_call_id'],
      [{ stream_options: { include_usage: true } }, 'stream_options'],
      [{ stream: true, stream_options: { include_usage: 'yes' } }, 'stream_options'],
      [{ stream: true, stream_options: [true] }, 'stream_options'],
      [{ temperature: 3 }, 'temperature'],
      [{ messages: [] }, 'messages'],
      [{ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] }, 'messages'],
      [{ unknown_field: 1 }, 'unknown_field'],
      [{ model: 42 }, 'model'],
    ];
    for (const [i, [body, param]] of cases.entries()) {
      // A refused call still counts against the send limit: a fresh user every few calls.
      if (i % SENDS === SENDS - 1) alice = await registerUser(t.url);
      const res = await complete(alice, body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.body).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param, code: null } });
      expect(res.body.error.message).toContain(param.split('.').pop());
    }
    // Neutral values of unsupported fields are fine.
    await complete(await registerUser(t.url), { n: 1, logprobs: false, presence_penalty: 0 }).expect(200);
    expect(fake.requests).toHaveLength(1);
  });

  it('malformed bodies get OpenAI\'s 400, never a 500', async () => {
    const alice = await registerUser(t.url);
    const bodies = ['{"model": "gpt-4o-mini", "messages": [', 'null', '[]', '"text"', '{"messages": "hi", "model": "gpt-4o-mini"}', '{"model":"gpt-4o-mini","messages":[null]}', '{"model":"gpt-4o-mini","messages":[{"role":"user"}]}'];
    for (const body of bodies) {
      const res = await request(t.url).post('/v1/chat/completions').set(alice.auth).set('Content-Type', 'application/json').send(body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.body.error).toMatchObject({ message: expect.any(String), type: 'invalid_request_error' });
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('an unknown model is a 404 model_not_found; no token a 401; both in OpenAI\'s body', async () => {
    const alice = await registerUser(t.url);
    const unknown = await complete(alice, { model: 'no-such-model' });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { message: expect.stringContaining('no-such-model'), type: 'not_found_error', param: 'model', code: 'model_not_found' } });
    const anonymous = await request(t.url).post('/v1/chat/completions').send({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
  });

  it('the send rate limit counts these calls: the next one is a 429 rate_limit_error with Retry-After', async () => {
    const alice = await registerUser(t.url);
    for (let i = 0; i < SENDS; i++) await complete(alice, {}).expect(200);
    const limited = await complete(alice, {});
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(fake.requests).toHaveLength(SENDS);
    expect((await usageOf(alice)).requests).toBe(SENDS);
  });

  it('a provider failure before any text keeps its status (429 from upstream after retries) in OpenAI\'s body', async () => {
    const alice = await registerUser(t.url);
    fake.script({ failure: { status: 429, retryAfter: '30' } });
    const res = await complete(alice, { stream: true });
    expect(res.status).toBe(429);
    expect(res.body.error).toMatchObject({ type: 'rate_limit_error' });
    // Failed before any text: a request in the ledger at no tokens.
    expect(await usageOf(alice)).toMatchObject({ requests: 1, tokens_input: 0, tokens_output: 0 });
  });

  it('a provider failure after the first chunk is an error event in OpenAI\'s body; the usage is still counted', async () => {
    const alice = await registerUser(t.url);
    fake.script({ pieces: ['Partial', ' answer', ' never ends'], cut: { afterPieces: 2 } });
    const res = await complete(alice, { stream: true });
    expect(res.status).toBe(200);
    const events = parseSse(res.text);
    const last = JSON.parse(events.at(-1)!.data);
    expect(last).toEqual({ error: { message: expect.any(String), type: 'server_error', param: null, code: null } });
    const text = events.slice(0, -1).flatMap((e) => JSON.parse(e.data).choices).map((c) => c.delta.content ?? '').join('');
    expect(text).toBe('Partial answer');
    const totals = await usageOf(alice);
    expect(totals.requests).toBe(1);
    expect(totals.tokens_output).toBeGreaterThan(0); // estimated: the text produced before the failure
  });

  it('an API key needs the chat scope', async () => {
    const alice = await registerUser(t.url);
    const app = (await request(t.url).post('/v1/applications').set(alice.auth).send({ name: 'sdk' }).expect(201)).body;
    const key = async (scopes: string[]) =>
      (await request(t.url).post(`/v1/applications/${app.id}/keys`).set(alice.auth).send({ name: scopes.join(','), scopes }).expect(201)).body.key as string;
    const chat = await key(['chat']);
    const reader = await key(['sessions:read']);
    await complete({ Authorization: `Bearer ${chat}` }, {}).expect(200);
    const refused = await complete({ Authorization: `Bearer ${reader}` }, {});
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ type: 'permission_error' });
  });

  it('POST /v1/chat/stream: the request\'s model answers the turn and becomes the session\'s; omitted, the session\'s answers', async () => {
    const alice = await registerUser(t.url);
    const send = (extra: object) =>
      request(t.url).post('/v1/chat/stream').set(alice.auth).send({ stream: false, messages: [{ role: 'user', content: 'Turn' }], ...extra });
    const first = await send({ model: 'gpt-4o-mini' }).expect(200);
    const sessionId = first.body.session_id;
    expect(first.body.model).toBe('openai/gpt-4o-mini');

    const switched = await send({ session_id: sessionId, model: 'gpt-4' }).expect(200);
    expect(switched.body.model).toBe('openai/gpt-4');
    expect(fake.requests[1].body).toMatchObject({ model: 'gpt-4' });
    // The history is kept: the first turn and its answer went to the new model too.
    expect((fake.requests[1].body as { messages: { content: string }[] }).messages.map((m) => m.content)).toEqual(
      expect.arrayContaining(['Turn', 'Hello world!']),
    );
    const session = await request(t.url).get(`/v1/chat/sessions/${sessionId}`).set(alice.auth).expect(200);
    expect(session.body.model).toBe('openai/gpt-4');

    const kept = await send({ session_id: sessionId }).expect(200);
    expect(kept.body.model).toBe('openai/gpt-4');
    expect(fake.requests[2].body).toMatchObject({ model: 'gpt-4' });
    expect((await send({ session_id: sessionId, model: 'no-such-model' })).status).toBe(400);
    expect((await request(t.url).get(`/v1/chat/sessions/${sessionId}`).set(alice.auth)).body.model).toBe('openai/gpt-4');
  });

  describe('the official openai SDK', () => {
    let alice: TestUser;
    let client: OpenAI;
    beforeAll(async () => {
      alice = await registerUser(t.url);
      const app = (await request(t.url).post('/v1/applications').set(alice.auth).send({ name: 'openai-sdk' }).expect(201)).body;
      const key = (await request(t.url).post(`/v1/applications/${app.id}/keys`).set(alice.auth).send({ name: 'sdk', scopes: ['chat'] }).expect(201)).body.key;
      client = new OpenAI({ apiKey: key, baseURL: `${t.url}/v1`, maxRetries: 0 });
    });

    it('chat.completions.create, not streamed and streamed with include_usage; models.list()', async () => {
      fake.script({ pieces: ['SDK', ' answer'], usage: USAGE });
      const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello SDK' }] });
      expect(completion.choices[0].message.content).toBe('SDK answer');
      expect(completion.choices[0].finish_reason).toBe('stop');
      expect(completion.usage).toMatchObject({ prompt_tokens: 321, completion_tokens: 45, total_tokens: 366 });

      fake.script({ pieces: ['Streamed', ' through', ' the SDK'], usage: USAGE });
      const stream = await client.chat.completions.create({
        model: 'fast',
        messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Stream it' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let usage: OpenAI.CompletionUsage | null | undefined;
      let finish: string | null = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
      expect(text).toBe('Streamed through the SDK');
      expect(finish).toBe('stop');
      expect(usage).toMatchObject({ prompt_tokens: 321, completion_tokens: 45 });

      const models = [];
      for await (const m of client.models.list()) models.push(m);
      expect(models.map((m) => m.id)).toContain('openai/gpt-4o-mini');
      expect((await client.models.retrieve('fast')).id).toBe('openai/gpt-4o-mini');
    });

    it('raises typed errors: AuthenticationError, NotFoundError, BadRequestError', async () => {
      const wrong = new OpenAI({ apiKey: 'ak_not-a-real-key', baseURL: `${t.url}/v1`, maxRetries: 0 });
      const hi = { messages: [{ role: 'user' as const, content: 'Hi' }] };
      await expect(wrong.chat.completions.create({ model: 'gpt-4o-mini', ...hi })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      const missing = await client.chat.completions.create({ model: 'no-such-model', ...hi }).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
      expect((missing as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
      const many = await client.chat.completions.create({ model: 'gpt-4o-mini', n: 2, ...hi }).catch((e: unknown) => e);
      expect(many).toBeInstanceOf(OpenAI.BadRequestError);
      expect((many as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('n');
      await expect(client.models.retrieve('no-such-model')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    });
  });

  it('the Vercel AI SDK\'s OpenAI-compatible provider streams one answer, with the provider\'s usage', async () => {
    const alice = await registerUser(t.url);
    const app = (await request(t.url).post('/v1/applications').set(alice.auth).send({ name: 'ai-sdk' }).expect(201)).body;
    const key = (await request(t.url).post(`/v1/applications/${app.id}/keys`).set(alice.auth).send({ name: 'ai', scopes: ['chat'] }).expect(201)).body.key;
    fake.script({ pieces: ['Hello', ' from', ' the AI SDK'], usage: USAGE });
    // ESM-only packages: a Node process of their own, which must not block this one (it serves the app).
    const { stdout } = await promisify(execFile)(process.execPath, [join(__dirname, 'client-sdk', 'vercel-ai-stream.mjs')], {
      env: { ...process.env, BASE_URL: t.url, API_KEY: key, MODEL: 'gpt-4o-mini' },
      encoding: 'utf8',
    });
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(out.errors).toEqual([]);
    expect(out.pieces.join('')).toBe('Hello from the AI SDK');
    expect(out.pieces.length).toBeGreaterThan(1);
    expect(out.finishReason).toBe('stop');
    expect(out.usage).toEqual({ inputTokens: 321, outputTokens: 45 });
    expect(fake.requests[0].body).toMatchObject({ stream: true, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }] });
    expect(await usageOf(alice)).toMatchObject({ requests: 1, tokens_input: 321, tokens_output: 45 });
  });
});
