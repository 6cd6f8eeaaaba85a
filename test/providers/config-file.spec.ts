import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigValidationError, loadAppConfig } from '../../src/config/app-config';
import { ModelRegistry } from '../../src/providers/model-registry';

const SHIPPED = join(__dirname, '../../config.yaml');

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadAppConfig(env);
  } catch (err) {
    if (err instanceof ConfigValidationError) return err.problems;
    throw err;
  }
  throw new Error('expected the configuration to be rejected');
}

function writeYaml(lines: string[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'providers-config-')), 'config.yaml');
  writeFileSync(file, lines.join('\n'));
  return file;
}

describe('configuration files', () => {
  it('the shipped config.yaml loads, validates and builds a registry', () => {
    const config = loadAppConfig({ CONFIG_FILE: SHIPPED });
    const registry = new ModelRegistry(config);

    expect(config.models.length).toBeGreaterThan(5);
    expect(Object.keys(config.providers)).toEqual(
      expect.arrayContaining(['openai', 'anthropic', 'google', 'groq', 'mistral', 'deepseek', 'openrouter', 'ollama']),
    );
    expect(config.providers.anthropic.protocol).toBe('anthropic');
    expect(config.providers.google.protocol).toBe('gemini');
    expect(config.providers.openai.max_tokens_field).toBe('max_completion_tokens');
    expect(new ModelRegistry(loadAppConfig({ CONFIG_FILE: SHIPPED, OPENAI_API_KEY: 'sk-x', GROQ_API_KEY: 'gsk-x' })).endpoint('openai'))
      .toMatchObject({ maxTokensField: 'max_completion_tokens' });
    expect(registry.resolve('gpt-4').id).toBe('openai/gpt-4');
    expect(registry.offlineMode).toBe(true);
  });

  it('every shipped model has a price date, and every provider in the registry is configured', () => {
    const config = loadAppConfig({ CONFIG_FILE: SHIPPED });

    expect(config.models.filter((m) => !m.pricing.priced_at).map((m) => m.id)).toEqual([]);
    expect(config.models.filter((m) => !config.providers[m.id.split('/')[0]]).map((m) => m.id)).toEqual([]);
  });

  it.each([
    // the documented tiers, names and model list
    ['fast', 'google/gemini-2.5-flash'],
    ['balanced', 'anthropic/claude-sonnet-5-5'],
    ['smart', 'anthropic/claude-opus-5-5'],
    ['gpt-4', 'openai/gpt-4'],
    ['gpt-3.5-turbo', 'openai/gpt-3.5-turbo'],
    ['gpt-5-nano', 'openai/gpt-5-nano'],
    ['gpt-4.1-nano', 'openai/gpt-4.1-nano'],
    ['deepseek-r1-0528', 'deepseek/deepseek-reasoner'],
    ['openai-fast', 'openai/gpt-4.1-nano'],
    ['mistral-small-3.1-24b', 'mistral/mistral-small-latest'],
    ['gpt-4o-mini', 'openai/gpt-4o-mini'],
    ['gemini-2.5-flash-lite', 'google/gemini-2.5-flash-lite'],
    ['gemini-2.5-flash', 'google/gemini-2.5-flash'],
    ['mistral', 'mistral/mistral-small-latest'],
    ['deepseek', 'deepseek/deepseek-chat'],
    ['gemini', 'google/gemini-2.5-flash'],
  ])('the shipped registry resolves %s to %s', (name, id) => {
    expect(new ModelRegistry(loadAppConfig({ CONFIG_FILE: SHIPPED })).resolve(name).id).toBe(id);
  });

  it('Anthropic and Google keys make their providers available with their protocol; GEMINI_API_KEY works too', () => {
    const registry = new ModelRegistry(loadAppConfig({ CONFIG_FILE: SHIPPED, ANTHROPIC_API_KEY: 'sk-ant-x', GEMINI_API_KEY: 'AIza-x' }));

    expect(registry.endpoint('anthropic')).toEqual({ name: 'anthropic', protocol: 'anthropic', baseUrl: 'https://api.anthropic.com', apiKey: 'sk-ant-x' });
    expect(registry.endpoint('google')).toEqual({
      name: 'google',
      protocol: 'gemini',
      baseUrl: 'https://generativelanguage.googleapis.com',
      apiKey: 'AIza-x',
    });
    expect(registry.defaultModel().id).toBe('anthropic/claude-haiku-5-5');
    expect(new ModelRegistry(loadAppConfig({ CONFIG_FILE: SHIPPED, GOOGLE_API_KEY: 'g', GEMINI_API_KEY: 'x' })).endpoint('google')?.apiKey).toBe('g');
  });

  it('refuses an unknown protocol and a malformed price date, one line each', () => {
    const dir = mkdtempSync(join(tmpdir(), 'providers-config-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'providers:',
        '  acme: { protocol: smoke-signals, base_url: "http://x", api_key_env: ACME_KEY }',
        'models:',
        '  - id: acme/one',
        '    context_window: 1000',
        '    max_output_tokens: 100',
        '    pricing: { input_per_1m: 1, output_per_1m: 2, priced_at: "last tuesday" }',
      ].join('\n'),
    );

    const problems = problemsOf({ CONFIG_FILE: file });

    expect(problems).toHaveLength(2);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/providers\.acme\.protocol: .*got "smoke-signals"/),
        expect.stringMatching(/models\.0\.pricing\.priced_at: .*got "last tuesday"/),
      ]),
    );
  });

  it('is strict: an unknown key anywhere stops loading with one line naming the key and its path', () => {
    const file = writeYaml([
      'tokens_per_day: 5',
      'limits: { max_input_length: 100, max_input_lenght: 200 }',
      'rate_limits:',
      '  tiers:',
      '    free: { requests: 10, sends: 2, daily_budget_usd: 5 }',
      'providers:',
      '  acme: { base_url: "http://x", api_key: "sk-inline" }',
      'models:',
      '  - id: acme/one',
      '    context_window: 1000',
      '    max_output_tokens: 100',
      '    pricing: { input_per_1m: 1, output_per_1m: 2, per_request: 0.1 }',
    ]);

    const problems = problemsOf({ CONFIG_FILE: file });

    expect(problems.sort()).toEqual(
      [
        `${file}: limits.max_input_lenght: unknown key "max_input_lenght"`,
        `${file}: models.0.pricing.per_request: unknown key "per_request"`,
        `${file}: providers.acme.api_key: unknown key "api_key"`,
        `${file}: rate_limits.tiers.free.daily_budget_usd: unknown key "daily_budget_usd"`,
        `${file}: tokens_per_day: unknown key "tokens_per_day"`,
      ].sort(),
    );
  });

  it('reads every budget limit of a tier, null meaning unlimited, and checks allowed_models against the registry', () => {
    const good = loadAppConfig({
      CONFIG_FILE: writeYaml([
        'rate_limits:',
        '  tiers:',
        '    free: { requests: 10, sends: null, tokens_per_minute: 1000, daily_cost_usd: 0.5, monthly_cost_usd: null,',
        '            daily_tokens: 20000, allowed_models: ["offline/*", "gpt-4"], max_output_tokens: 256 }',
        'models:',
        '  - { id: openai/gpt-4, aliases: [gpt-4], context_window: 1000, max_output_tokens: 100, pricing: { input_per_1m: 1, output_per_1m: 2 } }',
      ]),
    });
    expect(good.rateLimits.tiers.free).toMatchObject({
      requests: 10,
      sends: null,
      tokens_per_minute: 1000,
      daily_cost_usd: 0.5,
      monthly_cost_usd: null,
      daily_tokens: 20000,
      allowed_models: ['offline/*', 'gpt-4'],
      max_output_tokens: 256,
    });

    const file = writeYaml(['rate_limits:', '  tiers:', '    free: { daily_cost_usd: -1, allowed_models: ["gpt-9"] }']);
    const problems = problemsOf({ CONFIG_FILE: file });
    expect(problems).toHaveLength(2);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/rate_limits\.tiers\.free\.daily_cost_usd: .*got -1/),
        `${file}: rate_limits.tiers.free.allowed_models: "gpt-9" is not a model id or alias`,
      ]),
    );
  });

  it('an Ollama base URL alone makes the keyless provider available', () => {
    const registry = new ModelRegistry(loadAppConfig({ CONFIG_FILE: SHIPPED, OLLAMA_BASE_URL: 'http://127.0.0.1:11434/v1' }));

    expect(registry.offlineMode).toBe(false);
    expect(registry.resolve('llama3.2').available).toBe(true);
    expect(registry.endpoint('ollama')).toEqual({ name: 'ollama', protocol: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', apiKey: undefined });
  });

  it('reports each bad value on one line naming the setting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'providers-config-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      ['models:', '  - id: gpt-4o', '    context_window: 1000', '    max_output_tokens: 100', '    pricing: { input_per_1m: 1, output_per_1m: 2 }'].join('\n'),
    );

    const problems = problemsOf({ PORT: 'abc', CONFIG_FILE: file });

    expect(problems).toHaveLength(2);
    expect(problems.every((p) => !p.includes('\n'))).toBe(true);
    expect(problems.find((p) => p.startsWith('PORT:'))).toContain('"abc"');
    expect(problems).toContain(`${file}: models.0.id: id must look like provider/model (got "gpt-4o")`);
  });

  it('refuses a DEFAULT_MODEL the registry does not know, and accepts an alias or the offline model', () => {
    expect(problemsOf({ CONFIG_FILE: SHIPPED, DEFAULT_MODEL: 'gpt-9' })).toEqual([
      `DEFAULT_MODEL: "gpt-9" is not a model id or alias in ${SHIPPED}`,
    ]);
    expect(loadAppConfig({ CONFIG_FILE: SHIPPED, DEFAULT_MODEL: 'FAST' }).defaultModel).toBe('FAST');
    const registry = new ModelRegistry(loadAppConfig({ CONFIG_FILE: SHIPPED, DEFAULT_MODEL: 'offline' }));
    expect(registry.defaultModel().id).toBe('offline/echo');
  });

  it('reports a missing CONFIG_FILE', () => {
    const missing = join(tmpdir(), 'no-such-dir', 'config.yaml');

    expect(problemsOf({ CONFIG_FILE: missing })).toEqual([`${missing}: file not found`]);
  });
});
