import type { Response } from 'express';

/**
 * Writes OpenAI's streamed answer (API reference, "Streaming"): `data: <json>` Server-Sent Events, then
 * `data: [DONE]`. Headers go out with the first event, so a failure before it still gets a proper HTTP status.
 * Events of one turn of the event loop go out in one `res.write`; after the headers, a `: ping` comment goes out
 * whenever nothing was written for `heartbeatMs` (SSE comments are ignored by every client).
 */
export class OpenAiChunkWriter {
  private opened = false;
  private pending = '';
  private flushing?: NodeJS.Immediate;
  private heartbeat?: NodeJS.Timeout;
  private lastWrite = 0;

  constructor(
    private readonly res: Response,
    private readonly heartbeatMs = 0,
  ) {}

  get isOpen(): boolean {
    return this.opened;
  }

  /** One `data:` event holding `payload` as JSON. */
  data(payload: object): void {
    this.open();
    this.write(`data: ${JSON.stringify(payload)}\n\n`);
  }

  /** `data: [DONE]` and the end of the response. */
  done(): void {
    this.open();
    this.write('data: [DONE]\n\n');
    this.end();
  }

  /** An error object (`{ error: {…} }`, as OpenAI sends one mid-stream) and the end of the response. */
  error(body: object): void {
    this.open();
    this.write(`data: ${JSON.stringify(body)}\n\n`);
    this.end();
  }

  private open(): void {
    if (this.opened) return;
    this.opened = true;
    this.res.status(200);
    this.res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    this.res.setHeader('Cache-Control', 'no-cache, no-transform');
    this.res.setHeader('Connection', 'keep-alive');
    this.res.setHeader('X-Accel-Buffering', 'no');
    this.res.flushHeaders();
    this.lastWrite = Date.now();
    if (this.heartbeatMs > 0) {
      this.heartbeat = setInterval(() => {
        if (Date.now() - this.lastWrite >= this.heartbeatMs) this.write(': ping\n\n');
      }, this.heartbeatMs);
      this.heartbeat.unref();
      this.res.once('close', () => clearInterval(this.heartbeat));
    }
  }

  private end(): void {
    clearInterval(this.heartbeat);
    clearImmediate(this.flushing);
    this.flushing = undefined;
    const rest = this.pending;
    this.pending = '';
    if (!this.res.writableEnded && !this.res.destroyed) this.res.end(rest);
  }

  private write(chunk: string): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    this.pending += chunk;
    this.lastWrite = Date.now();
    this.flushing ??= setImmediate(() => {
      this.flushing = undefined;
      const out = this.pending;
      this.pending = '';
      if (out && !this.res.writableEnded && !this.res.destroyed) this.res.write(out);
    });
  }
}
