import { isAbortError } from '../../src/providers/abort';
import { GeminiModelProvider } from '../../src/providers/gemini/gemini.model-provider';
import { ImageLoader, ToolDefinition } from '../../src/providers/content-parts';
import { ModelProviderError, ModelRequest, ModelStreamEvent, ToolCallDelta } from '../../src/providers/model-provider';
import { countChatTokens, countTokens, estimatedUsage } from '../../src/providers/tokenizer';
import { FakeGemini, startFakeGemini } from '../support/fake-gemini-server';
import { collect, deltas, finish, rejection, unusedPort } from '../support/streams';

const API_KEY = 'AIza-test-0123456789SECRET';

const request: ModelRequest = {
  model: 'gemini-2.5-flash',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Say hello.' },
    { role: 'assistant', content: 'Hello.' },
    { role: 'assistant', content: 'Anything else?' },
    { role: 'system', content: 'Answer in French.' },
    { role: 'user', content: 'Again.' },
  ],
  temperature: 1.3,
  maxTokens: 50,
};

describe('GeminiModelProvider against a Gemini API server', () => {
  let fake: FakeGemini;
  let provider: GeminiModelProvider;
  const make = (options: { timeoutMs?: number; connectTimeoutMs?: number } = {}, baseUrl = fake.url, apiKey = API_KEY) =>
    new GeminiModelProvider({ name: 'google', protocol: 'gemini', baseUrl, apiKey }, { timeoutMs: 5000, connectTimeoutMs: 5000, ...options });

  beforeAll(async () => {
    fake = await startFakeGemini({ apiKey: API_KEY });
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.reset();
    provider = make();
  });

  describe('stream', () => {
    it('relays every text part byte for byte, in order, and never the thought summaries', async () => {
      const pieces = ['Bon', 'jour', ' !', '\n\n', '  deux  espaces', '\tété 🙂 日本語', '\r\n', 'data: [DONE]', ' fin.'];
      fake.script({ pieces, thoughts: ['Thinking about greetings…'] });

      const events = await collect(provider.stream(request, new AbortController().signal));

      expect(deltas(events)).toEqual(pieces);
      expect(events.at(-1)?.type).toBe('finish');
    });

    it('sends systemInstruction, merged user/model turns, sampling options and the key header to streamGenerateContent', async () => {
      await collect(provider.stream(request, new AbortController().signal));

      const [received] = fake.requests;
      expect(received.path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
      expect(received.headers['x-goog-api-key']).toBe(API_KEY);
      expect(received.headers['x-server-timeout']).toBeUndefined();
      expect(received.body).toEqual({
        contents: [
          { role: 'user', parts: [{ text: 'Say hello.' }] },
          { role: 'model', parts: [{ text: 'Hello.\n\nAnything else?' }] },
          { role: 'user', parts: [{ text: 'Again.' }] },
        ],
        systemInstruction: { parts: [{ text: 'You are terse.\n\nAnswer in French.' }] },
        generationConfig: { temperature: 1.3, maxOutputTokens: 50 },
      });
    });

    it('sends top_p as topP and the stop sequences as stopSequences', async () => {
      await collect(provider.stream({ ...request, topP: 0.8, stop: ['END'] }, new AbortController().signal));

      expect(fake.requests[0].body).toMatchObject({ generationConfig: { temperature: 1.3, maxOutputTokens: 50, topP: 0.8, stopSequences: ['END'] } });
    });

    it('leaves out the system instruction and sampling options when the request has none', async () => {
      await collect(provider.stream({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }] }, new AbortController().signal));

      expect(fake.requests[0].body).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }], generationConfig: {} });
    });

    it('leaves temperature out for a model the registry marks as refusing it', async () => {
      provider = new GeminiModelProvider(
        { name: 'google', protocol: 'gemini', baseUrl: fake.url, apiKey: API_KEY },
        { timeoutMs: 5000, connectTimeoutMs: 5000, models: () => ({ maxOutputTokens: 65_536, supportsTemperature: false }) },
      );

      await collect(provider.stream(request, new AbortController().signal));

      expect(fake.requests[0].body.generationConfig).toEqual({ maxOutputTokens: 50 });
    });

    it('reports usageMetadata, thoughts counted as output and cached content as input', async () => {
      fake.script({
        pieces: ['Salut.'],
        usage: { promptTokenCount: 2100, candidatesTokenCount: 40, thoughtsTokenCount: 210, cachedContentTokenCount: 2048 },
      });

      const events = await collect(provider.stream(request, new AbortController().signal));

      expect(finish(events)).toEqual({
        type: 'finish',
        finishReason: 'stop',
        usage: { inputTokens: 2100, outputTokens: 250, cachedInputTokens: 2048, reasoningTokens: 210, estimated: false },
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
      ['STOP', 'stop'],
      ['MAX_TOKENS', 'length'],
      ['SAFETY', 'content_filter'],
      ['RECITATION', 'content_filter'],
      ['BLOCKLIST', 'content_filter'],
      ['PROHIBITED_CONTENT', 'content_filter'],
      ['SPII', 'content_filter'],
      ['OTHER', 'error'],
    ])('maps finishReason %s to %s', async (upstream, expected) => {
      fake.script({ finishReason: upstream });

      expect(finish(await collect(provider.stream(request, new AbortController().signal)))).toMatchObject({ finishReason: expected });
    });

    it('finishes with content_filter when the prompt itself is blocked', async () => {
      fake.script({ blockReason: 'SAFETY' });

      const events = await collect(provider.stream(request, new AbortController().signal));

      expect(deltas(events)).toEqual([]);
      expect(finish(events)).toMatchObject({ finishReason: 'content_filter' });
    });

    it.each([
      [503, 'unavailable'],
      [429, 'rate_limited'],
      [400, 'bad_request'],
    ])('maps an error chunk %i inside the 200 stream to %s, after relaying what came', async (status, kind) => {
      fake.script({ pieces: ['one', ' two', ' three'], errorChunk: { afterPieces: 2, status } });
      const seen: string[] = [];

      const err = await rejection(
        (async () => {
          for await (const e of provider.stream(request, new AbortController().signal)) if (e.type === 'delta') seen.push(e.text);
        })(),
      );

      expect(seen).toEqual(['one', ' two']);
      expect(err).toBeInstanceOf(ModelProviderError);
      expect(err).toMatchObject({ kind, upstreamStatus: status });
    });

    it('throws unavailable when the connection is cut mid-stream', async () => {
      fake.script({ pieces: ['one', ' two', ' three'], cut: { afterPieces: 2 } });

      expect(await rejection(collect(provider.stream(request, new AbortController().signal)))).toMatchObject({ kind: 'unavailable' });
    });

    it('throws unavailable when the stream ends without a finish reason', async () => {
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

    it('closes the upstream socket when the caller stops reading early', async () => {
      fake.script({ pieces: Array.from({ length: 50 }, (_, i) => ` w${i}`), delayMs: 100 });
      const events = provider.stream(request, new AbortController().signal)[Symbol.asyncIterator]();
      await events.next();

      await events.return!(undefined);

      await fake.requests[0].closed;
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
    it('returns the text (thoughts left out), finish reason and usage of generateContent', async () => {
      fake.script({
        pieces: ['Bonjour', ',\n', 'monde 🙂'],
        thoughts: ['Hmm.'],
        finishReason: 'MAX_TOKENS',
        usage: { promptTokenCount: 9, candidatesTokenCount: 4 },
      });

      const answer = await provider.complete(request, new AbortController().signal);

      expect(answer).toEqual({ text: 'Bonjour,\nmonde 🙂', finishReason: 'length', usage: { inputTokens: 9, outputTokens: 4, estimated: false } });
      expect(fake.requests[0].path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
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
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
      },
      { name: 'get_time', parameters: { type: 'object', properties: {} } },
    ];
    const toolDeltas = (events: ModelStreamEvent[]) => events.filter((e): e is ToolCallDelta => e.type === 'tool_call_delta');
    const GIF = 'data:image/gif;base64,R0lGODlhAQABAAAAACw=';
    const PHOTO = Buffer.from('a photo, as the image loader returns its bytes');

    /** An image loader standing in for the server's SSRF-safe fetcher: it answers one known URL. */
    const loaded: string[] = [];
    const loadImage: ImageLoader = async (url) => {
      loaded.push(url);
      if (url !== 'https://images.example.com/place.jpg') throw new ModelProviderError('bad_request', `Image refused: ${url}`);
      return { mediaType: 'image/jpeg', data: PHOTO };
    };
    const withLoader = () =>
      new GeminiModelProvider({ name: 'google', protocol: 'gemini', baseUrl: fake.url, apiKey: API_KEY }, { timeoutMs: 5000, connectTimeoutMs: 5000, loadImage });

    /** A conversation with images, a parallel tool exchange and a follow-up, as the turn engine sends it. */
    const exchange = (model = 'gemini-2.5-flash'): ModelRequest => ({
      model,
      messages: [
        { role: 'system', content: 'You are terse.' },
        {
          role: 'user',
          content: 'Where is this? Weather in Paris and Oslo?',
          parts: [
            { type: 'image', url: 'https://images.example.com/place.jpg', width: 800, height: 600 },
            { type: 'image', url: GIF, media_type: 'image/gif', width: 1, height: 1 },
            { type: 'text', text: 'Where is this? Weather in Paris and Oslo?' },
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
        { role: 'user', content: 'And the time?' },
      ],
      tools,
      toolChoice: 'auto',
    });

    beforeEach(() => {
      loaded.length = 0;
    });

    it('relays each functionCall part as one whole tool-call delta, ids generated, and finishes with tool_calls', async () => {
      fake.script({
        pieces: ['Checking.'],
        functionCalls: [
          { name: 'get_weather', args: { city: 'Paris' } },
          { name: 'get_weather', args: { city: 'Oslo', units: ['c'] } },
        ],
        usage: { promptTokenCount: 90, candidatesTokenCount: 25 },
      });

      const events = await collect(provider.stream({ ...request, tools }, new AbortController().signal));

      expect(deltas(events)).toEqual(['Checking.']);
      const [first, second] = toolDeltas(events);
      expect(toolDeltas(events)).toEqual([
        { type: 'tool_call_delta', index: 0, id: expect.stringMatching(/^call_0_[0-9a-f]{12}$/), name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'tool_call_delta', index: 1, id: expect.stringMatching(/^call_1_[0-9a-f]{12}$/), name: 'get_weather', arguments: '{"city":"Oslo","units":["c"]}' },
      ]);
      expect(finish(events)).toEqual({
        type: 'finish',
        finishReason: 'tool_calls',
        usage: { inputTokens: 90, outputTokens: 25, estimated: false },
        toolCalls: [
          { type: 'tool_call', id: first.id, name: 'get_weather', arguments: '{"city":"Paris"}' },
          { type: 'tool_call', id: second.id, name: 'get_weather', arguments: '{"city":"Oslo","units":["c"]}' },
        ],
      });
    });

    it("keeps Gemini's own call id when it gives one", async () => {
      fake.script({ functionCalls: [{ name: 'get_time', args: {}, id: 'fc_abc' }] });

      const answer = await provider.complete({ ...request, tools }, new AbortController().signal);

      expect(answer).toMatchObject({ text: '', finishReason: 'tool_calls', toolCalls: [{ type: 'tool_call', id: 'fc_abc', name: 'get_time', arguments: '{}' }] });
    });

    it('sends functionDeclarations, toolConfig, images inline, functionCall and named functionResponse parts', async () => {
      provider = withLoader();

      await collect(provider.stream(exchange(), new AbortController().signal));

      const { body } = fake.requests[0];
      expect(body.tools).toEqual([
        {
          functionDeclarations: [
            { name: 'get_weather', description: 'Current weather of a city.', parametersJsonSchema: tools[0].parameters },
            { name: 'get_time', parametersJsonSchema: { type: 'object', properties: {} } },
          ],
        },
      ]);
      expect(body.toolConfig).toEqual({ functionCallingConfig: { mode: 'AUTO' } });
      expect(body.systemInstruction).toEqual({ parts: [{ text: 'You are terse.' }] });
      expect(body.contents).toEqual([
        {
          role: 'user',
          parts: [
            { inlineData: { mimeType: 'image/jpeg', data: PHOTO.toString('base64') } },
            { inlineData: { mimeType: 'image/gif', data: 'R0lGODlhAQABAAAAACw=' } },
            { text: 'Where is this? Weather in Paris and Oslo?' },
          ],
        },
        {
          role: 'model',
          parts: [
            { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
            { functionCall: { name: 'get_weather', args: { city: 'Oslo' } } },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'get_weather', response: { temp_c: 21 } } },
            { functionResponse: { name: 'get_weather', response: { output: 'Snow, -3 °C' } } },
            { text: 'And the time?' },
          ],
        },
      ]);
      expect(loaded).toEqual(['https://images.example.com/place.jpg']);
    });

    it("marks the first call of each model turn with Google's signature placeholder for Gemini 3, which refuses calls without one", async () => {
      provider = withLoader();

      await collect(provider.stream(exchange('gemini-3-flash'), new AbortController().signal));

      expect(fake.requests[0].body.contents[1].parts).toEqual([
        { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'skip_thought_signature_validator' },
        { functionCall: { name: 'get_weather', args: { city: 'Oslo' } } },
      ]);
    });

    it.each([
      ['none', { mode: 'NONE' }],
      ['required', { mode: 'ANY' }],
      [{ name: 'get_time' }, { mode: 'ANY', allowedFunctionNames: ['get_time'] }],
    ] as const)('sends tool choice %j as functionCallingConfig %j', async (choice, sent) => {
      await collect(provider.stream({ ...request, tools, toolChoice: choice }, new AbortController().signal));

      expect(fake.requests[0].body.toolConfig).toEqual({ functionCallingConfig: sent });
    });

    it('leaves tools and toolConfig out when the request offers no tools', async () => {
      await collect(provider.stream({ ...request, toolChoice: 'required' }, new AbortController().signal));

      expect(fake.requests[0].body).not.toHaveProperty('tools');
      expect(fake.requests[0].body).not.toHaveProperty('toolConfig');
    });

    it('refuses an https image with bad_request when no image loader is configured, before calling Gemini', async () => {
      const err = await rejection(collect(provider.stream(exchange(), new AbortController().signal)));

      expect(err).toBeInstanceOf(ModelProviderError);
      expect(err).toMatchObject({ kind: 'bad_request', message: expect.stringContaining('data: URL') });
      expect(fake.requests).toHaveLength(0);
    });

    it("passes the image loader's refusal on as it is, before calling Gemini", async () => {
      provider = withLoader();
      const request = exchange();
      request.messages[1].parts!.push({ type: 'image', url: 'https://10.0.0.1/secret.png' });

      const err = await rejection(provider.complete(request, new AbortController().signal));

      expect(err).toMatchObject({ kind: 'bad_request', message: 'Image refused: https://10.0.0.1/secret.png' });
      expect(fake.requests).toHaveLength(0);
    });

    it('refuses a tool result whose call is not in the conversation (Gemini needs the function name)', async () => {
      const err = await rejection(
        provider.complete({ ...request, messages: [{ role: 'user', content: 'Hi' }, { role: 'tool', content: 'ok', toolCallId: 'call_gone' }] }, new AbortController().signal),
      );

      expect(err).toMatchObject({ kind: 'bad_request', message: expect.stringContaining('call_gone') });
      expect(fake.requests).toHaveLength(0);
    });

    it('estimates usage with the images by Gemini’s rule and the calls when the server reports none', async () => {
      provider = withLoader();
      fake.script({ functionCalls: [{ name: 'get_time', args: {}, id: 'fc_1' }], usage: null });

      const answer = await provider.complete(exchange(), new AbortController().signal);

      const calls = [{ type: 'tool_call' as const, id: 'fc_1', name: 'get_time', arguments: '{}' }];
      expect(answer.usage).toEqual(estimatedUsage(exchange(), '', 'gemini', calls));
      // 800×600: 2 tiles of 258; 1×1: 258.
      expect(estimatedUsage(exchange(), '', 'gemini').inputTokens - estimatedUsage(exchange(), '', 'openai').inputTokens).toBe(3 * 258 - 765 - 255);
    });
  });

  describe('errors', () => {
    const call = {
      stream: (p: GeminiModelProvider) => collect(p.stream(request, new AbortController().signal)),
      complete: (p: GeminiModelProvider) => p.complete(request, new AbortController().signal),
    };

    describe.each(Object.entries(call))('%s', (_, run) => {
      it("maps Google's 400 API_KEY_INVALID to auth without revealing the key", async () => {
        const err = await rejection(run(make({}, fake.url, 'AIza-wrong-key')));

        expect(err).toMatchObject({ kind: 'auth', upstreamStatus: 400, message: "The model provider rejected this server's credentials." });
        expect(String(err)).not.toContain('AIza-wrong-key');
      });

      it('maps 403 to auth', async () => {
        fake.script({ failure: { status: 403 } });

        expect(await rejection(run(provider))).toMatchObject({ kind: 'auth', upstreamStatus: 403 });
      });

      it('maps 429 to rate_limited with the retry-after seconds', async () => {
        fake.script({ failure: { status: 429, retryAfter: '7' } });

        expect(await rejection(run(provider))).toMatchObject({ kind: 'rate_limited', upstreamStatus: 429, retryAfterSeconds: 7 });
      });

      it("takes a 429's retry time from Google's RetryInfo when there is no header", async () => {
        fake.script({ failure: { status: 429, retryDelay: '12.5s' } });

        expect(await rejection(run(provider))).toMatchObject({ kind: 'rate_limited', retryAfterSeconds: 13 });
      });

      it.each([400, 404])("maps %i to bad_request quoting the provider's message, key masked", async (status) => {
        fake.script({ failure: { status, message: `models/gemini-nope is not found (key ${API_KEY})` } });

        const err = await rejection(run(provider));

        expect(err).toMatchObject({ kind: 'bad_request', upstreamStatus: status });
        expect((err as Error).message).toBe('The model provider refused the request: models/gemini-nope is not found (key [redacted])');
      });

      it.each([500, 503])('maps %i to unavailable', async (status) => {
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
