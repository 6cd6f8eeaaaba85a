import { AnswerEvent, AnswerLog, isFinal } from './answer-log';

interface Entry {
  events: AnswerEvent[];
  /** Called on every append. */
  listeners: Set<() => void>;
  expiry?: NodeJS.Timeout;
}

/**
 * The answer log in this process's memory: the whole log when no Redis is configured, and the live copy of the
 * answers this instance generates (their local clients read it without a round trip).
 */
export class MemoryAnswerLog implements AnswerLog {
  private readonly entries = new Map<number, Entry>();

  /**
   * @param retentionMs how long a log stays after its final event
   * @param maxEvents most events kept per answer; older ones are dropped
   */
  constructor(
    private readonly retentionMs: number,
    private readonly maxEvents: number,
  ) {}

  /** True while this log holds the answer. */
  has(answerId: number): boolean {
    return this.entries.has(answerId);
  }

  /** Starts an empty log, so readers can follow an answer before its first event. */
  open(answerId: number): void {
    if (!this.entries.has(answerId)) this.entries.set(answerId, { events: [], listeners: new Set() });
  }

  /** Synchronous append: local readers see the events in the same turn of the event loop. */
  push(answerId: number, events: AnswerEvent[]): void {
    let entry = this.entries.get(answerId);
    if (!entry) this.entries.set(answerId, (entry = { events: [], listeners: new Set() }));
    entry.events.push(...events);
    if (entry.events.length > this.maxEvents) entry.events.splice(0, entry.events.length - this.maxEvents);
    if (events.some(isFinal) && !entry.expiry) {
      entry.expiry = setTimeout(() => this.entries.delete(answerId), this.retentionMs);
      entry.expiry.unref();
    }
    for (const listener of entry.listeners) listener();
  }

  async append(answerId: number, events: AnswerEvent[]): Promise<void> {
    this.push(answerId, events);
  }

  async read(answerId: number, after: number): Promise<AnswerEvent[] | null> {
    return this.readNow(answerId, after);
  }

  private readNow(answerId: number, after: number): AnswerEvent[] | null {
    const entry = this.entries.get(answerId);
    if (!entry) return null;
    const first = entry.events[0]?.n ?? 1;
    if (first > after + 1) return null; // trimmed past the reader's position
    return entry.events.slice(Math.max(0, after + 1 - first));
  }

  async *follow(answerId: number, after: number, signal: AbortSignal, idleMs: number): AsyncIterable<AnswerEvent | null> {
    let position = after;
    while (!signal.aborted) {
      const events = this.readNow(answerId, position);
      if (events === null && this.entries.has(answerId)) return; // trimmed under a slow reader
      for (const event of events ?? []) {
        yield event;
        position = event.n;
        if (isFinal(event)) return;
      }
      // Events appended while the reader handled these are read before waiting for the next append.
      if (events?.length) continue;
      const appended = await this.nextAppend(answerId, signal, idleMs);
      if (!appended) yield null;
    }
  }

  /** Resolves true on the next append to the answer's log, false after `idleMs` or on abort. */
  private nextAppend(answerId: number, signal: AbortSignal, idleMs: number): Promise<boolean> {
    const listeners = this.entries.get(answerId)?.listeners ?? new Set<() => void>();
    return new Promise((resolve) => {
      const done = (appended: boolean) => {
        clearTimeout(timer);
        listeners.delete(onAppend);
        signal.removeEventListener('abort', onAbort);
        resolve(appended);
      };
      const onAppend = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), idleMs);
      listeners.add(onAppend);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async close(): Promise<void> {
    for (const entry of this.entries.values()) clearTimeout(entry.expiry);
    this.entries.clear();
  }
}
