import type { Response } from 'express';
import type { StreamFormat } from '../dto/send-message.dto';

const isSpace = (c: string) => /\s/.test(c);
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/**
 * Splits buffered text at the last place where both neighbours are non-whitespace characters (and not inside a
 * UTF-16 surrogate pair).
 * @returns `[emit, keep]`: `emit` neither starts nor ends with whitespace when `buffer` doesn't start with it
 */
export function splitAtWordInterior(buffer: string): [string, string] {
  for (let i = buffer.length - 1; i > 0; i--) {
    if (!isSpace(buffer[i - 1]) && !isSpace(buffer[i]) && !isLowSurrogate(buffer.charCodeAt(i))) {
      return [buffer.slice(0, i), buffer.slice(i)];
    }
  }
  return ['', buffer];
}

/**
 * Writes Server-Sent Events (WHATWG HTML §9.2) straight to the response with `res.write`.
 *
 * `data` format (the documented API's): text pieces as `data: <text>` events, then `data: [DONE]`. Event boundaries are placed
 * inside words, never next to whitespace, so a client that strips each line (the API guide's own aiohttp sample does)
 * still prints the words with their spaces; a spec-compliant parser gets the text back byte for byte either way.
 * Text holding line breaks becomes several `data:` lines of one event, which a parser joins back with `\n`.
 * `events` format: `event: start|delta|tool_call_delta|tool_call|done|error` with JSON payloads (the provider's
 * pieces as they came), then `data: [DONE]`. Headers go out with the first event, so a failure before it can still get a proper status.
 * Events of one turn of the event loop are written together, with the headers when they are the first.
 */
export class SseWriter {
  private opened = false;
  private held = '';
  private sent = '';
  private heartbeat?: NodeJS.Timeout;
  private lastWrite = 0;
  /** Events written this turn of the event loop, not yet handed to the socket. */
  private pending = '';
  private flushing?: NodeJS.Immediate;

  /**
   * @param heartbeatMs after the headers, a `: ping` comment goes out whenever nothing was written for this long,
   *                    so proxies and load balancers don't close a stream while the model thinks (0: never)
   */
  constructor(
    private readonly res: Response,
    readonly format: StreamFormat,
    private readonly heartbeatMs = 0,
  ) {}

  get isOpen(): boolean {
    return this.opened;
  }

  /** The answer text written to the client so far (without text still held back). */
  get sentText(): string {
    return this.sent;
  }

  /** Sends the status line and headers, once. */
  open(): void {
    if (this.opened) return;
    this.opened = true;
    this.res.status(200);
    this.res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    this.res.setHeader('Cache-Control', 'no-cache, no-transform');
    this.res.setHeader('Connection', 'keep-alive');
    this.res.setHeader('X-Accel-Buffering', 'no');
    // The headers leave with this turn's first events in one write (or alone at the end of the turn).
    this.scheduleFlush();
    this.lastWrite = Date.now();
    if (this.heartbeatMs > 0) {
      this.heartbeat = setInterval(() => {
        if (Date.now() - this.lastWrite >= this.heartbeatMs) this.write(': ping\n\n');
      }, this.heartbeatMs);
      this.heartbeat.unref();
      this.res.once('close', () => clearInterval(this.heartbeat));
    }
  }

  /**
   * Events numbered at most this are processed (the held-back text of the `data` format is rebuilt) but not
   * written: a resumed stream replays the answer from its start to the client's last event id.
   */
  skipThrough = 0;

  /** Events of the `data` format numbered so far (they count what this format shows, see {@link start}). */
  private shown = 0;

  /**
   * Each event may carry `id`, its number in the answer's log. The `events` format shows every event of the log,
   * so it sends that number as `id: <n>` (and as `sequence_number`). The `data` format shows text and errors only,
   * re-cut at word interiors, so it numbers the events it shows 1, 2, 3 … itself whenever ids are given: the
   * same log always yields the same events with the same numbers, so `Last-Event-ID` resumes either format.
   */
  start(payload: object, id?: number): void {
    if (this.format !== 'events') return this.open();
    if (id !== undefined && id <= this.skipThrough) return;
    this.open();
    this.event('start', JSON.stringify(numbered(payload, id)), id);
  }

  /** One text piece; empty pieces are not sent. */
  delta(text: string, id?: number): void {
    if (!text) return;
    if (this.format === 'events') {
      if (id !== undefined && id <= this.skipThrough) return;
      this.open();
      this.event('delta', JSON.stringify(numbered({ text }, id)), id);
      this.sent += text;
      return;
    }
    const [emit, keep] = splitAtWordInterior(this.held + text);
    this.held = keep;
    this.text(emit, id !== undefined);
  }

  /**
   * A tool-call event (`tool_call_delta`: a piece; `tool_call`: a whole call), typed format only: the plain format
   * sends text alone.
   */
  toolCall(name: 'tool_call_delta' | 'tool_call', payload: object, id?: number): void {
    if (this.format !== 'events' || (id !== undefined && id <= this.skipThrough)) return;
    this.open();
    this.event(name, JSON.stringify(numbered(payload, id)), id);
  }

  /** The closing events: held-back text, `done` (typed format only), then `data: [DONE]`. */
  done(payload: object, id?: number): void {
    this.open();
    this.flush(id !== undefined);
    if (this.format === 'events') this.event('done', JSON.stringify(numbered(payload, id)), id);
    this.finish();
  }

  /** Held-back text, a problem object as an `error` event (both formats), then `data: [DONE]`. */
  error(problem: object, id?: number): void {
    this.open();
    this.flush(id !== undefined);
    if (this.format === 'events') {
      this.event('error', JSON.stringify(numbered(problem, id)), id);
    } else {
      const shown = id === undefined ? undefined : ++this.shown;
      if (shown === undefined || shown > this.skipThrough) this.event('error', JSON.stringify(problem), shown);
    }
    this.finish();
  }

  private flush(numberIt: boolean): void {
    this.text(this.held, numberIt);
    this.held = '';
  }

  /** A `data` format text event, numbered when the answer's events are. */
  private text(text: string, numberIt: boolean): void {
    if (!text) return;
    const id = numberIt ? ++this.shown : undefined;
    if (id !== undefined && id <= this.skipThrough) return;
    this.open();
    this.event(undefined, text, id);
    this.sent += text;
  }

  private finish(): void {
    clearInterval(this.heartbeat);
    this.event(undefined, '[DONE]');
    clearImmediate(this.flushing);
    this.flushing = undefined;
    const rest = this.pending;
    this.pending = '';
    if (this.res.writableEnded || this.res.destroyed) return;
    this.res.end(rest);
  }

  private event(name: string | undefined, data: string, id?: number): void {
    const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`);
    this.write(`${id !== undefined ? `id: ${id}\n` : ''}${name ? `event: ${name}\n` : ''}${lines.join('')}\n`);
  }

  /**
   * Queues `chunk`; everything queued in one turn of the event loop goes out in one `res.write` (one syscall, not
   * one per token), right after the turn's callbacks and microtasks have run, so nothing waits on a timer.
   */
  private write(chunk: string): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    this.pending += chunk;
    this.lastWrite = Date.now();
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    this.flushing ??= setImmediate(() => {
      this.flushing = undefined;
      const out = this.pending;
      this.pending = '';
      if (this.res.writableEnded || this.res.destroyed) return;
      if (out) this.res.write(out);
      else if (!this.res.headersSent) this.res.flushHeaders();
    });
  }
}

/** A typed event's payload with its `sequence_number` (its `id:`), when it has one. */
function numbered(payload: object, id: number | undefined): object {
  return id === undefined ? payload : { ...payload, sequence_number: id };
}
