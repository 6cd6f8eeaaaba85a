import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';

/** Any fixed 64-bit key; every instance of this service agrees on it. */
const MIGRATION_LOCK_KEY = 7_316_420_001;

/**
 * Runs pending migrations under a PostgreSQL session-level advisory lock, so two instances starting at once
 * never run the same migration twice: the second waits, then finds nothing pending. The lock is held on a
 * connection of its own, outside the pool, so it works with a pool of one connection too.
 * @returns the names of the migrations this call applied
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<string[]> {
  const lock = new Client({ connectionString: (dataSource.options as PostgresDataSourceOptions).url });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await lock.end(); // ending the session releases the lock
  }
}
