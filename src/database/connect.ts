import { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource, DataSourceOptions } from 'typeorm';

/** How start-up reaches PostgreSQL: attempts in all and the pause between two (`DATABASE_CONNECT_*`). */
export interface ConnectPolicy {
  attempts: number;
  retryDelayMs: number;
}

/**
 * SQLSTATEs with which a running server refuses a connection for good (PostgreSQL, "Errors and Messages" appendix):
 * 3D000 the database named in the URL does not exist, 28000/28P01 the role may not log in or the password is
 * wrong. Trying again cannot help; the URL (or the server's setup) must change.
 */
const REFUSED_FOR_GOOD: Record<string, string> = {
  '3D000': 'create that database (e.g. `createdb`) or fix the database name in DATABASE_URL',
  '28000': 'fix the user in DATABASE_URL or let it log in (pg_hba.conf)',
  '28P01': 'fix the user or password in DATABASE_URL',
};

/**
 * Start-up gave up on PostgreSQL; `message` names the address and the last cause (never credentials), and for a
 * refusal that no retry can change (a missing database, rejected credentials), what to fix.
 */
export class DatabaseUnreachableError extends Error {
  constructor(
    readonly address: string,
    readonly attempts: number,
    override readonly cause: unknown,
  ) {
    const fix = REFUSED_FOR_GOOD[codeOf(cause) ?? ''];
    super(
      fix
        ? `the database server at ${address} refused the connection: ${reason(cause)}; ${fix}`
        : `could not connect to the database at ${address} after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${reason(cause)}`,
    );
  }
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
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
 * with the attempt number and the previous failure on retries). A server that refuses for good (a database that
 * does not exist, rejected credentials) is not asked again.
 * @throws DatabaseUnreachableError when every attempt failed, or at the first refusal for good
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
      if (REFUSED_FOR_GOOD[codeOf(err) ?? '']) throw new DatabaseUnreachableError(address, attempt, err);
      if (attempt < policy.attempts) await sleep(policy.retryDelayMs);
    }
  }
  throw new DatabaseUnreachableError(address, policy.attempts, last);
}
