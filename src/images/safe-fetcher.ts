import ipaddr from 'ipaddr.js';
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import { Agent, Dispatcher, request } from 'undici';
import { ImageError, invalid, refused } from './image-errors';

/** Limits and trust of {@link SafeFetcher}. */
export interface SafeFetcherOptions {
  /** Bytes of a body; a larger one is refused by its `Content-Length`, or cut off while it streams. */
  maxBytes: number;
  /** Whole fetch (DNS, every redirect, the body), in ms. */
  timeoutMs: number;
  /** Redirects followed; each target is checked like the first URL. */
  maxRedirects: number;
  /** CIDRs that may be reached although they are not public unicast addresses. */
  allowedNetworks: readonly string[];
  /** PEM certificates trusted besides the system's (Node's bundled roots). */
  ca?: string;
}

/** A fetched body and what the server said it is. */
export interface FetchedBody {
  data: Buffer;
  /** The response's media type (`Content-Type` without parameters, lower case), if any. */
  contentType?: string;
}

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Network = [Address, number];

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * IPv6 global unicast (IANA IPv6 Address Space registry, RFC 4291 §2.4). ipaddr.js names every address outside its
 * special ranges `unicast`, including unassigned space such as IPv4-compatible `::7f00:1`, so this bounds it too.
 */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/**
 * Fetches `https:` URLs given by clients without letting them reach the server's own network (OWASP SSRF
 * Prevention Cheat Sheet): the host is resolved once, every address it resolves to must be a public unicast address
 * (ipaddr.js ranges: private, loopback, link-local, CGNAT, multicast, broadcast, unique-local, reserved, NAT64/6to4
 * and IPv4-mapped forms of these are refused) or lie in an allowed network, and the connection is pinned to the
 * checked address (the TLS server name and certificate check stay the URL's host), so a second DNS answer can't
 * point elsewhere. Redirects are followed by hand, each target checked the same way; size and time are capped.
 */
export class SafeFetcher {
  private readonly allowed: Network[];
  private readonly ca?: string[];

  constructor(private readonly options: SafeFetcherOptions) {
    this.allowed = options.allowedNetworks.map((cidr) => ipaddr.parseCIDR(cidr));
    // Setting `ca` replaces Node's roots, so the extra certificates are added to them.
    this.ca = options.ca ? [...rootCertificates, options.ca] : undefined;
  }

  /**
   * GETs `url`, following up to `maxRedirects` redirects.
   * @returns the body of the final `200` answer
   * @throws ImageError `image.refused` for a URL that is not `https:`, carries credentials, or whose host (or a
   *         redirect's) resolves to an address that is not allowed — before anything is sent to it; `image.invalid`
   *         when the fetch fails, times out, answers other than 200, redirects too often, or sends more than
   *         `maxBytes`
   * @throws the caller's abort reason when `signal` aborts
   */
  async fetch(url: string, signal: AbortSignal): Promise<FetchedBody> {
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    const limit = AbortSignal.any([signal, deadline]);
    try {
      let current = url;
      for (let redirects = 0; ; redirects++) {
        const target = httpsUrl(current, redirects > 0);
        const address = await this.resolve(target.hostname.replace(/^\[|\]$/g, ''), limit);
        const answer = await this.get(target, address, limit);
        if (!('location' in answer)) return answer;
        if (redirects >= this.options.maxRedirects) throw invalid(`the image URL redirects more than ${this.options.maxRedirects} times`);
        current = answer.location;
      }
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (deadline.aborted) throw invalid(`the image was not fetched within ${this.options.timeoutMs} ms`);
      throw err;
    }
  }

  /**
   * Every address `host` resolves to (an IP literal is its own), checked.
   * @returns the first address, to connect to
   */
  private async resolve(host: string, signal: AbortSignal): Promise<Address> {
    let addresses: string[];
    if (ipaddr.isValid(host)) {
      addresses = [host];
    } else {
      const aborted = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
      aborted.catch(() => undefined); // the race reports it; an abort after the answer goes nowhere
      signal.throwIfAborted();
      try {
        const found = await Promise.race([dnsLookup(host, { all: true, verbatim: true }), aborted]);
        addresses = found.map((a) => a.address);
      } catch (err) {
        if (signal.aborted) throw err;
        throw invalid(`the image host ${host} could not be resolved`);
      }
    }
    const parsed = addresses.map((a) => ipaddr.process(a));
    const forbidden = parsed.find((a) => !this.reachable(a));
    // The address itself is not shown: it would tell a client what internal names resolve to.
    if (forbidden || !parsed.length) throw refused(`the image host ${host} is not a public address; image URLs must point to the public internet`);
    return parsed[0];
  }

  /** Public unicast, or inside an allowed network. */
  private reachable(address: Address): boolean {
    if (address.range() === 'unicast' && (address.kind() === 'ipv4' || address.match(GLOBAL_UNICAST_V6))) return true;
    return this.allowed.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits));
  }

  /** One GET to `target` over a connection to `address`: the body, or where a redirect points. */
  private async get(target: URL, address: Address, signal: AbortSignal): Promise<FetchedBody | { location: string }> {
    const family = address.kind() === 'ipv4' ? 4 : 6;
    const pinned: LookupFunction = (_host, options, callback) => {
      if (options.all) callback(null, [{ address: address.toString(), family }]);
      else callback(null, address.toString(), family);
    };
    const agent = new Agent({
      connect: { lookup: pinned, ...(this.ca && { ca: this.ca }), timeout: this.options.timeoutMs },
      headersTimeout: this.options.timeoutMs,
      bodyTimeout: this.options.timeoutMs,
    });
    try {
      const response = await request(target, {
        dispatcher: agent,
        signal,
        headers: { accept: 'image/png, image/jpeg, image/webp, image/gif', 'user-agent': 'chat-backend-image-fetcher' },
      }).catch((err: unknown) => {
        if (signal.aborted) throw err;
        throw invalid(`the image could not be fetched from ${target.host} (${failureOf(err)})`);
      });
      const { statusCode, headers, body } = response;
      if (REDIRECTS.has(statusCode) && typeof headers.location === 'string') {
        discard(body);
        const location = URL.parse(headers.location, target.href);
        if (!location) throw invalid(`the image host ${target.host} redirects to an invalid URL`);
        return { location: location.toString() };
      }
      if (statusCode !== 200) {
        discard(body);
        throw invalid(`fetching the image answered HTTP ${statusCode}`);
      }
      const length = Number(headers['content-length']);
      if (Number.isFinite(length) && length > this.options.maxBytes) {
        discard(body);
        throw invalid(`the image is larger than ${this.options.maxBytes} bytes`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > this.options.maxBytes) {
            discard(body);
            throw invalid(`the image is larger than ${this.options.maxBytes} bytes`);
          }
          chunks.push(chunk);
        }
      } catch (err) {
        if (err instanceof ImageError || signal.aborted) throw err;
        throw invalid(`the image could not be fetched from ${target.host} (${failureOf(err)})`);
      }
      const type = headers['content-type'];
      const contentType = typeof type === 'string' ? type.split(';')[0].trim().toLowerCase() : undefined;
      return { data: Buffer.concat(chunks, size), ...(contentType && { contentType }) };
    } finally {
      void agent.destroy();
    }
  }
}

/** Drops a body not to be read; undici reports the abort as an error event, which is expected here. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined).destroy();
}

/**
 * @param redirected true for a redirect's target, which must be `https:` too (a `data:` target is refused as well)
 * @returns `url` parsed, when it is an `https:` URL without credentials
 * @throws ImageError `image.refused` otherwise
 */
function httpsUrl(url: string, redirected: boolean): URL {
  const parsed = URL.parse(url);
  if (!parsed) throw refused('the image URL is not a valid URL');
  if (parsed.protocol !== 'https:') {
    throw refused(redirected ? `the image URL redirects to a URL that is not https: (${parsed.protocol})` : `image URLs must be https: or data: URLs, not ${parsed.protocol}`);
  }
  if (parsed.username || parsed.password) throw refused('image URLs must not carry credentials');
  return parsed;
}

/** A short, safe description of a connection failure (its error code, e.g. ECONNREFUSED or a TLS code). */
function failureOf(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.cause?.code ?? e.code ?? 'connection failed';
}
