import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../../src/database/data-source-options';
import { runMigrationsLocked } from '../../src/database/migrate';
import { ENTITIES } from '../../src/entities';
import { ADMIN_URL, databaseUrl, DB_PREFIX, TEMPLATE_DB, withAdmin } from './database';

/** Runs once before the e2e files: a fresh template database with every migration applied. */
export default async function globalSetup(): Promise<void> {
  try {
    await withAdmin(async (admin) => {
      const { rows } = await admin.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE datname LIKE $1 ESCAPE '\\'",
        [`${DB_PREFIX.replace(/[\\%_]/g, (c) => `\\${c}`)}\\_%`],
      );
      for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      await admin.query(`CREATE DATABASE "${TEMPLATE_DB}"`);
    });
  } catch (err) {
    throw new Error(
      `The e2e tests need PostgreSQL at ${ADMIN_URL} (set TEST_DATABASE_URL to an admin connection): ${(err as Error).message}`,
    );
  }
  const dataSource = await new DataSource(buildDataSourceOptions(databaseUrl(TEMPLATE_DB), 2, ENTITIES)).initialize();
  try {
    await runMigrationsLocked(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
