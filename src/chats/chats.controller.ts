import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { KeyScope } from '../auth/auth.decorators';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { Idempotent } from '../idempotency/idempotency.http';
import { ChatsService } from './chats.service';
import {
  DeletedDto,
  HistoryPageDto,
  SessionDto,
  SessionPageDto,
  SwitchModelResultDto,
} from './dto/session.dto';
import { CreateSessionDto, DeleteSessionQueryDto, SwitchModelDto, UpdateSessionDto } from './dto/session-input.dto';
import { HistoryQueryDto, ListSessionsQueryDto } from './dto/session-list-query.dto';
import { OperationId } from '../common/operation-id.decorator';

/** Chat sessions: create, read, update, archive or delete, the chat history and the model switch. */
@ApiTags('chat sessions')
@ApiBearerAuth()
@Controller('v1/chat')
@KeyScope('chat')
export class ChatsController {
  constructor(private readonly chats: ChatsService) {}

  /** Create a session. With `Idempotency-Key`, a repeat of the same request returns the session created first. */
  @Post('sessions')
  @Idempotent()
  @ApiCreatedResponse({ type: SessionDto, headers: { 'Idempotent-Replayed': { $ref: '#/components/headers/Idempotent-Replayed' } } })
  @ApiNotFoundResponse({ description: 'No such prompt (`prompt_id`).' })
  @OperationId('createSession')
  create(@CurrentUser() user: AuthenticatedUser, @Body() dto: CreateSessionDto): Promise<SessionDto> {
    return this.chats.create(user, dto);
  }

  /**
   * List my sessions (without messages), newest activity first; with `search`, the best match first. Page by
   * `page` or by `cursor` (the previous answer's `next_cursor`).
   */
  @Get('sessions')
  @KeyScope('sessions:read')
  @ApiOkResponse({ type: SessionPageDto })
  @OperationId('listSessions')
  list(@CurrentUser() user: AuthenticatedUser, @Query() query: ListSessionsQueryDto): Promise<SessionPageDto> {
    return this.chats.list(user, query);
  }

  /** One session with its usage totals. */
  @Get('sessions/:session_id')
  @KeyScope('sessions:read')
  @ApiOkResponse({ type: SessionDto })
  @OperationId('getSession')
  get(@CurrentUser() user: AuthenticatedUser, @Param('session_id', ParseIdPipe) id: number): Promise<SessionDto> {
    return this.chats.get(user, id);
  }

  /** Change the title, system prompt or metadata. */
  @Patch('sessions/:session_id')
  @ApiOkResponse({ type: SessionDto })
  @OperationId('updateSession')
  update(
    @CurrentUser() user: AuthenticatedUser,
    @Param('session_id', ParseIdPipe) id: number,
    @Body() dto: UpdateSessionDto,
  ): Promise<SessionDto> {
    return this.chats.update(user, id, dto);
  }

  /** Delete a session for good, or archive it with `?soft=true`. */
  @Delete('sessions/:session_id')
  @ApiOkResponse({ type: DeletedDto })
  @OperationId('deleteSession')
  remove(
    @CurrentUser() user: AuthenticatedUser,
    @Param('session_id', ParseIdPipe) id: number,
    @Query() query: DeleteSessionQueryDto,
  ): Promise<DeletedDto> {
    return this.chats.remove(user, id, query.soft ?? false);
  }

  /** Bring back an archived session. */
  @Post('sessions/:session_id/restore')
  @HttpCode(200)
  @ApiOkResponse({ type: SessionDto })
  @OperationId('restoreSession')
  restore(@CurrentUser() user: AuthenticatedUser, @Param('session_id', ParseIdPipe) id: number): Promise<SessionDto> {
    return this.chats.restore(user, id);
  }

  /**
   * The chat history: my sessions with their messages, newest activity first; the same filters and paging as
   * `GET /v1/chat/sessions`.
   */
  @Get('history')
  @KeyScope('sessions:read')
  @ApiOkResponse({ type: HistoryPageDto })
  @OperationId('getChatHistory')
  history(@CurrentUser() user: AuthenticatedUser, @Query() query: HistoryQueryDto): Promise<HistoryPageDto> {
    return this.chats.history(user, query);
  }

  /** Switch a session's model: the session keeps its history; later answers use the new model. */
  @Post('switch-model')
  @HttpCode(200)
  @ApiOkResponse({ type: SwitchModelResultDto })
  @ApiNotFoundResponse({ description: 'No such session of yours (`session_id`).' })
  @OperationId('switchModel')
  switchModel(@CurrentUser() user: AuthenticatedUser, @Body() dto: SwitchModelDto): Promise<SwitchModelResultDto> {
    return this.chats.switchModel(user, dto);
  }
}
