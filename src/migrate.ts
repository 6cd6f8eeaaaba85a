import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';

/**
 * `npm run migration:run` (`node dist/src/migrate.js`): applies pending migrations with the app's own configuration
 * (`DATABASE_URL`, or the embedded database under `DATA_DIR`), then exits; 1 on failure.
 */
async function main(): Promise<void> {
  const { loadAppConfig } = await import('./config/app-config');
  const { buildDataSourceOptions } = await import('./database/data-source-options');
  const { EMBEDDED_POOL_SIZE, EmbeddedPostgres } = await import('./database/embedded-postgres');
  const { runMigrationsLocked } = await import('./database/migrate');
  const { ENTITIES } = await import('./entities');
  const config = loadAppConfig(process.env);
  const embedded = config.databaseUrl ? undefined : await EmbeddedPostgres.start(config.dataDir);
  const dataSource = new DataSource(
    buildDataSourceOptions(config.databaseUrl ?? embedded!.url, embedded ? EMBEDDED_POOL_SIZE : 2, ENTITIES),
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

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
