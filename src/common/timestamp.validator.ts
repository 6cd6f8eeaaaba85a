import { isISO8601, ValidateBy, ValidationOptions } from 'class-validator';

/**
 * An ISO 8601 timestamp the server can store: a real calendar date (`strict`: no 30 February) in a form JavaScript's
 * `Date` reads. ISO 8601 also allows forms `Date` can't read (basic `20260101`, week `2026-W01`); they would reach
 * PostgreSQL as an invalid date, so they are refused here.
 */
export function IsTimestamp(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isTimestamp',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && isISO8601(value, { strict: true }) && !Number.isNaN(Date.parse(value)),
        defaultMessage: (args) => `${args?.property} must be an ISO 8601 timestamp such as 2026-12-05T06:00:00Z`,
      },
    },
    options,
  );
}
