import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig, appConfig } from '../config/app-config';
import { ConfigValidationError } from '../config/config-validation-error';
import { SearchRepository } from './search.repository';

/**
 * At start-up: `search.language` must name a text search configuration PostgreSQL has (else start-up stops with a
 * configuration problem naming the ones it has), and `messages.search_vector` must be generated with it, since a
 * generated column's configuration is a constant. When it is not (the language was changed, or the migration built
 * the column with the default `english`), the column and its index are rebuilt before the app serves: the messages
 * table is locked and rewritten meanwhile, like a migration would. Several instances starting at once rebuild it once.
 */
@Injectable()
export class SearchLanguage implements OnModuleInit {
  private readonly logger = new Logger(SearchLanguage.name);

  constructor(
    private readonly search: SearchRepository,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /** @throws ConfigValidationError when PostgreSQL has no such configuration */
  async onModuleInit(): Promise<void> {
    const { language } = this.config.search;
    const known = await this.search.textSearchConfigs();
    if (!known.includes(language)) {
      throw new ConfigValidationError([
        `search.language: PostgreSQL has no text search configuration "${language}" (it has ${known.join(', ')})`,
      ]);
    }
    const built = await this.search.vectorLanguage();
    if (built === language) return;
    this.logger.warn(`messages.search_vector is generated with ${built ?? 'nothing'}, search.language is ${language}: rebuilding it`);
    const started = Date.now();
    if (await this.search.rebuildVector(language)) {
      this.logger.log(`messages.search_vector rebuilt with ${language} in ${Date.now() - started} ms`);
    }
  }
}
