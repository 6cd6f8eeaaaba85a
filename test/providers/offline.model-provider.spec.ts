import { join } from 'node:path';
import { loadAppConfig } from '../../src/config/app-config';
import { isAbortError } from '../../src/providers/abort';
import { ModelRequest, ModelStreamEvent } from '../../src/providers/model-provider';
import { ToolDefinition } from '../../src/providers/content-parts';
import { argumentsFor, OFFLINE_ARGUMENTS_PIECE, OFFLINE_ECHO_LIMIT, OfflineModelProvider } from '../../src/providers/offline/offline.model-provider';
import { countChatTokens, countTokens } from '../../src/providers/tokenizer';

const config = loadAppConfig({ CONFIG_FILE: join(__dirname, '../support/config.test.yaml') });

function offlineWithDelay(pieceDelayMs: number): OfflineModelProvider {
  return new OfflineModelProvider({ ...config, offline: { piece_delay_ms: pieceDelayMs } });
}

async function collect(events: AsyncIterable<ModelStreamEvent>): Promise<ModelStreamEvent[]> {
  const all: ModelStreamEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

const deltas = (events: ModelStreamEvent[]) => events.flatMap((e) => (e.type === 'delta' ? [e.text] : []));

const request: ModelRequest = {
  model: 'echo',
  messages: [
    { role: 'system', content: 'Be nice.' },
    { role: 'user', content: 'first question' },
    { role: 'assistant', content: 'first answer' },
    { role: 'user', content: '  Hello there,\nofflïne 🙂  ' },
  ],
};

describe('OfflineModelProvider', () => {
  const offline = new OfflineModelProvider(config);
  const signal = () => new AbortController().signal;

  it('says it is the offline model and echoes the last user message', async () => {
    const { text } = await offline.complete(request, signal());

    expect(text).toMatch(/^I am the offline model: no model provider is configured on this server/);
    expect(text.endsWith('You said: "Hello there,\nofflïne 🙂"')).toBe(true);
    expect(text).not.toContain('first question');
  });

  it('is deterministic', async () => {
    const first = await offline.complete(request, signal());
    const second = await offline.complete(request, signal());
    const streamed = deltas(await collect(offline.stream(request, signal()))).join('');

    expect(second).toEqual(first);
    expect(streamed).toBe(first.text);
  });

  it('streams word-sized pieces that concatenate to the exact text, then finish with estimated usage', async () => {
    const events = await collect(offline.stream(request, signal()));
    const pieces = deltas(events);
    const text = pieces.join('');

    expect(pieces.length).toBeGreaterThan(10);
    for (const piece of pieces.slice(1)) expect(piece).toMatch(/^\s+\S+$/);
    expect(events.at(-1)).toEqual({
      type: 'finish',
      finishReason: 'stop',
      usage: { inputTokens: countChatTokens(request.messages), outputTokens: countTokens(text), estimated: true },
    });
    expect(events.filter((e) => e.type === 'finish')).toHaveLength(1);
  });

  it(`echoes at most ${OFFLINE_ECHO_LIMIT} characters, never splitting a character`, async () => {
    const long = '🙂'.repeat(OFFLINE_ECHO_LIMIT + 50);

    const { text } = await offline.complete({ model: 'echo', messages: [{ role: 'user', content: long }] }, signal());

    expect(text.endsWith(`You said: "${'🙂'.repeat(OFFLINE_ECHO_LIMIT)}…"`)).toBe(true);
  });

  it('answers without an echo when there is no user message', async () => {
    const { text } = await offline.complete({ model: 'echo', messages: [{ role: 'system', content: 'x' }] }, signal());

    expect(text).not.toContain('You said');
    expect(text).toContain('offline model');
  });

  it('stops with finish reason length before passing maxTokens', async () => {
    const full = (await offline.complete(request, signal())).text;

    const events = await collect(offline.stream({ ...request, maxTokens: 8 }, signal()));
    const text = deltas(events).join('');

    expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'length', usage: { outputTokens: countTokens(text) } });
    expect(countTokens(text)).toBeLessThanOrEqual(8);
    expect(text.length).toBeGreaterThan(0);
    expect(full.startsWith(text)).toBe(true);
    await expect(offline.complete({ ...request, maxTokens: 8 }, signal())).resolves.toMatchObject({ text, finishReason: 'length' });
  });

  it('waits piece_delay_ms between pieces', async () => {
    const events = await collect(offlineWithDelay(0).stream(request, signal()));
    const pieces = deltas(events).length;
    const started = Date.now();

    await collect(offlineWithDelay(10).stream(request, signal()));

    expect(Date.now() - started).toBeGreaterThanOrEqual((pieces - 1) * 10 * 0.9);
  });

  it('stops promptly with an abort error when the signal aborts mid-stream', async () => {
    const controller = new AbortController();
    const events = offlineWithDelay(1000).stream(request, controller.signal)[Symbol.asyncIterator]();
    await events.next();

    const pending = events.next();
    const abortedAt = Date.now();
    controller.abort();
    const err = await pending.then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(isAbortError(err)).toBe(true);
    expect(Date.now() - abortedAt).toBeLessThan(200);
    await expect(events.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('rejects at once when the signal has already aborted', async () => {
    const controller = new AbortController();
    controller.abort();

    await expect(offline.complete(request, controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
    await expect(collect(offline.stream(request, controller.signal))).rejects.toMatchObject({ name: 'AbortError' });
  });

  describe('tools', () => {
    const weather: ToolDefinition = {
      name: 'get_weather',
      description: 'The weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer' } },
        required: ['city', 'days'],
      },
    };
    const time: ToolDefinition = { name: 'get_time', parameters: { type: 'object', properties: {} } };
    const tools = [weather, time];
    const ask = (text: string, over: Partial<ModelRequest> = {}): ModelRequest => ({
      model: 'echo',
      messages: [{ role: 'system', content: 'Be nice.' }, { role: 'user', content: text }],
      tools,
      ...over,
    });

    it('calls the tool the user names, streaming id and name first, then the arguments in pieces', async () => {
      const request = ask('Please call get_weather for "Paris" now');
      const events = await collect(offline.stream(request, signal()));
      const calls = events.filter((e) => e.type === 'tool_call_delta');
      const args = '{"city":"Paris","unit":"celsius","days":0}';

      expect(deltas(events)).toEqual([]);
      expect(calls[0]).toEqual({ type: 'tool_call_delta', index: 0, id: 'call_offline_1', name: 'get_weather', arguments: '' });
      expect(calls.slice(1).map((c) => c.arguments)).toEqual(args.match(new RegExp(`.{1,${OFFLINE_ARGUMENTS_PIECE}}`, 'g')));
      for (const piece of calls.slice(1)) expect(piece).not.toHaveProperty('id');
      const toolCalls = [{ type: 'tool_call', id: 'call_offline_1', name: 'get_weather', arguments: args }];
      expect(events.at(-1)).toEqual({
        type: 'finish',
        finishReason: 'tool_calls',
        usage: { inputTokens: countChatTokens(request.messages, request.tools), outputTokens: countTokens('get_weather') + countTokens(args), estimated: true },
        toolCalls,
      });
      await expect(offline.complete(request, signal())).resolves.toEqual({
        text: '',
        finishReason: 'tool_calls',
        usage: (events.at(-1) as { usage: unknown }).usage,
        toolCalls,
      });
    });

    it('matches names as whole words, case-insensitively, and calls every tool named, in the order named', async () => {
      expect(OfflineModelProvider.toolCallsFor(ask('what does get_weathers do?'))).toEqual([]);
      expect(OfflineModelProvider.toolCallsFor(ask('my_get_time is not a tool'))).toEqual([]);
      const both = OfflineModelProvider.toolCallsFor(ask('First GET_TIME, then Get_Weather.'));
      expect(both.map((c) => [c.id, c.name, c.arguments])).toEqual([
        ['call_offline_1', 'get_time', '{}'],
        ['call_offline_2', 'get_weather', '{"city":"","unit":"celsius","days":0}'],
      ]);

      const events = await collect(offline.stream(ask('First GET_TIME, then Get_Weather.'), signal()));
      const starts = events.filter((e) => e.type === 'tool_call_delta' && e.id);
      expect(starts.map((e) => e.type === 'tool_call_delta' && [e.index, e.name])).toEqual([[0, 'get_time'], [1, 'get_weather']]);
      expect(events.at(-1)).toMatchObject({ finishReason: 'tool_calls', toolCalls: both });
    });

    it('answers in text when no tool is named, with tool_choice none, or without tools', async () => {
      for (const request of [ask('hello there'), ask('call get_weather', { toolChoice: 'none' }), ask('call get_weather', { tools: [] })]) {
        const events = await collect(offline.stream(request, signal()));
        expect(events.some((e) => e.type === 'tool_call_delta')).toBe(false);
        expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' });
        expect(events.at(-1)).not.toHaveProperty('toolCalls');
        expect(deltas(events).join('')).toContain('You said:');
      }
    });

    it('calls the first tool when one is required, and the chosen one when named', () => {
      expect(OfflineModelProvider.toolCallsFor(ask('hello', { toolChoice: 'required' })).map((c) => c.name)).toEqual(['get_weather']);
      expect(OfflineModelProvider.toolCallsFor(ask('use get_time', { toolChoice: 'required' })).map((c) => c.name)).toEqual(['get_time']);
      expect(OfflineModelProvider.toolCallsFor(ask('use get_weather', { toolChoice: { name: 'get_time' } })).map((c) => c.name)).toEqual([
        'get_time',
      ]);
    });

    it('numbers call ids on from the calls already in the conversation', () => {
      const calls = OfflineModelProvider.toolCallsFor({
        model: 'echo',
        tools,
        messages: [
          { role: 'user', content: 'get_time' },
          { role: 'assistant', content: '', parts: [{ type: 'tool_call', id: 'call_offline_1', name: 'get_time', arguments: '{}' }] },
          { role: 'tool', content: '12:00', toolCallId: 'call_offline_1' },
          { role: 'assistant', content: 'It is noon.' },
          { role: 'user', content: 'and get_time again' },
        ],
      });
      expect(calls.map((c) => c.id)).toEqual(['call_offline_2']);
    });

    it('reports tool results in text, whole and streamed, and calls no tool after them', async () => {
      const long = 'x'.repeat(OFFLINE_ECHO_LIMIT + 10);
      const request: ModelRequest = {
        model: 'echo',
        tools,
        messages: [
          { role: 'user', content: 'call get_weather and get_time' },
          {
            role: 'assistant',
            content: '',
            parts: [
              { type: 'tool_call', id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
              { type: 'tool_call', id: 'call_b', name: 'get_time', arguments: '{}' },
            ],
          },
          { role: 'tool', content: '{"temperature":21}', toolCallId: 'call_a' },
          { role: 'tool', content: long, toolCallId: 'call_b' },
        ],
      };
      const expected = `The tool "get_weather" returned: "{"temperature":21}"\nThe tool "get_time" returned: "${'x'.repeat(OFFLINE_ECHO_LIMIT)}…"`;

      const whole = await offline.complete(request, signal());
      const events = await collect(offline.stream(request, signal()));

      expect(whole).toEqual({ text: expected, finishReason: 'stop', usage: { inputTokens: countChatTokens(request.messages, request.tools), outputTokens: countTokens(expected), estimated: true } });
      expect(deltas(events).join('')).toBe(expected);
      expect(events.some((e) => e.type === 'tool_call_delta')).toBe(false);
    });
  });

  describe('images', () => {
    const withImages = (...images: object[]): ModelRequest => ({
      model: 'echo',
      messages: [{ role: 'user', content: 'What is this?', parts: [{ type: 'text', text: 'What is this?' }, ...images] as never }],
    });

    it('describes an image by its type and size, whole and streamed', async () => {
      const request = withImages({ type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=', media_type: 'image/png', width: 640, height: 480, bytes: 8 });

      const { text } = await offline.complete(request, signal());
      const streamed = deltas(await collect(offline.stream(request, signal()))).join('');

      expect(text).toMatch(/^I am the offline model: /);
      expect(text).toContain(' You sent an image/png image, 640×480 pixels. You said: "What is this?"');
      expect(text).not.toContain('base64');
      expect(streamed).toBe(text);
    });

    it('describes several images, saying what it does not know', async () => {
      const request = withImages(
        { type: 'image', url: 'https://example.com/a.jpg' },
        { type: 'image', url: 'https://example.com/b.webp', media_type: 'image/webp', width: 10, height: 20 },
      );

      const { text } = await offline.complete(request, signal());

      expect(text).toContain(' You sent 2 images: an image of unknown type, size unknown; an image/webp image, 10×20 pixels.');
      expect(text).not.toContain('example.com');
    });
  });
});

describe('argumentsFor', () => {
  it('takes defaults, first enum values, quoted texts for strings, and empty values for the remaining required ones', () => {
    const tool: ToolDefinition = {
      name: 't',
      parameters: {
        type: 'object',
        properties: {
          query: { type: 'string' },
          note: { type: 'string' },
          limit: { type: 'integer', default: 5 },
          mode: { enum: ['fast', 'slow'] },
          flag: { type: 'boolean' },
          tags: { type: 'array' },
          extra: { type: 'string' },
          any: {},
        },
        required: ['flag', 'tags', 'any', 'extra'],
      },
    };

    expect(argumentsFor(tool, `find "cats" and 'dogs', don't stop`)).toEqual({
      query: 'cats',
      note: 'dogs',
      limit: 5,
      mode: 'fast',
      flag: false,
      tags: [],
      extra: '',
      any: null,
    });
    expect(argumentsFor(tool, 'nothing quoted')).toEqual({ limit: 5, mode: 'fast', flag: false, tags: [], extra: '', any: null });
    expect(argumentsFor({ name: 'x', parameters: { type: 'object' } }, '"a"')).toEqual({});
  });
});
