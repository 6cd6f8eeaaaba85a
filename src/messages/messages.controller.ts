import { Body, Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiExtraModels,
  ApiOkResponse,
  ApiProduces,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { SendRateLimit } from '../rate-limit/rate-limit.decorators';
import { ChatCompletionDto, MessagePageDto } from './dto/chat-completion.dto';
import { ListMessagesQueryDto } from './dto/list-messages-query.dto';
import { SendMessageDto } from './dto/send-message.dto';
import { MessagesService } from './messages.service';
import { TurnTransports } from './transports/turn-transports';

/** The documented streaming endpoint (`POST /v1/chat/stream`) and a session's stored messages. */
@ApiTags('chat messages')
@ApiBearerAuth()
@Controller('v1/chat')
export class MessagesController {
  constructor(
    private readonly transports: TurnTransports,
    private readonly messages: MessagesService,
  ) {}

  /**
   * Send a turn and get the model's answer. `stream: true` (default) answers `text/event-stream`: one
   * `data: <piece>` event per piece, then `data: [DONE]`; the session id is in `X-Session-Id`. Typed events
   * (`start`, `delta`, `done`, `error`) with `stream_format: "events"` or `Accept: text/event-stream; profile=events`.
   * `stream: false` answers one JSON object.
   */
  @Post('stream')
  @SendRateLimit()
  @ApiProduces('text/event-stream', 'application/json')
  @ApiExtraModels(ChatCompletionDto)
  @ApiOkResponse({
    description: 'SSE stream (`stream: true`) or a ChatCompletion object (`stream: false`).',
    content: {
      'text/event-stream': { schema: { type: 'string', example: 'data: Hello\n\ndata:  world\n\ndata: [DONE]\n\n' } },
      'application/json': { schema: { $ref: getSchemaPath(ChatCompletionDto) } },
    },
  })
  send(
    @CurrentUser() user: AuthenticatedUser,
    @Body() dto: SendMessageDto,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    return this.transports.send(user, dto, req, res);
  }

  /** A session's messages, oldest first; page with `after_id` = the previous page's `next_after_id`. */
  @Get('sessions/:session_id/messages')
  @ApiOkResponse({ type: MessagePageDto })
  list(
    @CurrentUser() user: AuthenticatedUser,
    @Param('session_id', ParseIdPipe) sessionId: number,
    @Query() query: ListMessagesQueryDto,
  ): Promise<MessagePageDto> {
    return this.messages.list(user, sessionId, query);
  }
}
