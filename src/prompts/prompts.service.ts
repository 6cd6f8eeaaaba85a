import { BudgetsService } from '../budgets/budgets.service';
import { ModelUsage } from '../providers/model-provider';
import { tokenCounterFor } from '../providers/tokenizer';
import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuthenticatedUser } from '../common/authenticated-user';
import { PageQueryDto } from '../common/pagination.dto';
import { FieldError, notFound, ProblemException } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { isAbortError } from '../providers/abort';
import { ModelRegistry } from '../providers/model-registry';
import { ModelRouter } from '../providers/model-router';
import { countTokens } from '../providers/tokenizer';
import { UsageService } from '../usage/usage.service';
import {
  PromptDeletedDto,
  PromptDto,
  PromptPageDto,
  PromptPreviewDto,
  PromptVersionDto,
  PromptVersionPageDto,
} from './dto/prompt.dto';
import {
  CreatePromptDto,
  ListPromptsQueryDto,
  PreviewPromptDto,
  TemplateVariables,
  UpdatePromptDto,
} from './dto/prompt-input.dto';
import { MissingVariablesError, renderTemplate, templateVariables } from './prompt-template';
import { PromptEntity } from './prompt.entity';
import { PromptChanges, PromptEditor, PromptFilter, PromptsRepository } from './prompts.repository';

/** Status logged for a request whose client left before the answer (nginx's convention). */
const CLIENT_CLOSED_REQUEST = 499 as HttpStatus;

/** Search terms shorter than this match as substrings: full-text search would need the whole word. */
const MIN_WORD_SEARCH_LENGTH = 3;

/** What a session started from a prompt records. */
export interface RenderedPrompt {
  promptId: number;
  promptVersion: number;
  /** The rendered text, which becomes the session's system prompt. */
  text: string;
}

/**
 * Prompt management: a user's own prompts and the system templates (visible to all, changed only by
 * admins), rendering with `{placeholders}`, previews through the chat model, versions and full-text search.
 * Another user's prompt is a 404 identical to a missing one.
 */
@Injectable()
export class PromptsService {
  constructor(
    private readonly prompts: PromptsRepository,
    private readonly registry: ModelRegistry,
    private readonly router: ModelRouter,
    private readonly usage: UsageService,
    private readonly budgets: BudgetsService,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /**
   * Creates one of the caller's prompts (never a template: those ship with the migrations).
   * @throws 422 content over `prompts.max_content_length` or with more placeholders than `prompts.max_variables`
   */
  async create(user: AuthenticatedUser, dto: CreatePromptDto): Promise<PromptDto> {
    this.checkContent(dto.content);
    const prompt = await this.prompts.create({
      userId: user.id,
      title: dto.title,
      content: dto.content,
      scenario: dto.scenario ?? null,
      description: dto.description ?? null,
      metadata: dto.metadata ?? {},
      isTemplate: false,
    });
    return PromptDto.from(prompt);
  }

  /** @throws 404 when missing or another user's */
  async get(user: AuthenticatedUser, id: number): Promise<PromptDto> {
    return PromptDto.from(await this.findVisible(user, id));
  }

  /**
   * The listing: my prompts and (by default) the system templates, filtered and searched. Plain words
   * match as word prefixes (`summ` finds "Summarize"), all of them required; a term with search operators
   * (`"phrase"`, `or`, `-word`) goes to `websearch_to_tsquery`; a term shorter than 3 characters, or one without
   * letters or digits, matches as a substring.
   */
  async list(user: AuthenticatedUser, q: ListPromptsQueryDto): Promise<PromptPageDto> {
    const [rows, total] = await this.prompts.findPage(
      user.id,
      { scenario: q.scenario, includeTemplates: q.include_templates ?? true, ...searchFilter(q.search) },
      q.page,
      q.page_size,
    );
    return { items: rows.map(PromptDto.from), total, page: q.page, page_size: q.page_size };
  }

  /**
   * The update: any create field. A changed title or content keeps the previous pair as a version.
   * @throws 404 missing or another user's, 403 a system template and the caller is not an admin, 422 limits
   */
  async update(user: AuthenticatedUser, id: number, dto: UpdatePromptDto): Promise<PromptDto> {
    await this.findEditable(user, id);
    if (dto.content !== undefined) this.checkContent(dto.content);
    const changes: PromptChanges = {};
    if (dto.title !== undefined) changes.title = dto.title;
    if (dto.content !== undefined) changes.content = dto.content;
    if (dto.scenario !== undefined) changes.scenario = dto.scenario;
    if (dto.description !== undefined) changes.description = dto.description;
    if (dto.metadata !== undefined) changes.metadata = dto.metadata;
    if (!Object.keys(changes).length) return this.get(user, id);
    const prompt = await this.prompts.updateKeepingVersion(this.editor(user), id, changes);
    if (!prompt) throw notFound('Prompt');
    return PromptDto.from(prompt);
  }

  /**
   * The delete. Sessions started from the prompt keep their system prompt; their `prompt_id` becomes null.
   * @throws 404 missing or another user's, 403 a system template and the caller is not an admin
   */
  async remove(user: AuthenticatedUser, id: number): Promise<PromptDeletedDto> {
    await this.findEditable(user, id);
    if (!(await this.prompts.delete(this.editor(user), id))) throw notFound('Prompt');
    return { message: 'Prompt deleted successfully' };
  }

  /** Earlier versions of a visible prompt, newest first. @throws 404 missing or another user's */
  async versions(user: AuthenticatedUser, id: number, q: PageQueryDto): Promise<PromptVersionPageDto> {
    await this.findVisible(user, id);
    const [rows, total] = await this.prompts.findVersions(id, q.page, q.page_size);
    return { items: rows.map(PromptVersionDto.from), total, page: q.page, page_size: q.page_size };
  }

  /**
   * The preview: renders `prompt_id`'s content (or the ad-hoc `content`) with `variables` and sends it to
   * the chat model as one user message, through the model router (retries, fallbacks). With `dry_run` it only
   * renders. A preview of a stored prompt counts as one use once it succeeded. A model's answer adds its usage
   * to the caller's totals and the ledger (purpose `preview`). The model call is aborted when the client
   * disconnects (`signal` aborts); the adapter bounds it by `limits.provider_timeout_ms`.
   * @throws 422 neither or both of prompt_id/content, missing variables, limits; 404 prompt; 400/503 model;
   *         403/429 the caller's budgets (BudgetError: a model outside `allowed_models`, a limit reached);
   *         502/504/429 the provider failed
   */
  async preview(user: AuthenticatedUser, dto: PreviewPromptDto, signal: AbortSignal): Promise<PromptPreviewDto> {
    if ((dto.prompt_id === undefined) === (dto.content === undefined)) {
      throw new ProblemException(HttpStatus.UNPROCESSABLE_ENTITY, 'Give either prompt_id or content, not both.', {
        errors: [{ field: 'prompt_id', message: 'exactly one of prompt_id and content is required' }],
      });
    }
    const variables = this.checkVariables(dto.variables);
    const prompt = dto.prompt_id !== undefined ? await this.findVisible(user, dto.prompt_id) : undefined;
    if (!prompt) this.checkContent(dto.content!);
    const text = this.render(prompt?.content ?? dto.content!, variables);

    let result: PromptPreviewDto;
    if (dto.dry_run) {
      result = { preview: text, tokens_used: countTokens(text), model_used: null };
    } else {
      // Within the caller's budgets, like a send: its allowed models (a fallback outside them is never called),
      // its output limit, and the call's worst case reserved before the provider is called.
      const subject = this.budgets.subjectOf(user);
      const maxTokens = Math.min(this.config.prompts.preview_max_tokens, this.budgets.effective(subject).maxOutputTokens ?? Infinity);
      const route = this.router.route(dto.model ? this.registry.resolve(dto.model) : this.registry.defaultModel(), 'preview', (m) =>
        this.budgets.allows(subject, m),
      );
      this.budgets.checkModel(subject, route.model);
      const messages = [{ role: 'user' as const, content: text }];
      const input = tokenCounterFor(route.model, this.config.contextManagement.token_estimate_factor).countRequest(messages);
      const reservation = await this.budgets.reserveCall(user, route.model, input, maxTokens);
      let usage: ModelUsage | undefined;
      try {
        // The route caps maxTokens at each model's maximum.
        const answer = await route.complete({ messages, maxTokens }, signal);
        usage = answer.usage;
        await this.usage.recordCall({ userId: user.id, applicationId: user.applicationId, purpose: 'preview', model: route.model, usage: answer.usage });
        result = {
          preview: answer.text,
          tokens_used: answer.usage.inputTokens + answer.usage.outputTokens,
          model_used: route.model.id,
        };
      } catch (err) {
        // Nobody is left to answer; 499 (as proxies log it), not a 500 worth an error log.
        if (isAbortError(err) && signal.aborted) {
          throw new ProblemException(CLIENT_CLOSED_REQUEST, 'The client closed the connection.');
        }
        throw err;
      } finally {
        await this.budgets.settleCall(reservation, route.model, usage);
      }
    }
    if (prompt) await this.prompts.incrementUsage(prompt.id);
    return result;
  }

  /**
   * Renders a visible prompt for a new session (`POST /v1/chat/sessions` with `prompt_id`); the session's insert
   * counts the use.
   * @throws 404 missing or another user's, 422 missing variables or limits
   */
  /**
   * Counts one use of a prompt a session is being created from, in the caller's transaction. The UPDATE locks
   * the prompt's row: a concurrent delete then waits for this commit, or it committed first and nothing is found.
   * @returns false when the prompt no longer exists
   */
  countSessionUse(tx: EntityManager, promptId: number): Promise<boolean> {
    return this.prompts.incrementUsage(promptId, tx);
  }

  async renderForSession(user: AuthenticatedUser, id: number, variables: TemplateVariables | undefined): Promise<RenderedPrompt> {
    const checked = this.checkVariables(variables);
    const prompt = await this.findVisible(user, id);
    return { promptId: prompt.id, promptVersion: prompt.version, text: this.render(prompt.content, checked) };
  }

  private async findVisible(user: AuthenticatedUser, id: number): Promise<PromptEntity> {
    const prompt = await this.prompts.findVisible(user.id, id);
    if (!prompt) throw notFound('Prompt');
    return prompt;
  }

  /** @throws 404 missing or another user's, 403 a system template and the caller is not an admin */
  private async findEditable(user: AuthenticatedUser, id: number): Promise<PromptEntity> {
    const prompt = await this.findVisible(user, id);
    if (prompt.isTemplate && user.role !== 'admin') {
      throw new ProblemException(HttpStatus.FORBIDDEN, 'System templates can be changed only by admins.');
    }
    return prompt;
  }

  private editor(user: AuthenticatedUser): PromptEditor {
    return { userId: user.id, admin: user.role === 'admin' };
  }

  /** @throws 422 content too long, or with more distinct placeholders than allowed */
  private checkContent(content: string): void {
    const { max_content_length: maxLength, max_variables: maxVariables } = this.config.prompts;
    if (content.length > maxLength) {
      throw invalid([{ field: 'content', message: `must be at most ${maxLength} characters` }]);
    }
    const names = templateVariables(content);
    if (names.length > maxVariables) {
      throw invalid([{ field: 'content', message: `must have at most ${maxVariables} distinct placeholders (has ${names.length})` }]);
    }
  }

  /**
   * Checks the `variables` object: at most `prompts.max_variables` entries, each a string, number or boolean of
   * at most `prompts.max_variable_length` characters.
   * @returns the values as strings
   * @throws 422 listing every offending variable
   */
  private checkVariables(variables: TemplateVariables | undefined): Record<string, string> {
    const { max_variables: maxCount, max_variable_length: maxLength } = this.config.prompts;
    const entries = Object.entries(variables ?? {});
    if (entries.length > maxCount) {
      throw invalid([{ field: 'variables', message: `must have at most ${maxCount} entries` }]);
    }
    const errors: FieldError[] = [];
    // No prototype: a variable named `__proto__` or `constructor` is just a name.
    const values = Object.create(null) as Record<string, string>;
    for (const [name, value] of entries) {
      if (!['string', 'number', 'boolean'].includes(typeof value)) {
        errors.push({ field: `variables.${name}`, message: 'must be a string, number or boolean' });
        continue;
      }
      const text = String(value);
      if (text.length > maxLength) errors.push({ field: `variables.${name}`, message: `must be at most ${maxLength} characters` });
      values[name] = text;
    }
    if (errors.length) throw invalid(errors);
    return values;
  }

  /** @throws 422 naming every placeholder without a value */
  private render(content: string, variables: Record<string, string>): string {
    try {
      return renderTemplate(content, variables);
    } catch (err) {
      if (!(err instanceof MissingVariablesError)) throw err;
      throw new ProblemException(
        HttpStatus.UNPROCESSABLE_ENTITY,
        `No value for the placeholder${err.missing.length > 1 ? 's' : ''} ${err.missing.map((n) => `{${n}}`).join(', ')}: add ${err.missing.length > 1 ? 'them' : 'it'} to variables.`,
        { errors: err.missing.map((name) => ({ field: `variables.${name}`, message: `missing value for placeholder {${name}}` })) },
      );
    }
  }
}

/** The search part of a listing's filter; see {@link PromptsService.list}. */
function searchFilter(search: string | undefined): Pick<PromptFilter, 'websearch' | 'tsquery' | 'substring'> {
  const term = search?.trim();
  if (!term) return {};
  if (term.length < MIN_WORD_SEARCH_LENGTH || !/[\p{L}\p{N}]/u.test(term)) return { substring: term };
  const words = term.split(/\s+/);
  // Only letters and digits, and no `or`: nothing either query syntax reads as an operator.
  if (words.every((w) => /^[\p{L}\p{N}]+$/u.test(w) && w.toLowerCase() !== 'or')) {
    return { tsquery: words.map((w) => `${w}:*`).join(' & ') };
  }
  return { websearch: term };
}

/** 422 with field errors; the detail sentence lists them. */
function invalid(errors: FieldError[]): ProblemException {
  const detail = `The request is invalid: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}.`;
  return new ProblemException(HttpStatus.UNPROCESSABLE_ENTITY, detail, { errors });
}
