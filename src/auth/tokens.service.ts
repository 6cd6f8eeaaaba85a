import { HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createHash, createHmac, KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { ProblemException } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { LoginSessions } from '../credentials/login-sessions.service';
import { ClientSeen, RefreshTokensRepository } from '../credentials/refresh-tokens.repository';
import { JWT_SIGNING_KEY } from './jwt-secret.provider';

/** The only signing algorithm accepted, on signing and on verification (no `alg: none`, no key confusion). */
export const JWT_ALGORITHM = 'HS256';
/** The `typ` claim every access token carries; the JWT strategy refuses tokens without it. */
export const ACCESS_TOKEN_TYPE = 'access';

/**
 * Claims of an access JWT. `sub` is the user id as a string (RFC 7519 §4.1.2); `sid` the login session (refresh-token
 * family) it belongs to, as in OpenID Connect: revoking that session makes the token fail.
 */
export interface AccessTokenClaims {
  sub: string;
  typ: typeof ACCESS_TOKEN_TYPE;
  sid: string;
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
 * Mints access JWTs (HS256, `iss`/`aud`/`exp`/`typ`/`sid`) and opaque refresh tokens (256 bits, base64url, stored
 * as SHA-256), rotates refresh tokens and ends their families.
 */
@Injectable()
export class TokensService {
  private readonly logger = new Logger(TokensService.name);

  constructor(
    private readonly jwt: JwtService,
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly sessions: LoginSessions,
    @Inject(JWT_SIGNING_KEY) private readonly signingKey: KeyObject,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /**
   * A new pair starting a new refresh-token family, i.e. a new login session (a login, a registration, an anonymous
   * start). The user's expired tokens are deleted on the way, so the table holds only live families.
   */
  async issueNewFamily(userId: number, client: ClientSeen): Promise<TokenPair> {
    await this.refreshTokens.deleteExpired(userId);
    const refreshToken = randomBytes(32).toString('base64url');
    const familyId = randomUUID();
    const issuedAt = await this.refreshTokens.insertFirst(userId, familyId, sha256Hex(refreshToken), this.refreshExpiry(), client);
    return this.pair(userId, familyId, refreshToken, issuedAt);
  }

  /**
   * Spends a refresh token and returns the next pair of its family. Within `auth.refresh_reuse_overlap_seconds` of
   * the spend the same token returns the same pair again (two tabs refreshing at once); later, a spent token
   * revokes the whole family, the newest token included (reuse detection, RFC 9700 §4.14.2).
   * @returns the pair and the user and family it belongs to
   * @throws 401 problem for an unknown, spent, revoked or expired token
   */
  async rotate(refreshToken: string, client: ClientSeen): Promise<{ userId: number; familyId: string; pair: TokenPair }> {
    const next = this.successorOf(refreshToken);
    const result = await this.refreshTokens.rotate(
      sha256Hex(refreshToken),
      sha256Hex(next),
      this.refreshExpiry(),
      this.config.auth.refresh_reuse_overlap_seconds,
      client,
    );
    if (result.outcome === 'reused') {
      this.logger.warn(`Refresh token reuse for user ${result.userId}: family ${result.familyId} revoked (RFC 9700 §4.14.2).`);
      await this.sessions.end(result.familyId);
    }
    if (result.outcome !== 'rotated') throw invalidRefreshToken();
    const pair = await this.pair(result.userId, result.familyId, next, result.issuedAt);
    return { userId: result.userId, familyId: result.familyId, pair };
  }

  /** Ends the family of `refreshToken` when it belongs to `userId`; anything else is silently ignored. */
  async revoke(userId: number, refreshToken: string): Promise<void> {
    const token = await this.refreshTokens.findByHash(sha256Hex(refreshToken));
    if (token && token.userId === userId) await this.sessions.end(token.familyId);
  }

  /** An invalid-refresh-token 401, for callers that find a problem after rotation (disabled user). */
  invalidRefreshToken(): ProblemException {
    return invalidRefreshToken();
  }

  /**
   * The refresh token that follows `token` in its family: an HMAC of it under the signing key, so a second
   * presentation within the overlap finds the same successor without the successor ever being stored in clear.
   */
  private successorOf(token: string): string {
    return createHmac('sha256', this.signingKey).update(`refresh-successor:${token}`).digest('base64url');
  }

  /** `iat` is the refresh token's mint time, so the same successor always comes with the same access token. */
  private async pair(userId: number, familyId: string, refreshToken: string, issuedAt: Date): Promise<TokenPair> {
    const claims: AccessTokenClaims & { iat: number } = {
      sub: String(userId),
      typ: ACCESS_TOKEN_TYPE,
      sid: familyId,
      iat: Math.floor(issuedAt.getTime() / 1000),
    };
    const accessToken = await this.jwt.signAsync(claims, {
      privateKey: this.signingKey,
      algorithm: JWT_ALGORITHM,
      issuer: this.config.auth.issuer,
      audience: this.config.auth.audience,
      expiresIn: this.config.auth.access_token_ttl_seconds,
    });
    return { accessToken, refreshToken, expiresIn: this.config.auth.access_token_ttl_seconds };
  }

  private refreshExpiry(): Date {
    return new Date(Date.now() + this.config.auth.refresh_token_ttl_seconds * 1000);
  }
}
