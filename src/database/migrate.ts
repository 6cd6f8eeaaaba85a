import { Logger } from '@nestjs/common';
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

/** `npm run migration:run`: applies pending migrations with the app's own configuration, then exits. */
async function main(): Promise<void> {
  const { loadAppConfig } = await import('../config/app-config');
  const { buildDataSourceOptions } = await import('./data-source-options');
  const { EMBEDDED_POOL_SIZE, EmbeddedPostgres } = await import('./embedded-postgres');
  const config = loadAppConfig(process.env);
  const embedded = config.databaseUrl ? undefined : await EmbeddedPostgres.start(config.dataDir);
  const dataSource = new DataSource(
    buildDataSourceOptions(config.databaseUrl ?? embedded!.url, embedded ? EMBEDDED_POOL_SIZE : 2),
  );
  await dataSource.initialize();
  try {
    const applied = await runMigrationsLocked(dataSource);
    new Logger('Migrations').log(applied.length ? `Applied: ${applied.join(', ')}` : 'No pending migrations');
  } finally {
    await dataSource.destroy();
    await embedded?.stop();
  }
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
