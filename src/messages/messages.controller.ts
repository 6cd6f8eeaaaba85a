import { Body, Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiExtraModels,
  ApiNotFoundResponse,
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
import { StreamDeltaEventDto, StreamDoneEventDto, StreamStartEventDto } from './dto/stream-event.dto';
import { MessagesService } from './messages.service';
import { TurnTransports } from './transports/turn-transports';
import { OperationId } from '../common/operation-id.decorator';

/** The `data` of one Server-Sent Event of `POST /v1/chat/stream`, by event name. */
const STREAM_EVENT_SCHEMA = {
  description:
    'The `data` of one event. Plain format (default): a piece of text per event, then `[DONE]`. Typed format ' +
    '(`stream_format: "events"`): `event: start` → StreamStartEventDto, `event: delta` → StreamDeltaEventDto, ' +
    '`event: done` → StreamDoneEventDto, `event: error` → ProblemDetails, then `data: [DONE]`.',
  oneOf: [
    { type: 'string', description: 'A piece of the answer (plain format), or `[DONE]`.' },
    { $ref: getSchemaPath(StreamStartEventDto) },
    { $ref: getSchemaPath(StreamDeltaEventDto) },
    { $ref: getSchemaPath(StreamDoneEventDto) },
    { $ref: '#/components/schemas/ProblemDetails' },
  ],
};

/** The chat turn (`POST /v1/chat/stream`) and a session's stored messages. */
@ApiTags('chat messages')
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
   * `stream: false` answers one JSON object. A failure after the first piece ends the stream with an `error` event.
   */
  @Post('stream')
  @SendRateLimit()
  @OperationId('sendMessage')
  @ApiNotFoundResponse({ description: 'No such session of yours (`session_id`).' })
  @ApiConflictResponse({ description: 'The session is archived: restore it first.' })
  @ApiProduces('text/event-stream', 'application/json')
  @ApiExtraModels(ChatCompletionDto, StreamStartEventDto, StreamDeltaEventDto, StreamDoneEventDto)
  @ApiOkResponse({
    description: 'Server-Sent Events (`stream: true`, the default) or the whole answer as JSON (`stream: false`).',
    headers: { 'X-Session-Id': { $ref: '#/components/headers/X-Session-Id' } },
    content: {
      'text/event-stream': { schema: STREAM_EVENT_SCHEMA },
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
  @OperationId('listMessages')
  @ApiOkResponse({ type: MessagePageDto })
  list(
    @CurrentUser() user: AuthenticatedUser,
    @Param('session_id', ParseIdPipe) sessionId: number,
    @Query() query: ListMessagesQueryDto,
  ): Promise<MessagePageDto> {
    return this.messages.list(user, sessionId, query);
  }
}
