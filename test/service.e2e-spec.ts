import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { startApp, TestApp } from './support/app';

/** The public service endpoints: index, liveness, readiness, Swagger UI and the OpenAPI document. */
describe('service endpoints', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({ REDIS_URL: 'redis://127.0.0.1:6379/12' });
  });
  afterAll(() => t.close());

  it('GET / names the service and points at the docs', async () => {
    const res = await request(t.url).get('/').expect(200);
    expect(res.body).toMatchObject({ name: 'chat-backend', docs: '/docs', openapi: '/docs-json' });
    expect(res.body.version).toBe(JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version);
  });

  it('GET /health is up and echoes a given request id', async () => {
    const res = await request(t.url).get('/health').set('X-Request-Id', 'trace-123').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers['x-request-id']).toBe('trace-123');
  });

  it('GET /health/ready checks the database and Redis', async () => {
    const res = await request(t.url).get('/health/ready').expect(200);
    expect(res.body).toEqual({ status: 'ok', checks: { database: 'up', redis: 'up' } });
  });

  it('serves Swagger UI at /docs and an OpenAPI 3 document with bearer auth at /docs-json', async () => {
    const ui = await request(t.url).get('/docs').redirects(1).expect(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    const doc = await request(t.url).get('/docs-json').expect(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(doc.body.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.body.paths['/v1/chat/stream'].post.operationId).toBe('sendMessage');
  });

  it('serves at /docs-json exactly the bytes of the committed openapi.json, so both generate the same client', async () => {
    const served = await request(t.url).get('/docs-json').buffer(true).parse((res, done) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => done(null, text));
    });

    expect(served.status).toBe(200);
    expect(served.headers['content-type']).toMatch(/^application\/json/);
    expect(served.body).toBe(readFileSync(join(__dirname, '..', 'openapi.json'), 'utf8'));
  });

  it('serves Redoc at /redoc and YAML at /docs-yaml, without a token', async () => {
    const redoc = await request(t.url).get('/redoc').expect(200);
    expect(redoc.headers['content-type']).toMatch(/text\/html/);
    expect(redoc.text).toContain('<redoc spec-url="/docs-json">');
    const yaml = await request(t.url).get('/docs-yaml').expect(200);
    expect(yaml.text).toContain('operationId: sendMessage');
  });

  it('exposes the session and rate-limit headers to browsers', async () => {
    const res = await request(t.url).options('/v1/chat/stream').set('Origin', 'https://app.example').set('Access-Control-Request-Method', 'POST');
    expect(res.status).toBeLessThan(300);
    const get = await request(t.url).get('/health').set('Origin', 'https://app.example');
    expect(get.headers['access-control-expose-headers']).toContain('X-Session-Id');
    expect(get.headers['access-control-expose-headers']).toContain('Retry-After');
    expect(get.headers['access-control-expose-headers']).toContain('RateLimit-Policy');
  });
});

describe('readiness with Redis down', () => {
  let t: TestApp;

  beforeAll(async () => {
    // Port 9 (discard) has no Redis: every command fails fast.
    t = await startApp({ REDIS_URL: 'redis://127.0.0.1:9' });
  });
  afterAll(() => t.close());

  it('answers 503 naming the dependency that is down, while liveness stays 200', async () => {
    const res = await request(t.url).get('/health/ready');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'unavailable', checks: { database: 'up', redis: 'down' } });
    await request(t.url).get('/health').expect(200);
  });

  it('answers rate-limited routes with 503 quickly instead of hanging', async () => {
    const started = Date.now();
    const res = await request(t.url).get('/config');
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
