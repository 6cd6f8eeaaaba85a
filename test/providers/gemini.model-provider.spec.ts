import { isAbortError } from '../../src/providers/abort';
import { GeminiModelProvider } from '../../src/providers/gemini/gemini.model-provider';
import { ModelProviderError, ModelRequest } from '../../src/providers/model-provider';
import { countChatTokens, countTokens } from '../../src/providers/tokenizer';
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
      setTimeout(() => controller.abort(), 50);

      const err = await rejection(provider.complete(request, controller.signal));

      expect(isAbortError(err)).toBe(true);
      await fake.requests[0].closed;
      expect(fake.requests[0].closedEarly).toBe(true);
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
