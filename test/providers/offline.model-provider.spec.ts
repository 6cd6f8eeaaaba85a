import { join } from 'node:path';
import { loadAppConfig } from '../../src/config/app-config';
import { isAbortError } from '../../src/providers/abort';
import { ModelRequest, ModelStreamEvent } from '../../src/providers/model-provider';
import { OFFLINE_ECHO_LIMIT, OfflineModelProvider } from '../../src/providers/offline/offline.model-provider';
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
});
