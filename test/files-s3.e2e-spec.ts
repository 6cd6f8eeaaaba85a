import request from 'supertest';
import { DataSource } from 'typeorm';
import { startApp, TestApp } from './support/app';
import { FakeS3, startFakeS3 } from './support/fake-s3-server';
import { textPdf } from './support/pdfs';
import { registerUser, TestUser } from './support/users';

/**
 * Uploaded bytes in an S3-compatible store (S3_*), against a local server speaking the path-style object API:
 * stored under the generated name, served back, and removed whether the file, its session or its user is deleted.
 */
describe('Files in an S3-compatible store (e2e)', () => {
  let t: TestApp;
  let s3: FakeS3;
  let alice: TestUser;
  let pdf: Buffer;

  const newSession = async (u: TestUser) => (await request(t.url).post('/v1/chat/sessions').set(u.auth).send({}).expect(201)).body.id as number;
  const upload = async (u: TestUser, sessionId: number) =>
    (await request(t.url).post(`/api/chat/sessions/${sessionId}/upload`).set(u.auth).attach('file', pdf, 'a.pdf').expect(201)).body.file;
  const storageNameOf = async (id: number) =>
    (await t.app.get(DataSource).query('SELECT storage_name, storage FROM files WHERE id = $1', [id]))[0] as { storage_name: string; storage: string };
  /** Waits until the object is gone (deletions of sessions and users are cleaned up by the periodic round). */
  const gone = async (key: string) => {
    const deadline = Date.now() + 5000;
    while (s3.objects.has(key) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return !s3.objects.has(key);
  };

  beforeAll(async () => {
    s3 = await startFakeS3();
    t = await startApp({
      S3_ENDPOINT: s3.url,
      S3_BUCKET: 'chat-files',
      S3_ACCESS_KEY_ID: 'test-access-key',
      S3_SECRET_ACCESS_KEY: 'test-secret-key',
      S3_REGION: 'eu-west-1',
    });
    alice = await registerUser(t.url);
    pdf = await textPdf(['Stored in a bucket.']);
  });
  afterAll(async () => {
    await t.close();
    await s3.close();
  });

  it('stores the bytes as an object under the generated name (not in PostgreSQL) and serves them back', async () => {
    const file = await upload(alice, await newSession(alice));
    const row = await storageNameOf(file.id);
    expect(row.storage).toBe('s3');
    expect(row.storage_name).toMatch(/^[0-9a-f-]{36}$/);
    const key = `chat-files/${row.storage_name}`;
    expect(Buffer.compare(s3.objects.get(key)!, pdf)).toBe(0);
    const put = s3.requests.find((r) => r.method === 'PUT')!;
    expect(put.path).toBe(`/${key}`);
    expect(put.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=test-access-key\/\d{8}\/eu-west-1\/s3\//);
    const [{ n }] = await t.app.get(DataSource).query('SELECT count(*)::int AS n FROM file_contents');
    expect(n).toBe(0);

    const res = await request(t.url).get(`/api/chat/files/${file.id}/content`).set(alice.auth).expect(200);
    expect(Buffer.compare(res.body as Buffer, pdf)).toBe(0);

    await request(t.url).delete(`/api/chat/files/${file.id}`).set(alice.auth).expect(200);
    expect(s3.objects.has(key)).toBe(false); // removed in the request itself
  });

  it("deleting a session or a user removes their files' objects too", async () => {
    const bob = await registerUser(t.url);
    const s1 = await newSession(bob);
    const s2 = await newSession(bob);
    const k1 = `chat-files/${(await storageNameOf((await upload(bob, s1)).id)).storage_name}`;
    const k2 = `chat-files/${(await storageNameOf((await upload(bob, s2)).id)).storage_name}`;
    expect([s3.objects.has(k1), s3.objects.has(k2)]).toEqual([true, true]);

    await request(t.url).delete(`/v1/chat/sessions/${s1}`).set(bob.auth).expect(200);
    expect(await gone(k1)).toBe(true);
    expect(s3.objects.has(k2)).toBe(true);
    await request(t.url).delete('/v1/users/me').set(bob.auth).expect(204);
    expect(await gone(k2)).toBe(true);
    // The queued deletion's row is removed just after its object, in the same background pass: wait for it.
    const pending = async () =>
      (await t.app.get(DataSource).query<{ n: number }[]>('SELECT count(*)::int AS n FROM file_object_deletions'))[0].n;
    for (let i = 0; i < 50 && (await pending()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await pending()).toBe(0);
  });

  it('a fork shares the object of a file: it is removed only when no file names it any more', async () => {
    const carol = await registerUser(t.url);
    const origin = await newSession(carol);
    const file = await upload(carol, origin);
    const key = `chat-files/${(await storageNameOf(file.id)).storage_name}`;
    const sent = await request(t.url).post('/v1/chat/stream').set(carol.auth).send({ session_id: origin, stream: false, messages: [{ role: 'user', content: 'hi' }] });
    expect(sent.status).toBe(200);
    const fork = await request(t.url).post(`/v1/chat/sessions/${origin}/fork`).set(carol.auth).send({ message_id: sent.body.id });
    expect(fork.status).toBe(201);
    const copies = (await request(t.url).get(`/api/chat/sessions/${fork.body.id}/files`).set(carol.auth).expect(200)).body;
    const copy = (Array.isArray(copies) ? copies : copies.items)[0];
    expect((await storageNameOf(copy.id)).storage_name).toBe(key.slice('chat-files/'.length));

    // The origin's file goes (by its route, then with its session): the fork's copy still reads the object.
    await request(t.url).delete(`/api/chat/files/${file.id}`).set(carol.auth).expect(200);
    await request(t.url).delete(`/v1/chat/sessions/${origin}`).set(carol.auth).expect(200);
    expect(s3.objects.has(key)).toBe(true);
    const res = await request(t.url).get(`/api/chat/files/${copy.id}/content`).set(carol.auth).expect(200);
    expect(Buffer.compare(res.body as Buffer, pdf)).toBe(0);

    // The last file naming it goes: so does the object.
    await request(t.url).delete(`/api/chat/files/${copy.id}`).set(carol.auth).expect(200);
    expect(await gone(key)).toBe(true);
  });

  it('a store that refuses the object is a 503 and leaves no file row behind', async () => {
    const sessionId = await newSession(alice);
    s3.failPuts = true;
    try {
      const res = await request(t.url).post(`/api/chat/sessions/${sessionId}/upload`).set(alice.auth).attach('file', pdf, 'a.pdf');
      expect(res.status).toBe(503);
      expect(res.body.detail).toMatch(/file store/);
    } finally {
      s3.failPuts = false;
    }
    expect((await request(t.url).get(`/api/chat/sessions/${sessionId}/files`).set(alice.auth).expect(200)).body.total).toBe(0);
    await upload(alice, sessionId); // and the same file goes through once the store is back
  });

  it('an object missing from the bucket is a 503, not a 500', async () => {
    const file = await upload(alice, await newSession(alice));
    s3.objects.delete(`chat-files/${(await storageNameOf(file.id)).storage_name}`);
    const res = await request(t.url).get(`/api/chat/files/${file.id}/content`).set(alice.auth);
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
