import { ExecutionContext, HttpException, HttpStatus, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { ThrottlerGuard, ThrottlerLimitDetail, ThrottlerRequest } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { ProblemException } from '../common/problem';
import { REDIS_UNAVAILABLE_DETAIL, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../common/problem-details';
import { MetricsService } from '../metrics/metrics.service';
import { advertiseQuotas } from './rate-limit-headers';

/** The policy name (in the RateLimit header fields) of each throttler. */
const POLICY_OF: Record<string, string> = { default: 'requests', send: 'sends', auth: 'auth' };
/** `RateLimit-Limit-send` and the like, as the library writes them (no suffix: the `default` throttler). */
const LEGACY_HEADER = /^RateLimit-(Limit|Remaining|Reset)(?:-(\w+))?$/;

/** What the library told about one throttler of one response so far. */
interface Pending {
  windowSeconds: number;
  limit?: number;
  remaining?: number;
}

/**
 * @nestjs/throttler's guard, keyed by user id once authenticated (by client IP before), with one counter per
 * throttler across all routes (the library's default key is per route). Instead of the library's ad-hoc
 * `RateLimit-Limit`/`-Remaining`/`-Reset` (and `-send`, `-auth`) trios, answers carry the IETF RateLimit header
 * fields (draft-ietf-httpapi-ratelimit-headers; see {@link advertiseQuotas}): the policies `requests`, `sends` and
 * `auth` that applied, and the tightest one's state; a send adds its budgets to them. A 429 also carries a plain
 * `Retry-After` (RFC 9110 §10.2.3).
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override headerPrefix = 'RateLimit';
  private readonly log = new Logger(RateLimitGuard.name);
  /** Property-injected: the constructor is the library's. */
  @Optional() @Inject(MetricsService) private readonly metrics?: MetricsService;

  /**
   * A counter store that doesn't answer (Redis down) is a 503 with `Retry-After`, not a 500. It answers within
   * milliseconds: the Redis client queues nothing while disconnected (`redisClientOptions`).
   */
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    try {
      return await super.canActivate(context);
    } catch (err) {
      if (err instanceof HttpException) throw err;
      this.log.warn(`Rate-limit store failed: ${(err as Error).message}`);
      throw new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, REDIS_UNAVAILABLE_DETAIL, {}, { 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS) });
    }
  }

  /**
   * `user:<id>:<tier>` once authenticated, so a tier change starts fresh counters (a block under the old limit
   * would otherwise outlast the upgrade); else the client IP, IPv6 grouped by /64 as the library does.
   */
  protected override async getTracker(req: Request): Promise<string> {
    const user: { id?: number; tier?: string } | undefined = req.user;
    return user?.id ? `user:${user.id}:${user.tier}` : `ip:${await super.getTracker(req)}`;
  }

  /** Notes the window of each throttler that counts the request, for its `RateLimit-Policy` item. */
  protected override handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { res } = this.getRequestResponse(props.context);
    const pending = this.pendingOf(res as Response);
    pending.set(props.throttler.name ?? 'default', { windowSeconds: Math.round(props.ttl / 1000) });
    return super.handleRequest(props);
  }

  /**
   * Turns the library's per-throttler trios into the IETF fields (the last of a trio, `-Reset`, completes a quota);
   * `Retry-After-<name>` is dropped: the 429 carries a plain `Retry-After`.
   */
  protected override setResponseHeader(res: Record<string, unknown>, name: string, value: string | number): void {
    const legacy = LEGACY_HEADER.exec(name);
    if (legacy) {
      const throttler = legacy[2] ?? 'default';
      const entry = this.pendingOf(res as unknown as Response).get(throttler);
      if (!entry) return;
      if (legacy[1] === 'Limit') entry.limit = Number(value);
      else if (legacy[1] === 'Remaining') entry.remaining = Number(value);
      else if (entry.limit !== undefined && entry.remaining !== undefined) {
        advertiseQuotas(res as unknown as Response, [
          {
            name: POLICY_OF[throttler] ?? throttler,
            quota: entry.limit,
            remaining: entry.remaining,
            unit: 'requests',
            windowSeconds: entry.windowSeconds,
            resetSeconds: Number(value),
          },
        ]);
      }
      return;
    }
    if (name.startsWith('Retry-After-')) return;
    super.setResponseHeader(res, name, value);
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `rl:${name}:${tracker}`;
  }

  protected override async throwThrottlingException(
    context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const res = context.switchToHttp().getResponse<Response>();
    this.metrics?.refused(detail.key.split(':')[1] ?? 'requests');
    res.setHeader('Retry-After', String(Math.max(1, Math.ceil(detail.timeToBlockExpire))));
    const throttler = detail.key.split(':')[1] ?? 'default';
    advertiseQuotas(res, [
      {
        name: POLICY_OF[throttler] ?? throttler,
        quota: detail.limit,
        remaining: 0,
        unit: 'requests',
        windowSeconds: Math.round(detail.ttl / 1000),
        resetSeconds: Math.max(1, Math.ceil(detail.timeToBlockExpire)),
      },
    ]);
    return super.throwThrottlingException(context, detail);
  }

  private pendingOf(res: Response): Map<string, Pending> {
    let pending = PENDING.get(res);
    if (!pending) PENDING.set(res, (pending = new Map<string, Pending>()));
    return pending;
  }
}

/** Per response: each throttler's part of a quota, until its trio is complete. */
const PENDING = new WeakMap<Response, Map<string, Pending>>();
