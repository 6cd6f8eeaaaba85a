import { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource, DataSourceOptions } from 'typeorm';

/** How start-up reaches PostgreSQL: attempts in all and the pause between two (`DATABASE_CONNECT_*`). */
export interface ConnectPolicy {
  attempts: number;
  retryDelayMs: number;
}

/** Start-up gave up on PostgreSQL; `message` names the address and the last cause (never credentials). */
export class DatabaseUnreachableError extends Error {
  constructor(
    readonly address: string,
    readonly attempts: number,
    override readonly cause: unknown,
  ) {
    super(`could not connect to the database at ${address} after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${reason(cause)}`);
  }
}

/**
 * `host:port` of a `postgres://` URL, for log lines: the user name and password are left out.
 * @returns e.g. `db.internal:5432` (5432 when the URL names no port), or `(unparsable URL)`
 */
export function databaseAddress(url: string): string {
  try {
    const { hostname, port } = new URL(url);
    return `${hostname}:${port || '5432'}`;
  } catch {
    return '(unparsable URL)';
  }
}

function reason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = e?.message || String(err);
  return e?.code && !message.includes(e.code) ? `${e.code} ${message}` : message;
}

/**
 * Opens the TypeORM data source, logging one line before every attempt ("connecting to the database at host:port",
 * with the attempt number and the previous failure on retries).
 * @throws DatabaseUnreachableError when every attempt failed
 */
export async function connectWithRetry(options: DataSourceOptions & { url: string }, policy: ConnectPolicy): Promise<DataSource> {
  const logger = new Logger('Database');
  const address = databaseAddress(options.url);
  let last: unknown;
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    if (attempt === 1) logger.log(`connecting to the database at ${address}`);
    else logger.warn(`connecting to the database at ${address} (attempt ${attempt} of ${policy.attempts}; the last one failed: ${reason(last)})`);
    try {
      return await new DataSource(options).initialize();
    } catch (err) {
      last = err;
      if (attempt < policy.attempts) await sleep(policy.retryDelayMs);
    }
  }
  throw new DatabaseUnreachableError(address, policy.attempts, last);
}
