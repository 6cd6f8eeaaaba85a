import { ArgumentMetadata, HttpStatus, ValidationError, ValidationPipe } from '@nestjs/common';
import { FieldError, ProblemException } from './problem';

function fieldErrors(errors: ValidationError[], prefix = ''): FieldError[] {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...fieldErrors(e.children ?? [], field)];
  });
}

/**
 * Leaves path parameters as the strings they are, so `ParseIdPipe` sees `5e0` or `0x5` as written (and refuses
 * them) instead of the number `+value` would make of them.
 */
class AppValidationPipe extends ValidationPipe {
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
