import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, DataSource, EntityManager, FindOptionsWhere, Repository } from 'typeorm';
import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { PromptVersionEntity } from './prompt-version.entity';
import { PromptEntity } from './prompt.entity';

/** Filters of a prompt listing. */
export interface PromptFilter {
  scenario?: string;
  includeTemplates: boolean;
  /** A full-text query in web-search syntax (`"phrase"`, `or`, `-word`), for `websearch_to_tsquery`. */
  websearch?: string;
  /** A full-text query in `to_tsquery` syntax (built by the service from plain words, e.g. `summ:* & text:*`). */
  tsquery?: string;
  /** A substring of title, description or content (for terms too short to search by word). */
  substring?: string;
}

/** Who changes a prompt: its owner may change it; an admin may also change the system templates. */
export interface PromptEditor {
  userId: number;
  admin: boolean;
}

/** Fields an update may change. */
export type PromptChanges = Partial<Pick<PromptEntity, 'title' | 'content' | 'scenario' | 'description' | 'metadata'>>;

/**
 * Prompts and their versions in PostgreSQL. Reads take the caller's id: a user's own prompts and the system
 * templates are visible, another user's prompt is simply not found.
 */
@Injectable()
export class PromptsRepository {
  constructor(
    @InjectRepository(PromptEntity) private readonly prompts: Repository<PromptEntity>,
    @InjectRepository(PromptVersionEntity) private readonly versions: Repository<PromptVersionEntity>,
    private readonly dataSource: DataSource,
  ) {}

  /** Inserts a prompt. @returns it as stored (id, version 1, timestamps) */
  create(data: Partial<PromptEntity>): Promise<PromptEntity> {
    return this.prompts.save(this.prompts.create(data));
  }

  /** @returns the prompt if it is `userId`'s own or a system template, else null. */
  findVisible(userId: number, id: number): Promise<PromptEntity | null> {
    return this.prompts
      .createQueryBuilder('p')
      .where('p.id = :id', { id })
      .andWhere('(p.user_id = :userId OR p.is_template)', { userId })
      .getOne();
  }

  /**
   * A page of the prompts `userId` sees: best full-text matches first when searching by words, else the most
   * recently updated first.
   */
  findPage(userId: number, filter: PromptFilter, page: number, pageSize: number): Promise<[PromptEntity[], number]> {
    const qb = this.prompts.createQueryBuilder('p');
    qb.where(filter.includeTemplates ? '(p.user_id = :userId OR p.is_template)' : 'p.user_id = :userId', { userId });
    if (filter.scenario !== undefined) qb.andWhere('p.scenario = :scenario', { scenario: filter.scenario });
    const query =
      filter.websearch !== undefined
        ? { sql: "websearch_to_tsquery('simple', :query)", text: filter.websearch }
        : filter.tsquery !== undefined
          ? { sql: "to_tsquery('simple', :query)", text: filter.tsquery }
          : undefined;
    if (query) {
      qb.andWhere(`p.search_vector @@ ${query.sql}`, { query: query.text });
      qb.addSelect(`ts_rank(p.search_vector, ${query.sql})`, 'rank').orderBy('rank', 'DESC');
    }
    if (filter.substring !== undefined) {
      const pattern = `%${filter.substring.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      qb.andWhere(
        new Brackets((w) =>
          w.where('p.title ILIKE :pattern').orWhere('p.description ILIKE :pattern').orWhere('p.content ILIKE :pattern'),
        ),
        { pattern },
      );
    }
    return qb
      .addOrderBy('p.updated_at', 'DESC')
      .addOrderBy('p.id', 'DESC')
      .skip((page - 1) * pageSize)
      .take(pageSize)
      .getManyAndCount();
  }

  /** Where-clause of the prompts `editor` may change. */
  private editable(editor: PromptEditor, id: number): FindOptionsWhere<PromptEntity>[] {
    return editor.admin ? [{ id, userId: editor.userId }, { id, isTemplate: true }] : [{ id, userId: editor.userId }];
  }

  /**
   * Applies `changes` under a row lock. When title or content change, the previous pair is kept as a version and
   * `version` rises by one; the lock makes concurrent updates take consecutive numbers.
   * @returns the updated prompt, or null when it does not exist or `editor` may not change it
   */
  updateKeepingVersion(editor: PromptEditor, id: number, changes: PromptChanges): Promise<PromptEntity | null> {
    return this.dataSource.transaction(async (em) => {
      const current = await em
        .getRepository(PromptEntity)
        .findOne({ where: this.editable(editor, id), lock: { mode: 'pessimistic_write' } });
      if (!current) return null;
      const titleChanged = changes.title !== undefined && changes.title !== current.title;
      const contentChanged = changes.content !== undefined && changes.content !== current.content;
      const update: QueryDeepPartialEntity<PromptEntity> = { ...(changes as QueryDeepPartialEntity<PromptEntity>) };
      if (titleChanged || contentChanged) {
        await em.getRepository(PromptVersionEntity).insert({
          promptId: id,
          version: current.version,
          title: current.title,
          content: current.content,
        });
        update.version = current.version + 1;
      }
      await em.getRepository(PromptEntity).update({ id }, update);
      return em.getRepository(PromptEntity).findOneBy({ id });
    });
  }

  /**
   * Deletes a prompt `editor` may change, with its versions (FK cascade); sessions started from it keep their
   * rendered system prompt and version number. @returns whether it was deleted.
   */
  async delete(editor: PromptEditor, id: number): Promise<boolean> {
    const result = await this.prompts.delete(this.editable(editor, id));
    return Boolean(result.affected);
  }

  /**
   * Counts one use, atomically in SQL (`usage_count + 1`), so concurrent uses are all counted. Leaves
   * `updated_at` alone: being used is not being edited.
   * @param tx the caller's transaction (a session created from the prompt counts its use in the same one)
   * @returns false when the prompt no longer exists
   */
  async incrementUsage(id: number, tx: EntityManager = this.prompts.manager): Promise<boolean> {
    const [, affected]: [unknown, number] = await tx.query('UPDATE prompts SET usage_count = usage_count + 1 WHERE id = $1', [id]);
    return affected > 0;
  }

  /** A page of a prompt's earlier versions, newest first. */
  findVersions(promptId: number, page: number, pageSize: number): Promise<[PromptVersionEntity[], number]> {
    return this.versions.findAndCount({
      where: { promptId },
      order: { version: 'DESC' },
      skip: (page - 1) * pageSize,
      take: pageSize,
    });
  }
}
