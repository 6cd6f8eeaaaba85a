import { Injectable } from '@nestjs/common';
import { AuthInvalidationBus } from './auth-invalidation.bus';
import { RefreshTokensRepository } from './refresh-tokens.repository';

/**
 * Ends login sessions (refresh-token families): revokes their refresh tokens in PostgreSQL, then announces their
 * ids so their access tokens fail at once, on this instance and (through Redis) on the others.
 */
@Injectable()
export class LoginSessions {
  constructor(
    private readonly tokens: RefreshTokensRepository,
    private readonly invalidations: AuthInvalidationBus,
  ) {}

  /** Ends one session (logout, refresh-token reuse, a disabled user refreshing). */
  async end(familyId: string): Promise<void> {
    await this.tokens.revokeFamily(familyId);
    await this.invalidations.emit({ kind: 'sessions', sids: [familyId] });
  }

  /** Ends a session of this user. @returns false when no session with this id is the user's */
  async endOwn(userId: number, familyId: string): Promise<boolean> {
    if (!(await this.tokens.familyBelongsTo(userId, familyId))) return false;
    await this.end(familyId);
    return true;
  }

  /** Ends every session of a user (logout everywhere, a password change, a disabled account). */
  async endAll(userId: number): Promise<void> {
    const sids = await this.tokens.revokeAllOfUser(userId);
    if (sids.length) await this.invalidations.emit({ kind: 'sessions', sids });
  }
}
