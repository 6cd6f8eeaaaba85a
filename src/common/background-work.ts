import { Logger } from '@nestjs/common';

/**
 * Work that runs after an answer has been sent (titles, summaries), tracked so shutdown can wait for it: a task
 * still writing when the database pool closes would fail with "DataSource is not initialized".
 * Failures are logged, never thrown: background work must not affect the request that started it.
 */
export class BackgroundWork {
  private readonly running = new Map<string, Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(private readonly logger: Logger) {}

  /**
   * Starts `task` unless one with the same `key` is still running (then does nothing: the next trigger catches up).
   * @param what names the work in log lines
   * @param task gets a signal that aborts when the application shuts down
   */
  start(key: string, what: string, task: (signal: AbortSignal) => Promise<void>): void {
    if (this.running.has(key) || this.stopping.signal.aborted) return;
    const run = task(this.stopping.signal)
      .catch((err: unknown) =>
        this.stopping.signal.aborted
          ? this.logger.log(`${what} stopped by shutdown; it is redone after the next answer`)
          : this.logger.warn(`${what} failed: ${(err as Error)?.message ?? err}`),
      )
      .finally(() => this.running.delete(key));
    this.running.set(key, run);
  }

  /** Resolves once nothing is running (work started meanwhile is waited for too). */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all(this.running.values());
  }

  /** Shutdown: aborts model calls in flight (their work is redone on a later trigger), then waits for the rest. */
  async stop(): Promise<void> {
    this.stopping.abort(new DOMException('The application is shutting down.', 'AbortError'));
    await this.idle();
  }
}
