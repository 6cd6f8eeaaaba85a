import { createHash } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { SessionTitlesService } from '../src/chats/session-titles.service';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { registerUser, TestUser } from './support/users';
import { writeTestConfig } from './support/test-config';

const KEY = 'sk-share-test';
const PNG_1X1 =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

/** An export with its server-given parts (ids, times) left out: what a round trip must keep. */
function comparable(exported: { session: Record<string, unknown>; messages: Record<string, unknown>[] }) {
  const index = new Map(exported.messages.map((m, i) => [m.id, i]));
  return {
    session: { title: exported.session.title, model: exported.session.model, system_prompt: exported.session.system_prompt, metadata: exported.session.metadata },
    active: index.get(exported.session.active_leaf_id),
    messages: exported.messages.map(({ id: _id, parent_id, ...rest }) => ({ ...rest, parent: parent_id === null ? null : index.get(parent_id) })),
  };
}

describe('Export, import and share links (e2e)', () => {
  let t: TestApp;
  let fake: FakeOpenAi;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    t = await startApp({
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: KEY,
      CONFIG_FILE: writeTestConfig((config) => {
        config.sharing = { max_messages: 50, import_body_bytes: 200_000, max_link_days: 30 };
      }),
    });
    alice = await registerUser(t.url);
    bob = await registerUser(t.url);
  });
  beforeEach(() => {
    fake.reset();
    let n = 0;
    fake.script(() => ({ pieces: [`Answer ${++n}`] }));
  });
  afterAll(async () => {
    await t.app.get(SessionTitlesService).whenIdle();
    await t.close();
    await fake.close();
  });

  const send = async (body: object) => {
    const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send({ model: 'gpt-4o-mini', stream: false, ...body });
    expect(res.status).toBe(200);
    return res.body as { id: number; session_id: number; output_text: string };
  };

  /** A titled session with a system prompt, an image, two exchanges and a regenerated answer (two branches). */
  const branchedSession = async () => {
    const created = await request(t.url).post('/v1/chat/sessions').set(alice.auth).send({ title: 'Trip `plans`', model: 'gpt-4o-mini', system_prompt: 'Be brief.' });
    const sessionId = created.body.id as number;
    const first = await send({
      session_id: sessionId,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Look at this' }, { type: 'image', url: PNG_1X1 }] }],
    });
    await send({ session_id: sessionId, messages: [{ role: 'user', content: 'And then?' }] });
    const regenerated = await request(t.url).post(`/v1/chat/messages/${first.id}/regenerate`).set(alice.auth).send({ stream: false });
    expect(regenerated.status).toBe(200);
    return { sessionId, firstAnswer: first.id, regenerated: regenerated.body.id as number };
  };

  it('exports the whole tree as JSON and imports it back as an equal new session', async () => {
    const { sessionId } = await branchedSession();
    const res = await request(t.url).get(`/v1/chat/sessions/${sessionId}/export`).set(alice.auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['content-disposition']).toBe('attachment; filename=Trip-plans.json');
    expect(res.headers['cache-control']).toBe('no-store');
    const exported = JSON.parse(res.text ?? res.body.toString());
    expect(exported).toMatchObject({ format: 'chat-session', version: 1, session: { title: 'Trip `plans`', system_prompt: 'Be brief.' } });
    expect(exported.messages).toHaveLength(5); // two exchanges and a second answer to the first question
    expect(exported.messages[1]).toMatchObject({ role: 'assistant', model: 'openai/gpt-4o-mini', status: 'complete', finish_reason: 'stop' });
    expect(exported.messages[1].tokens_output).toBeGreaterThan(0);
    expect(exported.messages[0].parts[1]).toMatchObject({ type: 'image', url: PNG_1X1, media_type: 'image/png', width: 1, height: 1 });

    const imported = await request(t.url).post('/v1/chat/sessions/import').set(bob.auth).send(exported);
    expect(imported.status).toBe(201);
    expect(imported.body).toMatchObject({ user_id: bob.id, title: 'Trip `plans`', system_prompt: 'Be brief.', message_count: 5, tokens_input: 0 });
    const again = await request(t.url).get(`/v1/chat/sessions/${imported.body.id}/export`).set(bob.auth);
    expect(comparable(JSON.parse(again.text ?? again.body.toString()))).toEqual(comparable(exported));
    // The imported session lists the same active branch, and answers on it.
    const branch = (await request(t.url).get(`/v1/chat/sessions/${imported.body.id}/messages`).set(bob.auth)).body.items;
    expect(branch.map((m: { content: string }) => m.content)).toEqual(['Look at this', exported.messages[4].content]);
  });

  it('exports the active branch as Markdown with models, times and usage, images described', async () => {
    const { sessionId } = await branchedSession();
    const res = await request(t.url).get(`/v1/chat/sessions/${sessionId}/export?format=markdown`).set(alice.auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/markdown; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename=Trip-plans.md');
    expect(res.headers['cache-control']).toBe('no-store');
    const md = res.text ?? res.body.toString();
    expect(md).toMatch(/^# Trip `plans`\n/);
    expect(md).toContain('- Model: openai/gpt-4o-mini');
    expect(md).toContain('> Be brief.');
    expect(md).toContain('*[image: image/png, 1×1]*');
    expect(md).not.toContain('base64');
    expect(md).toMatch(/### Assistant · openai\/gpt-4o-mini · \d{4}-\d\d-\d\d \d\d:\d\d UTC · \d+ in \/ \d+ out tokens/);
    // The active branch only: the regenerated answer, not the first answer nor the question after it.
    expect(md).toContain('Answer 3');
    expect(md).not.toContain('And then?');
    expect((await request(t.url).get(`/v1/chat/sessions/${sessionId}/export?format=pdf`).set(alice.auth)).status).toBe(422);
    // A title beyond ASCII keeps its letters in the UTF-8 file name (RFC 6266), punctuation and quotes dropped.
    const russian = await request(t.url).post('/v1/chat/sessions').set(alice.auth).send({ title: 'Поездка "в" Осло!' });
    const named = await request(t.url).get(`/v1/chat/sessions/${russian.body.id}/export?format=markdown`).set(alice.auth);
    expect(named.headers['content-disposition']).toBe(
      `attachment; filename="???????-?-????.md"; filename*=UTF-8''${encodeURIComponent('Поездка-в-Осло.md')}`,
    );
    // A long title of letters outside the BMP is cut between characters, never inside one.
    const han = await request(t.url).post('/v1/chat/sessions').set(alice.auth).send({ title: `a${'𠀀'.repeat(70)}` });
    const cut = await request(t.url).get(`/v1/chat/sessions/${han.body.id}/export`).set(alice.auth);
    expect(cut.status).toBe(200);
    expect(cut.headers['content-disposition']).toContain(`filename*=UTF-8''${encodeURIComponent(`a${'𠀀'.repeat(59)}.json`)}`);
    expect((await request(t.url).get(`/v1/chat/sessions/${sessionId}/export`).set(bob.auth)).status).toBe(404);
  });

  it('imports and exports a tool exchange: the call as a fenced code block in Markdown, the result under its call id', async () => {
    const at = '2026-11-30T10:00:00.000Z';
    const usage = { tokens_input: 0, tokens_output: 0, tokens_cached: 0, tokens_reasoning: 0, usage_estimated: false, cost: 0 };
    const message = (id: number, parent_id: number | null, fields: object) => ({
      id, parent_id, tool_call_id: null, model: null, status: 'complete', finish_reason: null, ...usage, created_at: at, ...fields,
    });
    const args = '{"city":"Oslo","note":"```"}';
    const document = {
      format: 'chat-session',
      version: 1,
      session: { title: 'Weather', model: 'gpt-4o-mini', system_prompt: null, metadata: {}, active_leaf_id: 4 },
      messages: [
        message(1, null, { role: 'user', content: 'Weather in Oslo?', parts: [{ type: 'text', text: 'Weather in Oslo?' }] }),
        message(2, 1, {
          role: 'assistant', content: '', model: 'openai/gpt-4o-mini', finish_reason: 'tool_calls', tokens_input: 12, tokens_output: 7, cost: 0.00001,
          parts: [{ type: 'tool_call', id: 'call_1', name: 'weather', arguments: args }],
        }),
        message(3, 2, { role: 'tool', content: '4 °C, rain', tool_call_id: 'call_1', parts: [{ type: 'text', text: '4 °C, rain' }] }),
        message(4, 3, { role: 'assistant', content: 'Rainy, 4 °C.', model: 'openai/gpt-4o-mini', finish_reason: 'stop', parts: [{ type: 'text', text: 'Rainy, 4 °C.' }] }),
      ],
    };
    const imported = await request(t.url).post('/v1/chat/sessions/import').set(alice.auth).send(document);
    expect(imported.status).toBe(201);
    const json = JSON.parse((await request(t.url).get(`/v1/chat/sessions/${imported.body.id}/export`).set(alice.auth)).text);
    expect(comparable(json)).toEqual(comparable({ ...document, session: { ...document.session, model: 'openai/gpt-4o-mini' } }));
    expect(json.messages[2]).toMatchObject({ role: 'tool', tool_call_id: 'call_1', content: '4 °C, rain' });

    const md = (await request(t.url).get(`/v1/chat/sessions/${imported.body.id}/export?format=markdown`).set(alice.auth)).text;
    // The arguments hold a run of three backticks, so the fence is longer than that run (CommonMark).
    expect(md).toContain(`Tool call \`weather\` (call_1):\n\n\`\`\`\`json\n${args}\n\`\`\`\``);
    expect(md).toContain('### Tool result (call_1) · 2026-11-30 10:00 UTC');
    expect(md).toContain('Rainy, 4 °C.');
    // A tool result without the id of its call is refused.
    const orphan = structuredClone(document);
    orphan.messages[2].tool_call_id = null;
    const refused = await request(t.url).post('/v1/chat/sessions/import').set(alice.auth).send(orphan);
    expect(refused.status).toBe(422);
    expect(JSON.stringify(refused.body)).toMatch(/messages\.2\.tool_call_id/);
  });

  it('refuses a broken import with 422 naming the field and stores nothing; an oversized body is a 413', async () => {
    const { sessionId } = await branchedSession();
    const exported = JSON.parse((await request(t.url).get(`/v1/chat/sessions/${sessionId}/export`).set(alice.auth)).text);
    const sessionsBefore = (await request(t.url).get('/v1/chat/sessions').set(bob.auth)).body.total;
    const broken = (change: (e: typeof exported) => void) => {
      const copy = structuredClone(exported);
      change(copy);
      return request(t.url).post('/v1/chat/sessions/import').set(bob.auth).send(copy);
    };
    const cases: [string, (e: typeof exported) => void, RegExp][] = [
      ['a parent after its child', (e) => e.messages.reverse(), /messages\.\d+\.parent_id/],
      ['a repeated id', (e) => (e.messages[2].id = e.messages[1].id), /messages\.2\.id/],
      ['an unknown active leaf', (e) => (e.session.active_leaf_id = 987654), /session\.active_leaf_id/],
      ['an image in an answer', (e) => e.messages[1].parts.push({ type: 'image', url: PNG_1X1 }), /messages\.1\.parts\.\d+\.type/],
      ['a plain-http image', (e) => (e.messages[0].parts[1].url = 'http://example.com/a.png'), /messages\.0\.parts\.1\.url/],
      ['a wrong role', (e) => (e.messages[0].role = 'robot'), /role/],
      ['another format', (e) => (e.format = 'other'), /format/],
      // ISO 8601 forms a JavaScript Date can't read (basic format, week dates) are refused, not stored as garbage.
      ['a week date', (e) => (e.messages[0].created_at = '2026-W01'), /messages\.0\.created_at/],
      ['a basic-format date', (e) => (e.messages[3].created_at = '20260101'), /messages\.3\.created_at/],
      ['a day that does not exist', (e) => (e.messages[1].created_at = '2026-02-30T10:00:00Z'), /messages\.1\.created_at/],
      ['too many messages', (e) => (e.messages = Array.from({ length: 51 }, (_, i) => ({ ...e.messages[0], id: i + 1, parent_id: i || null }))), /messages/],
    ];
    for (const [what, change, field] of cases) {
      const res = await broken(change);
      expect({ what, status: res.status }).toEqual({ what, status: 422 });
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(JSON.stringify(res.body)).toMatch(field);
    }
    const tooLarge = await request(t.url)
      .post('/v1/chat/sessions/import')
      .set(bob.auth)
      .send({ ...exported, session: { ...exported.session, system_prompt: 'x'.repeat(250_000) } });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(tooLarge.body).toMatchObject({ status: 413, detail: expect.any(String) });
    // Other routes keep the general limit (1 MiB, above this one's 200 kB): the same body elsewhere is not refused for its size.
    const elsewhere = await request(t.url).post('/v1/chat/sessions').set(bob.auth).send({ title: 'x', system_prompt: 'x'.repeat(250_000) });
    expect(elsewhere.status).not.toBe(413);
    if (elsewhere.status === 201) await request(t.url).delete(`/v1/chat/sessions/${elsewhere.body.id}`).set(bob.auth);
    expect((await request(t.url).get('/v1/chat/sessions').set(bob.auth)).body.total).toBe(sessionsBefore);
  });

  it('shares a snapshot of the active branch: others and anonymous readers see only it, no ids, users or emails', async () => {
    const { sessionId } = await branchedSession();
    const created = await request(t.url).post(`/v1/chat/sessions/${sessionId}/share`).set(alice.auth).send({});
    expect(created.status).toBe(201);
    const { token, url, id } = created.body;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes: 256 bits
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(url).toBe(`/v1/shared/${token}`);

    // A message sent after sharing is not in the snapshot.
    await send({ session_id: sessionId, messages: [{ role: 'user', content: 'A secret follow-up' }] });

    for (const reader of [request(t.url).get(url), request(t.url).get(url).set(bob.auth)]) {
      const res = await reader;
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body.title).toBe('Trip `plans`');
      expect(res.body.messages.map((m: { content: string }) => m.content)).toEqual(['Look at this', 'Answer 3']);
      const text = JSON.stringify(res.body);
      expect(text).not.toContain('secret follow-up');
      expect(text).not.toContain(alice.email);
      expect(text).not.toMatch(/"(id|user_id|session_id|parent_id)"/);
    }

    // Only the hash is stored.
    const db = new Client({ connectionString: process.env.DATABASE_URL });
    await db.connect();
    try {
      const rows = (await db.query('SELECT token_hash FROM share_links WHERE id = $1', [id])).rows;
      expect(rows[0].token_hash).toBe(createHash('sha256').update(token).digest('hex'));
      expect(JSON.stringify((await db.query('SELECT * FROM share_links')).rows)).not.toContain(token);
    } finally {
      await db.end();
    }

    // Listed for the owner only, without the token.
    const mine = await request(t.url).get(`/v1/chat/shares?session_id=${sessionId}`).set(alice.auth);
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ total: 1, page: 1, page_size: 20 });
    expect(mine.body.items).toEqual([expect.objectContaining({ id, session_id: sessionId, message_count: 2, expired: false })]);
    expect(JSON.stringify(mine.body)).not.toContain(token);
    expect((await request(t.url).get('/v1/chat/shares').set(bob.auth)).body.items).toEqual([]);

    // Revoked by its owner only; then 404 for everyone, like an unknown or malformed token.
    expect((await request(t.url).delete(`/v1/chat/shares/${id}`).set(bob.auth)).status).toBe(404);
    expect((await request(t.url).delete(`/v1/chat/shares/${id}`).set(alice.auth)).status).toBe(204);
    expect((await request(t.url).delete(`/v1/chat/shares/${id}`).set(alice.auth)).status).toBe(404);
    for (const path of [url, `/v1/shared/${'A'.repeat(43)}`, '/v1/shared/short']) {
      const res = await request(t.url).get(path);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    expect((await request(t.url).get('/v1/chat/shares').set(alice.auth)).body.items).toEqual([]);
  });

  it('ends a link at its expiry; refuses an expiry in the past or beyond sharing.max_link_days', async () => {
    const { sessionId } = await branchedSession();
    const past = await request(t.url).post(`/v1/chat/sessions/${sessionId}/share`).set(alice.auth).send({ expires_at: '2001-01-01T00:00:00Z' });
    expect(past.status).toBe(422);
    const far = new Date(Date.now() + 31 * 86_400_000).toISOString();
    expect((await request(t.url).post(`/v1/chat/sessions/${sessionId}/share`).set(alice.auth).send({ expires_at: far })).status).toBe(422);
    expect((await request(t.url).post(`/v1/chat/sessions/${sessionId}/share`).set(bob.auth).send({})).status).toBe(404);

    const created = await request(t.url).post(`/v1/chat/sessions/${sessionId}/share`).set(alice.auth).send({});
    expect(created.status).toBe(201);
    // Without an expiry, the configured longest life applies.
    const expires = new Date(created.body.expires_at).getTime();
    expect(Math.abs(expires - (Date.now() + 30 * 86_400_000))).toBeLessThan(60_000);
    expect((await request(t.url).get(created.body.url)).status).toBe(200);
    const db = new Client({ connectionString: process.env.DATABASE_URL });
    await db.connect();
    try {
      await db.query(`UPDATE share_links SET expires_at = now() - interval '1 second' WHERE id = $1`, [created.body.id]);
    } finally {
      await db.end();
    }
    expect((await request(t.url).get(created.body.url)).status).toBe(404);
    const listed = (await request(t.url).get(`/v1/chat/shares?session_id=${sessionId}`).set(alice.auth)).body.items;
    expect(listed[0]).toMatchObject({ id: created.body.id, expired: true });

    // Listed a page at a time, newest first.
    const newer = await request(t.url).post(`/v1/chat/sessions/${sessionId}/share`).set(alice.auth).send({});
    expect(newer.status).toBe(201);
    const first = await request(t.url).get(`/v1/chat/shares?session_id=${sessionId}&page_size=1`).set(alice.auth);
    expect(first.body).toMatchObject({ total: 2, page: 1, page_size: 1, items: [{ id: newer.body.id }] });
    const second = await request(t.url).get(`/v1/chat/shares?session_id=${sessionId}&page_size=1&page=2`).set(alice.auth);
    expect(second.body).toMatchObject({ total: 2, page: 2, page_size: 1, items: [{ id: created.body.id }] });
    expect((await request(t.url).get('/v1/chat/shares?page_size=101').set(alice.auth)).status).toBe(422);
  });
});
