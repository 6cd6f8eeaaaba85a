import { createHash } from 'node:crypto';
import { MAX_ID } from '../common/parse-id.pipe';

/**
 * Where a page of a session list ended; the next page starts right after it. Lists are in a total order (newest
 * `updated_at` first, then highest id; with `search`, best rank first before that), so "after" is a keyset
 * condition that stays right whatever is inserted meanwhile (no session is shown twice, none is skipped, except
 * one that new activity moves up past the position).
 */
export interface SessionListPosition {
  /** With `search`: the session's rank, as PostgreSQL prints the `real`, so it compares exactly. */
  rank?: string;
  /** `updated_at` to the microsecond, ISO 8601 in UTC (`2026-11-23T10:00:00.123456Z`). */
  updatedAt: string;
  id: number;
}

/** The filters a cursor belongs to, as the request gave them. */
export interface SessionListFilters {
  search?: string;
  model?: string;
  start_date?: string;
  end_date?: string;
  archived?: boolean;
  application_id?: number;
}

/** Longest cursor accepted; ours are under 120 characters. */
export const MAX_CURSOR_LENGTH = 200;

const MICROSECOND_ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
/** How PostgreSQL prints a finite `real`. */
const REAL = /^-?\d+(\.\d+)?(e[-+]\d+)?$/;

/** A short digest of the filters, so a cursor used with other filters is refused instead of paging nonsense. */
function fingerprint(f: SessionListFilters): string {
  const values = [f.search || null, f.model ?? null, f.start_date ?? null, f.end_date ?? null, f.archived ?? false, f.application_id ?? null];
  return createHash('sha256').update(JSON.stringify(values)).digest('base64url').slice(0, 12);
}

/** @returns the opaque `next_cursor` for a list with these filters that ended at `position` */
export function encodeCursor(filters: SessionListFilters, position: SessionListPosition): string {
  const fields: unknown[] = [fingerprint(filters), position.id, position.updatedAt];
  if (position.rank !== undefined) fields.push(position.rank);
  return Buffer.from(JSON.stringify(fields)).toString('base64url');
}

/**
 * Reads a cursor back.
 * @returns the position, or why the cursor can't be used with these filters (a sentence for a 422)
 */
export function decodeCursor(cursor: string, filters: SessionListFilters): SessionListPosition | { problem: string } {
  const invalid = { problem: 'is not a cursor this list returned (pass next_cursor as it came)' };
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) return invalid;
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return invalid;
  }
  if (!Array.isArray(fields) || fields.length < 3 || fields.length > 4) return invalid;
  const [print, id, updatedAt, rank] = fields as unknown[];
  if (typeof print !== 'string' || !Number.isInteger(id) || (id as number) < 1 || (id as number) > MAX_ID) return invalid;
  if (typeof updatedAt !== 'string' || !MICROSECOND_ISO.test(updatedAt)) return invalid;
  if (rank !== undefined && (typeof rank !== 'string' || !REAL.test(rank))) return invalid;
  if (print !== fingerprint(filters) || (rank !== undefined) !== Boolean(filters.search)) {
    return { problem: 'belongs to a list with other filters: repeat the filters of the request that returned it' };
  }
  return { id: id as number, updatedAt, ...(rank !== undefined ? { rank } : {}) };
}
