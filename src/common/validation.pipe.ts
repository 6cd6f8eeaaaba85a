import { HttpStatus, ValidationError, ValidationPipe } from '@nestjs/common';
import { FieldError, ProblemException } from './problem';

function fieldErrors(errors: ValidationError[], prefix = ''): FieldError[] {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...fieldErrors(e.children ?? [], field)];
  });
}

/**
 * The global validation pipe: DTO classes are the rules, unknown fields are rejected (no mass assignment of
 * `role`, `tier`, `user_id`…), and every failure is a 422 problem listing `{ field, message }` pairs.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
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
