import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { OpenAPIObject } from '@nestjs/swagger';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppModule } from './app.module';
import { buildOpenApiDocument, loadOpenApiMetadata } from './bootstrap';

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
 * Builds the OpenAPI 3 document without connecting to anything (Nest's preview mode instantiates no provider).
 * @returns the document with sorted keys, as committed in `openapi.json`
 */
export async function generateOpenApiDocument(): Promise<OpenAPIObject> {
  await loadOpenApiMetadata();
  const app = await NestFactory.create(AppModule, { preview: true, logger: false, abortOnError: false });
  try {
    return sortKeys(buildOpenApiDocument(app));
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  generateOpenApiDocument()
    .then((doc) => {
      const path = resolve(process.cwd(), 'openapi.json');
      writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
      console.log(`Wrote ${path} (${Object.keys(doc.paths).length} paths)`);
    })
    .catch((err: Error) => {
      console.error(err.message);
      process.exit(1);
    });
}
