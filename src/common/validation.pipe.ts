import { ArgumentMetadata, HttpStatus, ValidationError, ValidationPipe } from '@nestjs/common';
import { FieldError, invalidField, ProblemException } from './problem';

function fieldErrors(errors: ValidationError[], prefix = ''): FieldError[] {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...fieldErrors(e.children ?? [], field)];
  });
}

/** @returns the path of the first string (value or key) holding U+0000 in `value`, or undefined. */
function nulPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, child] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (key.includes('\u0000')) return at;
    const found = nulPath(child, at);
    if (found) return found;
  }
  return undefined;
}

/**
 * Refuses U+0000 anywhere in a body or query (PostgreSQL text cannot store it, so it would fail deep in a
 * query), and leaves path parameters as the strings they are, so `ParseIdPipe` sees `5e0` or `0x5` as written
 * (and refuses them) instead of the number `+value` would make of them.
 */
class AppValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' || metadata.type === 'query') {
      const field = nulPath(value, '');
      if (field !== undefined) throw invalidField(field || metadata.type, 'must not contain the NUL character (U+0000)');
    }
    return super.transform(value, metadata);
  }

  protected override transformPrimitive(value: unknown, metadata: ArgumentMetadata): unknown {
    return metadata.type === 'param' ? value : super.transformPrimitive(value, metadata);
  }
}

/**
 * The global validation pipe: DTO classes are the rules, unknown fields are rejected (no mass assignment of
 * `role`, `tier`, `user_id`…), and every failure is a 422 problem listing `{ field, message }` pairs.
 */
export function createValidationPipe(): ValidationPipe {
  return new AppValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    exceptionFactory: (errors) => {
      const list = fieldErrors(errors);
      const detail = `The request is invalid: ${list.map((e) => e.message).join('; ')}.`;
      return new ProblemException(HttpStatus.UNPROCESSABLE_ENTITY, detail, { errors: list });
    },
  });
}
