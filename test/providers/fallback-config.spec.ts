import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigValidationError, loadAppConfig } from '../../src/config/app-config';
import { ModelRegistry } from '../../src/providers/model-registry';

/** Writes a registry of two models, the first one falling back to `fallbacks`. */
function configWith(fallbacks: string[], extra: string[] = []): string {
  const file = join(mkdtempSync(join(tmpdir(), 'fallback-config-')), 'config.yaml');
  writeFileSync(
    file,
    [
      ...extra,
      'models:',
      '  - id: openai/gpt-4o',
      '    aliases: [balanced]',
      '    context_window: 1000',
      '    max_output_tokens: 100',
      '    pricing: { input_per_1m: 2.5, output_per_1m: 10, cached_input_per_1m: 1.25 }',
      `    fallbacks: ${JSON.stringify(fallbacks)}`,
      '  - id: groq/llama-3.3-70b-versatile',
      '    aliases: [llama]',
      '    context_window: 1000',
      '    max_output_tokens: 100',
      '    pricing: { input_per_1m: 1, output_per_1m: 2 }',
    ].join('\n'),
  );
  return file;
}

function problemsOf(file: string): string[] {
  try {
    loadAppConfig({ CONFIG_FILE: file });
  } catch (err) {
    if (err instanceof ConfigValidationError) return err.problems;
    throw err;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('model fallbacks, retries and cached prices in the configuration', () => {
  it('resolves fallback aliases to registry ids, in the order written', () => {
    const registry = new ModelRegistry(loadAppConfig({ CONFIG_FILE: configWith(['LLAMA', 'offline']) }));
    expect(registry.resolve('balanced').fallbacks).toEqual(['groq/llama-3.3-70b-versatile', 'offline/echo']);
    expect(registry.resolve('llama').fallbacks).toEqual([]);
    expect(registry.resolve('balanced').pricing).toEqual({ inputPer1m: 2.5, outputPer1m: 10, cachedInputPer1m: 1.25, pricedAt: null });
    expect(registry.resolve('llama').pricing).toEqual({ inputPer1m: 1, outputPer1m: 2, pricedAt: null });
  });

  it('refuses an unknown fallback and a model falling back to itself, one line each', () => {
    const file = configWith(['groq/nope', 'balanced']);
    expect(problemsOf(file)).toEqual([
      `${file}: models: openai/gpt-4o falls back to "groq/nope", which is not a model id or alias`,
      `${file}: models: openai/gpt-4o lists itself ("balanced") as a fallback`,
    ]);
  });

  it('has retry and timeout defaults, and refuses a retry policy out of range', () => {
    const config = loadAppConfig({ CONFIG_FILE: configWith([]) });
    expect(config.retries).toMatchObject({ max_attempts: 2, base_delay_ms: 500, max_delay_ms: 8000 });
    expect(config.limits).toMatchObject({ provider_first_token_timeout_ms: 60_000, provider_idle_timeout_ms: 60_000, usage_max_range_days: 366 });
    const file = configWith([], ['retries:', '  max_attempts: 0']);
    expect(problemsOf(file)).toEqual([`${file}: retries.max_attempts: max_attempts must not be less than 1 (got 0)`]);
  });
});
