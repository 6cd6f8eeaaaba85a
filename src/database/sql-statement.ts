import type { EntityManager } from 'typeorm';

/**
 * One SQL statement built from data-modifying CTEs (PostgreSQL, "WITH Queries", §7.8.4) that the repositories
 * owning each table contribute, so a write touching several tables costs one round trip and is atomic without
 * BEGIN/COMMIT. Every CTE runs exactly once, whether or not the final SELECT reads it; all of them see the same
 * snapshot, so a table may be written by one CTE of a statement only, and a CTE sees another's rows only through
 * its RETURNING.
 */
export class SqlStatement {
  private readonly ctes: string[] = [];
  private readonly params: unknown[] = [];

  /**
   * Adds a parameter.
   * @param cast a PostgreSQL type the placeholder is cast to (needed where the type can't be inferred, e.g. arrays)
   * @returns its placeholder, `$n` or `$n::cast`
   */
  param(value: unknown, cast?: string): string {
    this.params.push(value);
    return `$${this.params.length}${cast ? `::${cast}` : ''}`;
  }

  /**
   * Adds `name AS (sql)`.
   * @returns `name`, for later CTEs and the final SELECT to read its RETURNING rows
   */
  with(name: string, sql: string): string {
    if (this.ctes.some((c) => c.startsWith(`${name} AS`))) throw new Error(`CTE ${name} added twice`);
    this.ctes.push(`${name} AS (${sql})`);
    return name;
  }

  /**
   * Runs the statement: one round trip.
   * @param select the final query, e.g. `SELECT * FROM session`
   * @returns its rows
   */
  run<T>(db: Pick<EntityManager, 'query'>, select = 'SELECT 1'): Promise<T[]> {
    const sql = this.ctes.length ? `WITH ${this.ctes.join(',\n')}\n${select}` : select;
    return db.query(sql, this.params);
  }
}
