import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenAPIObject, OperationObject, ParameterObject, ResponseObject, SchemaObject } from '@nestjs/swagger';
import { OUTPUT, renderSwaggerMetadata } from '../scripts/swagger-metadata';
import { generateOpenApiDocument } from '../src/openapi';
import { serializeOpenApiDocument } from '../src/openapi-document';

const ROOT = join(__dirname, '..');
const REGENERATE = 'Run `npm run openapi`, read the diff of openapi.json, and commit it.';

const operationsOf = (doc: OpenAPIObject) =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    (['get', 'put', 'post', 'delete', 'patch'] as const)
      .filter((m) => item[m])
      .map((m) => ({ route: `${m.toUpperCase()} ${path}`, op: item[m] as OperationObject })),
  );

/**
 * The committed `openapi.json` is what client SDKs are generated from: it must be exactly what the code produces,
 * and it must follow the conventions that make generated clients correct.
 */
describe('openapi.json', () => {
  let doc: OpenAPIObject;
  beforeAll(async () => {
    doc = await generateOpenApiDocument();
  }, 30_000);

  it('is exactly the document the code produces', () => {
    const committed = readFileSync(join(ROOT, 'openapi.json'), 'utf8');
    const current = serializeOpenApiDocument(doc);
    if (current !== committed) {
      const a = committed.split('\n');
      const b = current.split('\n');
      const line = b.findIndex((l, i) => l !== a[i]);
      throw new Error(
        `openapi.json is out of date with the code (first difference at line ${line + 1}: ` +
          `committed ${JSON.stringify(a[line])}, code ${JSON.stringify(b[line])}). ${REGENERATE}`,
      );
    }
  });

  it('passes Redocly lint with no error and no warning (rules: redocly.yaml)', () => {
    const cli = join(ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');
    const run = (format: string) => {
      try {
        return execFileSync(process.execPath, [cli, 'lint', 'openapi.json', `--format=${format}`], {
          cwd: ROOT,
          env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (err) {
        return (err as { stdout: string }).stdout;
      }
    };
    const { totals } = JSON.parse(run('json')) as { totals: { errors: number; warnings: number } };
    if (totals.errors || totals.warnings) throw new Error(`Redocly lint of openapi.json:\n${run('stylish')}`);
    expect(totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 30_000);

  it('has src/metadata.ts current with the DTOs, entities and controllers (the SWC build reads the plugin from it)', () => {
    expect(readFileSync(OUTPUT, 'utf8')).toBe(renderSwaggerMetadata());
  }, 30_000);

  it('names every operation readably, describes it, and tags it with a declared tag', () => {
    const declared = new Set((doc.tags ?? []).filter((t) => t.description).map((t) => t.name));
    const ids = new Set<string>();
    for (const { route, op } of operationsOf(doc)) {
      expect({ route, operationId: op.operationId }).toEqual({ route, operationId: expect.stringMatching(/^[a-z][A-Za-z]+$/) });
      ids.add(op.operationId!);
      expect({ route, description: !!op.description, summary: !!op.summary }).toEqual({ route, description: true, summary: true });
      for (const tag of op.tags ?? []) expect({ route, tag, declared: declared.has(tag) }).toEqual({ route, tag, declared: true });
    }
    expect(ids.size).toBe(operationsOf(doc).length);
    expect(doc.paths['/v1/chat/stream'].post!.operationId).toBe('sendMessage');
    expect(doc.paths['/v1/chat/sessions'].get!.operationId).toBe('listSessions');
  });

  it('says which routes are public, with security: [] (and bearer everywhere else)', () => {
    const publicRoutes = operationsOf(doc).filter(({ op }) => op.security?.length === 0).map(({ route }) => route);
    expect(publicRoutes.sort()).toEqual(
      ['GET /', 'GET /config', 'GET /health', 'GET /health/ready', 'POST /v1/auth/anonymous', 'POST /v1/auth/login', 'POST /v1/auth/refresh', 'POST /v1/auth/register', 'GET /v1/shared/{token}'].sort(),
    );
    expect(doc.paths['/v1/auth/logout'].post!.security).toEqual([{ bearer: [] }]);
  });

  it('types every error answer, and lists the statuses a route really answers', () => {
    for (const { route, op } of operationsOf(doc)) {
      for (const [status, response] of Object.entries(op.responses as Record<string, ResponseObject>)) {
        if (Number(status) < 400 || route.includes('/health/ready')) continue;
        const schema = Object.values(response.content ?? {})[0]?.schema;
        expect({ route, status, schema }).toEqual({ route, status, schema: { $ref: expect.stringMatching(/ProblemDetails|OpenAiError/) } });
      }
      expect({ route, catchAll: Object.keys(op.responses).filter((s) => /X/.test(s)) }).toEqual({ route, catchAll: [] });
    }
    const login = doc.paths['/v1/auth/login'].post!.responses as Record<string, ResponseObject>;
    expect(Object.keys(login)).toEqual(expect.arrayContaining(['200', '400', '401', '422', '429']));
    expect(login['401'].content!['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/ProblemDetails' });
    const upload = doc.paths['/api/chat/sessions/{session_id}/upload'].post!.responses;
    expect(Object.keys(upload)).toEqual(expect.arrayContaining(['200', '201', '401', '404', '409', '413', '415', '422', '429', '503']));
    const models = doc.paths['/v1/models/{model_id}'].get!.responses as Record<string, ResponseObject>;
    expect(models['404'].content!['application/json'].schema).toEqual({ $ref: '#/components/schemas/OpenAiError' });
  });

  it('documents the headers: X-Request-Id everywhere, RateLimit-Policy, RateLimit and Retry-After, X-Session-Id on sends', () => {
    const send = doc.paths['/v1/chat/stream'].post!.responses as Record<string, ResponseObject>;
    expect(Object.keys(send['200'].headers!)).toEqual(expect.arrayContaining(['X-Session-Id', 'X-Request-Id', 'RateLimit-Policy', 'RateLimit']));
    expect(Object.keys(send['200'].headers!)).not.toContain('RateLimit-Limit');
    expect(Object.keys(send['429'].headers!)).toEqual(expect.arrayContaining(['Retry-After', 'X-Request-Id']));
    for (const { route, op } of operationsOf(doc)) {
      for (const [status, response] of Object.entries(op.responses as Record<string, ResponseObject>)) {
        expect({ route, status, requestId: !!response.headers?.['X-Request-Id'] }).toEqual({ route, status, requestId: true });
      }
    }
  });

  it('makes defaulted fields and parameters optional, ids integers, timestamps date-time', () => {
    const send = doc.components!.schemas!.SendMessageDto as SchemaObject;
    expect(send.required).toEqual(['messages']);
    expect((send.properties!.session_id as SchemaObject).type).toBe('integer');
    for (const { route, op } of operationsOf(doc)) {
      for (const p of (op.parameters ?? []) as ParameterObject[]) {
        const schema = p.schema as SchemaObject;
        // Path ids are integers, except names that are strings by nature (model ids, login-session ids).
        if (p.in === 'path' && schema.type !== 'string') expect({ route, p: p.name, schema }).toEqual({ route, p: p.name, schema: expect.objectContaining({ type: 'integer', format: 'int32' }) });
        // The only query parameter a route cannot do without: the words a search looks for.
        const needed = route === 'GET /v1/chat/search' && p.name === 'q';
        if (p.in === 'query') expect({ route, p: p.name, required: p.required }).toEqual({ route, p: p.name, required: needed });
      }
    }
    expect((doc.paths['/v1/chat/sessions/{session_id}'].get!.parameters as ParameterObject[])[0].schema).toMatchObject({ type: 'integer', format: 'int32' });
    const history = doc.paths['/v1/chat/history'].get!.parameters as ParameterObject[];
    expect(history.find((p) => p.name === 'start_date')!.schema).toMatchObject({ type: 'string', format: 'date-time' });
    expect(history.find((p) => p.name === 'page')!.schema).toMatchObject({ type: 'integer' });
    for (const [name, schema] of Object.entries(doc.components!.schemas! as Record<string, SchemaObject>)) {
      for (const [prop, s] of Object.entries((schema.properties ?? {}) as Record<string, SchemaObject>)) {
        if (prop.endsWith('_at') && s.type) expect({ name, prop, format: s.format }).toEqual({ name, prop, format: expect.stringMatching(/^date(-time)?$/) });
      }
    }
  });

  it('names the enums clients switch on: finish_reason, role, message status', () => {
    const schemas = doc.components!.schemas! as Record<string, SchemaObject>;
    expect(schemas.FinishReason.enum).toEqual(['stop', 'length', 'content_filter', 'tool_calls', 'error', 'cancelled']);
    expect(schemas.MessageRole.enum).toEqual(['system', 'user', 'assistant', 'tool']);
    expect(schemas.MessageStatus.enum).toEqual(expect.arrayContaining(['complete', 'incomplete', 'failed']));
    expect(schemas.ChatCompletionDto.properties!.finish_reason).toMatchObject({ allOf: [{ $ref: '#/components/schemas/FinishReason' }] });
  });

  it('describes the stream of /v1/chat/stream as text/event-stream with a schema per typed event', () => {
    const ok = (doc.paths['/v1/chat/stream'].post!.responses as Record<string, ResponseObject>)['200'];
    const events = ok.content!['text/event-stream'].schema as SchemaObject;
    expect(events.oneOf).toEqual(
      expect.arrayContaining([
        { $ref: '#/components/schemas/StreamStartEventDto' },
        { $ref: '#/components/schemas/StreamDeltaEventDto' },
        { $ref: '#/components/schemas/StreamDoneEventDto' },
        { $ref: '#/components/schemas/ProblemDetails' },
      ]),
    );
    expect(ok.content!['application/json'].schema).toEqual({ $ref: '#/components/schemas/ChatCompletionDto' });
  });

  it('names the default local server and the version of package.json', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(doc.servers).toEqual([expect.objectContaining({ url: 'http://localhost:3000' })]);
    expect(doc.info.version).toBe(pkg.version);
  });
});
