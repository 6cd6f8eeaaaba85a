import express from 'express';
import { AddressInfo } from 'node:net';
import { splitAtWordInterior, SseWriter } from './sse-writer';

describe('splitAtWordInterior', () => {
  it('cuts between the last two neighbouring non-space characters', () => {
    expect(splitAtWordInterior('Hello world')).toEqual(['Hello worl', 'd']);
    expect(splitAtWordInterior('Hello ')).toEqual(['Hell', 'o ']);
  });

  it('holds everything back when there is no such place', () => {
    expect(splitAtWordInterior('a')).toEqual(['', 'a']);
    expect(splitAtWordInterior('a b')).toEqual(['', 'a b']);
    expect(splitAtWordInterior('   ')).toEqual(['', '   ']);
  });

  it('never splits a surrogate pair', () => {
    const [emit, keep] = splitAtWordInterior('go🚀');
    expect(emit).toBe('go');
    expect(keep).toBe('🚀');
  });

  it('emits parts that concatenate back to the input and never start or end with whitespace', () => {
    const pieces = ['Once', ' upon', ' a', ' time,\n', 'there', ' was', ' 🚀', '.'];
    let held = '';
    const emitted: string[] = [];
    for (const piece of pieces) {
      const [emit, keep] = splitAtWordInterior(held + piece);
      if (emit) emitted.push(emit);
      held = keep;
    }
    emitted.push(held);
    expect(emitted.join('')).toBe(pieces.join(''));
    for (const part of emitted.slice(0, -1)) expect(part).toBe(part.trim());
  });
});

describe('SseWriter', () => {
  /** Serves one stream written by `script` and returns the body and how many times `res.write` was called. */
  async function serve(
    script: (sse: SseWriter, tick: () => Promise<void>) => Promise<void>,
    format: 'data' | 'events' = 'events',
    skipThrough = 0,
  ): Promise<{ body: string; writes: number }> {
    let writes = 0;
    const app = express();
    app.get('/', (_req, res) => {
      const write = res.write.bind(res) as (...args: unknown[]) => boolean;
      res.write = ((...args: unknown[]) => {
        writes++;
        return write(...args);
      }) as typeof res.write;
      const sse = new SseWriter(res, format);
      sse.skipThrough = skipThrough;
      void script(sse, () => new Promise((resolve) => setTimeout(resolve, 5)));
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      return { body, writes };
    } finally {
      server.close();
    }
  }

  it('writes the events of one turn of the event loop with one write, and ends with the rest', async () => {
    const { body, writes } = await serve(async (sse, tick) => {
      sse.start({ session_id: 1 });
      for (const piece of ['a', 'b', 'c']) sse.delta(piece);
      await tick();
      for (const piece of ['d', 'e']) sse.delta(piece);
      await tick();
      sse.delta('f');
      sse.done({ finish_reason: 'stop' });
    });
    expect(writes).toBe(2); // the first two turns; the third goes out with `end`
    const deltas = [...body.matchAll(/event: delta\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]).text);
    expect(deltas).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(body.startsWith('event: start\ndata: {"session_id":1}\n\n')).toBe(true);
    expect(body.endsWith('event: done\ndata: {"finish_reason":"stop"}\n\ndata: [DONE]\n\n')).toBe(true);
  });

  /** An answer's log as the writer gets it: `start` (1), deltas, then `done`. */
  const answer = (pieces: string[]) => async (sse: SseWriter) => {
    sse.start({ message_id: 1 }, 1);
    pieces.forEach((piece, i) => sse.delta(piece, i + 2));
    sse.done({ finish_reason: 'stop' }, pieces.length + 2);
  };
  const PIECES = ['Once', ' upon', ' a', ' time,', ' there', ' was', ' a', ' story.'];
  const ids = (body: string) => [...body.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  const datas = (body: string) => [...body.matchAll(/^data: (.*)$/gm)].map((m) => m[1]);

  it('numbers the plain format\'s events 1, 2, 3 … (its own events, not the log\'s); [DONE] has no id', async () => {
    const { body } = await serve(answer(PIECES), 'data');
    const shown = ids(body);
    expect(shown).toEqual(shown.map((_, i) => i + 1));
    expect(datas(body).slice(0, -1).join('')).toBe(PIECES.join(''));
    expect(body.endsWith('\n\ndata: [DONE]\n\n')).toBe(true);
    expect(body.split('\n\n').filter((e) => e.startsWith('data: ')).length).toBe(1); // only [DONE] lacks an id
  });

  it('a plain stream replayed after event k writes exactly the events after k, with the same ids and bytes', async () => {
    const whole = (await serve(answer(PIECES), 'data')).body;
    const events = whole.split('\n\n').filter(Boolean);
    for (let k = 0; k < events.length - 1; k++) {
      const rest = (await serve(answer(PIECES), 'data', k)).body;
      expect(rest).toBe(`${events.slice(k).join('\n\n')}\n\n`);
    }
  });

  it('the typed format keeps the log\'s numbers as ids and sequence numbers; resuming skips through them', async () => {
    const { body } = await serve(answer(['a', 'b']), 'events', 2);
    expect(ids(body)).toEqual([3, 4]);
    expect(datas(body).slice(0, -1).map((d) => JSON.parse(d).sequence_number)).toEqual([3, 4]);
  });
});
