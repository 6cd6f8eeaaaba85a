import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import request from 'supertest';
import { MetricsListener } from '../src/metrics/metrics-listener';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse, textOf } from './support/sse';
import { registerUser, TestUser } from './support/users';

/** One sample's value from a Prometheus text exposition, 0 when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string | number>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const inner = /\{(.*)\}/.exec(line)?.[1] ?? '';
    if (wanted.every((w) => inner.split(',').includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/** Parses a W3C Server-Timing header into `{ name: dur }`. */
function serverTiming(header: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().split(';');
    const dur = params.map((p) => /^dur=([\d.]+)$/.exec(p.trim())).find(Boolean);
    if (name && dur) out[name] = Number(dur[1]);
  }
  return out;
}

describe('Operating it: metrics, traces, Server-Timing', () => {
  const KEY = 'sk-test-key-never-shown';
  const TOKEN = 'metrics-token-0123456789';
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let unregister: () => void;
  let fake: FakeOpenAi;
  let t: TestApp;
  let alice: TestUser;

  beforeAll(async () => {
    // What the SDK in src/tracing.ts sets up, with an in-memory exporter: a global provider, async context, W3C
    // propagation, and fetch (undici) instrumented so provider requests carry `traceparent`.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(tracerProvider);
    unregister = registerInstrumentations({ tracerProvider, instrumentations: [new UndiciInstrumentation()] });
    fake = await startFakeOpenAi({ apiKey: KEY });
    t = await startApp({ OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY, METRICS_TOKEN: TOKEN, METRICS_PORT: '0' });
    alice = await registerUser(t.url);
  });
  beforeEach(() => {
    fake.reset();
    exporter.reset();
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
    unregister();
    await tracerProvider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });

  const scrape = async () => {
    const res = await request(t.url).get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
    expect(res.status).toBe(200);
    return res.text;
  };

  it('hides /metrics on the API port without the token, and serves it with the token', async () => {
    expect((await request(t.url).get('/metrics')).status).toBe(404);
    expect((await request(t.url).get('/metrics').set('Authorization', 'Bearer wrong-token-0123456789')).status).toBe(404);
    expect((await request(t.url).get('/metrics').set(alice.auth)).status).toBe(404);
    const text = await scrape();
    expect(text).toContain('# TYPE gen_ai_server_time_to_first_token_seconds histogram');
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    expect(text).toMatch(/db_client_connection_count\{state="idle"\} \d+/);
  });

  it('serves /metrics without auth on METRICS_PORT, bound to loopback', async () => {
    const address = t.app.get(MetricsListener).address!;
    expect(address.address).toBe('127.0.0.1');
    const res = await request(`http://127.0.0.1:${address.port}`).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('http_server_request_duration_seconds');
    expect((await request(`http://127.0.0.1:${address.port}`).get('/other')).status).toBe(404);
  });

  it('counts a streamed answer: one more time-to-first-token sample, tokens as the provider reported, HTTP by route template', async () => {
    const labels = { gen_ai_provider_name: 'openai', gen_ai_request_model: 'openai/gpt-4o-mini', purpose: 'answer' };
    const before = await scrape();
    fake.script({ pieces: ['One', ' two', ' three'], usage: { prompt_tokens: 321, completion_tokens: 12 } });
    const res = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Count' }] });
    expect(res.status).toBe(200);
    expect(textOf(parseSse(res.text))).toBe('One two three');
    const after = await scrape();

    const delta = (name: string, extra: Record<string, string> = {}) =>
      sample(after, name, { ...labels, ...extra }) - sample(before, name, { ...labels, ...extra });
    expect(delta('gen_ai_server_time_to_first_token_seconds_count')).toBe(1);
    expect(delta('chat_stream_token_gap_seconds_count')).toBe(2); // three pieces, two gaps
    // One sample per answer: (end − first token) / (12 output tokens − 1).
    expect(delta('gen_ai_server_time_per_output_token_seconds_count')).toBe(1);
    expect(delta('gen_ai_server_time_per_output_token_seconds_sum')).toBeGreaterThan(0);
    expect(delta('gen_ai_client_token_usage_total', { gen_ai_token_type: 'input' })).toBe(321);
    expect(delta('gen_ai_client_token_usage_total', { gen_ai_token_type: 'output' })).toBe(12);
    expect(delta('gen_ai_client_cost_usd_total')).toBeCloseTo((321 * 0.15 + 12 * 0.6) / 1e6, 10);
    expect(sample(after, 'gen_ai_client_operation_duration_seconds_count', { ...labels, error_type: '' }) -
      sample(before, 'gen_ai_client_operation_duration_seconds_count', { ...labels, error_type: '' })).toBe(1);
    expect(sample(after, 'http_server_request_duration_seconds_count', {
      http_route: '/v1/chat/stream', http_request_method: 'POST', http_response_status_code: 200,
    })).toBeGreaterThanOrEqual(1);
    expect(after).not.toContain('Count'); // never message text
    expect(sample(after, 'chat_streams_in_flight', {})).toBe(0);
  });

  it('counts a provider failure by kind', async () => {
    const before = await scrape();
    fake.script({ failure: { status: 400 } });
    const res = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ model: 'gpt-4o-mini', stream: false, messages: [{ role: 'user', content: 'Fail' }] });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const after = await scrape();
    const errors = { gen_ai_provider_name: 'openai', gen_ai_request_model: 'openai/gpt-4o-mini', error_type: 'bad_request' };
    expect(sample(after, 'gen_ai_client_errors_total', errors) - sample(before, 'gen_ai_client_errors_total', errors)).toBe(1);
  });

  it('answers Server-Timing on JSON and streamed sends; the typed done event carries the same figures', async () => {
    fake.script({ pieces: ['Hi'], usage: { prompt_tokens: 5, completion_tokens: 1 } });
    const json = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ model: 'gpt-4o-mini', stream: false, messages: [{ role: 'user', content: 'Hi' }] });
    const timing = serverTiming(json.headers['server-timing']);
    expect(Object.keys(timing).sort()).toEqual(['app', 'provider']);
    expect(timing.app).toBeGreaterThan(0);
    expect(timing.provider).toBeGreaterThan(0);

    fake.script({ pieces: ['Hi'], usage: { prompt_tokens: 5, completion_tokens: 1 } });
    const sse = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ model: 'gpt-4o-mini', stream_format: 'events', messages: [{ role: 'user', content: 'Hi' }] });
    expect(serverTiming(sse.headers['server-timing']).app).toBeGreaterThan(0);
    const done = parseSse(sse.text).find((e) => e.event === 'done')!;
    const figures = JSON.parse(done.data).server_timing;
    expect(figures.app_ms).toBe(serverTiming(sse.headers['server-timing']).app);
    expect(figures.provider_ms).toBeGreaterThan(0);
  });

  it('traces a send: plan, stored turn, one GenAI client span whose trace the provider request carries, settle', async () => {
    fake.script({ pieces: ['Traced'], usage: { prompt_tokens: 7, completion_tokens: 2 } });
    const res = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'A secret sentence' }] });
    expect(res.status).toBe(200);
    const spans = exporter.getFinishedSpans();
    const byName = (n: string) => spans.filter((s) => s.name === n);
    expect(byName('chat.plan')).toHaveLength(1);
    expect(byName('chat.record_turn')).toHaveLength(1);
    expect(byName('chat.settle')).toHaveLength(1);
    const [call] = byName('chat gpt-4o-mini');
    expect(call).toBeDefined();
    expect(call.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 7,
      'gen_ai.usage.output_tokens': 2,
      'gen_ai.response.finish_reasons': ['stop'],
    });
    expect(call.events.map((e) => e.name)).toContain('gen_ai.first_token');

    const traceparent = fake.requests[0].headers.traceparent as string;
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(traceparent.split('-')[1]).toBe(call.spanContext().traceId);
    // The fetch span is the call span's child, and it is the parent the provider saw.
    const fetchSpan = spans.find((s) => s.spanContext().spanId === traceparent.split('-')[2])!;
    expect(fetchSpan.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
    for (const s of spans) expect(JSON.stringify(s.attributes)).not.toContain('secret sentence');
  });
});
