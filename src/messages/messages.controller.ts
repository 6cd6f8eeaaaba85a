import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { KeyScope } from '../auth/auth.decorators';
import {
  ApiBearerAuth,
  ApiExtraModels,
  ApiOkResponse,
  ApiProduces,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { SendRateLimit } from '../rate-limit/rate-limit.decorators';
import { AnswerStateDto, BackgroundAnswerDto, ChatCompletionDto, MessagePageDto } from './dto/chat-completion.dto';
import { ListMessagesQueryDto, ResumeQueryDto } from './dto/list-messages-query.dto';
import { SendMessageDto } from './dto/send-message.dto';
import { MessagesService } from './messages.service';
import { TurnTransports } from './transports/turn-transports';

/** The documented streaming endpoint (`POST /v1/chat/stream`) and a session's stored messages. */
@ApiTags('chat messages')
@ApiBearerAuth()
@Controller('v1/chat')
@KeyScope('chat')
export class MessagesController {
  constructor(
    private readonly transports: TurnTransports,
    private readonly messages: MessagesService,
  ) {}

  /**
   * Send a turn and get the model's answer. `stream: true` (default) answers `text/event-stream`: one
   * `data: <piece>` event per piece, then `data: [DONE]`; the session id is in `X-Session-Id`. Typed events
   * (`start`, `delta`, `done`, `error`) with `stream_format: "events"` or `Accept: text/event-stream; profile=events`.
   * `stream: false` answers one JSON object. Every SSE event has an `id:`, to resume with
   * `GET /v1/chat/messages/{id}/events`. `background: true`: a disconnect does not stop the answer; with
   * `stream: false` the answer is 202 with its ids at once.
   */
  @Post('stream')
  @SendRateLimit()
  @ApiProduces('text/event-stream', 'application/json')
  @ApiExtraModels(ChatCompletionDto, BackgroundAnswerDto)
  @ApiResponse({ status: 202, description: '`background: true, stream: false`: the answer runs on.', type: BackgroundAnswerDto })
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

  /**
   * An answer's events as SSE (same two formats as the send, chosen the same way): those after `Last-Event-ID`
   * (or `?after=<n>`), then the live ones until its end, from any instance. Every event has an `id:`. An answer
   * whose event log has expired is replayed from its stored row.
   */
  @Get('messages/:message_id/events')
  @KeyScope('sessions:read')
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'SSE stream of the answer, from after the given event id to its end.', content: { 'text/event-stream': { schema: { type: 'string', example: 'id: 4\ndata: world\n\ndata: [DONE]\n\n' } } } })
  events(
    @CurrentUser() user: AuthenticatedUser,
    @Param('message_id', ParseIdPipe) id: number,
    @Query() query: ResumeQueryDto,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    return this.transports.resume(user, id, query, req, res);
  }

  /** An answer's status (`in_progress` while generated), its text so far, usage, cost and model. */
  @Get('messages/:message_id')
  @KeyScope('sessions:read')
  @ApiOkResponse({ type: AnswerStateDto })
  answer(@CurrentUser() user: AuthenticatedUser, @Param('message_id', ParseIdPipe) id: number): Promise<AnswerStateDto> {
    return this.messages.state(user, id);
  }

  /**
   * Stop an answer in progress, on whichever instance generates it: it is stored `cancelled` with the text so far,
   * and its streams end with `done` (`finish_reason: "cancelled"`). 409 when the answer has already ended.
   */
  @Post('messages/:message_id/cancel')
  @HttpCode(200)
  @ApiOkResponse({ type: AnswerStateDto })
  cancel(@CurrentUser() user: AuthenticatedUser, @Param('message_id', ParseIdPipe) id: number): Promise<AnswerStateDto> {
    return this.messages.cancel(user, id);
  }

  /** A session's messages, oldest first; page with `after_id` = the previous page's `next_after_id`. */
  @Get('sessions/:session_id/messages')
  @KeyScope('sessions:read')
  @ApiOkResponse({ type: MessagePageDto })
  list(
    @CurrentUser() user: AuthenticatedUser,
    @Param('session_id', ParseIdPipe) sessionId: number,
    @Query() query: ListMessagesQueryDto,
  ): Promise<MessagePageDto> {
    return this.messages.list(user, sessionId, query);
  }
}
