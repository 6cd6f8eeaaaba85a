import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './src/database/data-source-options';
import { ENTITIES } from './src/entities';

/**
 * The TypeORM CLI's data source (`npm run migration:generate -- migrations/Name`), built from the same options
 * object as the app. The CLI needs a real server: set DATABASE_URL.
 */
export default new DataSource(
  buildDataSourceOptions(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', 2, ENTITIES),
);
