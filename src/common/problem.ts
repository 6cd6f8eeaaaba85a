import { HttpException, HttpStatus } from '@nestjs/common';

/** One field-level validation failure, as carried in a 422 problem's `errors`. */
export interface FieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem details object, the body of every error answer (API.md "Errors"). */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/**
 * An HTTP error carrying problem details: a status, a human `detail` sentence and optional extensions
 * (`errors` for 422). Services throw it; the exception filter writes it as `application/problem+json`.
 */
export class ProblemException extends HttpException {
  constructor(
    status: HttpStatus,
    detail: string,
    readonly extensions: Partial<ProblemDetails> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail, status);
  }
}

/** 404 for a resource that is missing **or belongs to someone else** (never reveal which). */
export const notFound = (what: string) => new ProblemException(HttpStatus.NOT_FOUND, `${what} not found.`);

/** 422 with one field error. */
export const invalidField = (field: string, message: string) =>
  new ProblemException(HttpStatus.UNPROCESSABLE_ENTITY, `${field}: ${message}`, { errors: [{ field, message }] });
