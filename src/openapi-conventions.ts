import { INestApplication, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import type {
  ContentObject,
  HeaderObject,
  OpenAPIObject,
  OperationObject,
  ParameterObject,
  ReferenceObject,
  ResponseObject,
  SchemaObject,
} from '@nestjs/swagger';
import { THROTTLER_SKIP } from '@nestjs/throttler/dist/throttler.constants';
import { isOpenAiPath } from './common/openai-error';
import { OPERATION_ID_KEY } from './common/operation-id.decorator';
import { MAX_ID } from './common/parse-id.pipe';
import { IS_PUBLIC_KEY } from './common/public.decorator';
import { RATE_LIMIT_CLASS_KEY, RateLimitClass } from './rate-limit/rate-limit.decorators';

/**
 * What the OpenAPI document must say about every route, applied in one place so a new route gets it without
 * thinking: which routes are public (`security: []`), the error answers each route really gives (with their
 * body schema), the headers every answer carries, integer ids, optional defaulted fields, timestamps as
 * `date-time`, declared tags, servers. Controllers and DTOs only say what cannot be derived (a route's own
 * 409, a response header of its own, an enum's name).
 */

/** What the router knows about a route and the document can't: read from the decorators by reflection. */
export interface RouteFacts {
  /** `@Public()`: no token needed. */
  isPublic: boolean;
  /** Counted by the rate limiter (every route but those marked `@SkipThrottle()`). */
  throttled: boolean;
  /** `send`: the route makes a model answer (provider errors, the stricter limit); `auth`: per-IP auth limit. */
  rateLimitClass?: RateLimitClass;
  /** `@OperationId()`: the operation's name in generated clients. */
  operationId?: string;
}

/** Description of each tag, in the order Redoc and Swagger UI list them. A new tag needs a line here. */
export const TAG_DESCRIPTIONS: Record<string, string> = {
  auth: 'Accounts and tokens: register, log in, anonymous users, refresh-token rotation, logout.',
  users: "A user's profile, usage and statistics; the admin's view of every user.",
  applications: 'Applications and their API keys, for products that call the API without a password.',
  'chat sessions': 'Chat sessions: create, list, archive, history, model switch, and what the model is sent next.',
  'chat messages': 'Sending a turn and streaming the answer (SSE or JSON); a session\'s stored messages.',
  sharing: 'Getting conversations out and back in: exports (JSON, Markdown), imports, and read-only share links.',
  openai: "OpenAI-compatible surface: OpenAI's request, answer and error shapes, for the OpenAI SDKs.",
  models: 'The model registry: ids, aliases, limits, prices, and which model really answers.',
  files: 'PDF files attached to a session; their text becomes context for its next messages.',
  prompts: 'Prompt templates with `{placeholders}`: versions, search, previews.',
  service: 'Health, readiness, public configuration and the service index.',
  admin: 'Maintenance for admins.',
};

/** The server the document points generated clients at by default (`npm start`). */
export const DEFAULT_SERVER = { url: 'http://localhost:3000', description: 'Local development server (`npm start`).' };

const PROBLEM_SCHEMA: SchemaObject = {
  type: 'object',
  description: 'RFC 9457 problem details: the body of every error answer (except on the OpenAI-compatible routes).',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string', description: 'A URI naming the kind of problem.' },
    title: { type: 'string', description: 'The HTTP status text.' },
    status: { type: 'integer', format: 'int32', description: 'The HTTP status code.' },
    detail: { type: 'string', description: 'A human sentence saying what went wrong.' },
    instance: { type: 'string', description: 'The request path.' },
    errors: {
      type: 'array',
      description: 'Validation failures (422): each field and what is wrong with it.',
      items: { $ref: '#/components/schemas/FieldError' },
    },
  },
};

const FIELD_ERROR_SCHEMA: SchemaObject = {
  type: 'object',
  description: 'One field of a request that failed validation.',
  required: ['field', 'message'],
  properties: {
    field: { type: 'string', description: 'Dotted path of the field, e.g. `messages.0.content`.' },
    message: { type: 'string', description: 'What is wrong with it.' },
  },
};

const OPENAI_ERROR_SCHEMA: SchemaObject = {
  type: 'object',
  description: "OpenAI's error body, answered by the OpenAI-compatible routes so the OpenAI SDKs raise their typed errors.",
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type', 'param', 'code'],
      properties: {
        message: { type: 'string', description: 'A human sentence saying what went wrong.' },
        type: {
          type: 'string',
          description:
            '`invalid_request_error`, `authentication_error`, `permission_error`, `not_found_error`, `rate_limit_error` or `server_error`.',
        },
        param: { type: 'string', nullable: true, description: 'The request field at fault, when one is.' },
        code: { type: 'string', nullable: true, description: 'A machine-readable code (`model_not_found`, `rate_limit_exceeded`…).' },
      },
    },
  },
};

const integerHeader = (description: string): HeaderObject => ({ description, schema: { type: 'integer', format: 'int32' } });

/** Response headers, declared once in `components.headers`. */
const HEADERS: Record<string, HeaderObject> = {
  'X-Request-Id': {
    description: "This request's id (the client's `X-Request-Id` when it sent one), also in the server's logs.",
    schema: { type: 'string' },
  },
  'X-Session-Id': integerHeader('Id of the chat session this answer belongs to (a new one, or the one given).'),
  'RateLimit-Policy': {
    description:
      'The quota policies this request counted against (draft-ietf-httpapi-ratelimit-headers), a Structured Field list: ' +
      '`"requests"` per window for every route, `"sends"` for sends, `"auth"` for login and registration, and on sends ' +
      "the caller's budgets (`tokens_per_minute`, `daily_tokens` in tokens; `daily_cost_usd`, `monthly_cost_usd` in " +
      'millionths of a dollar). `q` is the quota, `qu` its unit (absent: requests), `w` the window in seconds; the ' +
      'tightest policy comes first. Example: `"sends";q=10;w=60, "requests";q=120;w=60, "daily_cost_usd";q=500000;qu="usd-micros";w=86400`.',
    schema: { type: 'string' },
  },
  RateLimit: {
    description:
      'The state of each of those policies, the tightest (the smallest share left) first: its name, `r` what is left ' +
      'of its quota and `t` the seconds until its window resets. Example: `"sends";r=3;t=42, "requests";r=100;t=42`.',
    schema: { type: 'string' },
  },
  'Retry-After': integerHeader('Seconds to wait before trying again (RFC 9110 §10.2.3).'),
  'Idempotent-Replayed': {
    description: '`true` when this answer repeats the outcome of an earlier request with the same `Idempotency-Key`.',
    schema: { type: 'string', enum: ['true'] },
  },
};

const headerRef = (name: string): ReferenceObject => ({ $ref: `#/components/headers/${name}` });
const RATE_LIMIT_HEADERS = ['RateLimit-Policy', 'RateLimit'];

/** The error answers a route gives because of what it is; a route's own (409, 415…) are declared on it. */
const IMPLIED_ERRORS: Record<number, string> = {
  400: 'Malformed request: the body is not valid JSON, a path id is not a positive integer, or a name (e.g. a model) is unknown.',
  401: 'Missing, invalid or expired bearer token.',
  404: "Not found, or not yours (another user's resource looks exactly like a missing one).",
  413: 'The request body is larger than this server accepts.',
  422: 'Validation failed: `errors` lists each field and what is wrong with it.',
  429: 'Rate limited: try again after `Retry-After` seconds.',
  500: 'Unexpected error. It has been logged; the answer says no more.',
  502: 'The model provider failed, or refused the request or our credentials.',
  503: 'A dependency is not answering (database, rate-limit store), or no provider is configured for the model.',
  504: 'The model provider timed out.',
};

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/**
 * Lists every controller route with the facts the document needs, by reflection over the app's modules (works in
 * Nest's preview mode, where no provider is instantiated).
 * @returns facts keyed by `METHOD /openapi/{path}`
 */
export function listRouteFacts(app: INestApplication): Map<string, RouteFacts> {
  const reflector = new Reflector();
  const scanner = new MetadataScanner();
  const facts = new Map<string, RouteFacts>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: unknown[]) => unknown) | undefined;
      if (!controller) continue;
      const bases = ([] as string[]).concat((Reflect.getMetadata(PATH_METADATA, controller) as string | string[] | undefined) ?? '');
      const proto = controller.prototype as Record<string, (...args: unknown[]) => unknown>;
      for (const name of scanner.getAllMethodNames(proto)) {
        const handler = proto[name];
        const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        if (paths === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        const targets = [handler, controller];
        const route: RouteFacts = {
          isPublic: !!reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets),
          throttled: !reflector.getAllAndOverride<boolean>(`${THROTTLER_SKIP}default`, targets),
          rateLimitClass: reflector.getAllAndOverride<RateLimitClass | undefined>(RATE_LIMIT_CLASS_KEY, targets),
          operationId: reflector.get<string | undefined>(OPERATION_ID_KEY, handler),
        };
        for (const base of bases) for (const path of ([] as string[]).concat(paths)) facts.set(`${method} ${openApiPath(base, path)}`, route);
      }
    }
  }
  return facts;
}

/** `v1/chat` + `sessions/:session_id` → `/v1/chat/sessions/{session_id}` */
function openApiPath(...parts: string[]): string {
  const joined = parts.flatMap((p) => p.split('/')).filter(Boolean).join('/');
  return `/${joined}`.replace(/:(\w+)/g, '{$1}');
}

/**
 * Applies the conventions above to a document made by `SwaggerModule.createDocument` (in place).
 * @param routes the facts of `listRouteFacts`; a route missing there is treated as authenticated and throttled
 * @param version the API's version (package.json's)
 */
export function applyOpenApiConventions(doc: OpenAPIObject, routes: Map<string, RouteFacts>, version: string): OpenAPIObject {
  doc.info.version = version;
  doc.info.license = { name: 'MIT', url: 'https://opensource.org/licenses/MIT' };
  if (doc.info.contact && !Object.keys(doc.info.contact).length) delete doc.info.contact;
  doc.servers = [DEFAULT_SERVER];
  const components = (doc.components ??= {});
  components.schemas = {
    ...components.schemas,
    ProblemDetails: PROBLEM_SCHEMA,
    FieldError: FIELD_ERROR_SCHEMA,
    OpenAiError: OPENAI_ERROR_SCHEMA,
  };
  components.headers = HEADERS;

  const usedTags = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const facts = routes.get(`${method.toUpperCase()} ${path}`) ?? { isPublic: false, throttled: true };
      applyToOperation(op, path, facts);
      for (const tag of op.tags ?? []) usedTags.add(tag);
    }
  }
  const order = Object.keys(TAG_DESCRIPTIONS);
  doc.tags = [...usedTags]
    .sort((a, b) => (order.indexOf(a) >>> 0) - (order.indexOf(b) >>> 0) || a.localeCompare(b))
    .map((name) => ({ name, ...(TAG_DESCRIPTIONS[name] && { description: TAG_DESCRIPTIONS[name] }) }));

  const schemas = components.schemas as Record<string, SchemaObject>;
  for (const schema of Object.values(schemas)) applyToSchema(schema, schemas);
  return doc;
}

function applyToOperation(op: OperationObject, path: string, facts: RouteFacts): void {
  if (facts.operationId) op.operationId = facts.operationId;
  op.security = facts.isPublic ? [] : [{ bearer: [] }];

  // The doc comment becomes the description; its first sentence the summary.
  const text = op.description ?? op.summary;
  if (text) {
    op.description = text;
    op.summary = firstSentence(text);
  }

  const params = (op.parameters ?? []) as ParameterObject[];
  for (const p of params) {
    const schema = p.schema as SchemaObject | undefined;
    if (p.in === 'path' && schema?.type === 'number') {
      // Path ids go through ParseIdPipe: positive PostgreSQL `integer`s.
      p.schema = { type: 'integer', format: 'int32', minimum: 1, maximum: MAX_ID };
    }
    if (p.in === 'query' && schema && schema.default !== undefined) p.required = false;
    // Pages, page sizes and ids are validated as integers; the plugin only sees TypeScript's `number`.
    if (p.in === 'query' && schema?.type === 'number' && /^(page|page_size)$|_id$/.test(p.name)) schema.type = 'integer';
  }
  const hasIdParam = params.some((p) => p.in === 'path' && (p.schema as SchemaObject | undefined)?.type === 'integer');
  const hasPathParam = params.some((p) => p.in === 'path');
  const hasQuery = params.some((p) => p.in === 'query');
  const body = op.requestBody && 'content' in op.requestBody ? op.requestBody.content : undefined;
  const hasJsonBody = !!body?.['application/json'];
  const hasBody = !!body;

  const implied = new Set<number>([500]);
  if (!facts.isPublic) implied.add(401);
  if (hasJsonBody || hasIdParam) implied.add(400);
  if (hasPathParam) implied.add(404);
  if (hasBody) implied.add(413);
  // OpenAI answers invalid requests with 400, and so do its routes here.
  if ((hasJsonBody || hasQuery) && !isOpenAiPath(path)) implied.add(422);
  if (facts.throttled) implied.add(429).add(503);
  if (facts.rateLimitClass === 'send') implied.add(502).add(503).add(504);

  const errorContent: ContentObject = isOpenAiPath(path)
    ? { 'application/json': { schema: { $ref: '#/components/schemas/OpenAiError' } } }
    : { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDetails' } } };
  const responses = op.responses as Record<string, ResponseObject>;
  delete responses['4XX'];
  delete responses['5XX'];
  for (const status of implied) responses[status] ??= { description: IMPLIED_ERRORS[status] };

  for (const [status, response] of Object.entries(responses)) {
    const code = Number(status);
    if (code >= 400 && !response.content) response.content = errorContent;
    if (!response.description) response.description = code < 300 ? 'Success.' : (IMPLIED_ERRORS[code] ?? 'Error.');
    const headers: Record<string, HeaderObject | ReferenceObject> = { ...response.headers, 'X-Request-Id': headerRef('X-Request-Id') };
    if (facts.throttled && (code < 300 || code === 429)) for (const h of RATE_LIMIT_HEADERS) headers[h] = headerRef(h);
    if (code === 429) headers['Retry-After'] = headerRef('Retry-After');
    response.headers = headers;
  }
}

function applyToSchema(schema: SchemaObject, schemas: Record<string, SchemaObject>): void {
  const properties = (schema.properties ?? {}) as Record<string, SchemaObject>;
  if (schema.required) {
    // A field with a default may be left out: generated clients must not demand it.
    schema.required = schema.required.filter((name) => properties[name]?.default === undefined);
    if (!schema.required.length) delete schema.required;
  }
  for (const [name, prop] of Object.entries(properties)) {
    // Nest wraps an enum or class reference in a one-item `allOf` so it can carry siblings; without any, it is noise.
    if (prop.allOf?.length === 1 && Object.keys(prop).length === 1) properties[name] = prop.allOf[0] as SchemaObject;
    // OpenAPI 3.0's `nullable` needs a `type` beside it: a nullable enum reference takes the enum's.
    const ref = (prop.allOf?.[0] as ReferenceObject | undefined)?.$ref;
    if (prop.nullable && !prop.type && ref) prop.type = schemas[ref.split('/').pop()!]?.type;
    if (prop.type === 'string' && !prop.format && /_at$/.test(name)) prop.format = 'date-time';
    if (prop.type === 'integer' && !prop.format && /(^|_)id$/.test(name)) prop.format = 'int32';
  }
}

/** The first sentence of a doc comment, on one line. */
function firstSentence(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const match = /^(.+?[.!?])(\s|$)/.exec(flat);
  return (match ? match[1] : flat).replace(/\.$/, '');
}
