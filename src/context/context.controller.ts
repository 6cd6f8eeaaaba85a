import { Controller, Get, Param, Query } from '@nestjs/common';
import { KeyScope } from '../auth/auth.decorators';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { ContextService } from './context.service';
import { ContextPreviewDto, ContextPreviewQueryDto } from './dto/context-preview.dto';

/** What a session's next send gives its model. */
@ApiTags('chat sessions')
@ApiBearerAuth()
@Controller('v1/chat')
@KeyScope('sessions:read')
export class ContextController {
  constructor(private readonly context: ContextService) {}

  /**
   * Preview the context: the turns the next send gives the model before the new message (system prompt, summary,
   * documents, the newest messages that fit), tokens per turn and part, the budget, and what is left out.
   */
  @Get('sessions/:session_id/context')
  @ApiOkResponse({ type: ContextPreviewDto })
  preview(
    @CurrentUser() user: AuthenticatedUser,
    @Param('session_id', ParseIdPipe) sessionId: number,
    @Query() query: ContextPreviewQueryDto,
  ): Promise<ContextPreviewDto> {
    return this.context.preview(user, sessionId, query.max_tokens);
  }
}
