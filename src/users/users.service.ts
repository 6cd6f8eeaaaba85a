import { HttpStatus, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { mergeLimitOverrides } from '../common/limit-overrides.dto';
import { PageQueryDto } from '../common/pagination.dto';
import { invalidField, notFound, ProblemException } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { AuthInvalidationBus } from '../credentials/auth-invalidation.bus';
import { LoginSessions } from '../credentials/login-sessions.service';
import { isUniqueViolation } from '../database/pg-errors';
import { PasswordHasher } from './password-hasher.service';
import { UserEntity } from './user.entity';
import {
  AdminUpdateUserDto,
  AdminUserDto,
  GlobalStatsDto,
  UpdateMeDto,
  UserPageDto,
  UserProfileDto,
  UserStatsDto,
} from './users.dto';
import { ModelUsageRow, UsersRepository } from './users.repository';

/** Thrown when an email belongs to another account (API.md: 409 conflict). */
export const emailTaken = () => new ProblemException(HttpStatus.CONFLICT, 'An account with this email already exists.');

const toModelUsage = (r: ModelUsageRow) => ({
  model: r.model,
  messages: r.messages,
  tokens_input: r.tokensInput,
  tokens_output: r.tokensOutput,
  cost: r.cost,
});

/** Profiles, account claims, statistics and the admin's view of users. */
@Injectable()
export class UsersService implements OnApplicationBootstrap {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    private readonly users: UsersRepository,
    private readonly passwords: PasswordHasher,
    private readonly invalidations: AuthInvalidationBus,
    private readonly sessions: LoginSessions,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /** Makes sure the `ADMIN_EMAIL` admin exists when the app starts. */
  async onApplicationBootstrap(): Promise<void> {
    await this.ensureConfiguredAdmin();
  }

  /**
   * When `ADMIN_EMAIL`/`ADMIN_PASSWORD` are set, creates that admin, or promotes the existing user with that email
   * (its password is left as it is). Safe to run from several instances at once.
   */
  async ensureConfiguredAdmin(): Promise<void> {
    const admin = this.config.admin;
    if (!admin) return;
    const email = admin.email.trim().toLowerCase();
    for (let attempt = 0; attempt < 2; attempt++) {
      const existing = await this.users.findByEmail(email);
      if (existing) {
        if (existing.role !== 'admin' || existing.disabled) {
          await this.users.updateFields(existing.id, { role: 'admin', disabled: false });
          await this.invalidations.emit({ kind: 'user', userId: existing.id });
          this.logger.log(`Promoted ${email} to admin (ADMIN_EMAIL).`);
        }
        return;
      }
      try {
        await this.users.createRegistered(email, await this.passwords.hash(admin.password), 'Admin', 'admin');
        this.logger.log(`Created the admin ${email} (ADMIN_EMAIL).`);
        return;
      } catch (err) {
        // Another instance created it in the meantime: promote on the next turn.
        if (!isUniqueViolation(err)) throw err;
      }
    }
  }

  /** @throws 404 when the user no longer exists */
  async getProfile(userId: number): Promise<UserProfileDto> {
    return UserProfileDto.from(await this.load(userId));
  }

  /**
   * Updates one's own profile. An anonymous user sends `email` + `password` together to claim an account (id and
   * sessions kept, `is_anonymous` becomes false). A registered user must confirm a change of email or password with
   * `current_password`. A password change ends every login session of the user, this one included: every device
   * logs in again, and their access tokens fail at once.
   * @throws 409 when the email belongs to someone else; 422 for a missing/incorrect `current_password` or a half claim
   */
  async updateMe(userId: number, dto: UpdateMeDto): Promise<UserProfileDto> {
    const user = await this.load(userId);
    const changes: Parameters<UsersRepository['updateFields']>[1] = {};
    if (dto.display_name !== undefined) changes.displayName = dto.display_name;

    if (user.isAnonymous) {
      if ((dto.email === undefined) !== (dto.password === undefined)) {
        const missing = dto.email === undefined ? 'email' : 'password';
        throw invalidField(missing, `an anonymous user claims an account by sending email and password together`);
      }
      if (dto.email !== undefined) {
        changes.email = dto.email;
        changes.passwordHash = await this.passwords.hash(dto.password!);
        changes.isAnonymous = false;
      }
    } else {
      const emailChanges = dto.email !== undefined && dto.email !== user.email;
      if (emailChanges || dto.password !== undefined) {
        if (dto.current_password === undefined) {
          throw invalidField('current_password', 'is required to change the email or password');
        }
        if (!(await this.passwords.verify(user.passwordHash, dto.current_password))) {
          throw invalidField('current_password', 'is incorrect');
        }
      }
      if (emailChanges) changes.email = dto.email;
      if (dto.password !== undefined) changes.passwordHash = await this.passwords.hash(dto.password);
    }

    if (changes.email && (await this.users.isEmailTaken(changes.email, userId))) throw emailTaken();
    const updated = await this.users.updateFields(userId, changes);
    if (dto.password !== undefined && !user.isAnonymous) await this.sessions.endAll(userId);
    return UserProfileDto.from(updated ?? user);
  }

  /**
   * Deletes the user and everything it owns (sessions, messages, files, applications, keys, refresh tokens); its
   * tokens and keys stop working at once.
   */
  async deleteMe(userId: number): Promise<void> {
    if (!(await this.users.deleteById(userId))) throw notFound('User');
    await this.invalidations.emit({ kind: 'user', userId });
  }

  /** A user's usage statistics (API.md `GET /v1/users/me/stats`). @throws 404 for an unknown user */
  async stats(userId: number): Promise<UserStatsDto> {
    const user = await this.load(userId);
    const [sessions, messages, byModel] = await Promise.all([
      this.users.countSessions(userId),
      this.users.countMessages(userId),
      this.users.usageByModel(userId),
    ]);
    return {
      sessions,
      messages,
      tokens_input: user.tokensInput,
      tokens_output: user.tokensOutput,
      cost: user.cost,
      by_model: byModel.map(toModelUsage),
    };
  }

  /** Usage of the whole service (admin). */
  async globalStats(): Promise<GlobalStatsDto> {
    const [users, sessions, messages, totals, byModel] = await Promise.all([
      this.users.countUsers(),
      this.users.countSessions(),
      this.users.countMessages(),
      this.users.sumTotals(),
      this.users.usageByModel(),
    ]);
    return {
      users,
      sessions,
      messages,
      tokens_input: totals.tokensInput,
      tokens_output: totals.tokensOutput,
      cost: totals.cost,
      by_model: byModel.map(toModelUsage),
    };
  }

  /** One page of users (admin). */
  async list(query: PageQueryDto): Promise<UserPageDto> {
    const [rows, total] = await this.users.findPage((query.page - 1) * query.page_size, query.page_size);
    return { total, page: query.page, page_size: query.page_size, items: rows.map(AdminUserDto.from) };
  }

  /** One user (admin). @throws 404 */
  async getForAdmin(id: number): Promise<AdminUserDto> {
    return AdminUserDto.from(await this.load(id));
  }

  /**
   * Changes a user's role, tier, disabled flag or budget overrides (admin); it applies to the user's next request,
   * on every instance (the budget counters are rebuilt under the new limits).
   * An admin cannot demote or disable itself, so the service never loses its last way in by accident.
   * @throws 404 unknown user; 422 a tier not in the configuration; 409 demoting or disabling oneself
   */
  async updateForAdmin(callerId: number, id: number, dto: AdminUpdateUserDto): Promise<AdminUserDto> {
    const user = await this.load(id);
    if (dto.tier !== undefined && !Object.hasOwn(this.config.rateLimits.tiers, dto.tier)) {
      const tiers = Object.keys(this.config.rateLimits.tiers).join(', ');
      throw invalidField('tier', `must be one of the configured tiers: ${tiers}`);
    }
    if (callerId === id && (dto.disabled === true || dto.role === 'user')) {
      throw new ProblemException(HttpStatus.CONFLICT, 'Admins cannot demote or disable themselves; ask another admin.');
    }
    const limits = dto.limits === undefined ? undefined : mergeLimitOverrides(user.limits, dto.limits);
    const updated = await this.users.updateFields(id, { role: dto.role, tier: dto.tier, disabled: dto.disabled, limits });
    await this.invalidations.emit({ kind: 'user', userId: id });
    // A disabled account's logins end for good: enabling it again does not bring them back.
    if (dto.disabled === true) await this.sessions.endAll(id);
    return AdminUserDto.from(updated ?? user);
  }

  private async load(id: number): Promise<UserEntity> {
    const user = await this.users.findById(id);
    if (!user) throw notFound('User');
    return user;
  }
}
