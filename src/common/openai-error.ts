import { ProblemDetails } from './problem';

/**
 * Paths that speak OpenAI's wire format, errors included: the OpenAI SDKs read `{ error: { message, … } }` and
 * raise their typed errors from the status (401 → AuthenticationError, 429 → RateLimitError, …); a problem+json
 * body would reach them as "(no body)".
 */
const OPENAI_PATHS = /^\/v1\/(models(\/|$)|chat\/completions\/?$)/;

/** True when a request path belongs to the OpenAI-compatible surface (`/v1/models*`, `/v1/chat/completions`). */
export function isOpenAiPath(path: string): boolean {
  return OPENAI_PATHS.test(path);
}

/** OpenAI's error body (API reference, "Error codes"). */
export interface OpenAiErrorBody {
  error: {
    /** A human sentence: the problem's `detail`. */
    message: string;
    /** `invalid_request_error`, `authentication_error`, `permission_error`, `not_found_error`, `rate_limit_error`, `server_error`. */
    type: string;
    /** The request field at fault, when one is. */
    param: string | null;
    /** A machine-readable code (`model_not_found`, `invalid_api_key`, `rate_limit_exceeded`, …), when known. */
    code: string | null;
  };
}

const TYPE_BY_STATUS: Record<number, string> = {
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
};

const CODE_BY_STATUS: Record<number, string> = {
  401: 'invalid_api_key',
  429: 'rate_limit_exceeded',
};

/**
 * The HTTP status of a problem on an OpenAI-compatible route: OpenAI answers every invalid request with 400 (API
 * reference, "Error codes"), so our 422 (validation) is a 400 there, raised by the SDKs as BadRequestError.
 */
export function openAiStatus(status: number): number {
  return status === 422 ? 400 : status;
}

/**
 * The same error in OpenAI's shape. `param` is the problem's `param` extension, else its first field error;
 * `code` its `code` extension, else one by status.
 */
export function toOpenAiError(problem: ProblemDetails): OpenAiErrorBody {
  const param = typeof problem.param === 'string' ? problem.param : (problem.errors?.[0]?.field ?? null);
  const code = typeof problem.code === 'string' ? problem.code : (CODE_BY_STATUS[problem.status] ?? null);
  const status = openAiStatus(problem.status);
  const type = TYPE_BY_STATUS[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
  return { error: { message: problem.detail, type, param, code } };
}
