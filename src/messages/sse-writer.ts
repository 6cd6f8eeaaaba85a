import type { Response } from 'express';
import type { StreamFormat } from './dto/send-message.dto';

/**
 * Writes Server-Sent Events (WHATWG HTML §9.2) straight to the response with `res.write`.
 *
 * `data` format (seed 004): each text piece is one event, `data: <piece>`; a piece holding line breaks becomes
 * several `data:` lines of one event, which an SSE parser joins back with `\n`. The stream ends with
 * `data: [DONE]`. `events` format: `event: start|delta|done|error` with JSON payloads, then `data: [DONE]`.
 * Headers go out with the first event, so a failure before it can still be answered with a proper status.
 */
export class SseWriter {
  private opened = false;

  constructor(
    private readonly res: Response,
    readonly format: StreamFormat,
  ) {}

  get isOpen(): boolean {
    return this.opened;
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
    this.res.flushHeaders();
  }

  start(payload: object): void {
    this.open();
    if (this.format === 'events') this.event('start', JSON.stringify(payload));
  }

  /** One text piece; empty pieces are not sent. */
  delta(text: string): void {
    if (!text) return;
    this.open();
    if (this.format === 'events') this.event('delta', JSON.stringify({ text }));
    else this.event(undefined, text);
  }

  /** The closing events: `done` (typed format only), then `data: [DONE]`. */
  done(payload: object): void {
    this.open();
    if (this.format === 'events') this.event('done', JSON.stringify(payload));
    this.finish();
  }

  /** A problem object as an `error` event (both formats), then `data: [DONE]`. */
  error(problem: object): void {
    this.open();
    this.event('error', JSON.stringify(problem));
    this.finish();
  }

  private finish(): void {
    this.event(undefined, '[DONE]');
    this.res.end();
  }

  private event(name: string | undefined, data: string): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`);
    this.res.write(`${name ? `event: ${name}\n` : ''}${lines.join('')}\n`);
  }
}
