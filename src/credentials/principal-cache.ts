import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, appConfig } from '../config/app-config';
import type { ApiKeyScope } from '../common/api-key-scopes';
import type { UserRole } from '../common/user-role';
import type { BudgetLimits } from '../config/file-config';
import { AuthInvalidation, AuthInvalidationBus } from './auth-invalidation.bus';

/** What authentication needs to know about a user. */
export interface UserPrincipal {
  id: number;
  role: UserRole;
  tier: string;
  disabled: boolean;
  /** Budget overrides set on the user; null: none. */
  limits: BudgetLimits | null;
}

/** What authentication needs to know about an unrevoked API key and its user. */
export interface ApiKeyPrincipal {
  keyId: number;
  applicationId: number;
  userId: number;
  role: UserRole;
  tier: string;
  disabled: boolean;
  lastUsedAt: Date | null;
  /** Null: every scope. */
  scopes: ApiKeyScope[] | null;
  /** Null: never expires. */
  expiresAt: Date | null;
  /** Budget overrides of the key's user and of its application; null: none. */
  userLimits: BudgetLimits | null;
  applicationLimits: BudgetLimits | null;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/**
 * A short per-instance cache of who a bearer token stands for, so authenticating a known token costs no database
 * read. Entries live `auth.cache_ttl_ms` (0 turns the cache off) and at most `auth.cache_max_entries` per kind,
 * oldest out first. Every {@link AuthInvalidation} drops what it concerns at once; a read that was in flight when
 * an invalidation arrived is answered but not cached. Only found principals are cached, never misses.
 */
@Injectable()
export class PrincipalCache {
  private readonly users = new Map<number, Entry<UserPrincipal>>();
  private readonly apiKeys = new Map<string, Entry<ApiKeyPrincipal>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  /** Bumped by every invalidation; a load that saw another generation does not store its result. */
  private generation = 0;

  constructor(
    private readonly bus: AuthInvalidationBus,
    @Inject(appConfig.KEY) config: AppConfig,
  ) {
    this.ttlMs = config.auth.cache_ttl_ms;
    this.maxEntries = config.auth.cache_max_entries;
    bus.onInvalidation((event) => this.invalidate(event));
  }

  /**
   * The user with this id, from the cache or from `load`.
   * @param load reads the user from the database; null when there is none (not cached)
   */
  user(id: number, load: () => Promise<UserPrincipal | null>): Promise<UserPrincipal | null> {
    return this.through(this.users, id, load);
  }

  /**
   * The API key with this SHA-256 hash, from the cache or from `load`.
   * @param load reads the unrevoked key from the database; null when there is none (not cached)
   */
  apiKey(keyHash: string, load: () => Promise<ApiKeyPrincipal | null>): Promise<ApiKeyPrincipal | null> {
    return this.through(this.apiKeys, keyHash, load);
  }

  /** A mark to take before reading a user for {@link remember}. */
  mark(): number {
    return this.generation;
  }

  /**
   * Caches a user read for another purpose (a login or refresh), so their first request needs no read; skipped
   * when an invalidation arrived since `mark` was taken (the read may predate it).
   */
  remember(user: UserPrincipal, mark: number): void {
    if (mark === this.generation && this.ttlMs > 0 && this.bus.cacheable) this.store(this.users, user.id, user);
  }

  private async through<K, V>(map: Map<K, Entry<V>>, key: K, load: () => Promise<V | null>): Promise<V | null> {
    const entry = map.get(key);
    if (entry && entry.expiresAt > Date.now() && this.bus.cacheable) return entry.value;
    const generation = this.generation;
    const value = await load();
    if (value !== null && generation === this.generation && this.ttlMs > 0 && this.bus.cacheable) this.store(map, key, value);
    return value;
  }

  private store<K, V>(map: Map<K, Entry<V>>, key: K, value: V): void {
    map.delete(key);
    if (map.size >= this.maxEntries) map.delete(map.keys().next().value as K);
    map.set(key, { value, expiresAt: Date.now() + this.ttlMs });
  }

  private invalidate(event: AuthInvalidation): void {
    if (event.kind === 'sessions') return;
    this.generation++;
    switch (event.kind) {
      case 'user':
        this.users.delete(event.userId);
        this.dropKeys((k) => k.userId === event.userId);
        break;
      case 'api-key':
        this.dropKeys((k) => k.keyId === event.keyId);
        break;
      case 'application':
        this.dropKeys((k) => k.applicationId === event.applicationId);
        break;
      case 'all':
        this.users.clear();
        this.apiKeys.clear();
        break;
    }
  }

  private dropKeys(matches: (key: ApiKeyPrincipal) => boolean): void {
    for (const [hash, entry] of this.apiKeys) if (matches(entry.value)) this.apiKeys.delete(hash);
  }
}
