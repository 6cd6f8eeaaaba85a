import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { KeyScope } from '../auth/auth.decorators';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { OperationId } from '../common/operation-id.decorator';
import { SearchPageDto, SearchQueryDto } from './dto/search.dto';
import { SearchService } from './search.service';

/** Full-text search of my messages. */
@ApiTags('chat sessions')
@ApiBearerAuth()
@Controller('v1/chat')
@KeyScope('sessions:read')
export class SearchController {
  constructor(private readonly search: SearchService) {}

  /**
   * Find my messages by their words, across all my sessions: best match first, each with its session, a snippet
   * with the matches marked, and its rank. Archived sessions with `archived=true`.
   */
  @Get('search')
  @ApiOkResponse({ type: SearchPageDto })
  @OperationId('searchMessages')
  searchMessages(@CurrentUser() user: AuthenticatedUser, @Query() query: SearchQueryDto): Promise<SearchPageDto> {
    return this.search.searchMessages(user, query);
  }
}
