import { SetMetadata } from '@nestjs/common';

export const RATE_LIMIT_CLASS_KEY = 'rateLimitClass';

/** The extra limits a route can belong to, besides the per-user request limit every route has. */
export type RateLimitClass = 'send' | 'auth';

/** A route that makes a model answer: counts against the tier's stricter `sends` limit. */
export const SendRateLimit = () => SetMetadata(RATE_LIMIT_CLASS_KEY, 'send' satisfies RateLimitClass);

/** Login/register/anonymous/refresh: counts against the per-IP `auth_per_ip` limit (slows password guessing). */
export const AuthRateLimit = () => SetMetadata(RATE_LIMIT_CLASS_KEY, 'auth' satisfies RateLimitClass);
