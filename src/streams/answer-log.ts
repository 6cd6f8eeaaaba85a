/** The kinds of event an answer's log holds: the typed SSE events of a send. */
export type AnswerEventType = 'start' | 'delta' | 'tool_call_delta' | 'tool_call' | 'done' | 'error';

/**
 * One event of an answer, numbered from 1 in the order it happened. `n` is the SSE `id:` clients see and send
 * back as `Last-Event-ID` (WHATWG HTML §9.2.4) to resume after it.
 */
export interface AnswerEvent {
  n: number;
  type: AnswerEventType;
  /**
   * The typed event's JSON payload (`start`: ids and model; `delta`: `{ text }`; `tool_call_delta`:
   * `{ index, id?, name?, arguments }`; `tool_call`: `{ index, id, name, arguments }`; `done`; `error`: a problem).
   */
  data: Record<string, unknown>;
}

/** True for the event that ends an answer's log (`done` or `error`). */
export function isFinal(event: AnswerEvent): boolean {
  return event.type === 'done' || event.type === 'error';
}

/**
 * A per-answer, append-only log of events: written by the instance generating the answer, read and followed by
 * any instance. Bounded in length; kept for a retention time after its final event.
 */
export interface AnswerLog {
  /** Appends events, numbered consecutively after those already there. */
  append(answerId: number, events: AnswerEvent[]): Promise<void>;
  /** {@link append} for several answers at once (one round trip for a shared log). */
  appendAll(batches: ReadonlyMap<number, AnswerEvent[]>): Promise<void>;
  /**
   * @returns the events after `after`, oldest first; null when the log does not hold the answer or no longer
   *          holds every event after `after` (expired or trimmed): the stored row is then the source
   */
  read(answerId: number, after: number): Promise<AnswerEvent[] | null>;
  /**
   * Yields the events after `after` as they are appended, until the final one; yields null each time `idleMs`
   * pass with nothing new (the caller may then check that the answer is still being generated). Ends early when
   * `signal` aborts.
   */
  follow(answerId: number, after: number, signal: AbortSignal, idleMs: number): AsyncIterable<AnswerEvent | null>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}
