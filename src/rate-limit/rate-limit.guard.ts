import { ExecutionContext, HttpException, HttpStatus, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { ThrottlerGuard, ThrottlerLimitDetail } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { ProblemException } from '../common/problem';
import { REDIS_UNAVAILABLE_DETAIL, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../common/problem-details';
import { MetricsService } from '../metrics/metrics.service';

/**
 * @nestjs/throttler's guard, keyed by user id once authenticated (by client IP before), with one counter per
 * throttler across all routes (the library's default key is per route). Answers with the IETF `RateLimit-*`
 * header names and a plain `Retry-After` (RFC 9110 §10.2.3) on 429.
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
    return super.throwThrottlingException(context, detail);
  }
}
