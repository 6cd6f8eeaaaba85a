import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { AnswerEvent, AnswerLog } from '../src/streams/answer-log';
import { MemoryAnswerLog } from '../src/streams/memory-answer-log';
import { RedisAnswerLog } from '../src/streams/redis-answer-log';

const delta = (n: number, text: string): AnswerEvent => ({ n, type: 'delta', data: { text } });
const done = (n: number): AnswerEvent => ({ n, type: 'done', data: { finish_reason: 'stop' } });

interface Made {
  log: AnswerLog;
  close: () => Promise<void>;
}

describe.each<[string, () => Made]>([
  ['in memory', () => ({ log: new MemoryAnswerLog(60_000, 1000), close: async () => undefined })],
  [
    'on Redis Streams',
    () => {
      const client = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/11');
      const prefix = `test-answer-log-${randomUUID()}:`;
      return {
        log: new RedisAnswerLog(client, prefix, 60, 1000),
        close: async () => {
          const keys = await client.keys(`${prefix}*`);
          if (keys.length) await client.del(...keys);
          client.disconnect();
        },
      };
    },
  ],
])('The answer log (%s)', (_name, make) => {
  let log: AnswerLog;
  let close: () => Promise<void>;

  beforeEach(() => ({ log, close } = make()));
  afterEach(async () => {
    await log.close();
    await close();
  });

  it('reads the events after n; an answer it does not hold is null', async () => {
    await log.append(1, [{ n: 1, type: 'start', data: { message_id: 1 } }, delta(2, 'a'), delta(3, 'b')]);
    expect((await log.read(1, 1))!.map((e) => e.n)).toEqual([2, 3]);
    expect(await log.read(1, 3)).toEqual([]);
    expect((await log.read(1, 0))![0]).toEqual({ n: 1, type: 'start', data: { message_id: 1 } });
    expect(await log.read(999, 0)).toBeNull();
  });

  it('follows: the backlog, then events appended while the reader is busy, until the final event', async () => {
    await log.append(2, [delta(1, 'x')]);
    const seen: number[] = [];
    const controller = new AbortController();
    for await (const event of log.follow(2, 0, controller.signal, 1000)) {
      if (!event) continue;
      seen.push(event.n);
      // Appends while this reader is between two events must not be missed.
      if (event.n === 1) await log.append(2, [delta(2, 'y')]);
      if (event.n === 2) setTimeout(() => void log.append(2, [delta(3, 'z'), done(4)]), 20);
    }
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('tells a quiet log apart (null) and stops when the reader aborts', async () => {
    await log.append(3, [delta(1, 'x')]);
    const controller = new AbortController();
    const seen: (number | null)[] = [];
    for await (const event of log.follow(3, 1, controller.signal, 50)) {
      seen.push(event?.n ?? null);
      if (seen.length === 2) controller.abort();
    }
    expect(seen).toEqual([null, null]);
  });
});

describe('The answer log in memory, bounded', () => {
  it('drops the oldest events beyond its length; a reader behind them gets null (the stored row is the source)', async () => {
    const log = new MemoryAnswerLog(60_000, 3);
    await log.append(1, [delta(1, 'a'), delta(2, 'b'), delta(3, 'c'), delta(4, 'd')]);
    expect(await log.read(1, 0)).toBeNull();
    expect((await log.read(1, 1))!.map((e) => e.n)).toEqual([2, 3, 4]);
    await log.close();
  });
});

describe('The answer log on Redis Streams, batched', () => {
  const client = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/11');
  const prefix = `test-answer-log-batch-${randomUUID()}:`;

  afterAll(async () => {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length) await client.del(...keys);
    client.disconnect();
  });

  it("writes several answers' events in one call; a live log expires late, an ended one after the retention", async () => {
    const log = new RedisAnswerLog(client, prefix, 60, 1000, 1000, 86_400);
    await log.appendAll(new Map([[1, [delta(1, 'a'), delta(2, 'b')]], [2, [delta(1, 'x')]]]));
    expect((await log.read(1, 0))!.map((e) => e.n)).toEqual([1, 2]);
    expect((await log.read(2, 0))!.map((e) => e.n)).toEqual([1]);
    expect(await client.ttl(`${prefix}1`)).toBeGreaterThan(60);

    await log.appendAll(new Map([[1, [delta(3, 'c'), done(4)]], [2, [delta(2, 'y')]]]));
    expect((await log.read(1, 2))!.map((e) => e.n)).toEqual([3, 4]);
    expect(await client.ttl(`${prefix}1`)).toBeLessThanOrEqual(60);
    expect(await client.ttl(`${prefix}2`)).toBeGreaterThan(60);
    await log.close();
  });
});
