import { Controller, Get, Header, Param } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { OperationId } from '../common/operation-id.decorator';
import { Public } from '../common/public.decorator';
import { AuthRateLimit } from '../rate-limit/rate-limit.decorators';
import { SharedConversationDto } from './dto/share-link.dto';
import { SharingService } from './sharing.service';

/** The public side of share links. */
@ApiTags('sharing')
@Controller('v1/shared')
export class SharedController {
  constructor(private readonly sharing: SharingService) {}

  /**
   * A shared conversation, for anyone with its link (no sign-in): the title and messages of the session's active
   * branch when it was shared; no user, email or id. Counted against the per-IP limit of sign-in routes, which
   * slows guessing (tokens carry 256 bits). Not cached, not indexed.
   */
  @Get(':token')
  @Public()
  @AuthRateLimit()
  @OperationId('getSharedConversation')
  @Header('Cache-Control', 'no-store')
  @Header('X-Robots-Tag', 'noindex, nofollow')
  @ApiOkResponse({ type: SharedConversationDto })
  @ApiNotFoundResponse({ description: 'No such link, or it was revoked or has expired (the same answer for each).' })
  shared(@Param('token') token: string): Promise<SharedConversationDto> {
    return this.sharing.shared(token);
  }
}
