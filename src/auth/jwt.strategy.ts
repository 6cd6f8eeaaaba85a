import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { KeyObject } from 'node:crypto';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { AuthenticatedUser } from '../common/authenticated-user';
import { AppConfig, appConfig } from '../config/app-config';
import { PrincipalCache } from '../credentials/principal-cache';
import { RevokedSessions } from '../credentials/revoked-sessions';
import { UsersRepository } from '../users/users.repository';
import { JWT_SIGNING_KEY } from './jwt-secret.provider';
import { ACCESS_TOKEN_TYPE, AccessTokenClaims, JWT_ALGORITHM } from './tokens.service';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The `jwt` passport strategy: a bearer access token signed with HS256 only, with the configured `iss` and `aud`,
 * not expired, carrying `typ: "access"` and the `sid` of a login session that was not ended. The user's role, tier and disabled flag come from the principal cache
 * (a primary-key read at most once per `auth.cache_ttl_ms`; disabling, deleting or changing a user drops it at
 * once), so a disabled or deleted user's tokens stop working at once and role and tier are current.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    @Inject(JWT_SIGNING_KEY) key: KeyObject,
    @Inject(appConfig.KEY) config: AppConfig,
    private readonly users: UsersRepository,
    private readonly principals: PrincipalCache,
    private readonly revokedSessions: RevokedSessions,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // passport-jwt hands the key to jsonwebtoken as it is, and jsonwebtoken takes a KeyObject (its typings lag).
      secretOrKey: key as unknown as Buffer,
      algorithms: [JWT_ALGORITHM],
      issuer: config.auth.issuer,
      audience: config.auth.audience,
      ignoreExpiration: false,
    });
  }

  /**
   * Runs after the signature, `iss`, `aud` and `exp` were verified.
   * @returns the caller, or null (→ 401) for a token without `exp` (the library would accept it forever), of another
   *          `typ`, without `sid` or of an ended session, or of an unknown or disabled user
   */
  async validate(claims: Partial<AccessTokenClaims> & { exp?: unknown }): Promise<AuthenticatedUser | null> {
    if (claims.typ !== ACCESS_TOKEN_TYPE || typeof claims.exp !== 'number') return null;
    if (typeof claims.sub !== 'string' || !/^[1-9]\d{0,9}$/.test(claims.sub)) return null;
    if (typeof claims.sid !== 'string' || !UUID.test(claims.sid)) return null;
    if (await this.revokedSessions.isRevoked(claims.sid)) return null;
    const id = Number(claims.sub);
    const user = await this.principals.user(id, () => this.users.findPrincipal(id));
    if (!user || user.disabled) return null;
    return {
      id: user.id,
      role: user.role,
      tier: user.tier,
      applicationId: null,
      sessionId: claims.sid,
      limits: { user: user.limits ?? null, application: null },
    };
  }
}
