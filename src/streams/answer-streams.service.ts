import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig, appConfig } from '../config/app-config';
import { RedisConnection } from '../rate-limit/redis.provider';
import { AnswerEvent, AnswerLog, isFinal } from './answer-log';
import { CancelSignals, LocalCancelSignals, RedisCancelSignals } from './cancel-signals';
import { MemoryAnswerLog } from './memory-answer-log';
import { RedisAnswerLog } from './redis-answer-log';

/** How long the local copy of an answer generated here stays after its end when Redis holds the shared log. */
const LOCAL_LINGER_MS = 5_000;

/**
 * The event logs of answers and the stop requests, for every instance: with `REDIS_URL`, on Redis Streams and
 * pub/sub (any instance can resume or stop any answer); without it, in this process.
 *
 * The instance generating an answer publishes its events here: local readers (its own client) get them at once
 * from memory; the shared log gets every answer's events of a `streams.log_flush_ms` interval in one round trip, so
 * the hot path costs one Redis round trip per interval, not one per token or per answer.
 */
@Injectable()
export class AnswerStreams implements OnApplicationShutdown {
  private readonly logger = new Logger(AnswerStreams.name);
  private readonly local: MemoryAnswerLog;
  private readonly shared: AnswerLog | null;
  readonly cancels: CancelSignals;
  /** Events waiting for the next batch, per answer. */
  private pending = new Map<number, AnswerEvent[]>();
  private flushing?: NodeJS.Timeout;
  private readonly flushMs: number;
  private writes = new Set<Promise<void>>();

  constructor(@Inject(appConfig.KEY) config: AppConfig, redis: RedisConnection) {
    const s = config.streams;
    this.flushMs = s.log_flush_ms;
    if (redis.client && s.shared_log) {
      this.local = new MemoryAnswerLog(LOCAL_LINGER_MS, s.max_events);
      this.shared = new RedisAnswerLog(redis.client, s.key_prefix, s.retention_seconds, s.max_events, config.redis.command_timeout_ms);
    } else {
      this.local = new MemoryAnswerLog(s.retention_seconds * 1000, s.max_events);
      this.shared = null;
    }
    this.cancels = redis.client
      ? new RedisCancelSignals(redis.client, s.key_prefix, (err) =>
          this.logger.warn(`Stop requests from other instances are not received until Redis answers: ${err.message}`),
        )
      : new LocalCancelSignals();
  }

  /** Starts the answer's log on this instance (readers may follow it before its first event). */
  open(answerId: number): void {
    this.local.open(answerId);
  }

  /** Appends one event: local readers see it now, the shared log with this tick's batch. */
  publish(answerId: number, event: AnswerEvent): void {
    this.local.push(answerId, [event]);
    if (!this.shared) return;
    const batch = this.pending.get(answerId);
    if (batch) batch.push(event);
    else this.pending.set(answerId, [event]);
    // A timer, not the next tick: the local client's write goes first, and every answer's events of the
    // interval share one round trip.
    this.flushing ??= setTimeout(() => this.flush(), this.flushMs);
  }

  private flush(): void {
    this.flushing = undefined;
    const batches = this.pending;
    this.pending = new Map();
    const write = this.shared!.appendAll(batches).catch((err: unknown) => {
      // The answers go on for their local readers and are stored in PostgreSQL; only remote resume is affected.
      const events = [...batches.values()].reduce((n, e) => n + e.length, 0);
      this.logger.warn(`${events} event(s) of ${batches.size} answer(s) not written to the shared log: ${(err as Error).message}`);
    });
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  /**
   * The answer's events after `after`, then (unless the last one is final) those to come.
   * @returns null when no log holds the answer any more (the stored row is then the source)
   */
  async follow(answerId: number, after: number, signal: AbortSignal, idleMs: number): Promise<AsyncIterable<AnswerEvent | null> | null> {
    if (this.local.has(answerId)) return this.local.follow(answerId, after, signal, idleMs);
    if (!this.shared) return null;
    const backlog = await this.shared.read(answerId, after);
    if (backlog === null) return null;
    const shared = this.shared;
    return (async function* () {
      let position = after;
      for (const event of backlog) {
        yield event;
        position = event.n;
        if (isFinal(event)) return;
      }
      yield* shared.follow(answerId, position, signal, idleMs);
    })();
  }

  /** Waits for the shared log's pending writes (shutdown, tests). */
  async drain(): Promise<void> {
    if (this.flushing) {
      clearTimeout(this.flushing);
      this.flush();
    }
    await Promise.all(this.writes);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.drain();
    await Promise.all([this.local.close(), this.shared?.close(), this.cancels.close()]);
  }
}
