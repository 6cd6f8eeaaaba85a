import fc from 'fast-check';

/**
 * A property-based fuzzer over the committed OpenAPI document: for every operation it builds requests that are
 * valid in shape (real ids, a real model, the schema's required fields) with hostile values mixed in — wrong types,
 * nulls, numbers beyond every integer type, NaN written as text, 100k-character strings, NUL and lone surrogates,
 * deep nesting, 100k-item arrays, `__proto__` keys, wrong content types, malformed JSON — and sends them over HTTP.
 */

type Schema = {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minLength?: number;
  minimum?: number;
};

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  schema?: Schema;
}

/** One operation of the document, with what a request to it needs. */
export interface Operation {
  id: string;
  method: string;
  path: string;
  params: Parameter[];
  /** `application/json` or `multipart/form-data`; undefined without a body. */
  contentType?: string;
  body?: Schema;
}

/** What the fuzzer knows of the running app: identities and ids of resources that exist. */
export interface FuzzContext {
  /** Path parameter name → ids that exist for the fuzz user (sessions, prompts, applications, keys, files). */
  ids: Record<string, number[]>;
  /** A small valid PDF, for the upload route. */
  pdf: Buffer;
}

/** Which account sends a request: the fuzz user, an admin, a user kept for deleting itself, or a forged token. */
export type Identity = 'user' | 'admin' | 'victim' | 'forged';

/** A generated request, before the identity's token is added. */
export interface FuzzRequest {
  operation: string;
  identity: Identity;
  method: string;
  /** Path and query, already percent-encoded (possibly on purpose badly). */
  url: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** A short description of the body, for failure reports. */
  bodyKind: string;
}

/** Reads every operation of an OpenAPI 3 document. */
export function operationsOf(doc: { paths: Record<string, Record<string, { operationId: string; parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: Schema }> } }>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const content = op.requestBody?.content ?? {};
      const contentType = Object.keys(content)[0];
      ops.push({
        id: op.operationId,
        method: method.toUpperCase(),
        path,
        params: op.parameters ?? [],
        contentType,
        body: contentType ? content[contentType].schema : undefined,
      });
    }
  }
  return ops;
}

const HUGE_STRING = 'x'.repeat(100_000);
const HUGE_ARRAY = Array.from({ length: 100_000 }, (_, i) => i);

/** Values no field expects. */
const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, -0.5, 2 ** 31, 2 ** 53 + 2, 2 ** 63, -(2 ** 63), 1e308, -1e308, 4.2),
  fc.constantFrom('', ' ', 'NaN', 'Infinity', '-Infinity', '1e999', '9223372036854775808', '0x10', '-1', 'null', 'true', '[]', '{}'),
  fc.constantFrom('\u0000', 'a\u0000b', '\uD800', 'x\uDFFFy', '\u202Eevil', '\uFEFF', '%00', '../../etc/passwd', "' OR 1=1 --", '<script>'),
  fc.constant(HUGE_STRING),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer(),
  fc.double(),
);

/** Nesting `depth` levels of arrays or objects around a value. */
const nested = (depth: number, asObject: boolean): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = asObject ? { a: value } : [value];
  return value;
};

/** Objects that try to pollute prototypes: built by JSON.parse so `__proto__` is an own key that JSON.stringify keeps. */
const pollutingObject = fc.constantFrom(
  JSON.parse('{"__proto__":{"role":"admin","tier":"enterprise","isAdmin":true}}'),
  JSON.parse('{"constructor":{"prototype":{"role":"admin"}}}'),
  JSON.parse('{"a":{"__proto__":{"polluted":1}}}'),
);

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: hostileScalar, weight: 6 },
  { arbitrary: fc.integer({ min: 2, max: 200 }).chain((d) => fc.boolean().map((o) => nested(d, o))), weight: 1 },
  { arbitrary: fc.constant(HUGE_ARRAY), weight: 1 },
  { arbitrary: fc.array(hostileScalar, { maxLength: 5 }), weight: 1 },
  { arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), hostileScalar, { maxKeys: 4 }), weight: 1 },
  { arbitrary: pollutingObject, weight: 1 },
);

const resolve = (schema: Schema | undefined, components: Record<string, Schema>): Schema => {
  let s = schema ?? {};
  for (let i = 0; i < 10; i++) {
    if (s.$ref) s = components[s.$ref.split('/').pop()!];
    else if (s.allOf?.length === 1) s = s.allOf[0];
    else break;
  }
  return s;
};

let emailCounter = 0;

/** A value that passes the schema, from names the app gives meaning to (ids that exist, a known model…). */
function validValue(name: string, schema: Schema, components: Record<string, Schema>, ctx: FuzzContext, depth = 0): unknown {
  const s = resolve(schema, components);
  if (name === 'session_id' || name === 'prompt_id') return ctx.ids[name]?.[0] ?? 1;
  if (name === 'model') return 'offline/echo';
  if (name === 'email' || s.format === 'email') return `fuzz-${process.pid}-${++emailCounter}@example.com`;
  if (/password/.test(name)) return 'correct horse battery';
  if (name === 'messages') return [{ role: 'user', content: 'hello' }];
  if (name === 'from' || name === 'to' || /date/.test(name)) return '2026-11-01';
  if (s.enum?.length) return s.enum[0];
  switch (s.type) {
    case 'integer':
    case 'number':
      return Math.max(1, s.minimum ?? 1);
    case 'boolean':
      return false;
    case 'array':
      return depth < 3 ? [validValue('item', s.items ?? {}, components, ctx, depth + 1)] : [];
    case 'object':
      return depth < 3 ? validObject(s, components, ctx, depth + 1) : {};
    default:
      return 'f'.repeat(Math.max(1, s.minLength ?? 4));
  }
}

function validObject(schema: Schema, components: Record<string, Schema>, ctx: FuzzContext, depth = 0): Record<string, unknown> {
  const s = resolve(schema, components);
  const out: Record<string, unknown> = {};
  for (const [name, prop] of Object.entries(s.properties ?? {})) {
    if (s.required?.includes(name) || name === 'session_id' || name === 'prompt_id') out[name] = validValue(name, prop, components, ctx, depth);
  }
  return out;
}

/** A JSON body: the valid skeleton with some fields hostile, a hostile whole, or text that is not JSON at all. */
function jsonBody(op: Operation, components: Record<string, Schema>, ctx: FuzzContext): fc.Arbitrary<{ body: Buffer; type: string; kind: string }> {
  const s = resolve(op.body, components);
  const names = Object.keys(s.properties ?? {});
  const skeleton = () => validObject(s, components, ctx);
  const asJson = (value: unknown, kind: string) => ({ body: Buffer.from(JSON.stringify(value) ?? 'null'), type: 'application/json', kind });
  const mutated = fc
    .array(fc.tuple(names.length ? fc.constantFrom(...names, '__proto__', 'role', 'tier', 'user_id', 'is_template') : fc.constant('extra'), hostileValue), {
      minLength: 1,
      maxLength: 3,
    })
    .map((changes) => {
      const body = skeleton();
      for (const [name, value] of changes) {
        if (name === '__proto__') Object.defineProperty(body, '__proto__', { value, enumerable: true, configurable: true, writable: true });
        else body[name] = value;
      }
      return asJson(body, `fields ${changes.map(([n]) => n).join(',')}`);
    });
  const whole = hostileValue.map((v) => asJson(v, 'hostile whole body'));
  const valid = fc.constant(null).map(() => asJson(skeleton(), 'valid'));
  const malformed = fc
    .constantFrom('{"a":', '{"a":}', "{'a':1}", '{"a":1}}', '[1,]', 'nul', '\u0000', '{"a":"\\ud800"}', '{"a":"\\x41"}', '', '{"a":1e999999}', '   ')
    .map((text) => ({ body: Buffer.from(text), type: 'application/json', kind: 'malformed JSON' }));
  const badBytes = fc.constant({ body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), type: 'application/json', kind: 'invalid UTF-8' });
  const wrongType = fc
    .constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=utf-16',
      'application/json; charset=latin1',
      'application/xml',
      'application/octet-stream',
    )
    .map((type) => {
      const text = type.startsWith('application/x-www') ? 'a[b][c][d][e][f][g][h]=1&__proto__[role]=admin&messages[0][role]=user' : JSON.stringify(skeleton());
      return { body: Buffer.from(text), type, kind: `content type ${type}` };
    });
  return fc.oneof(
    { arbitrary: mutated, weight: 8 },
    { arbitrary: whole, weight: 2 },
    { arbitrary: valid, weight: 1 },
    { arbitrary: malformed, weight: 1 },
    { arbitrary: badBytes, weight: 1 },
    { arbitrary: wrongType, weight: 1 },
  );
}

/** A multipart body for the upload route: the file among many other parts, no file, a wrong file, or not multipart. */
function multipartBody(ctx: FuzzContext): fc.Arbitrary<{ body: Buffer; type: string; kind: string }> {
  const boundary = 'fuzzboundary7MA4YWxk';
  const part = (name: string, content: Buffer | string, filename?: string, type?: string) =>
    Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename !== undefined ? `; filename="${filename}"` : ''}\r\n` +
          (type ? `Content-Type: ${type}\r\n` : '') +
          '\r\n',
      ),
      typeof content === 'string' ? Buffer.from(content) : content,
      Buffer.from('\r\n'),
    ]);
  const end = Buffer.from(`--${boundary}--\r\n`);
  const type = `multipart/form-data; boundary=${boundary}`;
  return fc.oneof(
    fc.integer({ min: 0, max: 300 }).map((fields) => ({
      body: Buffer.concat([...Array.from({ length: fields }, (_, i) => part(`f${i}`, 'v')), part('file', ctx.pdf, 'a.pdf', 'application/pdf'), end]),
      type,
      kind: `${fields} fields then the file`,
    })),
    fc.constantFrom('', '\u0000', '../../x.pdf', '\uD800.pdf', 'a'.repeat(5000)).map((filename) => ({
      body: Buffer.concat([part('file', ctx.pdf, filename, 'application/pdf'), end]),
      type,
      kind: 'odd filename',
    })),
    hostileScalar.map((v) => ({
      body: Buffer.concat([part('file', String(v), 'x.pdf', 'application/pdf'), end]),
      type,
      kind: 'not a PDF',
    })),
    fc.constant({ body: Buffer.concat([part('other', 'x'), end]), type, kind: 'no file part' }),
    fc.constant({ body: Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"`), type, kind: 'cut multipart' }),
    fc.constant({ body: Buffer.from('{"file":"x"}'), type: 'application/json', kind: 'JSON instead of multipart' }),
    fc.constant({ body: Buffer.concat([part('file', ctx.pdf, 'a.pdf', 'application/pdf'), end]), type: 'multipart/form-data', kind: 'no boundary' }),
  );
}

/** Percent-encodes UTF-8 bytes (lone surrogates become U+FFFD, as any client would send them). */
const encode = (text: string) => [...Buffer.from(text, 'utf8')].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

const hostileText = fc.oneof(
  hostileScalar.map((v) => encode(String(v).slice(0, 2000))),
  fc.constantFrom('%FF', '%E0%80', '%', '%zz', '..%2F..%2F', 'a%00b'),
);

/** Every request the fuzzer may send to one operation. */
export function requestArbitrary(op: Operation, components: Record<string, Schema>, ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const queryParams = op.params.filter((p) => p.in === 'query');
  const pathValue = (p: Parameter) =>
    fc.oneof({ arbitrary: fc.constantFrom(...(ctx.ids[p.name]?.length ? ctx.ids[p.name] : [1])).map(String), weight: 4 }, { arbitrary: hostileText, weight: 1 });
  const queryValue = (p: Parameter) =>
    fc.option(
      fc.oneof(
        fc.constant(encode(String(validValue(p.name, p.schema ?? {}, components, ctx)))),
        hostileText,
        fc.constant(`${encode('1')}&${p.name}=2`),
      ),
      { nil: undefined, freq: 2 },
    );
  const body = op.contentType === 'multipart/form-data' ? multipartBody(ctx) : op.contentType ? jsonBody(op, components, ctx) : fc.option(jsonBody(op, components, ctx), { freq: 8, nil: undefined });
  return fc
    .record({
      identity: fc.constantFrom<Identity>('user', 'user', 'user', 'user', 'admin', 'forged'),
      path: fc.tuple(...pathParams.map(pathValue)),
      query: fc.tuple(...queryParams.map(queryValue)),
      extraQuery: fc.option(fc.constantFrom('__proto__[role]=admin', 'unknown=1', 'constructor=x'), { freq: 6, nil: undefined }),
      body,
    })
    .map(({ identity, path, query, extraQuery, body: b }): FuzzRequest => {
      let url = op.path;
      pathParams.forEach((p, i) => (url = url.replace(`{${p.name}}`, path[i])));
      const pairs = queryParams.flatMap((p, i) => (query[i] === undefined ? [] : [`${p.name}=${query[i]}`]));
      if (extraQuery) pairs.push(extraQuery);
      if (pairs.length) url += `?${pairs.join('&')}`;
      // Deleting one's own account runs as the user kept for it, so the fuzz user lives to the end.
      const who: Identity = op.id === 'Users_deleteMe' && identity !== 'forged' ? 'victim' : identity;
      return {
        operation: op.id,
        identity: who,
        method: op.method,
        url,
        headers: b ? { 'Content-Type': b.type } : {},
        body: b?.body,
        bodyKind: b?.kind ?? 'none',
      };
    });
}

/** Status counts per operation, printed as a table by the long campaign. */
export class StatusTable {
  private readonly counts = new Map<string, Map<number, number>>();

  add(operation: string, status: number): void {
    const row = this.counts.get(operation) ?? new Map<number, number>();
    row.set(status, (row.get(status) ?? 0) + 1);
    this.counts.set(operation, row);
  }

  get total(): number {
    let n = 0;
    for (const row of this.counts.values()) for (const c of row.values()) n += c;
    return n;
  }

  /** One line per operation: `operation  total  200:n 404:n …`. */
  render(): string {
    const width = Math.max(...[...this.counts.keys()].map((k) => k.length), 9);
    const lines = [`${'operation'.padEnd(width)}  ${'requests'.padStart(8)}  statuses`];
    for (const [op, row] of [...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const total = [...row.values()].reduce((a, b) => a + b, 0);
      const statuses = [...row.entries()].sort(([a], [b]) => a - b).map(([s, c]) => `${s}:${c}`).join(' ');
      lines.push(`${op.padEnd(width)}  ${String(total).padStart(8)}  ${statuses}`);
    }
    lines.push(`${'total'.padEnd(width)}  ${String(this.total).padStart(8)}`);
    return lines.join('\n');
  }
}
