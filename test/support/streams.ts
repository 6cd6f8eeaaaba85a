import { createServer } from 'node:net';
import { ModelStreamEvent } from '../../src/providers/model-provider';

/** Every event of an adapter's stream, in order. */
export async function collect(events: AsyncIterable<ModelStreamEvent>): Promise<ModelStreamEvent[]> {
  const all: ModelStreamEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

export const deltas = (events: ModelStreamEvent[]) => events.flatMap((e) => (e.type === 'delta' ? [e.text] : []));
export const finish = (events: ModelStreamEvent[]) => events.find((e) => e.type === 'finish');

/** Resolves with what `promise` rejected with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

/** A loopback port nothing listens on (bound, then released). */
export function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
