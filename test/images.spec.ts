import { HttpStatus } from '@nestjs/common';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { problemOf } from '../src/common/problem-details';
import { ConfigValidationError, loadAppConfig } from '../src/config/app-config';
import { ImageError } from '../src/images/image-errors';
import { ImagesService } from '../src/images/images.service';
import { ImagePart } from '../src/providers/content-parts';
import { ImageHost, startImageHost, TestCertificate, testCertificate } from './support/image-host';
import { dataUrl, gif, jpeg, png, webp } from './support/images';
import { writeTestConfig } from './support/test-config';

const FIELD = 'messages.0.content.1';
const never = new AbortController().signal;

/** An ImagesService on the test configuration with `images` merged into its `images` section. */
function imagesService(images: Record<string, unknown> = {}): ImagesService {
  const file = writeTestConfig((c) => (c.images = { ...c.images, ...images }));
  return new ImagesService(loadAppConfig({ CONFIG_FILE: file }));
}

/** The ImageError `promise` rejects with, and its problem. */
async function refusal(promise: Promise<unknown>): Promise<{ error: ImageError; status: number; errors: unknown }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageError);
  const problem = problemOf(error);
  return { error: error as ImageError, status: problem.status, errors: problem.errors };
}

const image = (url: string): ImagePart => ({ type: 'image', url });

/** Resolves when `res` can take more data, or has closed (the client went away). */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}

describe('ImagesService', () => {
  describe('data: URLs', () => {
    const images = imagesService({ max_bytes: 4096 });

    it.each([
      ['image/png', png],
      ['image/jpeg', jpeg],
      ['image/webp', webp],
      ['image/gif', gif],
    ] as const)('tells a %s image by its bytes, with its dimensions and size', async (type, encode) => {
      const data = encode(13, 7);
      const part = { ...image(dataUrl(type, data)), detail: 'low' as const };

      await expect(images.check(part, never, FIELD)).resolves.toEqual({ ...part, media_type: type, width: 13, height: 7, bytes: data.length });
      await expect(images.load(part.url, never)).resolves.toEqual({ mediaType: type, data });
    });

    it('takes image/jpg for image/jpeg, and the type in any case', async () => {
      await expect(images.check(image(dataUrl('image/jpg', jpeg(2, 2))), never, FIELD)).resolves.toMatchObject({ media_type: 'image/jpeg' });
      await expect(images.check(image(dataUrl('IMAGE/PNG', png(2, 2))), never, FIELD)).resolves.toMatchObject({ media_type: 'image/png' });
    });

    it.each([
      ['bytes that are no image', dataUrl('image/png', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')), 'not a PNG, JPEG, WebP or GIF'],
      ['a type other than declared', dataUrl('image/jpeg', png(2, 2)), 'image/png image, not image/jpeg as declared'],
      ['a type not accepted', dataUrl('image/svg+xml', png(2, 2)), 'image/svg+xml is not an accepted image type'],
      ['a PNG cut short', dataUrl('image/png', png(2, 2).subarray(0, 12)), 'damaged'],
      ['base64 with spaces', `data:image/png;base64,${png(2, 2).toString('base64').replace(/(.{8})/g, '$1 ')}`, 'not valid base64'],
      ['URL-safe base64', `data:image/png;base64,${png(2, 2).toString('base64url')}`, 'not valid base64'],
      ['no base64 marker', `data:image/png,${png(2, 2).toString('base64')}`, 'must look like data:image/png;base64'],
      ['more than max_bytes', dataUrl('image/png', Buffer.concat([png(2, 2), Buffer.alloc(4096)])), 'larger than 4096 bytes'],
    ])('refuses %s (422 naming the part)', async (_, url, reason) => {
      const { error, status, errors } = await refusal(images.check(image(url), never, FIELD));

      expect(status).toBe(HttpStatus.UNPROCESSABLE_ENTITY);
      expect(error.code).toBe('image.invalid');
      expect(errors).toEqual([{ field: FIELD, message: expect.stringContaining(reason) }]);
    });
  });

  describe('URLs to addresses that are not public', () => {
    let certificate: TestCertificate;
    let host: ImageHost;
    const images = imagesService();

    beforeAll(async () => {
      certificate = await testCertificate();
      host = await startImageHost(certificate);
      host.answer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(png(2, 2)));
    });
    afterAll(() => host.close());

    it.each([
      ['loopback', () => `${host.origin}/x.png`],
      ['loopback by name (localhost)', () => `${host.origin.replace('127.0.0.1', 'localhost')}/x.png`],
      ['loopback in another spelling', () => `${host.origin.replace('127.0.0.1', '0x7f.1')}/x.png`],
      ['IPv6 loopback', () => 'https://[::1]/x.png'],
      ['IPv4-mapped IPv6 loopback', () => `${host.origin.replace('127.0.0.1', '[::ffff:127.0.0.1]')}/x.png`],
      ['a private network', () => 'https://10.0.0.1/x.png'],
      ['a private network (172.16/12)', () => 'https://172.16.5.4/x.png'],
      ['a private network (192.168/16)', () => 'https://192.168.1.1/x.png'],
      ['the link-local metadata address', () => 'https://169.254.169.254/latest/meta-data/'],
      ['IPv6 link-local', () => 'https://[fe80::1]/x.png'],
      ['IPv6 unique-local', () => 'https://[fd00::1]/x.png'],
      ['CGNAT', () => 'https://100.64.0.1/x.png'],
      ['unspecified', () => 'https://0.0.0.0/x.png'],
      ['multicast', () => 'https://224.0.0.1/x.png'],
      ['broadcast', () => 'https://255.255.255.255/x.png'],
      ['reserved', () => 'https://240.0.0.1/x.png'],
      ['NAT64 of a private address', () => 'https://[64:ff9b::a00:1]/x.png'],
      ['IPv4-compatible IPv6 loopback', () => `${host.origin.replace('127.0.0.1', '[::127.0.0.1]')}/x.png`],
      ['IPv4 documentation (192.0.2/24)', () => 'https://192.0.2.10/x.png'],
      ['IPv6 documentation (2001:db8::/32)', () => 'https://[2001:db8::1]/x.png'],
      ['IPv6 outside global unicast (4000::/3)', () => 'https://[4000::1]/x.png'],
    ])('refuses %s before connecting (400 naming the part)', async (_, url) => {
      const started = Date.now();
      const { error, status, errors } = await refusal(images.check(image(url()), never, FIELD));

      expect(status).toBe(HttpStatus.BAD_REQUEST);
      expect(error.code).toBe('image.refused');
      expect(errors).toEqual([{ field: FIELD, message: expect.stringContaining('is not a public address') }]);
      expect(Date.now() - started).toBeLessThan(2000); // refused, not timed out trying
      expect(host.requests).toEqual([]);
    });

    it.each([
      ['http:', () => `${host.origin.replace('https:', 'http:')}/x.png`, 'must be https: or data: URLs, not http:'],
      ['ftp:', () => 'ftp://example.com/x.png', 'not ftp:'],
      ['file:', () => 'file:///etc/passwd', 'not file:'],
      ['credentials in the URL', () => 'https://user:secret@example.com/x.png', 'must not carry credentials'],
      ['a URL that does not parse', () => 'https://exa mple.com/x.png', 'not a valid URL'],
    ])('refuses %s (400)', async (_, url, reason) => {
      const { status, errors } = await refusal(images.check(image(url()), never, FIELD));

      expect(status).toBe(HttpStatus.BAD_REQUEST);
      expect(errors).toEqual([{ field: FIELD, message: expect.stringContaining(reason) }]);
      expect(host.requests).toEqual([]);
    });
  });

  describe('URLs to an allowed internal host (fetch_allowed_networks, fetch_ca_file)', () => {
    let certificate: TestCertificate;
    let host: ImageHost;
    let other: ImageHost;
    let images: ImagesService;
    let caFile: string;

    beforeAll(async () => {
      certificate = await testCertificate();
      host = await startImageHost(certificate);
      other = await startImageHost(certificate, '127.0.0.2'); // loopback, outside the allowed network
      caFile = join(mkdtempSync(join(tmpdir(), 'images-ca-')), 'ca.pem');
      writeFileSync(caFile, certificate.cert);
      images = imagesService({ fetch_allowed_networks: ['127.0.0.1/32'], fetch_ca_file: caFile, max_bytes: 1_000_000, fetch_timeout_ms: 1500 });
      other.answer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(png(2, 2)));
    });
    beforeEach(() => {
      host.requests.length = 0;
      host.bytesSent = 0;
    });
    afterAll(async () => {
      await host.close();
      await other.close();
    });

    it('fetches an image and fills in what it is, keeping the URL', async () => {
      const data = webp(40, 30);
      host.answer((_req, res) => res.writeHead(200, { 'content-type': 'image/webp' }).end(data));
      const part = image(`${host.origin}/pics/cat.webp`);

      await expect(images.check(part, never, FIELD)).resolves.toEqual({ ...part, media_type: 'image/webp', width: 40, height: 30, bytes: data.length });
      await expect(images.load(part.url, never)).resolves.toEqual({ mediaType: 'image/webp', data });
      expect(host.requests).toEqual(['/pics/cat.webp', '/pics/cat.webp']);
    });

    it('takes a generic or missing Content-Type, the bytes deciding', async () => {
      host.answer((req, res) => res.writeHead(200, req.url === '/a' ? { 'content-type': 'application/octet-stream' } : {}).end(gif(3, 4)));

      await expect(images.check(image(`${host.origin}/a`), never, FIELD)).resolves.toMatchObject({ media_type: 'image/gif', width: 3, height: 4 });
      await expect(images.check(image(`${host.origin}/b`), never, FIELD)).resolves.toMatchObject({ media_type: 'image/gif' });
    });

    it('follows a redirect on the allowed host', async () => {
      host.answer((req, res) => {
        if (req.url === '/old.png') res.writeHead(302, { location: '/new.png' }).end();
        else res.writeHead(200, { 'content-type': 'image/png' }).end(png(5, 6));
      });

      await expect(images.check(image(`${host.origin}/old.png`), never, FIELD)).resolves.toMatchObject({ width: 5, height: 6 });
      expect(host.requests).toEqual(['/old.png', '/new.png']);
    });

    it.each([
      ['a loopback address outside the allowed network', () => `${other.origin}/x.png`],
      ['the metadata address', () => 'https://169.254.169.254/latest/meta-data/'],
      ['IPv6 loopback', () => `${other.origin.replace('127.0.0.2', '[::1]')}/x.png`],
    ])('refuses a redirect to %s, fetching nothing there', async (_, target) => {
      host.answer((_req, res) => res.writeHead(301, { location: target() }).end());

      const { error } = await refusal(images.check(image(`${host.origin}/x.png`), never, FIELD));

      expect(error.code).toBe('image.refused');
      expect(host.requests).toEqual(['/x.png']);
      expect(other.requests).toEqual([]);
    });

    it.each([
      ['http:', () => `${host.origin.replace('https:', 'http:')}/x.png`],
      ['data:', () => dataUrl('image/png', png(2, 2))],
    ])('refuses a redirect to %s', async (protocol, target) => {
      host.answer((_req, res) => res.writeHead(307, { location: target() }).end());

      const { error } = await refusal(images.check(image(`${host.origin}/x.png`), never, FIELD));

      expect(error).toMatchObject({ code: 'image.refused', reason: `the image URL redirects to a URL that is not https: (${protocol})` });
      expect(host.requests).toEqual(['/x.png']);
    });

    it('refuses a redirect to a Location that is no URL (422, not a server error)', async () => {
      host.answer((_req, res) => res.writeHead(302, { location: 'https://exa mple.com/x.png' }).end());

      const { error, status } = await refusal(images.check(image(`${host.origin}/x.png`), never, FIELD));

      expect(status).toBe(HttpStatus.UNPROCESSABLE_ENTITY);
      expect(error.reason).toBe(`the image host ${new URL(host.origin).host} redirects to an invalid URL`);
    });

    it('follows at most fetch_max_redirects redirects', async () => {
      host.answer((req, res) => res.writeHead(302, { location: `/r${Number(req.url!.slice(2) || 0) + 1}` }).end());

      const { error, status } = await refusal(images.check(image(`${host.origin}/r0`), never, FIELD));

      expect(status).toBe(HttpStatus.UNPROCESSABLE_ENTITY);
      expect(error.reason).toBe('the image URL redirects more than 3 times');
      expect(host.requests).toEqual(['/r0', '/r1', '/r2', '/r3']);
    });

    it('refuses a 50 MB image by its Content-Length, reading none of it', async () => {
      host.answer((_req, res) => {
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(50 * 1024 * 1024) });
        res.write(png(2, 2));
        // The rest never comes: the fetcher must not wait for it.
      });

      const { error } = await refusal(images.check(image(`${host.origin}/huge.png`), never, FIELD));

      expect(error.reason).toBe('the image is larger than 1000000 bytes');
    });

    it('cuts off a 50 MB image streamed without a length once it passes max_bytes', async () => {
      host.answer(async (_req, res) => {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write(png(2, 2));
        const chunk = Buffer.alloc(64 * 1024);
        for (let sent = 0; sent < 50 * 1024 * 1024 && !res.destroyed; sent += chunk.length) {
          if (!res.write(chunk)) await drainedOrClosed(res);
        }
        res.end();
      });

      const { error } = await refusal(images.check(image(`${host.origin}/stream.png`), never, FIELD));

      expect(error.reason).toBe('the image is larger than 1000000 bytes');
      await sleep(100);
      expect(host.bytesSent).toBeLessThan(10 * 1024 * 1024);
    });

    it('refuses a server that is too slow (fetch_timeout_ms)', async () => {
      host.answer(() => undefined); // never answers
      const started = Date.now();

      const { error } = await refusal(images.check(image(`${host.origin}/slow.png`), never, FIELD));

      expect(error.reason).toBe('the image was not fetched within 1500 ms');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect(Date.now() - started).toBeLessThan(4000);
    });

    it.each([
      ['an error status', (res: ServerResponse) => res.writeHead(404).end('Not Found'), 'answered HTTP 404'],
      ['bytes that are no image', (res: ServerResponse) => res.writeHead(200, { 'content-type': 'image/png' }).end('<html></html>'), 'not a PNG, JPEG, WebP or GIF'],
      ['a Content-Type of another image type', (res: ServerResponse) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(png(2, 2)), 'the image is image/png, but its server says image/jpeg'],
    ])('refuses %s (422)', async (_, answer, reason) => {
      host.answer((_req, res) => answer(res));

      const { status, errors } = await refusal(images.check(image(`${host.origin}/x`), never, FIELD));

      expect(status).toBe(HttpStatus.UNPROCESSABLE_ENTITY);
      expect(errors).toEqual([{ field: FIELD, message: expect.stringContaining(reason) }]);
    });

    it('checks the certificate: without the CA file the host is not trusted', async () => {
      host.answer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(png(2, 2)));
      const untrusting = imagesService({ fetch_allowed_networks: ['127.0.0.1/32'] });

      const { error } = await refusal(untrusting.check(image(`${host.origin}/x.png`), never, FIELD));

      expect(error.code).toBe('image.invalid');
      expect(error.reason).toContain('could not be fetched');
    });

    it('stops when the caller aborts, with the caller reason', async () => {
      host.answer(() => undefined);
      const caller = new AbortController();
      const reason = new Error('client left');
      setTimeout(() => caller.abort(reason), 100);

      await expect(images.check(image(`${host.origin}/x.png`), caller.signal, FIELD)).rejects.toBe(reason);
    });
  });

  describe('configuration', () => {
    it('refuses an entry of fetch_allowed_networks that is not a CIDR, and an unreadable CA file, at start-up', () => {
      const file = writeTestConfig((c) => (c.images = { fetch_allowed_networks: ['10.0.0.0/8', 'intranet'], fetch_ca_file: '/nonexistent/ca.pem' }));
      let error: unknown;
      try {
        loadAppConfig({ CONFIG_FILE: file });
      } catch (e) {
        error = e;
      }

      expect(error).toBeInstanceOf(ConfigValidationError);
      const message = (error as Error).message;
      expect(message).toContain('images.fetch_allowed_networks: "intranet" is not a CIDR');
      expect(message).toContain('images.fetch_ca_file: /nonexistent/ca.pem cannot be read (ENOENT)');
    });

    it('has the documented defaults', () => {
      const { images } = loadAppConfig({ CONFIG_FILE: writeTestConfig(() => undefined) });

      expect(images).toEqual({ max_bytes: 5 * 1024 * 1024, fetch_timeout_ms: 10_000, fetch_max_redirects: 3, fetch_allowed_networks: [] });
    });
  });
});
