import { Injectable, Logger } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy } from 'passport-http-bearer';
import type { AuthenticatedUser } from '../common/authenticated-user';
import { API_KEY_PATTERN, hashApiKey } from './api-key.token';
import { ApiKeysRepository } from './api-keys.repository';

const TOUCH_INTERVAL_MS = 60_000;

/**
 * The `api-key` passport strategy: `Authorization: Bearer ak_…` with an unrevoked key of an enabled user. The caller
 * acts as the key's user, with `applicationId` set. Keys are accepted from the header only (not the query string or
 * body, which end up in logs; RFC 6750 §2.3). `last_used_at` is written at most once a minute per key.
 */
@Injectable()
export class ApiKeyStrategy extends PassportStrategy(Strategy, 'api-key') {
  private readonly logger = new Logger(ApiKeyStrategy.name);

  constructor(private readonly keys: ApiKeysRepository) {
    super({ passReqToCallback: true });
  }

  /** @returns the caller, or null (→ 401) for anything but an active key of an enabled user sent in the header */
  async validate(req: Request, token: string): Promise<AuthenticatedUser | null> {
    if (!API_KEY_PATTERN.test(token) || req.headers.authorization?.slice(7).trim() !== token) return null;
    const key = await this.keys.findActiveByHash(hashApiKey(token));
    if (!key || key.disabled) return null;
    if (!key.lastUsedAt || Date.now() - new Date(key.lastUsedAt).getTime() > TOUCH_INTERVAL_MS) {
      this.keys.touch(key.keyId).catch((err) => this.logger.warn(`Could not stamp last_used_at of key ${key.keyId}: ${err}`));
    }
    return { id: key.userId, role: key.role, tier: key.tier, applicationId: key.applicationId };
  }
}
