import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { OpenAPIObject } from '@nestjs/swagger';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppModule } from './app.module';
import { loadOpenApiMetadata } from './bootstrap';
import { buildOpenApiDocument, serializeOpenApiDocument } from './openapi-document';

/** Where `npm run openapi` writes the document, relative to the working directory (the repository root). */
export const OPENAPI_FILE = 'openapi.json';

/**
 * Builds the OpenAPI 3 document without connecting to anything (Nest's preview mode instantiates no provider).
 * @returns the document with sorted keys, as committed in `openapi.json`
 */
export async function generateOpenApiDocument(): Promise<OpenAPIObject> {
  await loadOpenApiMetadata();
  const app = await NestFactory.create(AppModule, { preview: true, logger: false, abortOnError: false });
  try {
    return buildOpenApiDocument(app);
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  generateOpenApiDocument()
    .then((doc) => {
      const path = resolve(process.cwd(), OPENAPI_FILE);
      writeFileSync(path, serializeOpenApiDocument(doc));
      console.log(`Wrote ${path} (${Object.keys(doc.paths).length} paths)`);
    })
    .catch((err: Error) => {
      console.error(err.message);
      process.exit(1);
    });
}
