import { Module } from '@nestjs/common';
import { SearchController } from './search.controller';
import { SearchLanguage } from './search-language';
import { SearchRepository } from './search.repository';
import { SearchService } from './search.service';

/**
 * Full-text search of messages (PostgreSQL, `messages.search_vector`): `GET /v1/chat/search`, and the match
 * clauses and snippets the session lists use for their `search` filter. Checks the configured language at start-up.
 */
@Module({
  controllers: [SearchController],
  providers: [SearchRepository, SearchService, SearchLanguage],
  exports: [SearchRepository],
})
export class SearchModule {}
