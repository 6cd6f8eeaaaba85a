import { Client } from 'pg';
import request from 'supertest';
import { SessionTitlesService, TITLE_INSTRUCTION } from '../src/chats/session-titles.service';
import { MessageTree1795601900000 } from '../migrations/1795601900000-MessageTree';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, RecordedRequest, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse } from './support/sse';
import { textPdf } from './support/pdfs';
import { registerUser, TestUser } from './support/users';

const KEY = 'sk-tree-test';
type Turn = { role: string; content: string };
const isTitle = (r: RecordedRequest) => r.body?.messages?.[0]?.content === TITLE_INSTRUCTION;
/** What the provider was sent for each answer (titles left out), without the system prompt. */
const answersSent = (fake: FakeOpenAi): Turn[][] =>
  fake.requests
    .filter((r) => !isTitle(r))
    .map((r) => r.body.messages.filter((m: Turn) => m.role !== 'system').map(({ role, content }: Turn) => ({ role, content })));

describe('Message tree: regenerate, edit, branches and forks (e2e)', () => {
  let t: TestApp;
  let fake: FakeOpenAi;
  let alice: TestUser;
  let bob: TestUser;
  let answerNo = 0;

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    t = await startApp({ OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY });
    alice = await registerUser(t.url);
    bob = await registerUser(t.url);
  });
  beforeEach(() => {
    fake.reset();
    fake.script((r) => (isTitle(r) ? { pieces: ['A title'] } : { pieces: [`Answer ${++answerNo}`] }));
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
  const list = async (sessionId: number, query = '') => {
    const res = await request(t.url).get(`/v1/chat/sessions/${sessionId}/messages${query}`).set(alice.auth);
    expect(res.status).toBe(200);
    return res.body as { total: number; items: { id: number; parent_id: number | null; role: string; content: string; sibling_index: number; sibling_count: number }[] };
  };
  const contents = async (sessionId: number) => (await list(sessionId)).items.map((m) => m.content);

  /** A session of two exchanges: Q1 → A, Q2 → A. @returns its id and the messages' ids */
  const conversation = async () => {
    const first = await send({ messages: [{ role: 'user', content: 'Q1' }] });
    const second = await send({ session_id: first.session_id, messages: [{ role: 'user', content: 'Q2' }] });
    const items = (await list(first.session_id)).items;
    return { sessionId: first.session_id, q1: items[0].id, a1: first.id, q2: items[2].id, a2: second.id };
  };

  it('sends append under the active leaf: one chain, each message following the one before', async () => {
    const c = await conversation();
    const page = await list(c.sessionId);
    expect(page.items.map((m) => [m.id, m.parent_id])).toEqual([
      [c.q1, null],
      [c.a1, c.q1],
      [c.q2, c.a1],
      [c.a2, c.q2],
    ]);
    expect(page.items.every((m) => m.sibling_index === 0 && m.sibling_count === 1)).toBe(true);
    const session = (await request(t.url).get(`/v1/chat/sessions/${c.sessionId}`).set(alice.auth)).body;
    expect(session.active_leaf_id).toBe(c.a2);
    expect(session.forked_from).toBeNull();
  });

  it('regenerates an answer as a sibling, sends the provider only the branch up to its question, and makes it active', async () => {
    const c = await conversation();
    fake.reset();
    const res = await request(t.url).post(`/v1/chat/messages/${c.a1}/regenerate`).set(alice.auth).send({ stream: false });
    expect(res.status).toBe(200);
    expect(res.body.session_id).toBe(c.sessionId);
    // The history sent ends with Q1: the later exchange is on another branch now.
    expect(answersSent(fake)).toEqual([[{ role: 'user', content: 'Q1' }]]);
    expect(await contents(c.sessionId)).toEqual(['Q1', res.body.output_text]);

    const all = await list(c.sessionId, '?branch=all');
    const regenerated = all.items.find((m) => m.id === res.body.id)!;
    expect(regenerated.parent_id).toBe(c.q1);
    expect([regenerated.sibling_index, regenerated.sibling_count]).toEqual([1, 2]);
    const original = all.items.find((m) => m.id === c.a1)!;
    expect([original.sibling_index, original.sibling_count]).toEqual([0, 2]);
    expect(all.items).toHaveLength(5);

    // Counters count every answer on every branch.
    const session = (await request(t.url).get(`/v1/chat/sessions/${c.sessionId}`).set(alice.auth)).body;
    expect(session.message_count).toBe(5);
    expect(session.active_leaf_id).toBe(res.body.id);

    // The next send continues the new branch.
    fake.reset();
    await send({ session_id: c.sessionId, messages: [{ role: 'user', content: 'Q3' }] });
    expect(answersSent(fake)).toEqual([
      [
        { role: 'user', content: 'Q1' },
        { role: 'assistant', content: res.body.output_text },
        { role: 'user', content: 'Q3' },
      ],
    ]);
  });

  it('regenerates with another model, streamed, and the model becomes the session\'s', async () => {
    const c = await conversation();
    fake.reset();
    const res = await request(t.url)
      .post(`/v1/chat/messages/${c.a2}/regenerate`)
      .set(alice.auth)
      .send({ model: 'gpt-4', stream_format: 'events' });
    expect(res.status).toBe(200);
    const events = parseSse(res.text);
    const done = JSON.parse(events.find((e) => e.event === 'done')!.data);
    expect(done.model).toBe('openai/gpt-4');
    expect(fake.requests.filter((r) => !isTitle(r))[0].body.model).toBe('gpt-4');
    expect(answersSent(fake)[0]).toEqual([
      { role: 'user', content: 'Q1' },
      { role: 'assistant', content: expect.any(String) },
      { role: 'user', content: 'Q2' },
    ]);
    const session = (await request(t.url).get(`/v1/chat/sessions/${c.sessionId}`).set(alice.auth)).body;
    expect(session.model).toBe('openai/gpt-4');
  });

  it('edits a question as a sibling, answers it on the branch before it, and the earlier branch stays reachable', async () => {
    const c = await conversation();
    fake.reset();
    const res = await request(t.url).post(`/v1/chat/messages/${c.q2}/edit`).set(alice.auth).send({ content: 'Q2, better', stream: false });
    expect(res.status).toBe(200);
    expect(answersSent(fake)).toEqual([
      [
        { role: 'user', content: 'Q1' },
        { role: 'assistant', content: expect.stringMatching(/^Answer /) },
        { role: 'user', content: 'Q2, better' },
      ],
    ]);
    const active = await list(c.sessionId);
    expect(active.items.map((m) => m.content).slice(2)).toEqual(['Q2, better', res.body.output_text]);
    const edited = active.items[2];
    expect(edited.parent_id).toBe(c.a1);
    expect([edited.sibling_index, edited.sibling_count]).toEqual([1, 2]);

    // Back to the first version: the branch runs on to the newest message under it.
    const switched = await request(t.url).put(`/v1/chat/sessions/${c.sessionId}/active-leaf`).set(alice.auth).send({ message_id: c.q2 });
    expect(switched.status).toBe(200);
    expect(switched.body.active_leaf_id).toBe(c.a2);
    expect((await list(c.sessionId)).items.map((m) => m.id)).toEqual([c.q1, c.a1, c.q2, c.a2]);
    fake.reset();
    await send({ session_id: c.sessionId, messages: [{ role: 'user', content: 'Q3' }] });
    expect(answersSent(fake)[0].map((m) => m.content)).toEqual(['Q1', expect.any(String), 'Q2', expect.any(String), 'Q3']);

    // Editing the first question starts a second root.
    const root = await request(t.url).post(`/v1/chat/messages/${c.q1}/edit`).set(alice.auth).send({ content: 'Another start', stream: false });
    expect(root.status).toBe(200);
    const rootPage = await list(c.sessionId);
    expect(rootPage.items.map((m) => m.content)).toEqual(['Another start', root.body.output_text]);
    expect(rootPage.items[0]).toMatchObject({ parent_id: null, sibling_index: 1, sibling_count: 2 });
  });

  it('refuses the wrong role (409), other users\' messages and sessions (404), and bad bodies (422)', async () => {
    const c = await conversation();
    const regenQuestion = await request(t.url).post(`/v1/chat/messages/${c.q1}/regenerate`).set(alice.auth).send({ stream: false });
    expect(regenQuestion.status).toBe(409);
    expect(regenQuestion.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(regenQuestion.body.type).toMatch(/message-wrong-role$/);
    const editAnswer = await request(t.url).post(`/v1/chat/messages/${c.a1}/edit`).set(alice.auth).send({ content: 'x' });
    expect(editAnswer.status).toBe(409);
    const noContent = await request(t.url).post(`/v1/chat/messages/${c.q1}/edit`).set(alice.auth).send({});
    expect(noContent.status).toBe(422);
    const emptyContent = await request(t.url).post(`/v1/chat/messages/${c.q1}/edit`).set(alice.auth).send({ content: '' });
    expect(emptyContent.status).toBe(422);

    expect((await request(t.url).post(`/v1/chat/messages/${c.a1}/regenerate`).set(bob.auth).send({})).status).toBe(404);
    expect((await request(t.url).post(`/v1/chat/messages/${c.q1}/edit`).set(bob.auth).send({ content: 'x' })).status).toBe(404);
    expect((await request(t.url).put(`/v1/chat/sessions/${c.sessionId}/active-leaf`).set(bob.auth).send({ message_id: c.a1 })).status).toBe(404);
    expect((await request(t.url).post(`/v1/chat/sessions/${c.sessionId}/fork`).set(bob.auth).send({ message_id: c.a1 })).status).toBe(404);

    const other = await send({ messages: [{ role: 'user', content: 'elsewhere' }] });
    const foreignLeaf = await request(t.url).put(`/v1/chat/sessions/${c.sessionId}/active-leaf`).set(alice.auth).send({ message_id: other.id });
    expect(foreignLeaf.status).toBe(404);
    const badLeaf = await request(t.url).put(`/v1/chat/sessions/${c.sessionId}/active-leaf`).set(alice.auth).send({ message_id: 'x' });
    expect(badLeaf.status).toBe(422);
    const badBranch = await request(t.url).get(`/v1/chat/sessions/${c.sessionId}/messages?branch=some`).set(alice.auth);
    expect(badBranch.status).toBe(422);
    // Nothing changed.
    expect((await list(c.sessionId)).items.map((m) => m.id)).toEqual([c.q1, c.a1, c.q2, c.a2]);
  });

  it('forks the branch up to a message into a new session linked to its origin, with its system prompt and files', async () => {
    const first = await send({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Q1' }] });
    const sessionId = first.session_id;
    await send({ session_id: sessionId, messages: [{ role: 'user', content: 'Q2' }] });
    const upload = await request(t.url)
      .post(`/api/chat/sessions/${sessionId}/upload`)
      .set(alice.auth)
      .attach('file', await textPdf(['Fork me']), { filename: 'notes.pdf', contentType: 'application/pdf' });
    expect(upload.status).toBe(201);

    const res = await request(t.url).post(`/v1/chat/sessions/${sessionId}/fork`).set(alice.auth).send({ message_id: first.id });
    expect(res.status).toBe(201);
    const fork = res.body;
    expect(fork.id).not.toBe(sessionId);
    expect(fork.forked_from).toEqual({ session_id: sessionId, message_id: first.id });
    expect(fork.system_prompt).toBe('Be brief.');
    expect(fork.message_count).toBe(2);
    expect(fork.tokens_input).toBe(0);

    const copied = await list(fork.id);
    expect(copied.items.map((m) => m.content)).toEqual(['Q1', first.output_text]);
    expect(copied.items[0].parent_id).toBeNull();
    expect(copied.items[1].parent_id).toBe(copied.items[0].id);
    expect(fork.active_leaf_id).toBe(copied.items[1].id);
    const files = await request(t.url).get(`/api/chat/sessions/${fork.id}/files`).set(alice.auth);
    expect(files.status).toBe(200);
    expect(JSON.stringify(files.body)).toContain('notes.pdf');

    // The fork goes its own way; the origin is untouched.
    fake.reset();
    await send({ session_id: fork.id, messages: [{ role: 'user', content: 'Q2 in the fork' }] });
    expect(answersSent(fake)[0].map((m) => m.content)).toEqual([
      expect.stringContaining('<document name="notes.pdf">\nFork me'),
      'Q1',
      first.output_text,
      'Q2 in the fork',
    ]);
    expect(await contents(sessionId)).toEqual(['Q1', first.output_text, 'Q2', expect.any(String)]);

    // Deleting the origin keeps the fork; its link loses the session.
    expect((await request(t.url).delete(`/v1/chat/sessions/${sessionId}`).set(alice.auth)).status).toBeLessThan(300);
    const after = (await request(t.url).get(`/v1/chat/sessions/${fork.id}`).set(alice.auth)).body;
    expect(after.forked_from).toBeNull();
    expect((await list(fork.id)).items).toHaveLength(4);
  });

  it('records concurrent sends into one session each after the history it was answered with', async () => {
    const c = await conversation();
    fake.reset();
    const answers = await Promise.all(['Qa', 'Qb', 'Qc'].map((q) => send({ session_id: c.sessionId, messages: [{ role: 'user', content: q }] })));
    const all = (await list(c.sessionId, '?branch=all')).items;
    expect(all).toHaveLength(10);
    const byId = new Map(all.map((m) => [m.id, m]));
    const branchTo = (id: number | null): string[] => (id === null ? [] : [...branchTo(byId.get(id)!.parent_id), byId.get(id)!.content]);
    // Whatever the interleaving (siblings when both read the same leaf, a chain otherwise, or after a question
    // whose answer was still in progress), the tree says what each answer was made from: the provider got
    // exactly the branch up to its question.
    const questions = all.filter((m) => ['Qa', 'Qb', 'Qc'].includes(m.content));
    for (const question of questions) {
      const sent = answersSent(fake).find((turns) => turns[turns.length - 1].content === question.content)!;
      expect(sent.map((m) => m.content)).toEqual(branchTo(question.id));
      expect([c.a2, ...answers.map((a) => a.id), ...questions.map((m) => m.id)]).toContain(question.parent_id);
    }
    // The active branch ends with one of them.
    const active = (await list(c.sessionId)).items;
    expect(answers.map((a) => a.id)).toContain(active[active.length - 1].id);
    const session = (await request(t.url).get(`/v1/chat/sessions/${c.sessionId}`).set(alice.auth)).body;
    expect(session.message_count).toBe(10);
  });

  it("sends a question asked while an answer is in progress after that answer's question, without its text so far", async () => {
    const c = await conversation();
    const history = await contents(c.sessionId);
    fake.reset();
    // The first answer's text so far is saved (a checkpoint) long before it ends.
    fake.script((r) => (isTitle(r) ? { pieces: ['A title'] } : r.body.messages.at(-1).content === 'Slow' ? { pieces: ['Partial ', 'end'], delaysMs: [0, 2500] } : { pieces: ['Quick answer'] }));
    const slow = request(t.url).post('/v1/chat/stream').set(alice.auth).send({ session_id: c.sessionId, messages: [{ role: 'user', content: 'Slow' }] }).then((r) => r);
    let inProgress: { id: number; parent_id: number | null; content: string } | undefined;
    for (let waited = 0; !inProgress && waited < 5000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
      inProgress = (await list(c.sessionId, '?branch=all')).items.find((m) => m.content === 'Partial ');
    }
    expect(inProgress).toBeDefined();

    const quick = await send({ session_id: c.sessionId, messages: [{ role: 'user', content: 'Quick' }] });
    expect(answersSent(fake).find((turns) => turns.at(-1)!.content === 'Quick')!.map((m) => m.content)).toEqual([...history, 'Slow', 'Quick']);
    const all = (await list(c.sessionId, '?branch=all')).items;
    const quickQuestion = all.find((m) => m.content === 'Quick')!;
    expect(quickQuestion.parent_id).toBe(inProgress!.parent_id);
    expect(all.find((m) => m.id === quick.id)!.parent_id).toBe(quickQuestion.id);
    expect((await slow).status).toBe(200);
    expect((await list(c.sessionId, '?branch=all')).items.find((m) => m.id === inProgress!.id)!.content).toBe('Partial end');
  });

  it('keeps the summary on a branch that holds its last message, and drops it on one that does not', async () => {
    const c = await conversation();
    const db = new Client({ connectionString: process.env.DATABASE_URL });
    await db.connect();
    const summarize = () =>
      db.query(`UPDATE chat_sessions SET summary = 'Q1 was asked and answered.', summary_message_id = $2, summary_updated_at = now() WHERE id = $1`, [c.sessionId, c.a1]);
    const summary = async () => (await request(t.url).get(`/v1/chat/sessions/${c.sessionId}`).set(alice.auth)).body.summary;
    try {
      await summarize();
      // Regenerating the second answer branches after A1: the summary still holds.
      expect((await request(t.url).post(`/v1/chat/messages/${c.a2}/regenerate`).set(alice.auth).send({ stream: false })).status).toBe(200);
      expect(await summary()).toBe('Q1 was asked and answered.');
      // Editing Q1 branches before it: dropped.
      expect((await request(t.url).post(`/v1/chat/messages/${c.q1}/edit`).set(alice.auth).send({ content: 'New start', stream: false })).status).toBe(200);
      expect(await summary()).toBeNull();
      // Switching back to a branch through A1 keeps a summary made meanwhile; switching away drops it.
      expect((await request(t.url).put(`/v1/chat/sessions/${c.sessionId}/active-leaf`).set(alice.auth).send({ message_id: c.a2 })).status).toBe(200);
      await summarize();
      expect((await request(t.url).put(`/v1/chat/sessions/${c.sessionId}/active-leaf`).set(alice.auth).send({ message_id: c.q2 })).status).toBe(200);
      expect(await summary()).toBe('Q1 was asked and answered.');
      const otherRoot = (await list(c.sessionId, '?branch=all')).items.find((m) => m.content === 'New start')!;
      expect((await request(t.url).put(`/v1/chat/sessions/${c.sessionId}/active-leaf`).set(alice.auth).send({ message_id: otherRoot.id })).status).toBe(200);
      expect(await summary()).toBeNull();
    } finally {
      await db.end();
    }
  });

  it('the migration turns each existing session into one chain with its newest message as the active leaf', async () => {
    const db = new Client({ connectionString: process.env.DATABASE_URL });
    await db.connect();
    try {
      const [user] = (await db.query(`INSERT INTO users (email) VALUES ('tree-migrated@example.com') RETURNING id`)).rows;
      const ids: number[] = [];
      for (let s = 0; s < 2; s++) {
        const [session] = (await db.query(`INSERT INTO chat_sessions (user_id, model) VALUES ($1, 'offline/echo') RETURNING id`, [user.id])).rows;
        ids.push(session.id);
        await db.query(
          `INSERT INTO messages (session_id, role, content, parts)
           SELECT $1, CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END, 'm' || g, '[]' FROM generate_series(1, 3) g`,
          [session.id],
        );
      }
      // Back to before the migration for these sessions, then migrate.
      await db.query('UPDATE messages SET parent_id = NULL WHERE session_id = ANY($1)', [ids]);
      await db.query('UPDATE chat_sessions SET active_leaf_id = NULL WHERE id = ANY($1)', [ids]);
      const migration = new MessageTree1795601900000();
      await db.query('BEGIN');
      const runner = { query: (sql: string, params?: unknown[]) => db.query(sql, params).then((r) => r.rows) };
      await migration.down(runner as never);
      await migration.up(runner as never);
      await db.query('COMMIT');
      for (const id of ids) {
        const rows = (await db.query('SELECT id, parent_id FROM messages WHERE session_id = $1 ORDER BY id', [id])).rows;
        expect(rows.map((r) => r.parent_id)).toEqual([null, rows[0].id, rows[1].id]);
        const [session] = (await db.query('SELECT active_leaf_id FROM chat_sessions WHERE id = $1', [id])).rows;
        expect(session.active_leaf_id).toBe(rows[2].id);
      }
    } finally {
      await db.end();
    }
  });
});

