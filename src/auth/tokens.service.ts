import { HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createHash, KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { ProblemException } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { JWT_SIGNING_KEY } from './jwt-secret.provider';
import { RefreshTokensRepository } from './refresh-tokens.repository';

/** The only signing algorithm accepted, on signing and on verification (no `alg: none`, no key confusion). */
export const JWT_ALGORITHM = 'HS256';
/** The `typ` claim every access token carries; the JWT strategy refuses tokens without it. */
export const ACCESS_TOKEN_TYPE = 'access';

/** Claims of an access JWT. `sub` is the user id as a string (RFC 7519 §4.1.2). */
export interface AccessTokenClaims {
  sub: string;
  typ: typeof ACCESS_TOKEN_TYPE;
}

/** A freshly minted access + refresh token pair. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/** SHA-256 hex of an opaque token: what is stored and looked up (the token has 256 bits, so no slow hash). */
export const sha256Hex = (token: string) => createHash('sha256').update(token).digest('hex');

const invalidRefreshToken = () =>
  new ProblemException(HttpStatus.UNAUTHORIZED, 'The refresh token is invalid, expired or revoked; log in again.');

/**
 * Mints access JWTs (HS256, `iss`/`aud`/`exp`/`typ`) and opaque refresh tokens (32 random bytes, base64url, stored
 * as SHA-256), rotates refresh tokens and revokes their families.
 */
@Injectable()
export class TokensService {
  private readonly logger = new Logger(TokensService.name);

  constructor(
    private readonly jwt: JwtService,
    private readonly refreshTokens: RefreshTokensRepository,
    @Inject(JWT_SIGNING_KEY) private readonly signingKey: KeyObject,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /**
   * A new pair starting a new refresh-token family (a login, a registration, an anonymous start). The user's
   * expired tokens are deleted on the way, so the table holds only live families.
   */
  async issueNewFamily(userId: number): Promise<TokenPair> {
    await this.refreshTokens.deleteExpired(userId);
    const refreshToken = this.newOpaqueToken();
    await this.refreshTokens.insert(userId, randomUUID(), sha256Hex(refreshToken), this.refreshExpiry());
    return { accessToken: await this.signAccessToken(userId), refreshToken, expiresIn: this.config.auth.access_token_ttl_seconds };
  }

  /**
   * Spends a refresh token and returns the next pair of its family. A spent token presented again revokes the
   * whole family, the newest token included (reuse detection, RFC 9700 §4.14.2).
   * @returns the pair and the user it belongs to
   * @throws 401 problem for an unknown, spent, revoked or expired token
   */
  async rotate(refreshToken: string): Promise<{ userId: number; familyId: string; pair: TokenPair }> {
    const next = this.newOpaqueToken();
    const result = await this.refreshTokens.rotate(sha256Hex(refreshToken), sha256Hex(next), this.refreshExpiry());
    if (result.outcome === 'reused') {
      this.logger.warn(`Refresh token reuse for user ${result.userId}: family ${result.familyId} revoked (RFC 9700 §4.14.2).`);
    }
    if (result.outcome !== 'rotated') throw invalidRefreshToken();
    const pair = {
      accessToken: await this.signAccessToken(result.userId),
      refreshToken: next,
      expiresIn: this.config.auth.access_token_ttl_seconds,
    };
    return { userId: result.userId, familyId: result.familyId, pair };
  }

  /** Revokes the family of `refreshToken` when it belongs to `userId`; anything else is silently ignored. */
  async revoke(userId: number, refreshToken: string): Promise<void> {
    const token = await this.refreshTokens.findByHash(sha256Hex(refreshToken));
    if (token && token.userId === userId) await this.refreshTokens.revokeFamily(token.familyId);
  }

  /** Revokes a whole family (e.g. its user was disabled). */
  revokeFamily(familyId: string): Promise<void> {
    return this.refreshTokens.revokeFamily(familyId);
  }

  /** An invalid-refresh-token 401, for callers that find a problem after rotation (disabled user). */
  invalidRefreshToken(): ProblemException {
    return invalidRefreshToken();
  }

  private signAccessToken(userId: number): Promise<string> {
    const claims: AccessTokenClaims = { sub: String(userId), typ: ACCESS_TOKEN_TYPE };
    return this.jwt.signAsync(claims, {
      privateKey: this.signingKey,
      algorithm: JWT_ALGORITHM,
      issuer: this.config.auth.issuer,
      audience: this.config.auth.audience,
      expiresIn: this.config.auth.access_token_ttl_seconds,
    });
  }

  private newOpaqueToken(): string {
    return randomBytes(32).toString('base64url');
  }

  private refreshExpiry(): Date {
    return new Date(Date.now() + this.config.auth.refresh_token_ttl_seconds * 1000);
  }
}
