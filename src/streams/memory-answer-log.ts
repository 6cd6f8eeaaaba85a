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

  async appendAll(batches: ReadonlyMap<number, AnswerEvent[]>): Promise<void> {
    for (const [answerId, events] of batches) this.push(answerId, events);
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
    // One listener, one abort handler and one idle timer for the whole read, not one set per event: a reader
    // waits once per piece of the answer.
    let wake: ((appended: boolean) => void) | undefined;
    const resolveWith = (appended: boolean) => {
      const resolve = wake;
      wake = undefined;
      resolve?.(appended);
    };
    const onAppend = () => resolveWith(true);
    const onAbort = () => resolveWith(false);
    const idle = setTimeout(onAbort, idleMs);
    let listeners: Set<() => void> | undefined;
    signal.addEventListener('abort', onAbort, { once: true });
    try {
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
        if (!listeners) {
          listeners = this.entries.get(answerId)?.listeners;
          listeners?.add(onAppend);
        }
        const appended = await new Promise<boolean>((resolve) => {
          wake = resolve;
          idle.refresh();
        });
        if (!appended) yield null;
      }
    } finally {
      clearTimeout(idle);
      listeners?.delete(onAppend);
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    for (const entry of this.entries.values()) clearTimeout(entry.expiry);
    this.entries.clear();
  }
}
