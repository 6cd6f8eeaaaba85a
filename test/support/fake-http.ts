import { createServer, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** One request a fake provider server received. */
export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. `/v1/messages`. */
  path: string;
  /** Lower-case header names, as Node parses them. */
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; undefined when the body was empty or not JSON. */
  body: any;
  /** `Date.now()` when the request arrived. */
  receivedAt: number;
  /** `Date.now()` when the response closed (finished, or its connection went away); undefined while open. */
  closedAt?: number;
  /** True when the response closed before the server finished it: the client left, or a cut script. */
  closedEarly?: boolean;
  /** Resolves with `closedAt` once the response has closed. */
  closed: Promise<number>;
}

/** A fake server listening on a random loopback port. */
export interface Listening {
  port: number;
  /** Closes every connection and stops the server. */
  close(): Promise<void>;
}

/** Starts an HTTP server on a random loopback port; a request whose handler throws or rejects has its socket destroyed. */
export async function listen(handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<Listening> {
  const server = createServer((req, res) => {
    void (async () => handle(req, res))().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

/** Chooses the script for a request, given how many requests were scripted before it. */
export type ScriptChooser<TScript> = (request: RecordedRequest, index: number) => TScript;

/** A running fake provider server. */
export interface FakeProvider<TScript> {
  /** Base URL to give the provider's client. */
  url: string;
  /** Every request received, oldest first. */
  requests: RecordedRequest[];
  /**
   * Sets how the following scripted requests are answered: one script for all of them, or a function choosing a
   * script per request (it sees the request, and how many scripted requests came before it).
   */
  script(script: TScript | ScriptChooser<TScript>): void;
  /** Forgets the recorded requests and restores the default script. */
  reset(): void;
  /** Closes every connection and stops the server. */
  close(): Promise<void>;
}

/**
 * The recorded requests and the current script of a fake provider server. `requests`, `script` and `reset` are the
 * server's public ones; the server calls `receive` for every request and `next` for each one it answers by script.
 */
export function scriptControl<TScript extends object>() {
  const requests: RecordedRequest[] = [];
  const byDefault: ScriptChooser<TScript> = () => ({}) as TScript;
  let choose = byDefault;
  let count = 0;
  return {
    requests,
    /** Reads the body and records the request. */
    async receive(req: IncomingMessage, res: ServerResponse): Promise<RecordedRequest> {
      const recorded = recordRequest(req, res, await readBody(req));
      requests.push(recorded);
      return recorded;
    },
    /** The script for this request, counting it. */
    next: (request: RecordedRequest): TScript => choose(request, count++),
    /** One script for all following requests, or a function choosing one per request. */
    script(script: TScript | ScriptChooser<TScript>): void {
      choose = typeof script === 'function' ? (script) : () => script;
    },
    /** Forgets the recorded requests and restores the default (empty) script. */
    reset(): void {
      requests.length = 0;
      count = 0;
      choose = byDefault;
    },
  };
}

/** Reads a request body. */
export function readBytes(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Reads a request body as UTF-8. */
export async function readBody(req: IncomingMessage): Promise<string> {
  return (await readBytes(req)).toString('utf8');
}

/** Records a request with its parsed body, and when (and whether early) its response closed. */
export function recordRequest(req: IncomingMessage, res: ServerResponse, raw: string): RecordedRequest {
  let body: unknown;
  try {
    body = raw ? JSON.parse(raw) : undefined;
  } catch {
    body = undefined;
  }
  let onClosed!: (at: number) => void;
  const recorded: RecordedRequest = {
    method: req.method ?? '',
    path: req.url ?? '',
    headers: req.headers,
    body,
    receivedAt: Date.now(),
    closed: new Promise<number>((resolve) => (onClosed = resolve)),
  };
  res.on('close', () => {
    recorded.closedAt = Date.now();
    recorded.closedEarly = !res.writableFinished;
    onClosed(recorded.closedAt);
  });
  return recorded;
}

export function sendJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** A `retry-after` header when `value` is set. */
export function retryAfter(value: string | undefined): Record<string, string> {
  return value !== undefined ? { 'retry-after': value } : {};
}

/** Writes one SSE event; resolves once it is handed to the socket, so a cut that follows does not discard it. */
export function writeEvent(res: ServerResponse, text: string): Promise<void> {
  return new Promise<void>((resolve) => res.write(text, () => resolve()));
}

/** Aborts once the response has closed; `delay` is a sleep that rejects (ending the handler) when it does. */
export function untilClosed(res: ServerResponse): { signal: AbortSignal; delay(ms: number): Promise<void> } {
  const stop = new AbortController();
  res.on('close', () => stop.abort());
  return { signal: stop.signal, delay: (ms) => sleep(ms, undefined, { signal: stop.signal }) };
}

/** Resolves once the client has closed the connection. */
export function stallUntilClosed(closed: AbortSignal): Promise<void> {
  return new Promise((resolve) => (closed.aborted ? resolve() : closed.addEventListener('abort', () => resolve(), { once: true })));
}

/** Cuts a response short: `destroy` kills the socket (default), `end` ends it cleanly. */
export function cut(res: ServerResponse, how: 'destroy' | 'end' = 'destroy'): void {
  if (how === 'end') res.end();
  else res.destroy();
}
