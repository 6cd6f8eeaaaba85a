import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig, appConfig } from '../config/app-config';
import { AuthInvalidationBus } from './auth-invalidation.bus';
import { RefreshTokensRepository } from './refresh-tokens.repository';

/** Slack added to the access-token lifetime: a token may be signed a moment after its family was revoked. */
const SIGNING_SLACK_MS = 60_000;

/**
 * Answers "was this login session revoked?" for every request carrying an access token, from a per-instance set of
 * the session ids (`sid`, the refresh-token family) revoked within the last access-token lifetime (an access token
 * of a family revoked earlier has expired anyway). The set is filled from PostgreSQL and by
 * {@link AuthInvalidationBus} `sessions` messages; it is current, and answers without a query:
 * - with `REDIS_URL`: once it was loaded after the current subscription began, and for as long as that
 *   subscription lives (every revocation committed later is announced on it); otherwise it is reloaded first,
 *   on every request while there is no subscription;
 * - without Redis: revocations made on this instance are in it at once; other instances' arrive with the next
 *   load, made every `auth.cache_ttl_ms` in the background (requests go on with the set they have, unless it is
 *   more than twice that old, or the TTL is 0: then they wait for the load).
 * It is loaded at start-up and whenever a subscription begins, so requests rarely wait for it.
 */
@Injectable()
export class RevokedSessions implements OnApplicationBootstrap {
  private readonly logger = new Logger(RevokedSessions.name);
  /** sid → when it can be forgotten (local clock, ms). */
  private readonly revoked = new Map<string, number>();
  private readonly windowMs: number;
  private readonly ttlMs: number;
  private loading: Promise<void> | null = null;
  private loadedForSubscription = -1;
  private freshUntil = 0;
  /** Bumped by `all`: a load that saw another generation does not count as current. */
  private generation = 0;
  private nextPruneAt = 0;

  constructor(
    private readonly bus: AuthInvalidationBus,
    private readonly tokens: RefreshTokensRepository,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {
    this.windowMs = config.auth.access_token_ttl_seconds * 1000 + SIGNING_SLACK_MS;
    this.ttlMs = config.auth.cache_ttl_ms;
    bus.onInvalidation((event) => {
      if (event.kind === 'sessions') this.add(event.sids, this.windowMs);
      if (event.kind === 'all') this.generation++;
    });
    bus.onSubscribed(() => void this.load().catch((err) => this.logger.warn(`Could not load ended sessions: ${String(err)}`)));
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.load().catch((err) => this.logger.warn(`Could not load ended sessions at start-up: ${String(err)}`));
  }

  /** @returns whether the login session `sid` was revoked (reading PostgreSQL first only when the set is not current) */
  async isRevoked(sid: string): Promise<boolean> {
    if (!this.current()) {
      if (this.usableWhileLoading()) void this.load().catch((err) => this.logger.warn(`Could not reload ended sessions: ${String(err)}`));
      else await this.load();
    }
    const forgetAt = this.revoked.get(sid);
    return forgetAt !== undefined && forgetAt > Date.now();
  }

  private current(): boolean {
    if (this.config.redisUrl) return this.bus.cacheable && this.loadedForSubscription === this.bus.subscription;
    return Date.now() < this.freshUntil;
  }

  /** Without Redis, a set at most twice the TTL old answers while a newer one loads. */
  private usableWhileLoading(): boolean {
    return !this.config.redisUrl && this.ttlMs > 0 && Date.now() < this.freshUntil + this.ttlMs;
  }

  /** One load at a time; requests arriving meanwhile wait for it. */
  private load(): Promise<void> {
    this.loading ??= this.read().finally(() => (this.loading = null));
    return this.loading;
  }

  private async read(): Promise<void> {
    const subscription = this.bus.subscription;
    const subscribed = this.bus.cacheable;
    const generation = this.generation;
    const startedAt = Date.now();
    const rows = await this.tokens.recentlyRevokedFamilies(Math.ceil(this.windowMs / 1000));
    for (const { familyId, remainingMs } of rows) this.add([familyId], remainingMs);
    if (generation !== this.generation) return;
    this.freshUntil = startedAt + this.ttlMs;
    if (subscribed) this.loadedForSubscription = subscription;
  }

  private add(sids: string[], keepMs: number): void {
    const now = Date.now();
    for (const sid of sids) this.revoked.set(sid, Math.max(this.revoked.get(sid) ?? 0, now + keepMs));
    if (now < this.nextPruneAt) return;
    this.nextPruneAt = now + SIGNING_SLACK_MS;
    for (const [sid, forgetAt] of this.revoked) if (forgetAt <= now) this.revoked.delete(sid);
  }
}
