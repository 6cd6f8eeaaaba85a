import { DynamicModule, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, DataSourceOptions } from 'typeorm';
import { AppConfig, appConfig } from '../config/app-config';
import { connectWithRetry, ConnectPolicy } from './connect';
import { buildDataSourceOptions, EntityList } from './data-source-options';
import { EMBEDDED_POOL_SIZE, EmbeddedPostgres } from './embedded-postgres';
import { runMigrationsLocked } from './migrate';

/** Stops the embedded server, if one was started, after the pool has closed. */
class EmbeddedShutdown implements OnApplicationShutdown {
  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.config.databaseUrl) return;
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    const embedded = await EmbeddedPostgres.start(this.config.dataDir);
    await embedded.stop();
  }
}

/**
 * PostgreSQL through TypeORM: `DATABASE_URL`, or the embedded server under `DATA_DIR` when it is unset.
 * Pending migrations run before any other module touches the database.
 */
@Module({})
export class DatabaseModule {
  /**
   * @param entities the schema's entity classes, handed in by the app (`src/entities.ts`): the database layer
   *   imports no feature module
   */
  static forRoot(entities: EntityList): DynamicModule {
    let policy: ConnectPolicy = { attempts: 1, retryDelayMs: 0 };
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [appConfig.KEY],
          useFactory: async (config: AppConfig) => {
            policy = config.databaseConnect;
            // Retries are connectWithRetry's, which logs each attempt on one line; none from @nestjs/typeorm.
            const noRetry = { toRetry: () => false };
            if (config.databaseUrl) return { ...buildDataSourceOptions(config.databaseUrl, config.databasePoolSize, entities), ...noRetry };
            new Logger('Database').log(`starting the embedded PostgreSQL under ${config.dataDir}`);
            const embedded = await EmbeddedPostgres.start(config.dataDir);
            return { ...buildDataSourceOptions(embedded.url, EMBEDDED_POOL_SIZE, entities), ...noRetry };
          },
          dataSourceFactory: async (options) => {
            const dataSource = await connectWithRetry(options as DataSourceOptions & { url: string }, policy);
            const applied = await runMigrationsLocked(dataSource);
            if (applied.length) new Logger('Migrations').log(`Applied: ${applied.join(', ')}`);
            return dataSource;
          },
        }),
      ],
      providers: [EmbeddedShutdown],
    };
  }
}
