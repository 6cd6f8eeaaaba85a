import { IncomingHttpHeaders } from 'node:http';
import { listen, readBytes } from './fake-http';

/** One request the fake store received. */
export interface S3Request {
  method: string;
  /** Path, e.g. `/bucket/key`. */
  path: string;
  headers: IncomingHttpHeaders;
}

/** A running fake store; see {@link startFakeS3}. */
export interface FakeS3 {
  /** Endpoint to configure (`S3_ENDPOINT`), e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Objects by `bucket/key`. */
  objects: Map<string, Buffer>;
  requests: S3Request[];
  /** While true, PUT answers 500 InternalError. */
  failPuts: boolean;
  close(): Promise<void>;
}

/**
 * A local stand-in for an S3-compatible object store speaking the path-style object API (Amazon S3 API
 * reference "PutObject", "GetObject", "DeleteObject"): `PUT /{bucket}/{key}` stores the body (200 with an ETag),
 * `GET` returns it or a 404 `NoSuchKey` XML error, `DELETE` removes it (204, also for a missing key). Signatures
 * are not checked; every request is recorded.
 */
export async function startFakeS3(): Promise<FakeS3> {
  const objects = new Map<string, Buffer>();
  const requests: S3Request[] = [];
  let failPuts = false;
  const server = await listen(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push({ method: req.method ?? '', path, headers: req.headers });
    const key = path.slice(1);
    const body = await readBytes(req);
    if (req.method === 'PUT' && failPuts) {
      res.writeHead(500, { 'Content-Type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>');
    } else if (req.method === 'PUT') {
      objects.set(key, body);
      res.writeHead(200, { ETag: '"fake"' }).end();
    } else if (req.method === 'GET') {
      const stored = objects.get(key);
      if (!stored) {
        res.writeHead(404, { 'Content-Type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': stored.length, ETag: '"fake"' }).end(stored);
    } else if (req.method === 'DELETE') {
      objects.delete(key);
      res.writeHead(204).end();
    } else {
      res.writeHead(405).end();
    }
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    objects,
    requests,
    get failPuts() {
      return failPuts;
    },
    set failPuts(value: boolean) {
      failPuts = value;
    },
    close: server.close,
  };
}
