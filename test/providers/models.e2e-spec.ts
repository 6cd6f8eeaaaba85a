import request from 'supertest';
import { startApp, TestApp } from '../support/app';
import { registerUser, TestUser } from '../support/users';

/** `GET /v1/models`: the registry as clients see it, and whether the offline model answers everything. */
describe('GET /v1/models', () => {
  describe('with no provider configured', () => {
    let t: TestApp;
    let user: TestUser;

    beforeAll(async () => {
      t = await startApp();
      user = await registerUser(t.url);
    });
    afterAll(() => t.close());

    it('requires a bearer token, and says so in OpenAI\'s error body', async () => {
      const res = await request(t.url).get('/v1/models');

      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        error: { message: expect.any(String), type: 'authentication_error', param: null, code: 'invalid_api_key' },
      });
    });

    it('answers one model by id (slash percent-encoded) or alias, and 404 in OpenAI\'s error body', async () => {
      const byId = await request(t.url).get('/v1/models/openai%2Fgpt-4').set(user.auth);
      const byAlias = await request(t.url).get('/v1/models/GPT-4').set(user.auth);
      const missing = await request(t.url).get('/v1/models/nope').set(user.auth);

      expect(byId.status).toBe(200);
      expect(byId.body).toMatchObject({ id: 'openai/gpt-4', object: 'model', owned_by: 'openai' });
      expect(byAlias.body).toEqual(byId.body);
      expect(missing.status).toBe(404);
      expect(missing.headers['content-type']).toMatch(/^application\/json/);
      expect(missing.body).toEqual({
        error: { message: 'The model "nope" does not exist.', type: 'not_found_error', param: 'model', code: 'model_not_found' },
      });
    });

    it('lists every model, says offline mode, and names the offline model as the one answering', async () => {
      const res = await request(t.url).get('/v1/models').set(user.auth);

      expect(res.status).toBe(200);
      expect(res.headers['x-offline-mode']).toBe('true');
      expect(res.body.object).toBe('list');
      expect(res.body.data.map((m: { id: string }) => m.id)).toEqual([
        'openai/gpt-4o-mini',
        'openai/gpt-4',
        'openai/gpt-3.5-turbo',
        'groq/llama-3.3-70b-versatile',
        'anthropic/claude-sonnet-5-5',
        'google/gemini-2.5-flash',
        'offline/echo',
      ]);
      expect(res.body.data[1]).toEqual({
        id: 'openai/gpt-4',
        object: 'model',
        created: 0,
        owned_by: 'openai',
        provider: 'openai',
        context_window: 8192,
        max_output_tokens: 8192,
        pricing: { input_per_1m: 30, output_per_1m: 60, cached_input_per_1m: null, priced_at: null },
        aliases: ['gpt-4'],
        supports_tools: true,
        supports_vision: false,
        available: false,
        answered_by: 'offline/echo',
        allowed: true,
      });
      expect(res.body.data.every((m: { answered_by: string }) => m.answered_by === 'offline/echo')).toBe(true);
    });

    it('is documented in the OpenAPI document', async () => {
      const doc = (await request(t.url).get('/docs-json')).body;
      const schema = doc.components.schemas.ModelDto;

      expect(doc.paths['/v1/models'].get.tags).toEqual(['models']);
      expect(doc.paths['/v1/models'].get.responses['200'].headers).toHaveProperty('X-Offline-Mode');
      expect(schema.required).toEqual(
        expect.arrayContaining(['id', 'object', 'created', 'owned_by', 'provider', 'context_window', 'max_output_tokens', 'pricing', 'aliases', 'available', 'answered_by']),
      );
      expect(schema.properties.context_window.type).toBe('integer');
      expect(schema.properties.answered_by).toMatchObject({ type: 'string', nullable: true });
      expect(schema.properties.answered_by.description).toMatch(/really answers/);
      const pricing = doc.components.schemas.ModelPricingDto;
      expect(pricing.required).toEqual(expect.arrayContaining(['input_per_1m', 'output_per_1m', 'cached_input_per_1m', 'priced_at']));
      expect(pricing.properties.priced_at).toMatchObject({ type: 'string', format: 'date', nullable: true });
      expect(pricing.properties.cached_input_per_1m).toMatchObject({ type: 'number', nullable: true });
    });
  });

  describe('with an OpenAI key', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startApp({ OPENAI_API_KEY: 'sk-test-models', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' });
    });
    afterAll(() => t.close());

    it('says models answer for themselves, and models of unconfigured providers nowhere', async () => {
      const user = await registerUser(t.url);

      const res = await request(t.url).get('/v1/models').set(user.auth);

      expect(res.status).toBe(200);
      expect(res.headers['x-offline-mode']).toBe('false');
      const byId = Object.fromEntries(res.body.data.map((m: { id: string }) => [m.id, m]));
      expect(byId['openai/gpt-4o-mini']).toMatchObject({ available: true, answered_by: 'openai/gpt-4o-mini' });
      expect(byId['groq/llama-3.3-70b-versatile']).toMatchObject({ available: false, answered_by: null });
      expect(JSON.stringify(res.body)).not.toContain('sk-test-models');
    });
  });
});
