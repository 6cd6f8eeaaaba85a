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
    // seed 001's tiers, seed 004's names, seed 000's model list
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
