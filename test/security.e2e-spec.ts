import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { parseSse } from './support/sse';
import { writeTestConfig } from './support/test-config';
import { registerUser } from './support/users';

describe('security headers', () => {
  let t: TestApp;
  beforeAll(async () => (t = await startApp()));
  afterAll(() => t.close());

  it('are on every answer, errors and body-parser refusals included, with a CSP that allows nothing on the API', async () => {
    const answers = [
      await request(t.url).get('/health'),
      await request(t.url).get('/v1/users/me'),
      await request(t.url).post('/v1/auth/login').set('Content-Type', 'application/json').send('{"a":'),
      await request(t.url).post('/v1/auth/login').set('Content-Type', 'application/json').send('['.repeat(100)),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 401, 400, 400]);
    for (const res of answers) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-powered-by']).toBeUndefined();
      expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
    }
  });

  it("gives /docs a strict CSP that still allows everything Swagger UI's page loads", async () => {
    const page = await request(t.url).get('/docs').redirects(1).expect(200);
    const csp = String(page.headers['content-security-policy']);
    const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(directives['script-src']).toEqual(["'self'"]);
    expect(directives['frame-ancestors']).toEqual(["'none'"]);

    // Every script is a same-origin file (no inline script, which script-src 'self' would block) and is served.
    const scripts = [...page.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(body.trim()).toBe('');
      const src = /src=["']([^"']+)["']/.exec(attributes)![1];
      expect(src).not.toMatch(/^(https?:)?\/\//);
      await request(t.url).get(new URL(src, `${t.url}/docs`).pathname).expect(200);
    }
    // Stylesheets are same-origin; the page's inline <style> needs style-src 'unsafe-inline'.
    for (const [, href] of page.text.matchAll(/<link[^>]*href=["']([^"']+)["']/g)) {
      expect(href).not.toMatch(/^(https?:)?\/\//);
      await request(t.url).get(new URL(href, `${t.url}/docs`).pathname).expect(200);
    }
    expect(page.text).toMatch(/<style>/);
    expect(directives['style-src']).toEqual(["'self'", "'unsafe-inline'"]);
    // Its icons are data: URIs in the stylesheet; "Try it out" calls this origin.
    expect(directives['img-src']).toEqual(["'self'", 'data:']);
    expect(directives['connect-src']).toEqual(["'self'"]);
  });

  it('gives /redoc a strict CSP of its own that allows the script its page loads, and nothing inline', async () => {
    const page = await request(t.url).get('/redoc').expect(200);
    const csp = String(page.headers['content-security-policy']);
    const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(directives['frame-ancestors']).toEqual(["'none'"]);
    // No blanket rule: every script source is one exact file, never a scheme, a host or a keyword.
    expect(directives['script-src'].length).toBeGreaterThan(0);
    for (const source of directives['script-src']) expect(source).toMatch(/^https:\/\/[^/*]+\/.*[^/]$/);

    // Each script the page loads is allowed by that policy: an exact match of a path source (CSP Level 3), no
    // inline script (there is no 'unsafe-inline', nonce or hash to allow one).
    const scripts = [...page.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(body.trim()).toBe('');
      const src = new URL(/src=["']([^"']+)["']/.exec(attributes)![1], `${t.url}/redoc`).href;
      expect(directives['script-src']).toContain(src);
    }
    // The document it renders is fetched from this origin; its search index runs in a blob: worker; its styles are
    // injected <style> elements, as is the page's own.
    const specUrl = /spec-url="([^"]+)"/.exec(page.text)![1];
    expect(new URL(specUrl, `${t.url}/redoc`).origin).toBe(t.url);
    await request(t.url).get(specUrl).expect(200);
    expect(directives['connect-src']).toEqual(["'self'"]);
    expect(directives['worker-src']).toEqual(['blob:']);
    expect(directives['style-src']).toEqual(["'unsafe-inline'"]);
    expect(directives['script-src']).not.toContain("'unsafe-inline'");
    expect(directives['script-src']).not.toContain("'unsafe-eval'");
    // A cross-origin script is not blocked by cross-origin isolation either.
    expect(page.headers['cross-origin-embedder-policy']).toBeUndefined();

    // The API and Swagger UI keep their own policies.
    expect((await request(t.url).get('/health')).headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
    expect((await request(t.url).get('/docs').redirects(1)).headers['content-security-policy']).not.toContain('redoc');
  });
});

describe('CORS', () => {
  let t: TestApp;
  beforeAll(async () => (t = await startApp({ CORS_ORIGINS: 'https://app.example.com, https://admin.example.com' })));
  afterAll(() => t.close());

  it('allows the configured origins, without credentials', async () => {
    const res = await request(t.url)
      .options('/v1/chat/sessions')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('gives any other origin no CORS headers', async () => {
    const res = await request(t.url).get('/health').set('Origin', 'https://evil.example.net');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('TRUST_PROXY', () => {
  let t: TestApp;
  beforeAll(async () => {
    const CONFIG_FILE = writeTestConfig((c) => (c.rate_limits.auth_per_ip = 3));
    t = await startApp({ TRUST_PROXY: '1', CONFIG_FILE });
  });
  afterAll(() => t.close());

  const login = (forwardedFor: string) =>
    request(t.url).post('/v1/auth/login').set('X-Forwarded-For', forwardedFor).send({ email: 'nobody@example.com', password: 'wrong password' });

  it('keys rate limits by the address the trusted proxy saw, whatever the client writes before it', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await login(`198.51.100.${i}, 203.0.113.7`)).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    // Another real client behind the same proxy has its own counter.
    expect((await login('203.0.113.7, 203.0.113.8')).status).toBe(401);
  });
});

describe('HTTP server timeouts', () => {
  let t: TestApp;
  beforeAll(async () => {
    const CONFIG_FILE = writeTestConfig((c) => {
      c.limits = { ...c.limits, headers_timeout_ms: 1000, request_timeout_ms: 1000, keep_alive_timeout_ms: 1000 };
      c.offline = { piece_delay_ms: 100 };
    });
    t = await startApp({ CONFIG_FILE });
  });
  afterAll(() => t.close());

  it('closes a connection whose headers never finish (slowloris) with a 408', async () => {
    const { port } = new URL(t.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let received = '';
      // Trickle a header line now and then, never the blank line that ends the headers.
      const trickle = setInterval(() => socket.writable && socket.write('X-a: b\r\n'), 200);
      socket.on('data', (d) => {
        received += d.toString();
        clearInterval(trickle);
      });
      socket.on('close', () => {
        clearInterval(trickle);
        resolve(received);
      });
      // A line written just as the server closed is answered with a reset: what came before still counts.
      socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' && received ? resolve(received) : reject(e)));
      socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('lets an SSE answer that lasts longer than every timeout run to its end', async () => {
    const user = await registerUser(t.url);
    const started = Date.now();
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(`${t.url}/v1/chat/stream`, { method: 'POST', headers: { ...user.auth, 'Content-Type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d.toString()));
        res.on('end', () => resolve(text));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ messages: [{ role: 'user', content: 'Tell me a long story' }] }));
    });
    // The answer took longer than the request, headers and keep-alive timeouts (1 s each) and still ended whole.
    expect(Date.now() - started).toBeGreaterThan(1500);
    const events = parseSse(body);
    expect(events.at(-1)?.data).toBe('[DONE]');
    expect(events.length).toBeGreaterThan(15);
  });
});
