import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { ImageHost, startImageHost, testCertificate } from './support/image-host';
import { dataUrl, jpeg, png } from './support/images';
import { writeTestConfig } from './support/test-config';
import { registerUser, TestUser } from './support/users';

/**
 * Image parts through the app: checked before anything is stored or any model called, https: images fetched only
 * from allowed addresses (here a local HTTPS host in `images.fetch_allowed_networks`, its CA in
 * `images.fetch_ca_file`), and what the check found stored with the message.
 */
describe('images through the send path', () => {
  let t: TestApp;
  let alice: TestUser;
  let host: ImageHost;
  let other: ImageHost;

  beforeAll(async () => {
    const certificate = await testCertificate();
    host = await startImageHost(certificate);
    other = await startImageHost(certificate, '127.0.0.2');
    const caFile = join(mkdtempSync(join(tmpdir(), 'images-ca-')), 'ca.pem');
    writeFileSync(caFile, certificate.cert);
    const config = writeTestConfig((c) => (c.images = { fetch_allowed_networks: ['127.0.0.1/32'], fetch_ca_file: caFile }));
    t = await startApp({ CONFIG_FILE: config });
    alice = await registerUser(t.url);
  });
  beforeEach(() => (host.requests.length = 0));
  afterAll(async () => {
    await t.close();
    await host.close();
    await other.close();
  });

  const ask = (url: string) => ({
    model: 'offline',
    stream: false,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image', url }] }],
  });
  const sessionCount = async () => (await request(t.url).get('/v1/chat/sessions').set(alice.auth).expect(200)).body.total as number;

  it('refuses an image URL to the metadata address (400 problem naming the part) and stores nothing', async () => {
    const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send(ask('https://169.254.169.254/latest/meta-data/iam.png'));

    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({
      status: 400,
      type: expect.stringMatching(/image-refused$/),
      errors: [{ field: 'messages.0.content.1', message: expect.stringContaining('169.254.169.254 is not a public address') }],
    });
    expect(await sessionCount()).toBe(0);
  });

  it('refuses a redirect from the allowed host to a loopback address it does not allow, fetching nothing there', async () => {
    host.answer((_req, res) => res.writeHead(302, { location: `${other.origin}/secret.png` }).end());

    const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send({ ...ask(`${host.origin}/moved.png`), stream_format: 'events' });

    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'messages.0.content.1', message: expect.stringContaining('127.0.0.2 is not a public address') }]);
    expect(other.requests).toEqual([]);
    expect(await sessionCount()).toBe(0);
  });

  it('refuses the same on /v1/chat/completions, in its error body', async () => {
    const res = await request(t.url)
      .post('/v1/chat/completions')
      .set(alice.auth)
      .send({ model: 'offline', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://10.0.0.1/x.png' } }] }] });

    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param: 'messages.0.content.0' });
    expect(res.body.error.message).toContain('10.0.0.1 is not a public address');
    expect(await sessionCount()).toBe(0);
  });

  it('refuses a data: URL whose bytes are not the declared type (422)', async () => {
    const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send(ask(dataUrl('image/png', jpeg(4, 4))));

    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      type: expect.stringMatching(/image-invalid$/),
      errors: [{ field: 'messages.0.content.1', message: 'the data is a image/jpeg image, not image/png as declared' }],
    });
    expect(await sessionCount()).toBe(0);
  });

  it('fetches an allowed https: image and stores what it is with its URL', async () => {
    const data = png(64, 48);
    host.answer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(data));
    const url = `${host.origin}/cat.png`;

    const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send(ask(url));

    expect(res.status).toBe(200);
    expect(host.requests).toEqual(['/cat.png']);
    const page = await request(t.url).get(`/v1/chat/sessions/${res.body.session_id}/messages`).set(alice.auth).expect(200);
    expect(page.body.items[0].parts).toEqual([
      { type: 'text', text: 'What is this?' },
      { type: 'image', url, media_type: 'image/png', width: 64, height: 48, bytes: data.length },
    ]);
  });
});
