import { QueryFailedError } from 'typeorm';

/** The SQLSTATE of a PostgreSQL error, whether thrown by TypeORM (`QueryFailedError`) or by `pg` itself. */
export function pgCode(err: unknown): string | undefined {
  const e = (err instanceof QueryFailedError ? err.driverError : err) as { code?: unknown } | undefined;
  return typeof e?.code === 'string' ? e.code : undefined;
}

/** SQLSTATE 23505 (PostgreSQL, "Errors and Messages" appendix): a unique constraint refused the row. */
export const isUniqueViolation = (err: unknown): boolean => pgCode(err) === '23505';

/** SQLSTATE 23503: a foreign key refused the row (the row it refers to is gone). */
export const isForeignKeyViolation = (err: unknown): boolean => pgCode(err) === '23503';

/**
 * Socket errors and PostgreSQL's SQLSTATEs for a server that will not serve this app now: the connection class
 * (08xxx), shutdowns (57P0x), too many connections (53300), and refusals of a new connection — the database was
 * dropped or renamed (3D000), the credentials no longer work (28000, 28P01). The database is out of reach.
 */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300', '3D000', '28000', '28P01']);

/**
 * True when `err` says PostgreSQL is out of reach (refused or lost connection, server shutting down, no free
 * connection slot): worth retrying later, unlike an error of the statement itself.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = (err instanceof QueryFailedError ? err.driverError : err) as { code?: string; message?: string } | undefined;
  if (!e) return false;
  if (e.code && (UNREACHABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  return /Connection terminated|timeout exceeded when trying to connect/i.test(e.message ?? '');
}
