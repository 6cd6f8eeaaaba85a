import { ArgumentMetadata, HttpStatus, ValidationError, ValidationPipe } from '@nestjs/common';
import { getMetadataStorage, IS_OPTIONAL, ValidationTypes, ValidatorOptions } from 'class-validator';
import { FieldError, invalidField, ProblemException } from './problem';

/** Field errors listed in one 422 answer; a huge invalid array would otherwise make a huge answer. */
const MAX_LISTED_ERRORS = 20;

function fieldErrors(errors: ValidationError[], prefix = ''): FieldError[] {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...fieldErrors(e.children ?? [], field)];
  });
}

const NUL = 'must not contain the NUL character (U+0000)';
const LONE_SURROGATE = 'must be well-formed Unicode (no lone surrogate such as \\ud800)';

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with a text, if anything: U+0000 (PostgreSQL cannot store it) or a lone UTF-16 surrogate. */
function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return NUL;
  return LONE_SURROGATE_RE.test(text) ? LONE_SURROGATE : undefined;
}

/** @returns the path of the first string (value or key) in `value` that cannot be stored as text, and why. */
function badTextPath(value: unknown, path: string): { field: string; message: string } | undefined {
  if (typeof value === 'string') {
    const message = textProblem(value);
    return message ? { field: path, message } : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, child] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    const keyMessage = textProblem(key);
    if (keyMessage) return { field: at, message: keyMessage };
    const found = badTextPath(child, at);
    if (found) return found;
  }
  return undefined;
}

/** A DTO class's `@IsOptional()` properties and the values a fresh instance gives them (its defaults). */
interface OptionalFields {
  names: Set<string>;
  defaults: Record<string, unknown>;
}

/** A DTO class: class-transformer constructs it with no arguments. */
type DtoClass = new () => object;

const optionalFieldsOf = new Map<DtoClass, OptionalFields>();

function optionalFields(dtoClass: DtoClass): OptionalFields {
  let fields = optionalFieldsOf.get(dtoClass);
  if (!fields) {
    const rules = getMetadataStorage().getTargetValidationMetadatas(dtoClass, '', true, false);
    const names = new Set(
      rules.filter((r) => r.type === ValidationTypes.CONDITIONAL_VALIDATION && r.name === IS_OPTIONAL).map((r) => r.propertyName),
    );
    const defaults = names.size ? (new dtoClass() as Record<string, unknown>) : {};
    fields = { names, defaults };
    optionalFieldsOf.set(dtoClass, fields);
  }
  return fields;
}

/**
 * The null policy: `null` on an `@IsOptional()` field means the field is absent, so its default applies and no
 * service ever reads a null it did not ask for. Fields where null clears a value say so with `@NullClears()`
 * instead; fields that refuse null validate it (`ValidateIf(v => v !== undefined)`). Walks nested DTOs (arrays of
 * them too), never plain JSON values such as `metadata`.
 */
function dropOptionalNulls(dto: object): void {
  const { names, defaults } = optionalFields(dto.constructor as DtoClass);
  const target = dto as Record<string, unknown>;
  for (const key of Object.keys(target)) {
    const value = target[key];
    if (value === null && names.has(key)) {
      if (defaults[key] === undefined) delete target[key];
      else target[key] = defaults[key];
    } else if (Array.isArray(value)) {
      for (const item of value) if (isDto(item)) dropOptionalNulls(item);
    } else if (isDto(value)) {
      dropOptionalNulls(value);
    }
  }
}

/** Whether a class has validation rules, by class (the metadata lookup walks every rule stored). */
const hasRules = new Map<unknown, boolean>();

/** An instance of a class with validation rules (a nested DTO built by class-transformer). */
function isDto(value: unknown): value is object {
  if (typeof value !== 'object' || value === null || value.constructor === Object) return false;
  let known = hasRules.get(value.constructor);
  if (known === undefined) {
    known = getMetadataStorage().getTargetValidationMetadatas(value.constructor, '', true, false).length > 0;
    hasRules.set(value.constructor, known);
  }
  return known;
}

/**
 * Refuses U+0000 and lone surrogates anywhere in a body or query (PostgreSQL text cannot store the one, and
 * validators such as isEmail throw on the other, so either would fail deep in a
 * query), and leaves path parameters as the strings they are, so `ParseIdPipe` sees `5e0` or `0x5` as written
 * (and refuses them) instead of the number `+value` would make of them.
 */
class AppValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' || metadata.type === 'query') {
      const bad = badTextPath(value, '');
      if (bad) throw invalidField(bad.field || metadata.type, bad.message);
    }
    return super.transform(value, metadata);
  }

  protected override validate(dto: object, options?: ValidatorOptions) {
    dropOptionalNulls(dto);
    return super.validate(dto, options);
  }

  protected override transformPrimitive(value: unknown, metadata: ArgumentMetadata): unknown {
    return metadata.type === 'param' ? value : super.transformPrimitive(value, metadata);
  }
}

/**
 * The global validation pipe: DTO classes are the rules, unknown fields are rejected (no mass assignment of
 * `role`, `tier`, `user_id`…), `null` on an optional field means absent, and every failure is a 422 problem
 * listing `{ field, message }` pairs (the first 20 of them).
 */
export function createValidationPipe(): ValidationPipe {
  return new AppValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    exceptionFactory: (errors) => {
      const all = fieldErrors(errors);
      const list = all.slice(0, MAX_LISTED_ERRORS);
      const more = all.length > list.length ? ` (and ${all.length - list.length} more)` : '';
      const detail = `The request is invalid: ${list.map((e) => e.message).join('; ')}${more}.`;
      return new ProblemException(HttpStatus.UNPROCESSABLE_ENTITY, detail, { errors: list });
    },
  });
}
