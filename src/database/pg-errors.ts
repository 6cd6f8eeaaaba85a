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
