import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { KeyScope } from '../auth/auth.decorators';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
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

/** Seed 004's prompt management API, plus one prompt and its versions. */
@ApiTags('prompts')
@ApiBearerAuth()
@Controller('api/chat/prompts')
@KeyScope('prompts')
export class PromptsController {
  constructor(private readonly prompts: PromptsService) {}

  /** Create a prompt of mine (seed 004). */
  @Post()
  @ApiCreatedResponse({ type: PromptDto })
  create(@CurrentUser() user: AuthenticatedUser, @Body() dto: CreatePromptDto): Promise<PromptDto> {
    return this.prompts.create(user, dto);
  }

  /** My prompts and the system templates, filtered, searched and paginated (seed 004). */
  @Get()
  @ApiOkResponse({ type: PromptPageDto })
  list(@CurrentUser() user: AuthenticatedUser, @Query() query: ListPromptsQueryDto): Promise<PromptPageDto> {
    return this.prompts.list(user, query);
  }

  /**
   * Render a prompt with variables and run it through the chat model, or only render it with `dry_run` (seed 004).
   * Counts against the stricter `sends` rate limit, like every route that makes a model answer. A client that
   * disconnects aborts the model call.
   */
  @Post('preview')
  @HttpCode(200)
  @SendRateLimit()
  @ApiOkResponse({ type: PromptPreviewDto })
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
  get(@CurrentUser() user: AuthenticatedUser, @Param('prompt_id', ParseIdPipe) id: number): Promise<PromptDto> {
    return this.prompts.get(user, id);
  }

  /** Change any create field (seed 004); a new title or content keeps the previous one as a version. */
  @Put(':prompt_id')
  @ApiOkResponse({ type: PromptDto })
  update(
    @CurrentUser() user: AuthenticatedUser,
    @Param('prompt_id', ParseIdPipe) id: number,
    @Body() dto: UpdatePromptDto,
  ): Promise<PromptDto> {
    return this.prompts.update(user, id, dto);
  }

  /** Delete a prompt (seed 004). System templates: admins only. */
  @Delete(':prompt_id')
  @ApiOkResponse({ type: PromptDeletedDto })
  remove(@CurrentUser() user: AuthenticatedUser, @Param('prompt_id', ParseIdPipe) id: number): Promise<PromptDeletedDto> {
    return this.prompts.remove(user, id);
  }

  /** Earlier versions of a prompt (title and content before each change), newest first. */
  @Get(':prompt_id/versions')
  @ApiOkResponse({ type: PromptVersionPageDto })
  versions(
    @CurrentUser() user: AuthenticatedUser,
    @Param('prompt_id', ParseIdPipe) id: number,
    @Query() query: PageQueryDto,
  ): Promise<PromptVersionPageDto> {
    return this.prompts.versions(user, id, query);
  }
}
