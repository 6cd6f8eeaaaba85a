import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import { KeyScope } from '../auth/auth.decorators';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiNotFoundResponse,
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
import {
  AnswerStateDto,
  BackgroundAnswerDto,
  ChatCompletionDto,
  ImagePartDto,
  MessagePageDto,
  TextPartDto,
  ToolCallPartDto,
} from './dto/chat-completion.dto';
import { ListMessagesQueryDto, ResumeQueryDto } from './dto/list-messages-query.dto';
import { SendMessageDto } from './dto/send-message.dto';
import {
  StreamDeltaEventDto,
  StreamDoneEventDto,
  StreamStartEventDto,
  StreamToolCallEventDto,
} from './dto/stream-event.dto';
import { ImagePartInputDto, ImageUrlPartInputDto, TextPartInputDto, ToolCallPartInputDto } from './dto/content-parts.dto';
import { MessagesService } from './messages.service';
import { BranchesService } from './branches.service';
import { EditMessageDto, ForkSessionDto, RegenerateMessageDto, SetActiveLeafDto } from './dto/branch.dto';
import { SessionDto } from '../chats/dto/session.dto';
import { TurnTransports } from './transports/turn-transports';
import { OperationId } from '../common/operation-id.decorator';
import { IdempotencyKeyDocs } from '../idempotency/idempotency.http';

/** The `data` of one Server-Sent Event of `POST /v1/chat/stream`, by event name. */
const STREAM_EVENT_SCHEMA = {
  description:
    'The `data` of one event. Plain format (default): a piece of text per event, then `[DONE]`. Typed format ' +
    '(`stream_format: "events"`): `event: start` → StreamStartEventDto, `event: delta` → StreamDeltaEventDto, ' +
    '`event: tool_call_delta` and `event: tool_call` → StreamToolCallEventDto, ' +
    '`event: done` → StreamDoneEventDto, `event: error` → ProblemDetails, then `data: [DONE]`. The plain format ' +
    'carries text only (no tool calls).',
  oneOf: [
    { type: 'string', description: 'A piece of the answer (plain format), or `[DONE]`.' },
    { $ref: getSchemaPath(StreamStartEventDto) },
    { $ref: getSchemaPath(StreamDeltaEventDto) },
    { $ref: getSchemaPath(StreamToolCallEventDto) },
    { $ref: getSchemaPath(StreamDoneEventDto) },
    { $ref: '#/components/schemas/ProblemDetails' },
  ],
};

/** The chat turn (`POST /v1/chat/stream`) and a session's stored messages. */
@ApiTags('chat messages')
@Controller('v1/chat')
@KeyScope('chat')
export class MessagesController {
  constructor(
    private readonly transports: TurnTransports,
    private readonly messages: MessagesService,
    private readonly branches: BranchesService,
  ) {}

  /**
   * Send a turn and get the model's answer. `stream: true` (default) answers `text/event-stream`: one
   * `data: <piece>` event per piece, then `data: [DONE]`; the session id is in `X-Session-Id`. Typed events
   * (`start`, `delta`, `tool_call_delta`, `tool_call`, `done`, `error`) with `stream_format: "events"` or
   * `Accept: text/event-stream; profile=events`. With `tools`, an answer may end with `finish_reason: "tool_calls"`:
   * run the tools and send their results as `tool` messages (`tool_call_id`) to continue.
   * `stream: false` answers one JSON object. Every SSE event has an `id:`, to resume with
   * `GET /v1/chat/messages/{id}/events`. `background: true`: a disconnect does not stop the answer; with
   * `stream: false` the answer is 202 with its ids at once. With `Idempotency-Key`, a repeat of the same request
   * gets the first one's answer (replayed from its events, live while it runs) with `Idempotent-Replayed: true`,
   * and the model is not called again.
   */
  @Post('stream')
  @SendRateLimit()
  @OperationId('sendMessage')
  @ApiNotFoundResponse({ description: 'No such session of yours (`session_id`).' })
  @IdempotencyKeyDocs('The session is archived: restore it first.')
  @ApiProduces('text/event-stream', 'application/json')
  @ApiExtraModels(
    ChatCompletionDto,
    BackgroundAnswerDto,
    StreamStartEventDto,
    StreamDeltaEventDto,
    StreamToolCallEventDto,
    StreamDoneEventDto,
    TextPartDto,
    ImagePartDto,
    ToolCallPartDto,
    TextPartInputDto,
    ImagePartInputDto,
    ImageUrlPartInputDto,
    ToolCallPartInputDto,
  )
  @ApiResponse({
    status: 202,
    description: '`background: true, stream: false`: the answer runs on.',
    type: BackgroundAnswerDto,
    headers: { 'Idempotent-Replayed': { $ref: '#/components/headers/Idempotent-Replayed' } },
  })
  @ApiOkResponse({
    description: 'Server-Sent Events (`stream: true`, the default) or the whole answer as JSON (`stream: false`).',
    headers: {
      'X-Session-Id': { $ref: '#/components/headers/X-Session-Id' },
      'Idempotent-Replayed': { $ref: '#/components/headers/Idempotent-Replayed' },
    },
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

  /**
   * An answer's events as SSE (same two formats as the send, chosen the same way): those after `Last-Event-ID`
   * (or `?after=<n>`), then the live ones until its end, from any instance. Every event has an `id:`. An answer
   * whose event log has expired is replayed from its stored row.
   */
  @Get('messages/:message_id/events')
  @KeyScope('sessions:read')
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'SSE stream of the answer, from after the given event id to its end.', content: { 'text/event-stream': { schema: { type: 'string', example: 'id: 4\ndata: world\n\ndata: [DONE]\n\n' } } } })
  @OperationId('streamAnswerEvents')
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
  @OperationId('getAnswer')
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
  @OperationId('cancelAnswer')
  cancel(@CurrentUser() user: AuthenticatedUser, @Param('message_id', ParseIdPipe) id: number): Promise<AnswerStateDto> {
    return this.messages.cancel(user, id);
  }

  /**
   * Answer a question again: a new answer beside answer `message_id` (a sibling: same question, same history up to
   * it), generated and streamed like a send (same options and formats; `model` may name another model). The new
   * answer's branch becomes the active one; the earlier answer stays, listed with `branch=all`.
   */
  @Post('messages/:message_id/regenerate')
  @SendRateLimit()
  @OperationId('regenerateAnswer')
  @ApiNotFoundResponse({ description: 'No such message of yours.' })
  @ApiConflictResponse({ description: 'Not an answer (an assistant message), or its session is archived.' })
  @ApiProduces('text/event-stream', 'application/json')
  @ApiOkResponse({
    description: 'As for `POST /v1/chat/stream`: Server-Sent Events, or the answer as JSON with `stream: false`.',
    headers: { 'X-Session-Id': { $ref: '#/components/headers/X-Session-Id' } },
    content: {
      'text/event-stream': { schema: STREAM_EVENT_SCHEMA },
      'application/json': { schema: { $ref: getSchemaPath(ChatCompletionDto) } },
    },
  })
  async regenerate(
    @CurrentUser() user: AuthenticatedUser,
    @Param('message_id', ParseIdPipe) id: number,
    @Body() dto: RegenerateMessageDto,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const branch = await this.branches.regenerate(user, id, dto);
    return this.transports.send(user, branch.send, req, res, branch.parentId);
  }

  /**
   * Ask a question differently: a new version of question `message_id` (a sibling: same history before it),
   * answered like a send (same options and formats). The new branch becomes the active one; the earlier question
   * and what followed it stay, listed with `branch=all`.
   */
  @Post('messages/:message_id/edit')
  @SendRateLimit()
  @OperationId('editQuestion')
  @ApiNotFoundResponse({ description: 'No such message of yours.' })
  @ApiConflictResponse({ description: 'Not a question (a user message), or its session is archived.' })
  @ApiProduces('text/event-stream', 'application/json')
  @ApiOkResponse({
    description: 'As for `POST /v1/chat/stream`: Server-Sent Events, or the answer as JSON with `stream: false`.',
    headers: { 'X-Session-Id': { $ref: '#/components/headers/X-Session-Id' } },
    content: {
      'text/event-stream': { schema: STREAM_EVENT_SCHEMA },
      'application/json': { schema: { $ref: getSchemaPath(ChatCompletionDto) } },
    },
  })
  async edit(
    @CurrentUser() user: AuthenticatedUser,
    @Param('message_id', ParseIdPipe) id: number,
    @Body() dto: EditMessageDto,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const branch = await this.branches.edit(user, id, dto);
    return this.transports.send(user, branch.send, req, res, branch.parentId);
  }

  /**
   * Switch branches: the branch through `message_id` becomes the one listed, sent to the model and appended to;
   * when that message has replies, the branch runs on to the newest message under it.
   */
  @Put('sessions/:session_id/active-leaf')
  @OperationId('setActiveLeaf')
  @ApiOkResponse({ type: SessionDto, description: 'The session, `active_leaf_id` set.' })
  @ApiNotFoundResponse({ description: 'No such session of yours, or no such message in it.' })
  async setActiveLeaf(
    @CurrentUser() user: AuthenticatedUser,
    @Param('session_id', ParseIdPipe) sessionId: number,
    @Body() dto: SetActiveLeafDto,
  ): Promise<SessionDto> {
    return SessionDto.from(await this.branches.setActiveLeaf(user, sessionId, dto.message_id));
  }

  /**
   * Fork a conversation: a new session holding the branch from the first message up to `message_id` (copies), with
   * the session's system prompt, model, title, metadata and files; `forked_from` links it to its origin.
   */
  @Post('sessions/:session_id/fork')
  @OperationId('forkSession')
  @ApiCreatedResponse({ type: SessionDto, description: 'The new session.' })
  @ApiNotFoundResponse({ description: 'No such session of yours, or no such message in it.' })
  async fork(
    @CurrentUser() user: AuthenticatedUser,
    @Param('session_id', ParseIdPipe) sessionId: number,
    @Body() dto: ForkSessionDto,
  ): Promise<SessionDto> {
    return SessionDto.from(await this.branches.fork(user, sessionId, dto.message_id));
  }

  /**
   * A session's messages, oldest first; page with `after_id` = the previous page's `next_after_id`. By default the
   * active branch (what the model is sent); `branch=all` lists every message of every branch, each with its
   * `parent_id` and its place among its siblings.
   */
  @Get('sessions/:session_id/messages')
  @OperationId('listMessages')
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
