import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { RefreshTokenEntity } from './refresh-token.entity';

/** What became of a refresh token presented for rotation. */
export type RotationResult =
  | { outcome: 'rotated'; userId: number; familyId: string }
  | { outcome: 'reused'; userId: number; familyId: string }
  | { outcome: 'revoked' | 'expired' | 'unknown' };

/**
 * Persistence of refresh tokens (stored as SHA-256 hashes). Everything that changes a family runs in a transaction
 * holding a per-family advisory lock, so rotation, reuse detection and revocation never interleave.
 */
@Injectable()
export class RefreshTokensRepository {
  constructor(@InjectRepository(RefreshTokenEntity) private readonly tokens: Repository<RefreshTokenEntity>) {}

  /** Stores a new token of a family. */
  async insert(userId: number, familyId: string, tokenHash: string, expiresAt: Date, em?: EntityManager): Promise<void> {
    await (em ?? this.tokens.manager).insert(RefreshTokenEntity, { userId, familyId, tokenHash, expiresAt });
  }

  /** Deletes a user's expired tokens (an expired token can't be used, so its row only takes space). */
  async deleteExpired(userId: number): Promise<void> {
    await this.tokens.createQueryBuilder().delete().where('user_id = :userId AND expires_at < now()', { userId }).execute();
  }

  findByHash(tokenHash: string): Promise<RefreshTokenEntity | null> {
    return this.tokens.findOneBy({ tokenHash });
  }

  /**
   * Spends the token with `oldHash` and stores `newHash` in the same family, atomically: the spend is a conditional
   * `UPDATE … WHERE used_at IS NULL`, so of two concurrent rotations exactly one succeeds. A token that was already
   * spent is a replay: the whole family is revoked (RFC 9700 §4.14.2) and the outcome is `reused`.
   */
  rotate(oldHash: string, newHash: string, expiresAt: Date): Promise<RotationResult> {
    return this.tokens.manager.transaction(async (em) => {
      const found = await em.findOneBy(RefreshTokenEntity, { tokenHash: oldHash });
      if (!found) return { outcome: 'unknown' };
      await this.lockFamily(em, found.familyId);
      const spent = await em
        .createQueryBuilder()
        .update(RefreshTokenEntity)
        .set({ usedAt: () => 'now()' })
        .where('id = :id AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()', { id: found.id })
        .execute();
      if (spent.affected === 1) {
        await this.insert(found.userId, found.familyId, newHash, expiresAt, em);
        return { outcome: 'rotated', userId: found.userId, familyId: found.familyId };
      }
      const current = await em.findOneByOrFail(RefreshTokenEntity, { id: found.id });
      if (current.usedAt) {
        await this.revokeFamilyLocked(em, current.familyId);
        return { outcome: 'reused', userId: current.userId, familyId: current.familyId };
      }
      return { outcome: current.revokedAt ? 'revoked' : 'expired' };
    });
  }

  /** Revokes every token of a family (logout, reuse detection, disabled user). */
  revokeFamily(familyId: string): Promise<void> {
    return this.tokens.manager.transaction(async (em) => {
      await this.lockFamily(em, familyId);
      await this.revokeFamilyLocked(em, familyId);
    });
  }

  private async lockFamily(em: EntityManager, familyId: string): Promise<void> {
    await em.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`refresh-family:${familyId}`]);
  }

  private async revokeFamilyLocked(em: EntityManager, familyId: string): Promise<void> {
    await em
      .createQueryBuilder()
      .update(RefreshTokenEntity)
      .set({ revokedAt: () => 'now()' })
      .where('family_id = :familyId AND revoked_at IS NULL', { familyId })
      .execute();
  }
}
