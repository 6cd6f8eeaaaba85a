import {
  applyDecorators,
  CallHandler,
  ExecutionContext,
  HttpStatus,
  Inject,
  Injectable,
  NestInterceptor,
  UseInterceptors,
} from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { defer, from, mergeMap, Observable, of } from 'rxjs';
import { AuthenticatedUser } from '../common/authenticated-user';
import { ProblemException } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { IDEMPOTENCY_KEY_HEADER, IdempotencyClaim, IdempotencyService, requestFingerprint } from './idempotency.service';

/** Response header marking an answer that repeats the outcome of an earlier request with the same key. */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** One structured-field string (RFC 8941 §3.3.3): printable ASCII in quotes, `\"` and `\\` escaped. */
const SF_STRING = /^"((?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\])*)"$/;
/** A bare key: visible ASCII without quotes, backslashes or commas (a comma would join two headers). */
const BARE_KEY = /^[\x21\x23-\x2B\x2D-\x5B\x5D-\x7E]+$/;

const badKey = (message: string) =>
  new ProblemException(HttpStatus.BAD_REQUEST, `${IDEMPOTENCY_KEY_HEADER}: ${message}`, { errors: [{ field: IDEMPOTENCY_KEY_HEADER, message }] });

/**
 * The request's idempotency key: a structured-field string as the IETF draft writes it (`"8e03978e-…"`), or the
 * same characters without quotes, as most clients send them.
 * @returns the key without its quotes; undefined when the header is absent
 * @throws 400 problem naming the header: empty, longer than `maxLength`, not printable ASCII, or sent twice
 */
export function idempotencyKeyOf(req: Request, maxLength: number): string | undefined {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const value = (Array.isArray(raw) ? raw.join(', ') : raw).trim();
  const quoted = SF_STRING.exec(value);
  if (!quoted && !BARE_KEY.test(value)) {
    throw badKey(value ? 'must be one string of printable ASCII characters ("…" or without quotes)' : 'must not be empty');
  }
  const key = quoted ? quoted[1].replace(/\\(["\\])/g, '$1') : value;
  if (!key) throw badKey('must not be empty');
  if (key.length > maxLength) throw badKey(`must be at most ${maxLength} characters`);
  return key;
}

/** The fingerprint of an HTTP request: its method, path and JSON body as the client sent it. */
export function fingerprintOf(req: Request): string {
  return requestFingerprint(req.method, req.path, req.body);
}

/**
 * Makes a JSON route idempotent under `Idempotency-Key`: the first request does the work and its response (status
 * and body) is stored; a repeat gets that response with `Idempotent-Replayed: true`; a failed first request gives
 * the key back. Without the header the route runs as usual.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly reflector: Reflector,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request & { user: AuthenticatedUser }>();
    const res = http.getResponse<Response>();
    const key = idempotencyKeyOf(req, this.config.idempotency.max_key_length);
    if (key === undefined) return next.handle();
    // The status Nest answers a handler's result with: its @HttpCode, else 201 for POST.
    const status =
      this.reflector.get<number | undefined>(HTTP_CODE_METADATA, context.getHandler()) ?? (req.method === 'POST' ? HttpStatus.CREATED : HttpStatus.OK);
    return from(this.idempotency.begin(req.user.id, key, fingerprintOf(req))).pipe(
      mergeMap((begun) => {
        if (!(begun instanceof IdempotencyClaim)) {
          res.setHeader(REPLAYED_HEADER, 'true');
          for (const [name, value] of Object.entries(begun.response?.headers ?? {})) res.setHeader(name, value);
          return of(begun.response?.body);
        }
        return defer(async () => {
          try {
            const body: unknown = await new Promise((resolve, reject) => next.handle().subscribe({ next: resolve, error: reject }));
            await begun.complete({ status, headers: {}, body });
            return body;
          } catch (err) {
            await begun.release().catch(() => undefined);
            throw err;
          }
        });
      }),
    );
  }
}

/**
 * OpenAPI: the `Idempotency-Key` request header and the answers it brings (409, 422).
 * @param conflict the route's own reason for a 409, if it has one
 */
export function IdempotencyKeyDocs(conflict?: string): MethodDecorator {
  return applyDecorators(
    ApiHeader({
      name: IDEMPOTENCY_KEY_HEADER,
      required: false,
      description:
        'A unique key per request (IETF draft-ietf-httpapi-idempotency-key-header), e.g. a UUID, quoted or not. A repeat ' +
        'of the same request with the same key within `idempotency.ttl_seconds` (default 24 h) gets the first ' +
        `one's outcome, marked \`${REPLAYED_HEADER}: true\`, instead of doing the work again. Printable ASCII, at most ` +
        '`idempotency.max_key_length` characters (default 255); otherwise 400.',
      schema: { type: 'string', maxLength: 255 },
    }),
    ApiResponse({
      status: 409,
      description: conflict
        ? `${conflict} Or a request with the same \`${IDEMPOTENCY_KEY_HEADER}\` is still being processed: repeat after \`Retry-After\`.`
        : `A request with the same \`${IDEMPOTENCY_KEY_HEADER}\` is still being processed: repeat after \`Retry-After\`.`,
      headers: { 'Retry-After': { $ref: '#/components/headers/Retry-After' } },
    }),
    ApiResponse({
      status: 422,
      description: `Validation failed (\`errors\` lists each field), or the \`${IDEMPOTENCY_KEY_HEADER}\` was used with a different request.`,
    }),
  );
}

/** A JSON route made idempotent by {@link IdempotencyInterceptor}, with its OpenAPI documentation. */
export const Idempotent = (): MethodDecorator => applyDecorators(UseInterceptors(IdempotencyInterceptor), IdempotencyKeyDocs());
