import { ValidateBy, ValidationOptions } from 'class-validator';

/** Rejects a value whose JSON serialisation is longer than `maxBytes` bytes (UTF-8). */
export function MaxJsonSize(maxBytes: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'maxJsonSize',
      validator: {
        validate: (value: unknown) => Buffer.byteLength(JSON.stringify(value ?? null), 'utf8') <= maxBytes,
        defaultMessage: (args) => `${args?.property} must serialise to at most ${maxBytes} bytes of JSON`,
      },
    },
    options,
  );
}
