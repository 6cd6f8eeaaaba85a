import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { RefreshTokenEntity } from './refresh-token.entity';

/** Who asked for a token: kept with it, shown in the session list. */
export interface ClientSeen {
  userAgent: string | null;
  ip: string | null;
}

/** What became of a refresh token presented for rotation. */
export type RotationResult =
  /** Spent now, or spent within the overlap: `issuedAt` is when the successor was minted (the same both times). */
  | { outcome: 'rotated'; userId: number; familyId: string; issuedAt: Date }
  | { outcome: 'reused'; userId: number; familyId: string }
  | { outcome: 'revoked' | 'expired' | 'unknown' };

/** A live login session: the newest token of an unrevoked, unexpired family. */
export interface LiveFamily {
  familyId: string;
  familyCreatedAt: Date;
  lastIssuedAt: Date;
  userAgent: string | null;
  ip: string | null;
}

/**
 * Persistence of refresh tokens (stored as SHA-256 hashes), the only writer of `refresh_tokens`. Everything that
 * changes a family runs in a transaction holding a per-family advisory lock, so rotation, reuse detection and
 * revocation never interleave.
 */
@Injectable()
export class RefreshTokensRepository {
  constructor(@InjectRepository(RefreshTokenEntity) private readonly tokens: Repository<RefreshTokenEntity>) {}

  /** Stores the first token of a new family. @returns when it was minted (database time) */
  async insertFirst(userId: number, familyId: string, tokenHash: string, expiresAt: Date, client: ClientSeen): Promise<Date> {
    const result = await this.tokens.manager.insert(RefreshTokenEntity, {
      userId,
      familyId,
      tokenHash,
      expiresAt,
      familyCreatedAt: () => 'now()',
      userAgent: client.userAgent,
      ip: client.ip,
    });
    return result.generatedMaps[0].createdAt as Date;
  }

  /** Deletes a user's expired tokens (an expired token can't be used, so its row only takes space). */
  async deleteExpired(userId: number): Promise<void> {
    await this.tokens.createQueryBuilder().delete().where('user_id = :userId AND expires_at < now()', { userId }).execute();
  }

  findByHash(tokenHash: string): Promise<RefreshTokenEntity | null> {
    return this.tokens.findOneBy({ tokenHash });
  }

  /**
   * Spends the token with `oldHash` and stores `newHash` as the next token of its family, atomically: the spend is a
   * conditional `UPDATE … WHERE used_at IS NULL`, so of two concurrent rotations exactly one spends it.
   * Presenting the spent token again within `overlapSeconds` of its spend answers `rotated` with the successor
   * already stored (its hash must be `newHash`: the caller derives it from the old token); after that it is a
   * replay, and the whole family is revoked (RFC 9700 §4.14.2; the overlap is the leeway that section allows).
   */
  rotate(oldHash: string, newHash: string, expiresAt: Date, overlapSeconds: number, client: ClientSeen): Promise<RotationResult> {
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
        const inserted = await em.insert(RefreshTokenEntity, {
          userId: found.userId,
          familyId: found.familyId,
          tokenHash: newHash,
          expiresAt,
          familyCreatedAt: found.familyCreatedAt,
          userAgent: client.userAgent,
          ip: client.ip,
        });
        const issuedAt = inserted.generatedMaps[0].createdAt as Date;
        return { outcome: 'rotated', userId: found.userId, familyId: found.familyId, issuedAt };
      }
      const [current] = await em.query<{ spent: boolean; revoked: boolean; within_overlap: boolean | null }[]>(
        `SELECT used_at IS NOT NULL AS spent, revoked_at IS NOT NULL AS revoked,
                used_at > now() - make_interval(secs => $2) AS within_overlap
           FROM refresh_tokens WHERE id = $1`,
        [found.id, overlapSeconds],
      );
      if (current.revoked) return { outcome: 'revoked' };
      if (!current.spent) return { outcome: 'expired' };
      if (current.within_overlap) {
        const successor = await em.findOneBy(RefreshTokenEntity, { tokenHash: newHash, familyId: found.familyId });
        if (successor && !successor.revokedAt) {
          return { outcome: 'rotated', userId: found.userId, familyId: found.familyId, issuedAt: successor.createdAt };
        }
      }
      await this.revokeFamilyLocked(em, found.familyId);
      return { outcome: 'reused', userId: found.userId, familyId: found.familyId };
    });
  }

  /** Revokes every token of a family (logout, reuse detection, disabled user). */
  revokeFamily(familyId: string): Promise<void> {
    return this.tokens.manager.transaction(async (em) => {
      await this.lockFamily(em, familyId);
      await this.revokeFamilyLocked(em, familyId);
    });
  }

  /** @returns whether any token of this family belongs to this user (live or not) */
  async familyBelongsTo(userId: number, familyId: string): Promise<boolean> {
    return this.tokens.exists({ where: { userId, familyId } });
  }

  /**
   * Revokes every live token of a user (logout everywhere, a password change, a disabled account).
   * @returns the families that had a token revoked now
   */
  async revokeAllOfUser(userId: number): Promise<string[]> {
    const result = await this.tokens
      .createQueryBuilder()
      .update(RefreshTokenEntity)
      .set({ revokedAt: () => 'now()' })
      .where('user_id = :userId AND revoked_at IS NULL', { userId })
      .returning(['familyId'])
      .execute();
    const rows = result.raw as { family_id: string }[];
    return [...new Set(rows.map((r) => r.family_id))];
  }

  /** One page of a user's live login sessions, the most recently used first. */
  async findLiveFamilies(userId: number, skip: number, take: number): Promise<[LiveFamily[], number]> {
    const [rows, total] = await this.tokens
      .createQueryBuilder('t')
      .where('t.user_id = :userId AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > now()', { userId })
      .orderBy('t.created_at', 'DESC')
      .addOrderBy('t.id', 'DESC')
      .skip(skip)
      .take(take)
      .getManyAndCount();
    const items = rows.map((t) => ({
      familyId: t.familyId,
      familyCreatedAt: t.familyCreatedAt,
      lastIssuedAt: t.createdAt,
      userAgent: t.userAgent,
      ip: t.ip,
    }));
    return [items, total];
  }

  /**
   * Families revoked within the last `withinSeconds` (no access token older than that is still valid).
   * @returns each family with how many milliseconds of that window it has left (database clock)
   */
  async recentlyRevokedFamilies(withinSeconds: number): Promise<{ familyId: string; remainingMs: number }[]> {
    const rows = await this.tokens.query<{ family_id: string; remaining_ms: number }[]>(
      `SELECT family_id, max(revoked_at) AS revoked_at,
              (extract(epoch FROM max(revoked_at) + make_interval(secs => $1) - now()) * 1000)::float8 AS remaining_ms
         FROM refresh_tokens WHERE revoked_at > now() - make_interval(secs => $1) GROUP BY family_id`,
      [withinSeconds],
    );
    return rows.map((r) => ({ familyId: r.family_id, remainingMs: Number(r.remaining_ms) }));
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
