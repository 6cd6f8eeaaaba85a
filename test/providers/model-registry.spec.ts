import { HttpStatus } from '@nestjs/common';
import { join } from 'node:path';
import { problemOf } from '../../src/common/problem-details';
import { loadAppConfig } from '../../src/config/app-config';
import { ImagesService } from '../../src/images/images.service';
import { ModelProviderFactory } from '../../src/providers/model-provider.factory';
import { costOf, ModelRegistry, OFFLINE_MODEL_ID, RegisteredModel, UnknownModelError } from '../../src/providers/model-registry';
import { ModelRouter } from '../../src/providers/model-router';
import { ModelsService } from '../../src/providers/models.service';
import { OfflineModelProvider } from '../../src/providers/offline/offline.model-provider';

const CONFIG_FILE = join(__dirname, '../support/config.test.yaml');

function registry(env: Record<string, string> = {}): ModelRegistry {
  return new ModelRegistry(loadAppConfig({ CONFIG_FILE, ...env }));
}

/** `GET /v1/models`' service, wired as the providers module wires it. */
function modelsService(env: Record<string, string> = {}): ModelsService {
  const config = loadAppConfig({ CONFIG_FILE, ...env });
  const models = new ModelRegistry(config);
  const factory = new ModelProviderFactory(models, new OfflineModelProvider(config), config, new ImagesService(config));
  return new ModelsService(models, new ModelRouter(models, factory, config), config);
}

describe('ModelRegistry', () => {
  describe('with no provider key (offline mode)', () => {
    const offline = registry();

    it('runs in offline mode with the offline model as default', () => {
      expect(offline.offlineMode).toBe(true);
      expect(offline.defaultModel().id).toBe(OFFLINE_MODEL_ID);
      expect(offline.endpoint('openai')).toBeUndefined();
    });

    it('lists every configured model as unavailable, the offline model last and available', () => {
      const models = offline.list();

      expect(models.map((m) => m.id)).toEqual([
        'openai/gpt-4o-mini',
        'openai/gpt-4',
        'openai/gpt-3.5-turbo',
        'groq/llama-3.3-70b-versatile',
        'anthropic/claude-sonnet-5-5',
        'google/gemini-2.5-flash',
        OFFLINE_MODEL_ID,
      ]);
      expect(models.filter((m) => m.available).map((m) => m.id)).toEqual([OFFLINE_MODEL_ID]);
    });
  });

  describe('with an OpenAI key', () => {
    const online = registry({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: 'http://127.0.0.1:1234/v1' });

    it('is not in offline mode and defaults to the first available model', () => {
      expect(online.offlineMode).toBe(false);
      expect(online.defaultModel().id).toBe('openai/gpt-4o-mini');
    });

    it('knows the endpoint, the environment base URL winning over the file', () => {
      expect(online.endpoint('openai')).toEqual({
        name: 'openai',
        protocol: 'openai',
        baseUrl: 'http://127.0.0.1:1234/v1',
        apiKey: 'sk-test',
        maxTokensField: 'max_completion_tokens',
      });
      expect(online.endpoint('groq')).toBeUndefined();
      expect(online.resolve('groq/llama-3.3-70b-versatile').available).toBe(false);
    });

    it.each([
      ['openai/gpt-4', 'openai/gpt-4'],
      ['GPT-4', 'openai/gpt-4'],
      ['Fast', 'openai/gpt-4o-mini'],
      ['  gpt-3.5-TURBO ', 'openai/gpt-3.5-turbo'],
      ['OFFLINE', OFFLINE_MODEL_ID],
    ])('resolves %j to %s', (name, id) => {
      expect(online.resolve(name).id).toBe(id);
    });

    it('splits the id into provider and upstream model name', () => {
      expect(online.resolve('llama-3.3-70b')).toMatchObject({ provider: 'groq', upstreamModel: 'llama-3.3-70b-versatile' });
    });

    it('rejects an unknown model with a 400 naming the known models', () => {
      let thrown: unknown;
      try {
        online.resolve('gpt-9');
      } catch (err) {
        thrown = err;
      }

      expect(thrown).toBeInstanceOf(UnknownModelError);
      const problem = problemOf(thrown);
      expect(problem.status).toBe(HttpStatus.BAD_REQUEST);
      expect(problem.errors).toEqual([{ field: 'model', message: 'unknown model' }]);
      expect(problem.detail).toContain('"gpt-9"');
      for (const id of ['openai/gpt-4o-mini', 'openai/gpt-4', 'groq/llama-3.3-70b-versatile', OFFLINE_MODEL_ID]) {
        expect(problem.detail).toContain(id);
      }
      expect(online.find('gpt-9')).toBeUndefined();
    });
  });

  it('uses DEFAULT_MODEL, resolved like any alias', () => {
    expect(registry({ OPENAI_API_KEY: 'sk-test', DEFAULT_MODEL: 'GPT-4' }).defaultModel().id).toBe('openai/gpt-4');
  });

  it('refuses to start with a DEFAULT_MODEL that is not in the registry', () => {
    expect(() => registry({ DEFAULT_MODEL: 'nope/model' })).toThrow('DEFAULT_MODEL: "nope/model" is not a model id or alias');
  });
});

describe('ModelsService (GET /v1/models)', () => {
  it('in offline mode, says the offline model answers for every model', () => {
    const models = modelsService();

    expect(models.offlineMode).toBe(true);
    expect(new Set(models.list({ tier: 'free', applicationId: null }).data.map((m) => m.answered_by))).toEqual(new Set([OFFLINE_MODEL_ID]));
  });

  it('maps registry models to the wire format; models of unconfigured providers answer nowhere', () => {
    const models = modelsService({ OPENAI_API_KEY: 'sk-test' });
    const list = models.list({ tier: 'free', applicationId: null }).data;

    expect(models.offlineMode).toBe(false);
    expect(list[0]).toEqual({
      id: 'openai/gpt-4o-mini',
      object: 'model',
      created: 0,
      owned_by: 'openai',
      provider: 'openai',
      context_window: 128000,
      max_output_tokens: 16384,
      pricing: { input_per_1m: 0.15, output_per_1m: 0.6, cached_input_per_1m: null, priced_at: null },
      aliases: ['gpt-4o-mini', 'fast'],
      supports_tools: true,
      supports_vision: true,
      available: true,
      answered_by: 'openai/gpt-4o-mini',
      allowed: true,
    });
    expect(list.find((m) => m.id === 'groq/llama-3.3-70b-versatile')).toMatchObject({ available: false, answered_by: null });
    expect(list.at(-1)).toMatchObject({ id: OFFLINE_MODEL_ID, available: true, answered_by: OFFLINE_MODEL_ID });
  });
});

describe('costOf', () => {
  const online = registry({ OPENAI_API_KEY: 'sk-test' });

  it('prices input and output tokens per 1M', () => {
    // 1000 × $0.15/1M + 500 × $0.60/1M
    expect(costOf(online.resolve('gpt-4o-mini'), { inputTokens: 1000, outputTokens: 500 })).toBeCloseTo(0.00045, 12);
    // 1234 × $30/1M + 567 × $60/1M
    expect(costOf(online.resolve('gpt-4'), { inputTokens: 1234, outputTokens: 567 })).toBeCloseTo(0.07104, 12);
    expect(costOf(online.offline, { inputTokens: 5000, outputTokens: 5000 })).toBe(0);
  });

  it('rounds to 8 decimals', () => {
    const model: RegisteredModel = { ...online.resolve('gpt-4'), pricing: { inputPer1m: 0.333, outputPer1m: 0, pricedAt: null } };

    expect(costOf(model, { inputTokens: 1, outputTokens: 0 })).toBe(0.00000033);
    expect(costOf(model, { inputTokens: 3, outputTokens: 0 })).toBe(0.000001);
  });
});
