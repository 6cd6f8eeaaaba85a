import { isAbortError } from '../../src/providers/abort';
import { AnthropicModelProvider } from '../../src/providers/anthropic/anthropic.model-provider';
import { ToolDefinition } from '../../src/providers/content-parts';
import { ModelProviderError, ModelRequest, ModelStreamEvent, ToolCallDelta } from '../../src/providers/model-provider';
import { countChatTokens, countTokens, estimatedUsage } from '../../src/providers/tokenizer';
import { FakeAnthropic, startFakeAnthropic } from '../support/fake-anthropic-server';
import { collect, deltas, finish, rejection, unusedPort } from '../support/streams';

const API_KEY = 'sk-ant-test-0123456789SECRET';

/** The registry as the factory hands it over: Haiku takes no temperature, unknown models are sent as asked. */
const registry = (upstream: string) =>
  ({ 'claude-sonnet-5-5': { maxOutputTokens: 128_000, supportsTemperature: true }, 'claude-haiku-5-5': { maxOutputTokens: 64_000, supportsTemperature: false } })[
    upstream
  ];

const request: ModelRequest = {
  model: 'claude-sonnet-5-5',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'assistant', content: 'A greeting left over from a trimmed history.' },
    { role: 'user', content: 'Say hello.' },
    { role: 'assistant', content: 'Hello.' },
    { role: 'system', content: 'Answer in French.' },
    { role: 'user', content: 'Again.' },
    { role: 'user', content: 'Please.' },
  ],
  temperature: 0.3,
  maxTokens: 50,
};

describe('AnthropicModelProvider against a Messages API server', () => {
  let fake: FakeAnthropic;
  let provider: AnthropicModelProvider;
  const make = (options: Partial<ConstructorParameters<typeof AnthropicModelProvider>[1]> = {}, baseUrl = fake.url) =>
    new AnthropicModelProvider(
      { name: 'anthropic', protocol: 'anthropic', baseUrl, apiKey: API_KEY },
      { timeoutMs: 5000, connectTimeoutMs: 5000, models: registry, ...options },
    );

  beforeAll(async () => {
    fake = await startFakeAnthropic({ apiKey: API_KEY });
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.reset();
    provider = make();
  });

  describe('stream', () => {
    it('relays every text delta byte for byte, in order', async () => {
      const pieces = ['Bon', 'jour', ' !', '\n\n', '  deux  espaces', '\tété 🙂 日本語', '\r\n', 'event: ping', ' fin.'];
      fake.script({ pieces });

      const events = await collect(provider.stream(request, new AbortController().signal));

      expect(deltas(events)).toEqual(pieces);
      expect(events.at(-1)?.type).toBe('finish');
    });

    it('sends system on top, merged turns starting with the user, max_tokens, temperature, key and API version', async () => {
      await collect(provider.stream(request, new AbortController().signal));

      const [received] = fake.requests;
      expect(received.path).toBe('/v1/messages');
      // The SDK sends the key as a bearer token (its `apiKey` option); the API also takes `x-api-key`.
      expect(received.headers.authorization).toBe(`Bearer ${API_KEY}`);
      expect(received.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(received.body).toEqual({
        model: 'claude-sonnet-5-5',
        system: 'You are terse.\n\nAnswer in French.',
        messages: [
          { role: 'user', content: 'Say hello.' },
          { role: 'assistant', content: 'Hello.' },
          { role: 'user', content: 'Again.\n\nPlease.' },
        ],
        max_tokens: 50,
        temperature: 0.3,
        stream: true,
      });
    });

    it("falls back to the model's max output for max_tokens, caps temperature at 1, and leaves out what is unset", async () => {
      await collect(provider.stream({ ...request, maxTokens: undefined, temperature: 1.7 }, new AbortController().signal));
      await collect(provider.stream({ model: 'claude-unlisted', messages: [{ role: 'user', content: 'Hi' }] }, new AbortController().signal));

      expect(fake.requests[0].body).toMatchObject({ max_tokens: 128_000, temperature: 1 });
      expect(fake.requests[1].body).toMatchObject({ max_tokens: 4096 });
      expect(fake.requests[1].body).not.toHaveProperty('temperature');
      expect(fake.requests[1].body).not.toHaveProperty('system');
    });

    it('sends top_p and the stop sequences as stop_sequences', async () => {
      await collect(provider.stream({ ...request, topP: 0.8, stop: ['END', '###'] }, new AbortController().signal));

      expect(fake.requests[0].body).toMatchObject({ top_p: 0.8, stop_sequences: ['END', '###'] });
    });

    it('leaves temperature out for a model the registry marks as refusing it', async () => {
      await collect(provider.stream({ ...request, model: 'claude-haiku-5-5', maxTokens: undefined }, new AbortController().signal));

      expect(fake.requests[0].body).toMatchObject({ model: 'claude-haiku-5-5', max_tokens: 64_000 });
      expect(fake.requests[0].body).not.toHaveProperty('temperature');
    });

    it('reports usage from message_start and message_delta, cache reads and writes counted as input', async () => {
      fake.script({
        pieces: ['Salut.'],
        usage: { input_tokens: 120, output_tokens: 45, cache_read_input_tokens: 2000, cache_creation_input_tokens: 300 },
      });

      const events = await collect(provider.stream(request, new AbortController().signal));

      expect(finish(events)).toEqual({
        type: 'finish',
        finishReason: 'stop',
        usage: { inputTokens: 2420, outputTokens: 45, cachedInputTokens: 2000, estimated: false },
      });
    });

    it('estimates usage with the tokenizer when the server reports none', async () => {
      fake.script({ pieces: ['Bonjour', ' encore.'], usage: null });

      const events = await collect(provider.stream(request, new AbortController().signal));

      expect(finish(events)).toMatchObject({
        usage: { inputTokens: countChatTokens(request.messages), outputTokens: countTokens('Bonjour encore.'), estimated: true },
      });
    });

    it.each([
      ['end_turn', 'stop'],
      ['stop_sequence', 'stop'],
      ['max_tokens', 'length'],
      ['refusal', 'content_filter'],
      ['tool_use', 'tool_calls'],
      ['something_new', 'stop'],
    ])('maps stop_reason %s to %s', async (upstream, expected) => {
      fake.script({ stopReason: upstream });

      expect(finish(await collect(provider.stream(request, new AbortController().signal)))).toMatchObject({ finishReason: expected });
    });

    it.each([
      ['overloaded_error', 'unavailable'],
      ['api_error', 'unavailable'],
      ['rate_limit_error', 'rate_limited'],
      ['invalid_request_error', 'bad_request'],
      ['authentication_error', 'auth'],
    ])('maps an %s event inside the 200 stream to %s, after relaying what came', async (type, kind) => {
      fake.script({ pieces: ['one', ' two', ' three'], errorEvent: { afterPieces: 2, type } });
      const seen: string[] = [];

      const err = await rejection(
        (async () => {
          for await (const e of provider.stream(request, new AbortController().signal)) if (e.type === 'delta') seen.push(e.text);
        })(),
      );

      expect(seen).toEqual(['one', ' two']);
      expect(err).toBeInstanceOf(ModelProviderError);
      expect(err).toMatchObject({ kind });
    });

    it('throws unavailable when the connection is cut mid-stream', async () => {
      fake.script({ pieces: ['one', ' two', ' three'], cut: { afterPieces: 2 } });

      const err = await rejection(collect(provider.stream(request, new AbortController().signal)));

      expect(err).toMatchObject({ kind: 'unavailable' });
    });

    it('throws unavailable when the stream ends before message_stop', async () => {
      fake.script({ pieces: ['one', ' two'], cut: { afterPieces: 1, how: 'end' } });

      const err = await rejection(collect(provider.stream(request, new AbortController().signal)));

      expect(err).toMatchObject({ kind: 'unavailable', message: 'The model provider ended the answer before it was complete.' });
    });

    it('closes the upstream socket within 1 s of an abort and throws an abort error', async () => {
      fake.script({ pieces: Array.from({ length: 50 }, (_, i) => ` w${i}`), delayMs: 100 });
      const controller = new AbortController();
      const events = provider.stream(request, controller.signal)[Symbol.asyncIterator]();

      await expect(events.next()).resolves.toEqual({ done: false, value: { type: 'delta', text: ' w0' } });
      const abortedAt = Date.now();
      controller.abort();
      const err = await rejection(events.next());

      expect(isAbortError(err)).toBe(true);
      expect((await fake.requests[0].closed) - abortedAt).toBeLessThan(1000);
      expect(fake.requests[0].closedEarly).toBe(true);
    });

    it('throws timeout when the response headers take longer than connectTimeoutMs', async () => {
      provider = make({ connectTimeoutMs: 200 });
      fake.script({ headersDelayMs: 2000 });

      const err = await rejection(collect(provider.stream(request, new AbortController().signal)));

      expect(err).toMatchObject({ kind: 'timeout', message: 'The model provider did not start answering within 200 ms.' });
    });

    it('throws timeout and closes the socket when a stalled stream passes timeoutMs, after relaying what came', async () => {
      provider = make({ timeoutMs: 400 });
      fake.script({ pieces: ['one', ' two', ' three'], stall: { afterPieces: 1 } });
      const seen: string[] = [];

      const err = await rejection(
        (async () => {
          for await (const e of provider.stream(request, new AbortController().signal)) if (e.type === 'delta') seen.push(e.text);
        })(),
      );

      expect(seen).toEqual(['one']);
      expect(err).toMatchObject({ kind: 'timeout', message: 'The model provider did not answer within 400 ms.' });
      await fake.requests[0].closed;
      expect(fake.requests[0].closedEarly).toBe(true);
    });

    it('throws timeout when the whole answer takes longer than timeoutMs', async () => {
      provider = make({ timeoutMs: 300 });
      fake.script({ pieces: ['slow', ' slower', ' slowest'], delayMs: 200 });

      const err = await rejection(collect(provider.stream(request, new AbortController().signal)));

      expect(err).toMatchObject({ kind: 'timeout', message: 'The model provider did not answer within 300 ms.' });
    });
  });

  describe('complete', () => {
    it('returns the text, stop reason and usage of a non-streamed message', async () => {
      fake.script({ pieces: ['Bonjour', ',\n', 'monde 🙂'], stopReason: 'max_tokens', usage: { input_tokens: 9, output_tokens: 4, cache_read_input_tokens: 0 } });

      const answer = await provider.complete(request, new AbortController().signal);

      expect(answer).toEqual({
        text: 'Bonjour,\nmonde 🙂',
        finishReason: 'length',
        usage: { inputTokens: 9, outputTokens: 4, cachedInputTokens: 0, estimated: false },
      });
      expect(fake.requests[0].body).toMatchObject({ stream: false, max_tokens: 50, system: 'You are terse.\n\nAnswer in French.' });
    });

    it('waits longer than connectTimeoutMs for a non-streamed answer (its headers come with the answer)', async () => {
      provider = make({ connectTimeoutMs: 100 });
      fake.script({ pieces: ['late'], headersDelayMs: 400 });

      await expect(provider.complete(request, new AbortController().signal)).resolves.toMatchObject({ text: 'late' });
    });

    it('throws an abort error and closes the upstream socket when the caller aborts while waiting', async () => {
      fake.script({ pieces: ['late'], delayMs: 2000 });
      const controller = new AbortController();
      // Aborted once the request is there (the server answers after 2 s), however slow the machine.
      abortOnArrival(fake.requests, controller);

      const err = await rejection(provider.complete(request, controller.signal));

      expect(isAbortError(err)).toBe(true);
      await fake.requests[0].closed;
      expect(fake.requests[0].closedEarly).toBe(true);
    });
  });

  describe('tools and images', () => {
    const tools: ToolDefinition[] = [
      {
        name: 'get_weather',
        description: 'Current weather of a city.',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
      { name: 'get_time', parameters: { type: 'object', properties: {} } },
    ];
    const toolDeltas = (events: ModelStreamEvent[]) => events.filter((e): e is ToolCallDelta => e.type === 'tool_call_delta');
    const JPEG = 'data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=';

    /** A conversation with images, a parallel tool exchange and a follow-up, as the turn engine sends it. */
    const exchange: ModelRequest = {
      model: 'claude-sonnet-5-5',
      messages: [
        { role: 'system', content: 'You are terse.' },
        {
          role: 'user',
          content: 'Where is this? Weather in Paris and Oslo?',
          parts: [
            { type: 'image', url: 'https://images.example.com/place.jpg', width: 800, height: 600 },
            { type: 'image', url: JPEG, media_type: 'image/jpeg', width: 1, height: 1 },
            { type: 'text', text: 'Where is this? Weather in Paris and Oslo?' },
          ],
        },
        {
          role: 'assistant',
          content: 'Checking both.',
          parts: [
            { type: 'text', text: 'Checking both.' },
            { type: 'tool_call', id: 'toolu_p', name: 'get_weather', arguments: '{"city":"Paris"}' },
            { type: 'tool_call', id: 'toolu_o', name: 'get_weather', arguments: '{"city":"Oslo"}' },
          ],
        },
        { role: 'tool', content: '{"temp_c":21}', toolCallId: 'toolu_p' },
        { role: 'tool', content: 'Snow, -3 °C', toolCallId: 'toolu_o' },
        { role: 'user', content: 'And the time?' },
      ],
      tools,
      toolChoice: 'auto',
    };

    it('relays tool_use blocks streamed as input_json_delta pieces as tool-call deltas, then finishes with the calls', async () => {
      fake.script({
        pieces: ['Checking.'],
        toolUses: [
          { id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' }, pieces: ['', '{"city": "Pa', 'ris"}'] },
          { id: 'toolu_2', name: 'get_weather', input: { city: 'Oslo' } },
          { id: 'toolu_3', name: 'get_time', input: {}, pieces: [] },
        ],
        usage: { input_tokens: 300, output_tokens: 60 },
      });

      const events = await collect(provider.stream({ ...request, tools }, new AbortController().signal));

      expect(deltas(events)).toEqual(['Checking.']);
      expect(toolDeltas(events)).toEqual([
        { type: 'tool_call_delta', index: 0, id: 'toolu_1', name: 'get_weather', arguments: '' },
        { type: 'tool_call_delta', index: 0, arguments: '' },
        { type: 'tool_call_delta', index: 0, arguments: '{"city": "Pa' },
        { type: 'tool_call_delta', index: 0, arguments: 'ris"}' },
        { type: 'tool_call_delta', index: 1, id: 'toolu_2', name: 'get_weather', arguments: '' },
        { type: 'tool_call_delta', index: 1, arguments: '' },
        { type: 'tool_call_delta', index: 1, arguments: '{"city"' },
        { type: 'tool_call_delta', index: 1, arguments: ':"Oslo"}' },
        { type: 'tool_call_delta', index: 2, id: 'toolu_3', name: 'get_time', arguments: '' },
        // No input at all: completed as {} so that every call's arguments are JSON.
        { type: 'tool_call_delta', index: 2, arguments: '{}' },
      ]);
      expect(finish(events)).toEqual({
        type: 'finish',
        finishReason: 'tool_calls',
        usage: { inputTokens: 300, outputTokens: 60, estimated: false },
        toolCalls: [
          { type: 'tool_call', id: 'toolu_1', name: 'get_weather', arguments: '{"city": "Paris"}' },
          { type: 'tool_call', id: 'toolu_2', name: 'get_weather', arguments: '{"city":"Oslo"}' },
          { type: 'tool_call', id: 'toolu_3', name: 'get_time', arguments: '{}' },
        ],
      });
    });

    it('sends tools with input_schema, images as base64 and url sources, tool_use blocks and merged tool_result blocks', async () => {
      await collect(provider.stream(exchange, new AbortController().signal));

      const { body } = fake.requests[0];
      expect(body.tools).toEqual([
        { name: 'get_weather', description: 'Current weather of a city.', input_schema: tools[0].parameters },
        { name: 'get_time', input_schema: { type: 'object', properties: {} } },
      ]);
      expect(body.tool_choice).toEqual({ type: 'auto' });
      expect(body.system).toBe('You are terse.');
      expect(body.messages).toEqual([
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'url', url: 'https://images.example.com/place.jpg' } },
            { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: JPEG.slice('data:image/jpeg;base64,'.length) } },
            { type: 'text', text: 'Where is this? Weather in Paris and Oslo?' },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checking both.' },
            { type: 'tool_use', id: 'toolu_p', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_o', name: 'get_weather', input: { city: 'Oslo' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_p', content: '{"temp_c":21}' },
            { type: 'tool_result', tool_use_id: 'toolu_o', content: 'Snow, -3 °C' },
            { type: 'text', text: 'And the time?' },
          ],
        },
      ]);
    });

    it.each([
      ['none', { type: 'none' }],
      ['required', { type: 'any' }],
      [{ name: 'get_time' }, { type: 'tool', name: 'get_time' }],
    ] as const)('sends tool choice %j as tool_choice %j', async (choice, sent) => {
      await collect(provider.stream({ ...request, tools, toolChoice: choice }, new AbortController().signal));

      expect(fake.requests[0].body.tool_choice).toEqual(sent);
    });

    it('declares the called tools with tool_choice none when a conversation with tool calls comes without tools', async () => {
      const answer = await provider.complete({ ...exchange, tools: undefined, toolChoice: undefined }, new AbortController().signal);

      expect(answer.text).toBe('Hello from Claude');
      expect(fake.requests[0].body.tools).toEqual([{ name: 'get_weather', input_schema: { type: 'object' } }]);
      expect(fake.requests[0].body.tool_choice).toEqual({ type: 'none' });
    });

    it('sends no tools for a conversation without tool calls and no tools offered', async () => {
      await collect(provider.stream({ ...request, toolChoice: 'auto' }, new AbortController().signal));

      expect(fake.requests[0].body).not.toHaveProperty('tools');
      expect(fake.requests[0].body).not.toHaveProperty('tool_choice');
    });

    it('drops the results of a leading assistant turn it drops, so the conversation starts at a user turn', async () => {
      const trimmed: ModelRequest = {
        ...exchange,
        messages: [exchange.messages[2], exchange.messages[3], exchange.messages[4], { role: 'user', content: 'And the time?' }],
      };

      await collect(provider.stream(trimmed, new AbortController().signal));

      expect(fake.requests[0].body.messages).toEqual([{ role: 'user', content: 'And the time?' }]);
    });

    it('returns the tool_use blocks of a non-streamed message as tool calls, input as JSON text', async () => {
      fake.script({
        pieces: ['Sure.'],
        toolUses: [{ id: 'toolu_1', name: 'get_weather', input: { city: 'Paris', units: ['c', 'f'] } }],
        usage: { input_tokens: 40, output_tokens: 12 },
      });

      const answer = await provider.complete(exchange, new AbortController().signal);

      expect(answer).toEqual({
        text: 'Sure.',
        finishReason: 'tool_calls',
        usage: { inputTokens: 40, outputTokens: 12, estimated: false },
        toolCalls: [{ type: 'tool_call', id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris","units":["c","f"]}' }],
      });
      expect(fake.requests[0].body).toMatchObject({ stream: false, tool_choice: { type: 'auto' } });
    });

    it('estimates usage with the images by Anthropic’s rule when the server reports none', async () => {
      fake.script({ toolUses: [{ id: 'toolu_1', name: 'get_time', input: {} }], usage: null });

      const events = await collect(provider.stream(exchange, new AbortController().signal));

      const calls = [{ type: 'tool_call' as const, id: 'toolu_1', name: 'get_time', arguments: '{}' }];
      expect(finish(events)).toMatchObject({ usage: estimatedUsage(exchange, '', 'anthropic', calls) });
      // 800×600: ⌈480000 / 750⌉ = 640; 1×1: 1.
      expect(estimatedUsage(exchange, '', 'anthropic').inputTokens - estimatedUsage(exchange, '', 'openai').inputTokens).toBe(640 + 1 - 765 - 255);
    });
  });

  describe('errors', () => {
    const call = {
      stream: (p: AnthropicModelProvider) => collect(p.stream(request, new AbortController().signal)),
      complete: (p: AnthropicModelProvider) => p.complete(request, new AbortController().signal),
    };

    describe.each(Object.entries(call))('%s', (_, run) => {
      it('maps a wrong key (401) to auth without revealing the key or the upstream text', async () => {
        const wrong = new AnthropicModelProvider(
          { name: 'anthropic', protocol: 'anthropic', baseUrl: fake.url, apiKey: 'sk-ant-wrong-key' },
          { timeoutMs: 5000, connectTimeoutMs: 5000 },
        );

        const err = await rejection(run(wrong));

        expect(err).toMatchObject({ kind: 'auth', upstreamStatus: 401, message: "The model provider rejected this server's credentials." });
        expect(String(err)).not.toContain('sk-ant-wrong-key');
        expect(String(err)).not.toContain('invalid x-api-key');
      });

      it('maps 403 to auth', async () => {
        fake.script({ failure: { status: 403 } });

        expect(await rejection(run(provider))).toMatchObject({ kind: 'auth', upstreamStatus: 403 });
      });

      it('maps 429 to rate_limited with the retry-after seconds', async () => {
        fake.script({ failure: { status: 429, retryAfter: '7' } });

        expect(await rejection(run(provider))).toMatchObject({ kind: 'rate_limited', upstreamStatus: 429, retryAfterSeconds: 7 });
      });

      it.each([400, 404, 413, 422])("maps %i to bad_request quoting the provider's message, key masked", async (status) => {
        fake.script({ failure: { status, message: `model: claude-nope (key ${API_KEY})` } });

        const err = await rejection(run(provider));

        expect(err).toMatchObject({ kind: 'bad_request', upstreamStatus: status });
        expect((err as Error).message).toBe('The model provider refused the request: model: claude-nope (key [redacted])');
      });

      it.each([500, 503, 529])('maps %i to unavailable', async (status) => {
        fake.script({ failure: { status } });

        expect(await rejection(run(provider))).toMatchObject({ kind: 'unavailable', upstreamStatus: status });
      });

      it('maps a refused connection to unavailable', async () => {
        const err = await rejection(run(make({}, `http://127.0.0.1:${await unusedPort()}`)));

        expect(err).toMatchObject({ kind: 'unavailable', message: 'The model provider could not be reached.' });
      });
    });
  });
});

/** Aborts `controller` as soon as a request has arrived at the fake server. */
function abortOnArrival(requests: readonly unknown[], controller: AbortController): void {
  const poll = setInterval(() => {
    if (!requests.length) return;
    clearInterval(poll);
    controller.abort();
  }, 5);
}
