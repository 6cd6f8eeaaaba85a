import { HttpStatus, Injectable } from '@nestjs/common';
import { ProblemException } from '../common/problem';
import { isUniqueViolation } from '../database/pg-errors';
import { PasswordHasher } from '../users/password-hasher.service';
import { UserEntity } from '../users/user.entity';
import { UserProfileDto } from '../users/users.dto';
import { UsersRepository } from '../users/users.repository';
import { emailTaken } from '../users/users.service';
import { AuthTokensDto, LoginDto, RefreshTokenDto, RegisterDto } from './auth.dto';
import { TokenPair, TokensService } from './tokens.service';


/** Registration, login, anonymous users, refresh and logout (API.md `/v1/auth/*`). */
@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly passwords: PasswordHasher,
    private readonly tokens: TokensService,
  ) {}

  /** Creates an account and logs it in. @throws 409 when the email is taken */
  async register(dto: RegisterDto): Promise<AuthTokensDto> {
    if (await this.users.isEmailTaken(dto.email)) throw emailTaken();
    const passwordHash = await this.passwords.hash(dto.password);
    const user = await this.users.createRegistered(dto.email, passwordHash, dto.display_name ?? null).catch((err) => {
      throw isUniqueViolation(err) ? emailTaken() : err;
    });
    return this.answer(user, await this.tokens.issueNewFamily(user.id));
  }

  /**
   * Logs in with email and password. An unknown email and a wrong password get the same 401 with the same detail,
   * and cost the same Argon2 verification (OWASP Authentication Cheat Sheet), so neither reveals which emails exist.
   * @throws 401 on bad credentials, or for a disabled account (only once the password was right)
   */
  async login(dto: LoginDto): Promise<AuthTokensDto> {
    const user = await this.users.findByEmail(dto.email);
    const ok = await this.passwords.verify(user?.passwordHash, dto.password);
    if (!user || !ok) throw new ProblemException(HttpStatus.UNAUTHORIZED, 'Incorrect email or password.');
    if (user.disabled) throw new ProblemException(HttpStatus.UNAUTHORIZED, 'This account is disabled.');
    return this.answer(user, await this.tokens.issueNewFamily(user.id));
  }

  /** Creates an anonymous user (seed 000) and logs it in; it may claim an account later via PATCH /v1/users/me. */
  async anonymous(): Promise<AuthTokensDto> {
    const user = await this.users.createAnonymous();
    return this.answer(user, await this.tokens.issueNewFamily(user.id));
  }

  /**
   * Exchanges a refresh token for a new pair (rotation; reuse revokes the family).
   * @throws 401 for an invalid, spent, revoked or expired token, or a deleted or disabled user
   */
  async refresh(dto: RefreshTokenDto): Promise<AuthTokensDto> {
    const { userId, familyId, pair } = await this.tokens.rotate(dto.refresh_token);
    const user = await this.users.findById(userId);
    if (!user || user.disabled) {
      await this.tokens.revokeFamily(familyId);
      throw this.tokens.invalidRefreshToken();
    }
    return this.answer(user, pair);
  }

  /** Revokes the family of the caller's refresh token (this device logs out). Idempotent. */
  logout(userId: number, dto: RefreshTokenDto): Promise<void> {
    return this.tokens.revoke(userId, dto.refresh_token);
  }

  private answer(user: UserEntity, pair: TokenPair): AuthTokensDto {
    return {
      access_token: pair.accessToken,
      refresh_token: pair.refreshToken,
      token_type: 'bearer',
      expires_in: pair.expiresIn,
      user: UserProfileDto.from(user),
    };
  }
}
