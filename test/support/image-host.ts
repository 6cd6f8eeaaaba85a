import { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';

/** A self-signed certificate for the loopback image hosts: `localhost`, 127.0.0.1 and 127.0.0.2. */
export interface TestCertificate {
  key: string;
  /** PEM; also the CA a client must trust to reach the hosts. */
  cert: string;
}

/** @returns a fresh self-signed certificate (EC P-256) valid for a day */
export async function testCertificate(): Promise<TestCertificate> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    notAfterDate: new Date(Date.now() + 86_400_000),
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '127.0.0.2' },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/** A local HTTPS server standing in for an image host, recording every request it gets. */
export interface ImageHost {
  /** `https://<address>:<port>` */
  origin: string;
  /** Paths requested, in order: a refused fetch leaves it empty. */
  requests: string[];
  /** Bytes of response bodies written, all requests together. */
  bytesSent: number;
  /** Sets how the next requests are answered. */
  answer(handler: (req: IncomingMessage, res: ServerResponse) => unknown): void;
  close(): Promise<void>;
}

/**
 * Starts an HTTPS image host on `address` (127.0.0.1, or 127.0.0.2: Linux routes all of 127/8 to loopback) and a
 * random port. Answers 404 until {@link ImageHost.answer} is called.
 */
export async function startImageHost(certificate: TestCertificate, address = '127.0.0.1'): Promise<ImageHost> {
  let handler: (req: IncomingMessage, res: ServerResponse) => unknown = (_req, res) => res.writeHead(404).end();
  const host: ImageHost = {
    origin: '',
    requests: [],
    bytesSent: 0,
    answer: (h) => (handler = h),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer({ key: certificate.key, cert: certificate.cert }, (req, res) => {
    host.requests.push(req.url ?? '');
    const write = res.write.bind(res) as (chunk: Buffer | string, ...rest: unknown[]) => boolean;
    res.write = ((chunk: Buffer | string, ...rest: unknown[]) => {
      host.bytesSent += Buffer.byteLength(chunk);
      return write(chunk, ...rest);
    }) as typeof res.write;
    void (async () => handler(req, res))().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  host.origin = `https://${address}:${(server.address() as AddressInfo).port}`;
  return host;
}
