import http from 'node:http';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse, SseEvent, streamPost } from './support/sse';
import { registerUser, TestUser } from './support/users';

/** One SSE event with its `id:` line. */
interface NumberedEvent extends SseEvent {
  id?: string;
}

function parseWithIds(body: string): NumberedEvent[] {
  const blocks = body.split(/\n\n/).filter((b) => b.trim() && !b.startsWith(':'));
  return parseSse(body).map((e, i) => ({ ...e, id: /^id: (\d+)$/m.exec(blocks[i])?.[1] }));
}

/** GETs an SSE route and reads it to its end. */
function getSse(url: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${url}${path}`, { headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

const KEY = 'sk-durable';
const ask = (extra: object = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Tell me.' }], ...extra });
const PIECES = Array.from({ length: 12 }, (_, i) => `w${i} `);

/** The typed stream's text: the `delta` events' `text`, concatenated. */
const typedText = (events: SseEvent[]) =>
  events.filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data).text as string).join('');

describe.each([
  ['in this process', false],
  ['on Redis, across two instances', true],
])('Durable answers (%s)', (_name, withRedis) => {
  let fake: FakeOpenAi;
  let a: TestApp;
  let b: TestApp;
  let user: TestUser;

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    const env: Record<string, string | undefined> = { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY };
    if (withRedis) {
      env.REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/11';
      env.STREAMS_KEY_PREFIX = `test-answers-${randomUUID()}:`;
    }
    a = await startApp(env);
    // Without Redis there is one instance; with it, a second app shares the database and Redis.
    b = withRedis ? await startApp({ ...env, DATABASE_URL: process.env.DATABASE_URL }) : a;
    user = await registerUser(a.url);
  });

  afterAll(async () => {
    if (b !== a) await b.close();
    await a.close();
    await fake.close();
  });

  beforeEach(() => fake.reset());

  it('numbers every event; a background answer resumed after event 3 gets every later event once, in order', async () => {
    fake.script({ pieces: PIECES, delayMs: 30 });
    const first = await streamPost(a.url, '/v1/chat/stream', ask({ background: true, stream_format: 'events' }), user.auth, (soFar) =>
      parseWithIds(soFar).length >= 3 && soFar.endsWith('\n\n') ? 'abort' : undefined,
    );
    const seen = parseWithIds(first.body).slice(0, 3);
    expect(seen.map((e) => e.id)).toEqual(['1', '2', '3']);
    expect(seen.map((e) => JSON.parse(e.data).sequence_number)).toEqual([1, 2, 3]);
    const messageId = JSON.parse(seen[0].data).message_id as number;

    const rest = await getSse(b.url, `/v1/chat/messages/${messageId}/events`, { ...user.auth, 'Last-Event-ID': '3', Accept: 'text/event-stream; profile=events' });
    expect(rest.status).toBe(200);
    const events = parseWithIds(rest.body);
    const numbered = events.filter((e) => e.id);
    expect(numbered.map((e) => Number(e.id))).toEqual(numbered.map((_, i) => i + 4));
    expect(numbered[numbered.length - 1].event).toBe('done');
    expect(events[events.length - 1].data).toBe('[DONE]');

    const stored = await request(b.url).get(`/v1/chat/messages/${messageId}`).set(user.auth);
    expect(stored.status).toBe(200);
    expect(stored.body.status).toBe('complete');
    expect(typedText([...seen, ...events])).toBe(stored.body.content);
    expect(stored.body.content).toBe(PIECES.join(''));
  });

  it('resumes the plain format byte for byte: its own ids 1, 2, 3 … on data lines, the events after the last id, then [DONE]', async () => {
    fake.script({ pieces: PIECES, delayMs: 20 });
    const whole = await streamPost(a.url, '/v1/chat/stream', ask(), user.auth);
    const events = parseWithIds(whole.body);
    expect(events[events.length - 1]).toEqual({ data: '[DONE]', event: undefined, id: undefined });
    // The plain format numbers the events it shows 1, 2, 3 … like the typed one.
    expect(events.slice(0, -1).map((e) => Number(e.id))).toEqual(events.slice(0, -1).map((_, i) => i + 1));
    const answer = await request(a.url).get(`/v1/chat/sessions/${String(whole.headers['x-session-id'])}/messages`).set(user.auth);
    const messageId = answer.body.items[1].id as number;

    const cutAt = events[2];
    const before = events.slice(0, 3).map((e) => e.data).join('');
    const rest = await getSse(b.url, `/v1/chat/messages/${messageId}/events?after=${cutAt.id}`, user.auth);
    const after = parseWithIds(rest.body);
    expect(after[after.length - 1].data).toBe('[DONE]');
    expect(before + after.slice(0, -1).map((e) => e.data).join('')).toBe(PIECES.join(''));
    // The same events, ids and bytes as the first stream after event 3.
    expect(after).toEqual(events.slice(3));
  });

  it('cancel from the other instance stops the upstream call; the stream ends with done "cancelled"; a second cancel is a 409', async () => {
    fake.script({ pieces: PIECES, delayMs: 300 });
    let messageId = 0;
    const streaming = streamPost(a.url, '/v1/chat/stream', ask({ stream_format: 'events' }), user.auth, (soFar) => {
      const start = parseWithIds(soFar).find((e) => e.event === 'start');
      if (start && !messageId) messageId = JSON.parse(start.data).message_id;
    });
    while (!messageId) await new Promise((r) => setTimeout(r, 20));

    const cancelled = await request(b.url).post(`/v1/chat/messages/${messageId}/cancel`).set(user.auth);
    const answeredAt = Date.now();
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect(cancelled.body.finish_reason).toBe('cancelled');
    expect(fake.requests[0].closedEarly).toBe(true);
    expect(await fake.requests[0].closed).toBeLessThanOrEqual(answeredAt);

    const { body } = await streaming;
    const events = parseWithIds(body);
    const done = events.find((e) => e.event === 'done')!;
    expect(JSON.parse(done.data).finish_reason).toBe('cancelled');
    expect(events[events.length - 1].data).toBe('[DONE]');
    expect(cancelled.body.content).toBe(typedText(events));

    const again = await request(b.url).post(`/v1/chat/messages/${messageId}/cancel`).set(user.auth);
    expect(again.status).toBe(409);
    expect(again.headers['content-type']).toMatch(/problem\+json/);
  });

  it('background with stream:false answers 202 at once; the answer runs to its end and can be read', async () => {
    fake.script({ pieces: ['Later', ' on.'], delayMs: 50 });
    const res = await request(a.url).post('/v1/chat/stream').set(user.auth).send(ask({ background: true, stream: false }));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ message_id: expect.any(Number), session_id: expect.any(Number), status: 'in_progress' });
    const replay = await getSse(b.url, `/v1/chat/messages/${res.body.message_id}/events`, user.auth);
    expect(replay.body.endsWith('data: [DONE]\n\n')).toBe(true);
    const stored = await request(b.url).get(`/v1/chat/messages/${res.body.message_id}`).set(user.auth);
    expect(stored.body).toMatchObject({ status: 'complete', content: 'Later on.', session_id: res.body.session_id, model: 'openai/gpt-4o-mini' });
  });

  it("another user's answer is a 404 on every route", async () => {
    fake.script({ pieces: ['Mine.'] });
    const mine = await request(a.url).post('/v1/chat/stream').set(user.auth).send(ask({ stream: false }));
    const other = await registerUser(a.url);
    for (const [method, path] of [
      ['get', `/v1/chat/messages/${mine.body.id}`],
      ['get', `/v1/chat/messages/${mine.body.id}/events`],
      ['post', `/v1/chat/messages/${mine.body.id}/cancel`],
    ] as const) {
      const res = await request(b.url)[method](path).set(other.auth);
      expect(res.status).toBe(404);
    }
  });
});
