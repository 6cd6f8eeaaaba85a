import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { SqlStatement } from '../database/sql-statement';
import { ChatSessionEntity } from '../chats/chat-session.entity';
import { MessageEntity } from '../messages/message.entity';
import type { UserRole } from '../common/user-role';
import { UserEntity } from './user.entity';

/** Usage of one model, summed over assistant messages. */
export interface ModelUsageRow {
  model: string;
  messages: number;
  tokensInput: number;
  tokensOutput: number;
  cost: number;
}

/** Largest value of a PostgreSQL `integer`: ids beyond it cannot exist (and would make the query fail). */
const MAX_INT4 = 2_147_483_647;
const isId = (id: number) => Number.isSafeInteger(id) && id > 0 && id <= MAX_INT4;

/** Persistence of users (and the counts their statistics are made of). All SQL about users lives here. */
@Injectable()
export class UsersRepository {
  constructor(@InjectRepository(UserEntity) private readonly users: Repository<UserEntity>) {}

  /**
   * Adds to `stmt` a CTE `user_usage` adding one model call's usage to the user's running totals, with relative
   * increments so concurrent calls lose nothing. The row stays locked until the statement commits, so a ledger
   * row written by the same statement can't lose its user meanwhile.
   * @param usage.cost USD
   * @returns the CTE's name; it returns the user's `id`, or no row when the user no longer exists
   */
  addUsage(stmt: SqlStatement, userId: number, usage: { tokensInput: number; tokensOutput: number; cost: number }): string {
    return stmt.with(
      'user_usage',
      `UPDATE users SET tokens_input = tokens_input + ${stmt.param(usage.tokensInput, 'bigint')},
         tokens_output = tokens_output + ${stmt.param(usage.tokensOutput, 'bigint')}, cost = cost + ${stmt.param(usage.cost, 'numeric')}
       WHERE id = ${stmt.param(userId, 'integer')} RETURNING id`,
    );
  }

  /** @returns the user with this id, or null */
  findById(id: number): Promise<UserEntity | null> {
    return isId(id) ? this.users.findOneBy({ id }) : Promise.resolve(null);
  }

  /** @returns what authentication needs of the user with this id (one primary-key read), or null */
  async findPrincipal(id: number): Promise<Pick<UserEntity, 'id' | 'role' | 'tier' | 'disabled' | 'limits'> | null> {
    if (!isId(id)) return null;
    const row = await this.users.findOne({ where: { id }, select: { id: true, role: true, tier: true, disabled: true, limits: true } });
    return row ? { id: row.id, role: row.role, tier: row.tier, disabled: row.disabled, limits: row.limits ?? null } : null;
  }

  /** @param email already normalised (trimmed, lower case) */
  findByEmail(email: string): Promise<UserEntity | null> {
    return this.users.findOneBy({ email });
  }

  /** @returns whether another user (not `exceptId`) already has this email */
  async isEmailTaken(email: string, exceptId?: number): Promise<boolean> {
    const qb = this.users.createQueryBuilder('u').where('u.email = :email', { email });
    if (exceptId !== undefined) qb.andWhere('u.id <> :exceptId', { exceptId });
    return (await qb.getCount()) > 0;
  }

  /** Inserts a user with an email and password hash. A taken email surfaces as a unique violation (→ 409). */
  createRegistered(email: string, passwordHash: string, displayName: string | null, role: UserRole = 'user'): Promise<UserEntity> {
    return this.users.save(this.users.create({ email, passwordHash, displayName, role, isAnonymous: false }));
  }

  /** Inserts an anonymous user: no email, no password. */
  createAnonymous(): Promise<UserEntity> {
    return this.users.save(this.users.create({ isAnonymous: true }));
  }

  /** Writes the given fields of one user and returns the fresh row. */
  async updateFields(
    id: number,
    fields: Partial<Pick<UserEntity, 'email' | 'passwordHash' | 'displayName' | 'role' | 'tier' | 'isAnonymous' | 'disabled' | 'limits'>>,
  ): Promise<UserEntity | null> {
    const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    if (Object.keys(defined).length) await this.users.update({ id }, defined);
    return this.findById(id);
  }

  /** Deletes a user; sessions, messages, applications, keys and refresh tokens go with it (FK cascades). */
  async deleteById(id: number): Promise<boolean> {
    const { affected } = await this.users.delete({ id });
    return (affected ?? 0) > 0;
  }

  /** One page of users, oldest first. */
  findPage(skip: number, take: number): Promise<[UserEntity[], number]> {
    return this.users.findAndCount({ order: { id: 'ASC' }, skip, take });
  }

  countUsers(): Promise<number> {
    return this.users.count();
  }

  /** Sums the running usage totals of every user. */
  async sumTotals(): Promise<{ tokensInput: number; tokensOutput: number; cost: number }> {
    const row = await this.users
      .createQueryBuilder('u')
      .select('COALESCE(SUM(u.tokens_input), 0)', 'tokensInput')
      .addSelect('COALESCE(SUM(u.tokens_output), 0)', 'tokensOutput')
      .addSelect('COALESCE(SUM(u.cost), 0)', 'cost')
      .getRawOne<Record<string, string>>();
    return { tokensInput: Number(row?.tokensInput ?? 0), tokensOutput: Number(row?.tokensOutput ?? 0), cost: Number(row?.cost ?? 0) };
  }

  /** Chat sessions (archived ones included) of one user, or of everyone when `userId` is undefined. */
  countSessions(userId?: number): Promise<number> {
    const qb = this.users.manager.createQueryBuilder(ChatSessionEntity, 's');
    if (userId !== undefined) qb.where('s.user_id = :userId', { userId });
    return qb.getCount();
  }

  /** Messages in the sessions of one user, or of everyone when `userId` is undefined. */
  countMessages(userId?: number): Promise<number> {
    const qb = this.users.manager.createQueryBuilder(MessageEntity, 'm');
    if (userId !== undefined) qb.innerJoin(ChatSessionEntity, 's', 's.id = m.session_id').where('s.user_id = :userId', { userId });
    return qb.getCount();
  }

  /** Assistant messages grouped by the model that answered, most used first; one user's, or everyone's. */
  async usageByModel(userId?: number): Promise<ModelUsageRow[]> {
    const qb = this.users.manager
      .createQueryBuilder(MessageEntity, 'm')
      .select(`COALESCE(m.model, 'unknown')`, 'model')
      .addSelect('COUNT(*)', 'messages')
      .addSelect('COALESCE(SUM(m.tokens_input), 0)', 'tokensInput')
      .addSelect('COALESCE(SUM(m.tokens_output), 0)', 'tokensOutput')
      .addSelect('COALESCE(SUM(m.cost), 0)', 'cost')
      .where(`m.role = 'assistant'`)
      .groupBy(`COALESCE(m.model, 'unknown')`)
      .orderBy('messages', 'DESC')
      .addOrderBy('model', 'ASC');
    if (userId !== undefined) qb.innerJoin(ChatSessionEntity, 's', 's.id = m.session_id').andWhere('s.user_id = :userId', { userId });
    const rows = await qb.getRawMany<Record<string, string>>();
    return rows.map((r) => ({
      model: r.model,
      messages: Number(r.messages),
      tokensInput: Number(r.tokensInput),
      tokensOutput: Number(r.tokensOutput),
      cost: Number(r.cost),
    }));
  }
}
