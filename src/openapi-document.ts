import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { packageVersion } from './common/package-version';
import { applyOpenApiConventions, listRouteFacts } from './openapi-conventions';

/** Where the API documentation is served; all public, like the document itself. */
export const DOCS_PATHS = { ui: 'docs', json: '/docs-json', yaml: 'docs-yaml', redoc: '/redoc' } as const;

/** Redoc's standalone bundle (Redoc CE 2.x), loaded by the `/redoc` page in the reader's browser. */
export const REDOC_SCRIPT = 'https://cdn.redoc.ly/redoc/v2.5.0/bundles/redoc.standalone.js';

/** Returns a copy of a JSON value with every object's keys sorted, so the document diffs cleanly. */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    ) as T;
  }
  return value;
}

/**
 * The OpenAPI 3 document the SDKs are generated from, with the conventions of `openapi-conventions.ts` applied
 * and every object's keys sorted.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const options = new DocumentBuilder()
    .setTitle('Chat backend API')
    .setDescription(
      'Authenticated chat sessions that stream model replies (SSE) and keep them in PostgreSQL, and an ' +
        'OpenAI-compatible surface (`/v1/chat/completions`, `/v1/models`) for the OpenAI SDKs. Errors are ' +
        "`application/problem+json` (RFC 9457), except on the OpenAI-compatible routes, which answer OpenAI's " +
        'error body. Authenticate with `Authorization: Bearer <access JWT or API key>`.',
    )
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An access JWT from /v1/auth/*, or an application API key.' })
    .addSecurityRequirements('bearer')
    .build();
  const document = SwaggerModule.createDocument(app, options, {
    // Routes name their operation with `@OperationId()`; this is the fallback: `listChats`.
    operationIdFactory: (controllerKey, methodKey) => `${methodKey}${controllerKey.replace(/Controller$/, '')}`,
  });
  return sortKeys(applyOpenApiConventions(document, listRouteFacts(app), packageVersion()));
}

/** The document as committed in `openapi.json` and served at `/docs-json`, byte for byte. */
export function serializeOpenApiDocument(document: OpenAPIObject): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * Serves the documentation, all public: `/docs-json` (exactly the bytes `npm run openapi` commits), `/docs-yaml`,
 * Swagger UI at `/docs` and Redoc at `/redoc`.
 */
export function serveApiDocs(app: INestApplication): void {
  const document = buildOpenApiDocument(app);
  const json = serializeOpenApiDocument(document);
  const http = app.getHttpAdapter();
  http.get(DOCS_PATHS.json, (_req: Request, res: Response) => {
    res.type('application/json').send(json);
  });
  http.get(DOCS_PATHS.redoc, (_req: Request, res: Response) => {
    res.type('text/html').send(redocPage(document.info.title));
  });
  SwaggerModule.setup(DOCS_PATHS.ui, app, document, { raw: ['yaml'], yamlDocumentUrl: DOCS_PATHS.yaml });
}

function redocPage(title: string): string {
  return `<!DOCTYPE html>
<html>
  <head>
    <title>${title}</title>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <redoc spec-url="${DOCS_PATHS.json}"></redoc>
    <script src="${REDOC_SCRIPT}"></script>
  </body>
</html>
`;
}
