import { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { ENTITIES } from './entities';

/**
 * The one TypeORM options object, shared by the app (DatabaseModule) and the CLI (`ormconfig.ts`).
 * Schema changes go through migrations only: `synchronize` is never on.
 * @param url a `postgres://` URL
 * @param poolSize the most connections the pool opens
 */
export function buildDataSourceOptions(url: string, poolSize = 10): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    extra: { max: poolSize, connectionTimeoutMillis: 10_000 },
  };
}
