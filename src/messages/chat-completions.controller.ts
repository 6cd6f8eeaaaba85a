import { Body, Controller, Post, Req, Res } from '@nestjs/common';
import { ApiExtraModels, ApiNotFoundResponse, ApiOkResponse, ApiProduces, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { KeyScope } from '../auth/auth.decorators';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { OperationId } from '../common/operation-id.decorator';
import { SendRateLimit } from '../rate-limit/rate-limit.decorators';
import { ImageUrlPartInputDto, TextPartInputDto } from './dto/content-parts.dto';
import { OpenAiChatCompletionChunkDto, OpenAiChatCompletionDto, OpenAiChatCompletionRequestDto } from './dto/openai-chat.dto';
import { ChatCompletionsTransport } from './transports/chat-completions.transport';

/** OpenAI's Chat Completions API over the turn engine, for the OpenAI SDKs and the tools built on them. */
@ApiTags('openai')
@Controller('v1/chat')
@KeyScope('chat')
export class ChatCompletionsController {
  constructor(private readonly completions: ChatCompletionsTransport) {}

  /**
   * Create a chat completion in OpenAI's wire format. The request, the `chat.completion` answer, the
   * `chat.completion.chunk` stream ending in `data: [DONE]`, and errors as `{ "error": { message, type, param, code } }`
   * are OpenAI's (API reference, "Create chat completion"). Authenticated
   * by an access token or an API key with the `chat` scope; counted by the same rate limits, budgets and usage
   * ledger as every send. Stateless by default; `store: true` keeps the exchange as a session (`X-Session-Id`).
   * Tools (`tools`, `tool_choice`, `tool` messages, `tool_calls`) and image parts (`image_url`) work as in OpenAI's
   * API, on models that support them (else 400). Fields of OpenAI's API this server does not implement (`n` > 1,
   * `logprobs`, audio parts, …) are a 400 naming them; an unknown model is a 404 (`model_not_found`).
   */
  @Post('completions')
  @SendRateLimit()
  @OperationId('createChatCompletion')
  @ApiProduces('application/json', 'text/event-stream')
  @ApiNotFoundResponse({ description: 'No model has this id or alias (`code: model_not_found`).' })
  @ApiExtraModels(OpenAiChatCompletionDto, OpenAiChatCompletionChunkDto, TextPartInputDto, ImageUrlPartInputDto)
  @ApiOkResponse({
    description: 'The answer as one `chat.completion` object, or (`stream: true`) `chat.completion.chunk` events.',
    headers: { 'X-Session-Id': { $ref: '#/components/headers/X-Session-Id' } },
    content: {
      'application/json': { schema: { $ref: getSchemaPath(OpenAiChatCompletionDto) } },
      'text/event-stream': {
        schema: {
          description: 'The `data` of each event: a chunk, or `[DONE]` last.',
          oneOf: [{ $ref: getSchemaPath(OpenAiChatCompletionChunkDto) }, { type: 'string', enum: ['[DONE]'] }],
        },
      },
    },
  })
  create(
    @CurrentUser() user: AuthenticatedUser,
    @Body() dto: OpenAiChatCompletionRequestDto,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    return this.completions.create(user, dto, req, res);
  }
}
