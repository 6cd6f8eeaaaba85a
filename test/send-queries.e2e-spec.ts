import { Client } from 'pg';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse, textOf } from './support/sse';
import { registerUser, TestUser } from './support/users';

const KEY = 'sk-queries-test';
/** Round trips a send may cost before the provider is called, and after its last token. */
const BEFORE_FIRST_TOKEN = 4;
const AFTER_LAST_TOKEN = 2;

/**
 * Every statement this process sends to PostgreSQL, counted where `pg` sends it: one entry per round trip
 * (BEGIN and COMMIT included), whatever TypeORM builds.
 */
const sent: string[] = [];
const originalQuery = Client.prototype.query;

describe('round trips to PostgreSQL per send', () => {
  let t: TestApp;
  let fake: FakeOpenAi;
  let user: TestUser;
  /** How many statements had been sent when the provider got the request. */
  let atProviderCall: number | undefined;

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    t = await startApp({ OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY });
    user = await registerUser(t.url);
    // Any statement at all, whatever the arguments' shape.
    Client.prototype.query = function (this: Client, ...args: unknown[]) {
      const first = args[0] as string | { text?: string };
      sent.push(typeof first === 'string' ? first : (first?.text ?? '?'));
      return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof Client.prototype.query;
  });

  afterAll(async () => {
    Client.prototype.query = originalQuery;
    await t?.close();
    await fake?.close();
  });

  beforeEach(() => {
    fake.script(() => {
      atProviderCall = sent.length;
      return { pieces: ['Hello', ' there', '!'] };
    });
  });

  /** Sends one turn and returns the statements sent before the provider call and after it. */
  async function countSend(body: object): Promise<{ before: string[]; after: string[]; response: request.Response }> {
    // Whatever an earlier request left running (a title, a summary) is not this send's.
    await new Promise((resolve) => setTimeout(resolve, 50));
    sent.length = 0;
    atProviderCall = undefined;
    const response = await request(t.url).post('/v1/chat/stream').set(user.auth).send(body);
    expect(response.status).toBe(200);
    expect(atProviderCall).toBeDefined();
    return { before: sent.slice(0, atProviderCall), after: sent.slice(atProviderCall), response };
  }

  it(`a send that creates a session: at most ${BEFORE_FIRST_TOKEN} before the first token, ${AFTER_LAST_TOKEN} after the last`, async () => {
    const { before, after, response } = await countSend({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
    expect(textOf(parseSse(response.text))).toBe('Hello there!');
    expect(before.length).toBeLessThanOrEqual(BEFORE_FIRST_TOKEN);
    expect(after.length).toBeLessThanOrEqual(AFTER_LAST_TOKEN);
  });

  it('a send to an existing session with history stays within the same budget', async () => {
    const first = await request(t.url)
      .post('/v1/chat/stream')
      .set(user.auth)
      .send({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Remember 42.' }] });
    const sessionId = Number(first.headers['x-session-id']);
    for (let i = 0; i < 3; i++) {
      await request(t.url).post('/v1/chat/stream').set(user.auth).send({ session_id: sessionId, messages: [{ role: 'user', content: `Turn ${i}` }] });
    }
    const { before, after } = await countSend({ session_id: sessionId, messages: [{ role: 'user', content: 'And now?' }] });
    expect(before.length).toBeLessThanOrEqual(BEFORE_FIRST_TOKEN);
    expect(after.length).toBeLessThanOrEqual(AFTER_LAST_TOKEN);
  });

  it('a JSON answer (stream: false) stays within the same budget', async () => {
    const { before, after, response } = await countSend({
      model: 'openai/gpt-4o-mini',
      stream: false,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(response.body.output_text).toBe('Hello there!');
    expect(before.length).toBeLessThanOrEqual(BEFORE_FIRST_TOKEN);
    expect(after.length).toBeLessThanOrEqual(AFTER_LAST_TOKEN);
  });
});
