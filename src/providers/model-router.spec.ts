import { ModelProviderError } from './model-provider';
import { costOf, RegisteredModel } from './model-registry';
import { retryDelayMs } from './model-router';

describe('retryDelayMs (backoff with equal jitter)', () => {
  const policy = { max_attempts: 4, base_delay_ms: 500, max_delay_ms: 8000 };
  const unavailable = new ModelProviderError('unavailable', 'x', 503);

  it('doubles the ceiling each retry and keeps the wait between half of it and all of it', () => {
    expect([1, 2, 3].map((n) => retryDelayMs(unavailable, n, policy, () => 0))).toEqual([250, 500, 1000]);
    expect([1, 2, 3].map((n) => retryDelayMs(unavailable, n, policy, () => 0.999999))).toEqual([500, 1000, 2000]);
  });

  it('never waits longer than max_delay_ms', () => {
    const many = { ...policy, max_attempts: 10 };
    expect(retryDelayMs(unavailable, 9, many, () => 0.999999)).toBe(8000);
    expect(retryDelayMs(unavailable, 9, many, () => 0)).toBe(4000);
  });

  it('stops once max_attempts calls were made', () => {
    expect(retryDelayMs(unavailable, 3, policy, () => 0)).toBeDefined();
    expect(retryDelayMs(unavailable, 4, policy, () => 0)).toBeUndefined();
    expect(retryDelayMs(unavailable, 1, { ...policy, max_attempts: 1 })).toBeUndefined();
  });

  it('retries rate limits, outages and timeouts, never rejected credentials, refused requests or missing config', () => {
    for (const kind of ['rate_limited', 'unavailable', 'timeout'] as const) {
      expect(retryDelayMs(new ModelProviderError(kind, 'x'), 1, policy, () => 0)).toBe(250);
    }
    for (const kind of ['auth', 'bad_request', 'not_configured'] as const) {
      expect(retryDelayMs(new ModelProviderError(kind, 'x'), 1, policy, () => 0)).toBeUndefined();
    }
  });

  it("honours Retry-After exactly, and gives up on the model when it asks for more than max_delay_ms", () => {
    expect(retryDelayMs(new ModelProviderError('rate_limited', 'x', 429, 3), 1, policy)).toBe(3000);
    expect(retryDelayMs(new ModelProviderError('rate_limited', 'x', 429, 0), 1, policy)).toBe(0);
    expect(retryDelayMs(new ModelProviderError('rate_limited', 'x', 429, 9), 1, policy)).toBeUndefined();
  });
});

describe('costOf', () => {
  const model = (pricing: Omit<RegisteredModel['pricing'], 'pricedAt'>): RegisteredModel => ({
    id: 'openai/gpt-4o',
    provider: 'openai',
    upstreamModel: 'gpt-4o',
    aliases: [],
    contextWindow: 128_000,
    maxOutputTokens: 16_384,
    pricing: { ...pricing, pricedAt: null },
    fallbacks: [],
    supportsTemperature: true,
    supportsTools: true,
    supportsVision: true,
    available: true,
    protocol: 'openai',
  });

  it('charges cached input tokens at the cached price and the rest at the input price', () => {
    const m = model({ inputPer1m: 2.5, outputPer1m: 10, cachedInputPer1m: 1.25 });
    // 600 uncached × 2.5 + 400 cached × 1.25 + 200 output × 10, per million
    expect(costOf(m, { inputTokens: 1000, outputTokens: 200, cachedInputTokens: 400 })).toBe(0.004);
  });

  it('charges cached input at the input price when the model has no cached price', () => {
    const m = model({ inputPer1m: 2.5, outputPer1m: 10 });
    expect(costOf(m, { inputTokens: 1000, outputTokens: 200, cachedInputTokens: 400 })).toBe(0.0045);
  });

  it('charges reasoning tokens as the output they are part of', () => {
    const m = model({ inputPer1m: 0, outputPer1m: 10 });
    const withReasoning = { inputTokens: 0, outputTokens: 300, reasoningTokens: 250 };
    expect(costOf(m, withReasoning)).toBe(costOf(m, { inputTokens: 0, outputTokens: 300 }));
    expect(costOf(m, withReasoning)).toBe(0.003);
  });

  it('rounds to the 8 decimals the numeric(18,8) columns keep', () => {
    const m = model({ inputPer1m: 0.333, outputPer1m: 0 });
    expect(costOf(m, { inputTokens: 1, outputTokens: 0 })).toBe(3.3e-7);
    expect(costOf(m, { inputTokens: 7, outputTokens: 0 })).toBe(2.33e-6);
  });
});
