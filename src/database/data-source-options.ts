import { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations';

/** Entity classes, as TypeORM takes them. */
export type EntityList = NonNullable<DataSourceOptions['entities']>;

/**
 * The one TypeORM options object, shared by the app (DatabaseModule) and the CLI (`ormconfig.ts`).
 * Schema changes go through migrations only: `synchronize` is never on.
 * @param url a `postgres://` URL
 * @param poolSize the most connections the pool opens
 * @param entities the schema's entity classes (`src/entities.ts`); migrations need them too (TypeORM keeps
 *   generated columns in a table of its own, created only when an entity has one)
 */
export function buildDataSourceOptions(url: string, poolSize: number, entities: EntityList): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    extra: { max: poolSize, connectionTimeoutMillis: 10_000 },
  };
}
