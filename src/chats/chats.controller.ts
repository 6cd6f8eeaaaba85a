import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { KeyScope } from '../auth/auth.decorators';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { ChatsService } from './chats.service';
import {
  DeletedDto,
  HistoryPageDto,
  SessionDto,
  SessionPageDto,
  SwitchModelResultDto,
} from './dto/session.dto';
import {
  CreateSessionDto,
  DeleteSessionQueryDto,
  HistoryQueryDto,
  ListSessionsQueryDto,
  SwitchModelDto,
  UpdateSessionDto,
} from './dto/session-input.dto';

/** Chat sessions (seed 004's history, switch-model and delete, plus CRUD). */
@ApiTags('chat sessions')
@ApiBearerAuth()
@Controller('v1/chat')
@KeyScope('chat')
export class ChatsController {
  constructor(private readonly chats: ChatsService) {}

  /** Create a session. */
  @Post('sessions')
  @ApiCreatedResponse({ type: SessionDto })
  create(@CurrentUser() user: AuthenticatedUser, @Body() dto: CreateSessionDto): Promise<SessionDto> {
    return this.chats.create(user, dto);
  }

  /** List my sessions (without messages), newest activity first. */
  @Get('sessions')
  @KeyScope('sessions:read')
  @ApiOkResponse({ type: SessionPageDto })
  list(@CurrentUser() user: AuthenticatedUser, @Query() query: ListSessionsQueryDto): Promise<SessionPageDto> {
    return this.chats.list(user, query);
  }

  /** One session with its usage totals. */
  @Get('sessions/:session_id')
  @KeyScope('sessions:read')
  @ApiOkResponse({ type: SessionDto })
  get(@CurrentUser() user: AuthenticatedUser, @Param('session_id', ParseIdPipe) id: number): Promise<SessionDto> {
    return this.chats.get(user, id);
  }

  /** Change the title, system prompt or metadata. */
  @Patch('sessions/:session_id')
  @ApiOkResponse({ type: SessionDto })
  update(
    @CurrentUser() user: AuthenticatedUser,
    @Param('session_id', ParseIdPipe) id: number,
    @Body() dto: UpdateSessionDto,
  ): Promise<SessionDto> {
    return this.chats.update(user, id, dto);
  }

  /** Delete a session for good (seed 004), or archive it with `?soft=true`. */
  @Delete('sessions/:session_id')
  @ApiOkResponse({ type: DeletedDto })
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
  restore(@CurrentUser() user: AuthenticatedUser, @Param('session_id', ParseIdPipe) id: number): Promise<SessionDto> {
    return this.chats.restore(user, id);
  }

  /** Seed 004's chat history: sessions with their messages. */
  @Get('history')
  @KeyScope('sessions:read')
  @ApiOkResponse({ type: HistoryPageDto })
  history(@CurrentUser() user: AuthenticatedUser, @Query() query: HistoryQueryDto): Promise<HistoryPageDto> {
    return this.chats.history(user, query);
  }

  /** Seed 004's switch-model: the session keeps its history; later answers use the new model. */
  @Post('switch-model')
  @HttpCode(200)
  @ApiOkResponse({ type: SwitchModelResultDto })
  switchModel(@CurrentUser() user: AuthenticatedUser, @Body() dto: SwitchModelDto): Promise<SwitchModelResultDto> {
    return this.chats.switchModel(user, dto);
  }
}
