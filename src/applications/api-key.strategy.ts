import { Injectable, Logger } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy } from 'passport-http-bearer';
import { API_KEY_SCOPES } from '../common/api-key-scopes';
import type { AuthenticatedUser } from '../common/authenticated-user';
import { PrincipalCache } from '../credentials/principal-cache';
import { API_KEY_PATTERN, hashApiKey } from './api-key.token';
import { ApiKeysRepository } from './api-keys.repository';

const TOUCH_INTERVAL_MS = 60_000;

/**
 * The `api-key` passport strategy: `Authorization: Bearer ak_…` with an unrevoked, unexpired key of an enabled user. The caller
 * acts as the key's user, with `applicationId` set. Keys are accepted from the header only (not the query string or
 * body, which end up in logs; RFC 6750 §2.3). The key comes from the principal cache (revoking it, deleting its
 * application or changing its user drops it at once). `last_used_at` is written at most once a minute per key.
 */
@Injectable()
export class ApiKeyStrategy extends PassportStrategy(Strategy, 'api-key') {
  private readonly logger = new Logger(ApiKeyStrategy.name);

  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly principals: PrincipalCache,
  ) {
    super({ passReqToCallback: true });
  }

  /** @returns the caller, or null (→ 401) for anything but an active key of an enabled user sent in the header */
  async validate(req: Request, token: string): Promise<AuthenticatedUser | null> {
    if (!API_KEY_PATTERN.test(token) || req.headers.authorization?.slice(7).trim() !== token) return null;
    const hash = hashApiKey(token);
    const key = await this.principals.apiKey(hash, () => this.keys.findActiveByHash(hash));
    if (!key || key.disabled) return null;
    if (key.expiresAt && new Date(key.expiresAt).getTime() <= Date.now()) return null;
    if (!key.lastUsedAt || Date.now() - new Date(key.lastUsedAt).getTime() > TOUCH_INTERVAL_MS) {
      // The cached copy remembers the stamp, so a cached key is stamped once a minute too.
      key.lastUsedAt = new Date();
      this.keys.touch(key.keyId).catch((err) => this.logger.warn(`Could not stamp last_used_at of key ${key.keyId}: ${err}`));
    }
    const scopes = key.scopes ?? API_KEY_SCOPES;
    return {
      id: key.userId,
      role: key.role,
      tier: key.tier,
      applicationId: key.applicationId,
      sessionId: null,
      scopes,
      limits: { user: key.userLimits ?? null, application: key.applicationLimits ?? null },
    };
  }
}
