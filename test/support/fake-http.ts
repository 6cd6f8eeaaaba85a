import { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

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

/** Reads a request body as UTF-8. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
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

/** Writes one SSE event; resolves once it is handed to the socket, so a cut that follows does not discard it. */
export function writeEvent(res: ServerResponse, text: string): Promise<void> {
  return new Promise<void>((resolve) => res.write(text, () => resolve()));
}
