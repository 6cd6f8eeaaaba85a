import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { AuthenticatedUser } from '../common/authenticated-user';
import { AppConfig, appConfig } from '../config/app-config';
import { UsersRepository } from '../users/users.repository';
import { JWT_SECRET } from './jwt-secret.provider';
import { ACCESS_TOKEN_TYPE, AccessTokenClaims, JWT_ALGORITHM } from './tokens.service';

/**
 * The `jwt` passport strategy: a bearer access token signed with HS256 only, with the configured `iss` and `aud`,
 * not expired, carrying `typ: "access"`. The user is loaded on every request (a primary-key read), so a disabled or
 * deleted user's tokens stop working at once, and role and tier are always current.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    @Inject(JWT_SECRET) secret: string,
    @Inject(appConfig.KEY) config: AppConfig,
    private readonly users: UsersRepository,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKey: secret,
      algorithms: [JWT_ALGORITHM],
      issuer: config.auth.issuer,
      audience: config.auth.audience,
      ignoreExpiration: false,
    });
  }

  /**
   * Runs after the signature, `iss`, `aud` and `exp` were verified.
   * @returns the caller, or null (→ 401) for a token without `exp` (the library would accept it forever), of another
   *          `typ`, or of an unknown or disabled user
   */
  async validate(claims: Partial<AccessTokenClaims> & { exp?: unknown }): Promise<AuthenticatedUser | null> {
    if (claims.typ !== ACCESS_TOKEN_TYPE || typeof claims.exp !== 'number') return null;
    if (typeof claims.sub !== 'string' || !/^[1-9]\d{0,9}$/.test(claims.sub)) return null;
    const user = await this.users.findById(Number(claims.sub));
    if (!user || user.disabled) return null;
    return { id: user.id, role: user.role, tier: user.tier, applicationId: null };
  }
}
