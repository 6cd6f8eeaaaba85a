import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import type { ApiKeyScope } from '../common/api-key-scopes';
import type { BudgetLimits } from '../config/file-config';
import { UserEntity } from '../users/user.entity';
import { ApiKeyEntity } from './api-key.entity';
import { isId } from './applications.repository';

/** An active API key with what authentication needs about its application and user. */
export interface ActiveApiKey {
  keyId: number;
  lastUsedAt: Date | null;
  applicationId: number;
  userId: number;
  role: UserEntity['role'];
  tier: string;
  disabled: boolean;
  /** Null: every scope. */
  scopes: ApiKeyScope[] | null;
  expiresAt: Date | null;
  /** Budget overrides of the key's user and application; null: none. */
  userLimits: BudgetLimits | null;
  applicationLimits: BudgetLimits | null;
}

/** Persistence of API keys (stored as SHA-256 hashes). */
@Injectable()
export class ApiKeysRepository {
  constructor(@InjectRepository(ApiKeyEntity) private readonly keys: Repository<ApiKeyEntity>) {}

  create(
    applicationId: number,
    fields: Pick<ApiKeyEntity, 'name' | 'prefix' | 'keyHash' | 'scopes' | 'expiresAt'>,
  ): Promise<ApiKeyEntity> {
    return this.keys.save(this.keys.create({ applicationId, ...fields }));
  }

  /** One page of an application's keys (revoked ones included), newest first. */
  findPage(applicationId: number, skip: number, take: number): Promise<[ApiKeyEntity[], number]> {
    return this.keys.findAndCount({ where: { applicationId }, order: { id: 'DESC' }, skip, take });
  }

  /** Revokes a key of this application (idempotent). @returns false when there is no such key in it */
  async revoke(applicationId: number, id: number): Promise<boolean> {
    if (!isId(id)) return false;
    const key = await this.keys.findOneBy({ id, applicationId });
    if (!key) return false;
    await this.keys.update({ id, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
    return true;
  }

  /** The unrevoked key with this hash, joined to its application and user, in one query. */
  async findActiveByHash(keyHash: string): Promise<ActiveApiKey | null> {
    const row = await this.keys
      .createQueryBuilder('k')
      .innerJoin('k.application', 'a')
      .innerJoin(UserEntity, 'u', 'u.id = a.user_id')
      .select('k.id', 'keyId')
      .addSelect('k.last_used_at', 'lastUsedAt')
      .addSelect('a.id', 'applicationId')
      .addSelect('u.id', 'userId')
      .addSelect('u.role', 'role')
      .addSelect('u.tier', 'tier')
      .addSelect('u.disabled', 'disabled')
      .addSelect('k.scopes', 'scopes')
      .addSelect('k.expires_at', 'expiresAt')
      .addSelect('u.limits', 'userLimits')
      .addSelect('a.limits', 'applicationLimits')
      .where('k.key_hash = :keyHash AND k.revoked_at IS NULL', { keyHash })
      .getRawOne<ActiveApiKey>();
    return row ?? null;
  }

  /** Stamps `last_used_at` unless it was stamped in the last minute (so busy keys don't write on every request). */
  async touch(id: number): Promise<void> {
    await this.keys
      .createQueryBuilder()
      .update(ApiKeyEntity)
      .set({ lastUsedAt: () => 'now()' })
      .where(`id = :id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, { id })
      .execute();
  }
}
