import http from 'node:http';

/** One parsed Server-Sent Event. */
export interface SseEvent {
  event?: string;
  data: string;
}

/**
 * Parses an SSE body the way the WHATWG spec says: events end at a blank line, `data:` lines are joined with
 * `\n`, one space after the colon is dropped, comment lines are ignored.
 */
export function parseSse(body: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of body.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      if (field === 'data') data.push(value);
    }
    events.push({ event, data: data.join('\n') });
  }
  return events;
}

/** The text of the API guide's plain `data:` stream: every untyped event before `[DONE]`, concatenated. */
export function textOf(events: SseEvent[]): string {
  return events
    .filter((e) => !e.event && e.data !== '[DONE]')
    .map((e) => e.data)
    .join('');
}

/**
 * Posts JSON and reads the streamed answer incrementally; `onChunk` sees the body so far and may return
 * `'abort'` to drop the connection at that point (a client that leaves).
 * @returns status, headers, the body received, and when the connection was dropped (ms since epoch)
 */
export function streamPost(
  url: string,
  path: string,
  body: unknown,
  headers: Record<string, string>,
  onChunk?: (soFar: string) => 'abort' | void,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; abortedAt?: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (onChunk?.(text) === 'abort') {
          const abortedAt = Date.now();
          req.destroy();
          resolve({ status: res.statusCode!, headers: res.headers, body: text, abortedAt });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      res.on('error', () => undefined);
    });
    req.on('error', (err) => {
      if (!req.destroyed) reject(err);
    });
    req.end(JSON.stringify(body));
  });
}
