import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OUTPUT, renderSwaggerMetadata } from '../scripts/swagger-metadata';
import { generateOpenApiDocument } from '../src/openapi';

/**
 * The committed `openapi.json` is what client SDKs are generated from: it must match the code. When this fails,
 * run `npm run openapi`, read the diff, and commit it.
 */
describe('openapi.json', () => {
  it('matches the document the code produces', async () => {
    const committed = JSON.parse(readFileSync(join(__dirname, '..', 'openapi.json'), 'utf8'));
    const current = await generateOpenApiDocument();
    expect(JSON.parse(JSON.stringify(current))).toEqual(committed);
  }, 30_000);

  it('has src/metadata.ts current with the DTOs, entities and controllers (the SWC build reads the plugin from it)', () => {
    expect(readFileSync(OUTPUT, 'utf8')).toBe(renderSwaggerMetadata());
  }, 30_000);

  it('documents seed 004\'s routes with typed bodies and problem-details errors', async () => {
    const doc = await generateOpenApiDocument();
    const stream = doc.paths['/v1/chat/stream'].post!;
    expect(stream.operationId).toBe('Messages_send');
    expect(stream.responses['4XX']).toBeDefined();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/chat/history', '/v1/chat/switch-model', '/v1/chat/sessions/{session_id}']),
    );
    const send = doc.components!.schemas!.SendMessageDto as { properties: Record<string, { type?: string }> };
    expect(send.properties.session_id.type).toBe('integer');
  }, 30_000);
});
