import { isAbortError } from '../../src/providers/abort';
import { ModelProviderError, ModelRequest } from '../../src/providers/model-provider';
import { OpenAiCompatibleModelProvider } from '../../src/providers/openai-compatible/openai-compatible.model-provider';
import { ToolDefinition } from '../../src/providers/content-parts';
import { countChatTokens, countTokens, estimatedUsage } from '../../src/providers/tokenizer';
import { FakeOpenAi, startFakeOpenAi } from '../support/fake-openai-server';
import { collect, deltas, finish, rejection, unusedPort } from '../support/streams';
import { ModelStreamEvent, ToolCallDelta } from '../../src/providers/model-provider';

const API_KEY = 'sk-test-0123456789abcdefSECRET';

const request: ModelRequest = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Say hello.' },
    { role: 'assistant', content: 'Hello.' },
    { role: 'user', content: 'Again, in French.' },
  ],
  temperature: 0.3,
  maxTokens: 50,
};

describe('OpenAiCompatibleModelProvider against a Chat Completions server', () => {
  let fake: FakeOpenAi;
  let provider: OpenAiCompatibleModelProvider;

  beforeAll(async () => {
    fake = await startFakeOpenAi();
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.reset();
    // As the shipped config.yaml configures OpenAI itself.
    provider = new OpenAiCompatibleModelProvider(
      { name: 'openai', protocol: 'openai', baseUrl: fake.url, apiKey: API_KEY, maxTokensField: 'max_completion_tokens' },
      { timeoutMs: 5000, connectTimeoutMs: 5000 },
    );
  });

  describe('stream', () => {
    it('relays every piece byte for byte, in order', async () => {
      const pieces = ['Bon', 'jour', ' !', '\n\n', '  deux  espaces', '\tété 🙂 日本語', '\r\n', 'data: [DONE]', ' fin.'];
      fake.script({ pieces });

      const events = await collect(provider.stream(request, new AbortController().signal));

      expect(deltas(events)).toEqual(pieces);
      expect(deltas(events).join('')).toBe(pieces.join(''));
      expect(events.at(-1)?.type).toBe('finish');
    });

    it("reports the server's usage as not estimated", async () => {
      fake.script({ pieces: ['Salut.'], usage: { prompt_tokens: 123, completion_tokens: 45 } });

      const events = await collect(provider.stream(request, new AbortController().signal));

      expect(finish(events)).toEqual({
        type: 'finish',
        finishReason: 'stop',
        usage: { inputTokens: 123, outputTokens: 45, estimated: false },
      });
    });

    it('reports cached input and reasoning tokens from the usage details, included in the totals', async () => {
      fake.script({
        usage: {
          prompt_tokens: 2006,
          completion_tokens: 300,
          prompt_tokens_details: { cached_tokens: 1920 },
          completion_tokens_details: { reasoning_tokens: 256 },
        },
      });

      const events = await collect(provider.stream(request, new AbortController().signal));
      const answer = await provider.complete(request, new AbortController().signal);

      const usage = { inputTokens: 2006, outputTokens: 300, estimated: false, cachedInputTokens: 1920, reasoningTokens: 256 };
      expect(finish(events)).toMatchObject({ usage });
      expect(answer.usage).toEqual(usage);
    });

    it('throws timeout when the response headers take longer than connectTimeoutMs', async () => {
      provider = new OpenAiCompatibleModelProvider(
        { name: 'openai', protocol: 'openai', baseUrl: fake.url, apiKey: API_KEY },
        { timeoutMs: 5000, connectTimeoutMs: 200 },
      );
      fake.script({ headersDelayMs: 1000 });

      const err = await rejection(collect(provider.stream(request, new AbortController().signal)));

      expect(err).toMatchObject({ kind: 'timeout', message: 'The model provider did not start answering within 200 ms.' });
      await fake.requests[0].closed;
      expect(fake.requests[0].closedEarly).toBe(true);
    });

    it('sends the upstream model name, the turns, sampling options, usage request and the bearer key', async () => {
      await collect(provider.stream(request, new AbortController().signal));

      expect(fake.requests).toHaveLength(1);
      const [received] = fake.requests;
      expect(received.method).toBe('POST');
      expect(received.path).toBe('/v1/chat/completions');
      expect(received.headers.authorization).toBe(`Bearer ${API_KEY}`);
      expect(received.body).toMatchObject({
        model: 'gpt-4o-mini',
        messages: request.messages,
        temperature: 0.3,
        max_completion_tokens: 50,
        stream: true,
        stream_options: { include_usage: true },
      });
    });

    it('sends the output limit as max_completion_tokens where the provider is configured so (OpenAI reasoning models)', async () => {
      const reasoning = { ...request, model: 'gpt-5.4-mini' };
      // The fake refuses max_tokens for gpt-5* as OpenAI does.
      const plain = new OpenAiCompatibleModelProvider(
        { name: 'openai', protocol: 'openai', baseUrl: fake.url, apiKey: API_KEY },
        { timeoutMs: 5000, connectTimeoutMs: 5000 },
      );
      const refused = await rejection(collect(plain.stream(reasoning, new AbortController().signal)));
      expect(refused).toMatchObject({ kind: 'bad_request', upstreamStatus: 400 });

      const events = await collect(provider.stream(reasoning, new AbortController().signal));
      expect(deltas(events).join('')).toBe('Hello world!');
      const received = fake.requests[fake.requests.length - 1].body;
      expect(received.max_completion_tokens).toBe(50);
      expect(received).not.toHaveProperty('max_tokens');
    });

    it('leaves out temperature for a model the registry marks as refusing it', async () => {
      provider = new OpenAiCompatibleModelProvider(
        { name: 'openai', protocol: 'openai', baseUrl: fake.url, apiKey: API_KEY, maxTokensField: 'max_completion_tokens' },
        { timeoutMs: 5000, connectTimeoutMs: 5000, models: (m) => (m === 'gpt-5.5' ? { maxOutputTokens: 128_000, supportsTemperature: false } : undefined) },
      );

      await collect(provider.stream({ ...request, model: 'gpt-5.5' }, new AbortController().signal));
      await collect(provider.stream(request, new AbortController().signal));

      expect(fake.requests[0].body).not.toHaveProperty('temperature');
      expect(fake.requests[0].body).toMatchObject({ model: 'gpt-5.5', max_completion_tokens: 50 });
      expect(fake.requests[1].body).toMatchObject({ model: 'gpt-4o-mini', temperature: 0.3 });
    });

    it('leaves out temperature and the output limit when the request has none', async () => {
      await collect(provider.stream({ model: 'gpt-4o-mini', messages: request.messages }, new AbortController().signal));

      expect(fake.requests[0].body).not.toHaveProperty('temperature');
      expect(fake.requests[0].body).not.toHaveProperty('max_completion_tokens');
      expect(fake.requests[0].body).not.toHaveProperty('max_tokens');
    });

    it('sends the output limit as max_tokens to a provider configured with the default field', async () => {
      provider = new OpenAiCompatibleModelProvider({ name: 'groq', protocol: 'openai', baseUrl: fake.url, apiKey: API_KEY }, { timeoutMs: 5000, connectTimeoutMs: 5000 });

      await collect(provider.stream(request, new AbortController().signal));

      expect(fake.requests[0].body).toMatchObject({ max_tokens: 50 });
      expect(fake.requests[0].body).not.toHaveProperty('max_completion_tokens');
    });

    it.each([
      ['stop', 'stop'],
      ['length', 'length'],
      ['content_filter', 'content_filter'],
      ['tool_calls', 'tool_calls'],
      ['function_call', 'tool_calls'],
      ['something_new', 'stop'],
    ])('maps finish_reason %s to %s', async (upstream, expected) => {
      fake.script({ finishReason: upstream });

      const events = await collect(provider.stream(request, new AbortController().signal));

      expect(finish(events)).toMatchObject({ finishReason: expected });
    });

    it('estimates usage with the tokenizer when the server reports none', async () => {
      fake.script({ pieces: ['Bonjour', ' encore', ' une fois.'], usage: null });

      const events = await collect(provider.stream(request, new AbortController().signal));

      expect(finish(events)).toMatchObject({
        usage: {
          inputTokens: countChatTokens(request.messages),
          outputTokens: countTokens('Bonjour encore une fois.'),
          estimated: true,
        },
      });
    });

    it('accepts a stream that finished but left out [DONE]', async () => {
      fake.script({ pieces: ['ok'], omitDone: true });

      const events = await collect(provider.stream(request, new AbortController().signal));

      expect(deltas(events)).toEqual(['ok']);
      expect(finish(events)).toMatchObject({ finishReason: 'stop' });
    });

    it('throws unavailable after relaying what came when the connection is cut mid-stream', async () => {
      fake.script({ pieces: ['one', ' two', ' three'], cut: { afterPieces: 2 } });
      const seen: string[] = [];

      const err = await rejection(
        (async () => {
          for await (const e of provider.stream(request, new AbortController().signal)) if (e.type === 'delta') seen.push(e.text);
        })(),
      );

      expect(seen).toEqual(['one', ' two']);
      expect(err).toBeInstanceOf(ModelProviderError);
      expect(err).toMatchObject({ kind: 'unavailable' });
    });

    it('throws unavailable when the stream ends without a finish reason or [DONE]', async () => {
      fake.script({ pieces: ['one', ' two'], cut: { afterPieces: 1, how: 'end' } });

      const err = await rejection(collect(provider.stream(request, new AbortController().signal)));

      expect(err).toMatchObject({ kind: 'unavailable', message: 'The model provider ended the answer before it was complete.' });
    });

    it('closes the upstream socket within 1 s of an abort and throws an abort error, not a provider error', async () => {
      fake.script({ pieces: Array.from({ length: 50 }, (_, i) => ` w${i}`), delayMs: 100 });
      const controller = new AbortController();
      const events = provider.stream(request, controller.signal)[Symbol.asyncIterator]();

      await expect(events.next()).resolves.toEqual({ done: false, value: { type: 'delta', text: ' w0' } });
      const abortedAt = Date.now();
      controller.abort();
      const err = await rejection(events.next());

      expect(isAbortError(err)).toBe(true);
      expect(err).not.toBeInstanceOf(ModelProviderError);
      const closedAt = await fake.requests[0].closed;
      expect(closedAt - abortedAt).toBeLessThan(1000);
      expect(fake.requests[0].closedEarly).toBe(true);
    });

    it('closes the upstream socket on abort even when the caller stops reading', async () => {
      fake.script({ pieces: Array.from({ length: 50 }, (_, i) => ` w${i}`), delayMs: 100 });
      const controller = new AbortController();
      const events = provider.stream(request, controller.signal)[Symbol.asyncIterator]();
      await events.next();

      const abortedAt = Date.now();
      controller.abort();

      const closedAt = await fake.requests[0].closed;
      expect(closedAt - abortedAt).toBeLessThan(1000);
      expect(fake.requests[0].closedEarly).toBe(true);
    });

    it('throws timeout when the whole answer takes longer than timeoutMs', async () => {
      provider = new OpenAiCompatibleModelProvider({ name: 'openai', protocol: 'openai', baseUrl: fake.url, apiKey: API_KEY }, { timeoutMs: 300, connectTimeoutMs: 5000 });
      fake.script({ pieces: ['slow', ' slower', ' slowest'], delayMs: 200 });

      const err = await rejection(collect(provider.stream(request, new AbortController().signal)));

      expect(err).toBeInstanceOf(ModelProviderError);
      expect(err).toMatchObject({ kind: 'timeout' });
    });
  });

  describe('complete', () => {
    it('returns the text, finish reason and usage of a non-streamed answer', async () => {
      fake.script({ pieces: ['Bonjour', ',\n', 'monde 🙂'], finishReason: 'length', usage: { prompt_tokens: 9, completion_tokens: 4 } });

      const answer = await provider.complete(request, new AbortController().signal);

      expect(answer).toEqual({
        text: 'Bonjour,\nmonde 🙂',
        finishReason: 'length',
        usage: { inputTokens: 9, outputTokens: 4, estimated: false },
      });
      expect(fake.requests[0].body).toMatchObject({ model: 'gpt-4o-mini', stream: false, temperature: 0.3, max_completion_tokens: 50 });
      expect(fake.requests[0].body).not.toHaveProperty('stream_options');
    });

    it('estimates usage when the answer has none', async () => {
      fake.script({ pieces: ['Bonjour.'], usage: null });

      const answer = await provider.complete(request, new AbortController().signal);

      expect(answer.usage).toEqual({ inputTokens: countChatTokens(request.messages), outputTokens: countTokens('Bonjour.'), estimated: true });
    });

    it('throws an abort error when the caller aborts while waiting', async () => {
      fake.script({ pieces: ['late'], delayMs: 2000 });
      const controller = new AbortController();
      // Aborted once the request is there (the server answers after 2 s), however slow the machine.
      abortOnArrival(fake.requests, controller);

      const err = await rejection(provider.complete(request, controller.signal));

      expect(isAbortError(err)).toBe(true);
      await expect(fake.requests[0].closed).resolves.toEqual(expect.any(Number));
      expect(fake.requests[0].closedEarly).toBe(true);
    });

    it('throws timeout when the server does not answer within timeoutMs', async () => {
      provider = new OpenAiCompatibleModelProvider({ name: 'openai', protocol: 'openai', baseUrl: fake.url, apiKey: API_KEY }, { timeoutMs: 200, connectTimeoutMs: 5000 });
      fake.script({ pieces: ['late'], delayMs: 2000 });

      const err = await rejection(provider.complete(request, new AbortController().signal));

      expect(err).toMatchObject({ kind: 'timeout' });
    });
  });

  describe('tools and images', () => {
    const tools: ToolDefinition[] = [
      {
        name: 'get_weather',
        description: 'Current weather of a city.',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
      },
      { name: 'get_time', parameters: { type: 'object', properties: {} } },
    ];
    const toolDeltas = (events: ModelStreamEvent[]) => events.filter((e): e is ToolCallDelta => e.type === 'tool_call_delta');
    const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

    /** A conversation with an image, a parallel tool exchange and a follow-up, as the turn engine sends it. */
    const exchange: ModelRequest = {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are terse.' },
        {
          role: 'user',
          content: 'Where is this? And the weather in Paris and Oslo?',
          parts: [
            { type: 'text', text: 'Where is this? ' },
            { type: 'image', url: 'https://images.example.com/place.jpg', detail: 'high', width: 800, height: 600 },
            { type: 'image', url: PNG, media_type: 'image/png', width: 1, height: 1 },
            { type: 'text', text: 'And the weather in Paris and Oslo?' },
          ],
        },
        {
          role: 'assistant',
          content: '',
          parts: [
            { type: 'tool_call', id: 'call_p', name: 'get_weather', arguments: '{"city":"Paris"}' },
            { type: 'tool_call', id: 'call_o', name: 'get_weather', arguments: '{"city":"Oslo"}' },
          ],
        },
        { role: 'tool', content: '{"temp_c":21}', toolCallId: 'call_p' },
        { role: 'tool', content: 'Snow, -3 °C', toolCallId: 'call_o' },
        { role: 'assistant', content: 'Paris is mild.', parts: [{ type: 'text', text: 'Paris is mild.' }, { type: 'tool_call', id: 'call_t', name: 'get_time', arguments: '{}' }] },
        { role: 'tool', content: '12:00', toolCallId: 'call_t' },
      ],
      tools,
      toolChoice: 'auto',
    };

    it('relays two parallel calls streamed in pieces as tool-call deltas, then finishes with them whole', async () => {
      fake.script({
        toolCalls: [
          { id: 'call_1', name: 'get_weather', arguments: ['{"ci', 'ty": "Pa', 'ris"}'] },
          { id: 'call_2', name: 'get_weather', arguments: ['{"city"', ': "Oslo"}'] },
        ],
        usage: { prompt_tokens: 80, completion_tokens: 30 },
      });

      const events = await collect(provider.stream({ ...request, tools }, new AbortController().signal));

      expect(deltas(events)).toEqual([]);
      expect(toolDeltas(events)).toEqual([
        { type: 'tool_call_delta', index: 0, id: 'call_1', name: 'get_weather', arguments: '' },
        { type: 'tool_call_delta', index: 0, arguments: '{"ci' },
        { type: 'tool_call_delta', index: 0, arguments: 'ty": "Pa' },
        { type: 'tool_call_delta', index: 0, arguments: 'ris"}' },
        { type: 'tool_call_delta', index: 1, id: 'call_2', name: 'get_weather', arguments: '' },
        { type: 'tool_call_delta', index: 1, arguments: '{"city"' },
        { type: 'tool_call_delta', index: 1, arguments: ': "Oslo"}' },
      ]);
      expect(finish(events)).toEqual({
        type: 'finish',
        finishReason: 'tool_calls',
        usage: { inputTokens: 80, outputTokens: 30, estimated: false },
        toolCalls: [
          { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{"city": "Paris"}' },
          { type: 'tool_call', id: 'call_2', name: 'get_weather', arguments: '{"city": "Oslo"}' },
        ],
      });
    });

    it('relays text before the calls, and reports tool_calls even where the server says stop', async () => {
      fake.script({ pieces: ['Let me ', 'check.'], toolCalls: [{ id: 'call_9', name: 'get_time', arguments: ['{}'] }], finishReason: 'stop' });

      const events = await collect(provider.stream({ ...request, tools }, new AbortController().signal));

      expect(deltas(events)).toEqual(['Let me ', 'check.']);
      expect(finish(events)).toMatchObject({ finishReason: 'tool_calls', toolCalls: [{ type: 'tool_call', id: 'call_9', name: 'get_time', arguments: '{}' }] });
    });

    it('sends the tools, the tool choice, images as content parts and the tool exchange as tool_calls and tool messages', async () => {
      await collect(provider.stream(exchange, new AbortController().signal));

      const { body } = fake.requests[0];
      expect(body.tools).toEqual([
        { type: 'function', function: { name: 'get_weather', description: 'Current weather of a city.', parameters: tools[0].parameters } },
        { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
      ]);
      expect(body.tool_choice).toBe('auto');
      expect(body.messages).toEqual([
        { role: 'system', content: 'You are terse.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Where is this? ' },
            { type: 'image_url', image_url: { url: 'https://images.example.com/place.jpg', detail: 'high' } },
            { type: 'image_url', image_url: { url: PNG } },
            { type: 'text', text: 'And the weather in Paris and Oslo?' },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_p', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_o', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_p', content: '{"temp_c":21}' },
        { role: 'tool', tool_call_id: 'call_o', content: 'Snow, -3 °C' },
        {
          role: 'assistant',
          content: 'Paris is mild.',
          tool_calls: [{ id: 'call_t', type: 'function', function: { name: 'get_time', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'call_t', content: '12:00' },
      ]);
    });

    it.each([
      ['none', 'none'],
      ['required', 'required'],
      [{ name: 'get_time' }, { type: 'function', function: { name: 'get_time' } }],
    ] as const)('sends tool choice %j as tool_choice %j', async (choice, sent) => {
      await collect(provider.stream({ ...request, tools, toolChoice: choice }, new AbortController().signal));

      expect(fake.requests[0].body.tool_choice).toEqual(sent);
    });

    it('leaves tools and tool_choice out when the request offers no tools, and still sends a past exchange', async () => {
      await collect(provider.stream({ ...exchange, tools: [], toolChoice: 'required' }, new AbortController().signal));

      expect(fake.requests[0].body).not.toHaveProperty('tools');
      expect(fake.requests[0].body).not.toHaveProperty('tool_choice');
      expect(fake.requests[0].body.messages).toHaveLength(7);
    });

    it('returns the tool calls of a non-streamed answer', async () => {
      fake.script({
        toolCalls: [
          { id: 'call_1', name: 'get_weather', arguments: ['{"city":', '"Paris"}'] },
          { id: 'call_2', name: 'get_time', arguments: [] },
        ],
        usage: { prompt_tokens: 50, completion_tokens: 20 },
      });

      const answer = await provider.complete(exchange, new AbortController().signal);

      expect(answer).toEqual({
        text: '',
        finishReason: 'tool_calls',
        usage: { inputTokens: 50, outputTokens: 20, estimated: false },
        toolCalls: [
          { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { type: 'tool_call', id: 'call_2', name: 'get_time', arguments: '{}' },
        ],
      });
      expect(fake.requests[0].body).toMatchObject({ stream: false, tool_choice: 'auto', tools: [{ type: 'function' }, { type: 'function' }] });
    });

    it('estimates usage with the images, tools and calls when the server reports none', async () => {
      fake.script({ toolCalls: [{ id: 'call_1', name: 'get_time', arguments: ['{}'] }], usage: null });

      const events = await collect(provider.stream(exchange, new AbortController().signal));

      const calls = [{ type: 'tool_call' as const, id: 'call_1', name: 'get_time', arguments: '{}' }];
      expect(finish(events)).toMatchObject({ usage: estimatedUsage(exchange, '', 'openai', calls) });
      // Beyond the text: 800×600 at high detail (85 + 4 tiles × 170), the 1×1 PNG (85 + 170), and the three calls.
      const textOnly = { ...exchange, messages: exchange.messages.map((m) => ({ ...m, parts: undefined })) };
      const pastCalls = 2 * countTokens('get_weather') + countTokens('{"city":"Paris"}') + countTokens('{"city":"Oslo"}') + countTokens('get_time') + countTokens('{}');
      expect(estimatedUsage(exchange, '').inputTokens).toBe(estimatedUsage(textOnly, '').inputTokens + 765 + 255 + pastCalls);
    });

    it('refuses a tool turn without the id of its call before calling the provider', async () => {
      const err = await rejection(collect(provider.stream({ ...request, messages: [{ role: 'tool', content: 'ok' }] }, new AbortController().signal)));

      expect(err).toMatchObject({ kind: 'bad_request' });
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe('errors', () => {
    const call = {
      stream: (p: OpenAiCompatibleModelProvider) => collect(p.stream(request, new AbortController().signal)),
      complete: (p: OpenAiCompatibleModelProvider) => p.complete(request, new AbortController().signal),
    };

    describe.each(Object.entries(call))('%s', (_, run) => {
      it.each([401, 403])('maps %i to auth without revealing the key or the upstream body', async (status) => {
        fake.script({ failure: { status, message: `Incorrect API key provided: ${API_KEY}.` } });

        const err = await rejection(run(provider));

        expect(err).toBeInstanceOf(ModelProviderError);
        expect(err).toMatchObject({ kind: 'auth', upstreamStatus: status, message: "The model provider rejected this server's credentials." });
        expect(JSON.stringify(err) + String(err)).not.toContain(API_KEY);
        expect(String(err)).not.toContain('Incorrect API key');
      });

      it('maps 429 to rate_limited with the retry-after seconds', async () => {
        fake.script({ failure: { status: 429, retryAfter: '7' } });

        const err = await rejection(run(provider));

        expect(err).toMatchObject({ kind: 'rate_limited', upstreamStatus: 429, retryAfterSeconds: 7 });
      });

      it.each([500, 502, 503])('maps %i to unavailable', async (status) => {
        fake.script({ failure: { status } });

        const err = await rejection(run(provider));

        expect(err).toMatchObject({ kind: 'unavailable', upstreamStatus: status });
      });

      it.each([400, 404, 422])("maps %i to bad_request quoting the provider's message, key masked", async (status) => {
        fake.script({ failure: { status, message: `The model \`gpt-9\` does not exist (key ${API_KEY}).` } });

        const err = await rejection(run(provider));

        expect(err).toMatchObject({ kind: 'bad_request', upstreamStatus: status });
        expect((err as Error).message).toBe('The model provider refused the request: The model `gpt-9` does not exist (key [redacted]).');
      });

      it('maps a refused connection to unavailable', async () => {
        const closedPort = await unusedPort();
        const offline = new OpenAiCompatibleModelProvider(
          { name: 'openai', protocol: 'openai', baseUrl: `http://127.0.0.1:${closedPort}/v1`, apiKey: API_KEY },
          { timeoutMs: 5000, connectTimeoutMs: 5000 },
        );

        const err = await rejection(run(offline));

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
