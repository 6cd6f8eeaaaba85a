import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { parse, stringify } from 'yaml';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse, textOf } from './support/sse';
import { registerUser } from './support/users';

/** A stream that goes quiet (the model is thinking) gets `: ping` comments, which SSE parsers ignore. */
describe('SSE heartbeat', () => {
  let t: TestApp;
  let fake: FakeOpenAi;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chat-heartbeat-'));
    const config = parse(readFileSync(join(__dirname, 'support', 'config.test.yaml'), 'utf8'));
    config.limits.sse_heartbeat_ms = 50;
    writeFileSync(join(dir, 'config.yaml'), stringify(config));
    fake = await startFakeOpenAi({ apiKey: 'k' });
    t = await startApp({ CONFIG_FILE: join(dir, 'config.yaml'), OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'k' });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pings while the provider pauses and leaves the text intact', async () => {
    const user = await registerUser(t.url);
    fake.script({ pieces: ['Thinking', ' done'], delayMs: 300 });
    const res = await request(t.url)
      .post('/v1/chat/stream')
      .set(user.auth)
      .send({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hm?' }] });
    expect(res.status).toBe(200);
    expect(res.text.match(/^: ping$/gm)?.length ?? 0).toBeGreaterThanOrEqual(2);
    expect(textOf(parseSse(res.text))).toBe('Thinking done');
  });
});
