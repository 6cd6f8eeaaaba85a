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
    expect(Object.keys(config.providers)).toEqual(expect.arrayContaining(['openai', 'groq', 'mistral', 'deepseek', 'openrouter', 'ollama']));
    expect(registry.resolve('gpt-4').id).toBe('openai/gpt-4');
    expect(registry.offlineMode).toBe(true);
  });

  it('an Ollama base URL alone makes the keyless provider available', () => {
    const registry = new ModelRegistry(loadAppConfig({ CONFIG_FILE: SHIPPED, OLLAMA_BASE_URL: 'http://127.0.0.1:11434/v1' }));

    expect(registry.offlineMode).toBe(false);
    expect(registry.resolve('llama3.2').available).toBe(true);
    expect(registry.endpoint('ollama')).toEqual({ name: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1', apiKey: undefined });
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
