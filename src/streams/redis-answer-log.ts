import type Redis from 'ioredis';
import { blockingReaderOptions } from '../rate-limit/redis-client';
import { AnswerEvent, AnswerLog, isFinal } from './answer-log';

/** Entries are stored with the id `0-<n>`, so "after event n" is the stream position `0-n` (Redis Streams ids). */
const idOf = (n: number) => `0-${n}`;
const nOf = (id: string) => Number(id.slice(id.indexOf('-') + 1));

type StreamEntry = [id: string, fields: string[]];

function parse([id, fields]: StreamEntry): AnswerEvent {
  const { type, data } = JSON.parse(fields[1]) as Pick<AnswerEvent, 'type' | 'data'>;
  return { n: nOf(id), type, data };
}

/**
 * The answer log on Redis Streams (one stream per answer, `XADD … MAXLEN ~`), readable from every instance.
 * A stream expires `retentionSeconds` after its final event; one whose writer died expires after `liveTtlSeconds`.
 * Followers block in `XREAD BLOCK` on a connection of their own ({@link blockingReaderOptions}), so they never hold
 * up the shared one.
 */
export class RedisAnswerLog implements AnswerLog {
  private readonly followers = new Set<Redis>();
  /** Answers whose stream has its live time-to-live set by this instance (and no final event yet). */
  private readonly live = new Set<number>();

  /**
   * @param client the shared connection (appends and reads)
   * @param prefix key prefix, e.g. `answers:`; the stream of answer 7 is `<prefix>7`
   * @param readGraceMs a follower's read with no answer this long after its block time counts as empty (a Redis
   *        that stopped answering), so its reader goes on to check the stored row
   */
  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
    private readonly retentionSeconds: number,
    private readonly maxEvents: number,
    private readonly readGraceMs = 1_000,
    private readonly liveTtlSeconds = Math.max(retentionSeconds, 86_400),
  ) {}

  private key(answerId: number): string {
    return `${this.prefix}${answerId}`;
  }

  /** One round trip for the whole batch (a pipeline of XADDs and, when the expiry changes, one EXPIRE). */
  append(answerId: number, events: AnswerEvent[]): Promise<void> {
    return this.appendAll(new Map([[answerId, events]]));
  }

  /**
   * One round trip for every answer's batch: an `XADD` per event, and an `EXPIRE` only where the expiry changes
   * (an answer's first batch here: the live time-to-live; its final one: the retention).
   * @throws the first error Redis answered; the answers it concerns get their expiry set again next time
   */
  async appendAll(batches: ReadonlyMap<number, AnswerEvent[]>): Promise<void> {
    const pipeline = this.client.pipeline();
    /** The answers of this pipeline, in command order, with their command counts. */
    const sent: { answerId: number; commands: number }[] = [];
    for (const [answerId, events] of batches) {
      if (!events.length) continue;
      const key = this.key(answerId);
      for (const e of events) {
        pipeline.xadd(key, 'MAXLEN', '~', this.maxEvents, idOf(e.n), 'e', JSON.stringify({ type: e.type, data: e.data }));
      }
      let commands = events.length;
      if (events.some(isFinal)) {
        pipeline.expire(key, this.retentionSeconds);
        this.live.delete(answerId);
        commands++;
      } else if (!this.live.has(answerId)) {
        pipeline.expire(key, this.liveTtlSeconds);
        this.live.add(answerId);
        commands++;
      }
      sent.push({ answerId, commands });
    }
    if (!sent.length) return;
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (err) {
      for (const { answerId } of sent) this.live.delete(answerId);
      throw err;
    }
    let failed: Error | undefined;
    let at = 0;
    for (const { answerId, commands } of sent) {
      const error = results?.slice(at, at + commands).find(([err]) => err)?.[0];
      at += commands;
      if (error) {
        this.live.delete(answerId);
        failed ??= error;
      }
    }
    if (failed) throw failed;
  }

  async read(answerId: number, after: number): Promise<AnswerEvent[] | null> {
    const key = this.key(answerId);
    const [[, entries], [, exists]] = (await this.client
      .pipeline()
      .xrange(key, `(${idOf(after)}`, '+')
      .exists(key)
      .exec()) as [[null, StreamEntry[]], [null, number]];
    if (!exists) return null;
    const events = entries.map(parse);
    if (events.length && events[0].n !== after + 1) return null; // trimmed past the reader's position
    return events;
  }

  async *follow(answerId: number, after: number, signal: AbortSignal, idleMs: number): AsyncIterable<AnswerEvent | null> {
    const key = this.key(answerId);
    const connection = this.client.duplicate(blockingReaderOptions(this.readGraceMs));
    connection.on('error', () => undefined); // a failed read says why
    this.followers.add(connection);
    const onAbort = () => connection.disconnect(false);
    signal.addEventListener('abort', onAbort, { once: true });
    let position = after;
    try {
      try {
        await connection.connect();
      } catch (err) {
        if (signal.aborted) return;
        throw err;
      }
      while (!signal.aborted) {
        let reply: [string, StreamEntry[]][] | null;
        try {
          reply = await connection.xread('COUNT', 1000, 'BLOCK', idleMs, 'STREAMS', key, idOf(position));
        } catch (err) {
          if (signal.aborted) return;
          throw err;
        }
        if (!reply) {
          yield null;
          continue;
        }
        for (const entry of reply[0][1]) {
          const event = parse(entry);
          yield event;
          position = event.n;
          if (isFinal(event)) return;
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.followers.delete(connection);
      connection.disconnect(false);
    }
  }

  async close(): Promise<void> {
    for (const connection of this.followers) connection.disconnect(false);
    this.followers.clear();
  }
}
