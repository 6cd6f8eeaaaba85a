import { HttpStatus, Injectable } from '@nestjs/common';
import type { AuthenticatedUser } from '../common/authenticated-user';
import { PageQueryDto } from '../common/pagination.dto';
import { notFound, ProblemException } from '../common/problem';
import { LoginBackoff } from '../credentials/login-backoff';
import { LoginSessions } from '../credentials/login-sessions.service';
import { PrincipalCache } from '../credentials/principal-cache';
import { ClientSeen, RefreshTokensRepository } from '../credentials/refresh-tokens.repository';
import { isUniqueViolation } from '../database/pg-errors';
import { PasswordHasher } from '../users/password-hasher.service';
import { UserEntity } from '../users/user.entity';
import { UserProfileDto } from '../users/users.dto';
import { UsersRepository } from '../users/users.repository';
import { emailTaken } from '../users/users.service';
import { AuthTokensDto, LoginDto, LoginSessionPageDto, RefreshTokenDto, RegisterDto } from './auth.dto';
import { TokenPair, TokensService } from './tokens.service';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Registration, login, anonymous users, refresh, logout and login sessions (API.md `/v1/auth/*`). */
@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly passwords: PasswordHasher,
    private readonly tokens: TokensService,
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly sessions: LoginSessions,
    private readonly backoff: LoginBackoff,
    private readonly principals: PrincipalCache,
  ) {}

  /** Creates an account and logs it in. @throws 409 when the email is taken */
  async register(dto: RegisterDto, client: ClientSeen): Promise<AuthTokensDto> {
    const mark = this.principals.mark();
    if (await this.users.isEmailTaken(dto.email)) throw emailTaken();
    const passwordHash = await this.passwords.hash(dto.password);
    const user = await this.users.createRegistered(dto.email, passwordHash, dto.display_name ?? null).catch((err) => {
      throw isUniqueViolation(err) ? emailTaken() : err;
    });
    return this.answer(user, await this.tokens.issueNewFamily(user.id, client), mark);
  }

  /**
   * Logs in with email and password. An unknown email and a wrong password get the same 401 with the same detail,
   * and cost the same Argon2 verification (OWASP Authentication Cheat Sheet), so neither reveals which emails exist.
   * Both count toward the email's login backoff, and an email that must wait is refused before any lookup or
   * verification, known or not: the same 429, at the same (short) cost.
   * @throws LoginBackoffError while the email must wait; 401 on bad credentials, or for a disabled account (only
   *         once the password was right)
   */
  async login(dto: LoginDto, client: ClientSeen): Promise<AuthTokensDto> {
    const { hasFailures } = await this.backoff.admit(dto.email);
    const mark = this.principals.mark();
    const user = await this.users.findByEmail(dto.email);
    const ok = await this.passwords.verify(user?.passwordHash, dto.password);
    if (!user || !ok) {
      await this.backoff.recordFailure(dto.email);
      throw new ProblemException(HttpStatus.UNAUTHORIZED, 'Incorrect email or password.');
    }
    if (hasFailures) await this.backoff.recordSuccess(dto.email);
    if (user.disabled) throw new ProblemException(HttpStatus.UNAUTHORIZED, 'This account is disabled.');
    return this.answer(user, await this.tokens.issueNewFamily(user.id, client), mark);
  }

  /** Creates an anonymous user and logs it in; it may claim an account later via PATCH /v1/users/me. */
  async anonymous(client: ClientSeen): Promise<AuthTokensDto> {
    const mark = this.principals.mark();
    const user = await this.users.createAnonymous();
    return this.answer(user, await this.tokens.issueNewFamily(user.id, client), mark);
  }

  /**
   * Exchanges a refresh token for a new pair (rotation with a short overlap; reuse after it ends the session).
   * @throws 401 for an invalid, spent, revoked or expired token, or a deleted or disabled user
   */
  async refresh(dto: RefreshTokenDto, client: ClientSeen): Promise<AuthTokensDto> {
    const { userId, familyId, pair } = await this.tokens.rotate(dto.refresh_token, client);
    const mark = this.principals.mark();
    const user = await this.users.findById(userId);
    if (!user || user.disabled) {
      await this.sessions.end(familyId);
      throw this.tokens.invalidRefreshToken();
    }
    return this.answer(user, pair, mark);
  }

  /** Ends the session of the caller's refresh token (this device logs out). Idempotent. */
  logout(userId: number, dto: RefreshTokenDto): Promise<void> {
    return this.tokens.revoke(userId, dto.refresh_token);
  }

  /** Ends every session of the caller, this one included. */
  logoutAll(userId: number): Promise<void> {
    return this.sessions.endAll(userId);
  }

  /** One page of the caller's live login sessions, `current` marking the one of the calling access token. */
  async listSessions(user: AuthenticatedUser, query: PageQueryDto): Promise<LoginSessionPageDto> {
    const [rows, total] = await this.refreshTokens.findLiveFamilies(user.id, (query.page - 1) * query.page_size, query.page_size);
    const items = rows.map((r) => ({
      id: r.familyId,
      created_at: r.familyCreatedAt,
      last_used_at: r.lastIssuedAt,
      user_agent: r.userAgent,
      ip: r.ip,
      current: r.familyId === user.sessionId,
    }));
    return { total, page: query.page, page_size: query.page_size, items };
  }

  /** Ends one of the caller's sessions; its tokens fail at once. @throws 404 when it is not one of the caller's */
  async endSession(userId: number, sessionId: string): Promise<void> {
    if (!UUID.test(sessionId) || !(await this.sessions.endOwn(userId, sessionId.toLowerCase()))) throw notFound('Session');
  }

  /** The token answer; the user just read is cached, so the new access token's first request reads nothing. */
  private answer(user: UserEntity, pair: TokenPair, mark: number): AuthTokensDto {
    this.principals.remember({ id: user.id, role: user.role, tier: user.tier, disabled: user.disabled, limits: user.limits ?? null }, mark);
    return {
      access_token: pair.accessToken,
      refresh_token: pair.refreshToken,
      token_type: 'bearer',
      expires_in: pair.expiresIn,
      user: UserProfileDto.from(user),
    };
  }
}
