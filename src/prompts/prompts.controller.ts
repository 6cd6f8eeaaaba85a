import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { KeyScope } from '../auth/auth.decorators';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ClientSignal } from '../common/client-signal.decorator';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { PageQueryDto } from '../common/pagination.dto';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { SendRateLimit } from '../rate-limit/rate-limit.decorators';
import {
  PromptDeletedDto,
  PromptDto,
  PromptPageDto,
  PromptPreviewDto,
  PromptVersionPageDto,
} from './dto/prompt.dto';
import { CreatePromptDto, ListPromptsQueryDto, PreviewPromptDto, UpdatePromptDto } from './dto/prompt-input.dto';
import { PromptsService } from './prompts.service';
import { OperationId } from '../common/operation-id.decorator';

/** Prompt management: my prompts and the system templates, previews, versions. */
@ApiTags('prompts')
@ApiBearerAuth()
@Controller('api/chat/prompts')
@KeyScope('prompts')
export class PromptsController {
  constructor(private readonly prompts: PromptsService) {}

  /** Create a prompt of mine. */
  @Post()
  @ApiCreatedResponse({ type: PromptDto })
  @OperationId('createPrompt')
  create(@CurrentUser() user: AuthenticatedUser, @Body() dto: CreatePromptDto): Promise<PromptDto> {
    return this.prompts.create(user, dto);
  }

  /** My prompts and the system templates, filtered, searched and paginated. */
  @Get()
  @ApiOkResponse({ type: PromptPageDto })
  @OperationId('listPrompts')
  list(@CurrentUser() user: AuthenticatedUser, @Query() query: ListPromptsQueryDto): Promise<PromptPageDto> {
    return this.prompts.list(user, query);
  }

  /**
   * Render a prompt with variables and run it through the chat model, or only render it with `dry_run`.
   * Counts against the stricter `sends` rate limit, like every route that makes a model answer. A client that
   * disconnects aborts the model call.
   */
  @Post('preview')
  @HttpCode(200)
  @SendRateLimit()
  @ApiOkResponse({ type: PromptPreviewDto })
  @ApiNotFoundResponse({ description: 'No such prompt (`prompt_id`).' })
  @OperationId('previewPrompt')
  preview(
    @CurrentUser() user: AuthenticatedUser,
    @Body() dto: PreviewPromptDto,
    @ClientSignal() signal: AbortSignal,
  ): Promise<PromptPreviewDto> {
    return this.prompts.preview(user, dto, signal);
  }

  /** One prompt of mine, or a system template. */
  @Get(':prompt_id')
  @ApiOkResponse({ type: PromptDto })
  @OperationId('getPrompt')
  get(@CurrentUser() user: AuthenticatedUser, @Param('prompt_id', ParseIdPipe) id: number): Promise<PromptDto> {
    return this.prompts.get(user, id);
  }

  /** Change any create field; a new title or content keeps the previous one as a version. */
  @Put(':prompt_id')
  @ApiOkResponse({ type: PromptDto })
  @ApiForbiddenResponse({ description: 'System templates can be changed only by admins.' })
  @OperationId('updatePrompt')
  update(
    @CurrentUser() user: AuthenticatedUser,
    @Param('prompt_id', ParseIdPipe) id: number,
    @Body() dto: UpdatePromptDto,
  ): Promise<PromptDto> {
    return this.prompts.update(user, id, dto);
  }

  /** Delete a prompt. System templates: admins only. */
  @Delete(':prompt_id')
  @ApiOkResponse({ type: PromptDeletedDto })
  @ApiForbiddenResponse({ description: 'System templates can be deleted only by admins.' })
  @OperationId('deletePrompt')
  remove(@CurrentUser() user: AuthenticatedUser, @Param('prompt_id', ParseIdPipe) id: number): Promise<PromptDeletedDto> {
    return this.prompts.remove(user, id);
  }

  /** Earlier versions of a prompt (title and content before each change), newest first. */
  @Get(':prompt_id/versions')
  @ApiOkResponse({ type: PromptVersionPageDto })
  @OperationId('listPromptVersions')
  versions(
    @CurrentUser() user: AuthenticatedUser,
    @Param('prompt_id', ParseIdPipe) id: number,
    @Query() query: PageQueryDto,
  ): Promise<PromptVersionPageDto> {
    return this.prompts.versions(user, id, query);
  }
}
