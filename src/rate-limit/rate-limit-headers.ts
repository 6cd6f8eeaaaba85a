import type { Response } from 'express';
import { byTightness, QuotaState, rateLimitFields } from '../common/quota';

/** The quotas a response has counted against so far, by policy name. */
const quotasOf = new WeakMap<Response, Map<string, QuotaState>>();

/**
 * Adds quotas a request counted against (the rate limiter's, a send's budgets) and rewrites the response's IETF
 * RateLimit header fields (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy` lists every policy that applied
 * (`"sends";q=10;w=60, "requests";q=120;w=60, "daily_cost_usd";q=500000;qu="usd-micros";w=86400`) and `RateLimit`
 * the state of each (`"sends";r=3;t=42, "requests";r=100;t=42, …`), both led by the tightest one (the smallest
 * share left), so a client reading one item reads the limit it will meet first. A later quota of the same name
 * replaces the earlier one. No-op once the headers are sent.
 */
export function advertiseQuotas(res: Response, quotas: readonly QuotaState[]): void {
  if (!quotas.length || res.headersSent) return;
  let known = quotasOf.get(res);
  if (!known) quotasOf.set(res, (known = new Map<string, QuotaState>()));
  for (const quota of quotas) known.set(quota.name, quota);
  const fields = byTightness([...known.values()]).map(rateLimitFields);
  res.setHeader('RateLimit-Policy', fields.map((f) => f['RateLimit-Policy']).join(', '));
  res.setHeader('RateLimit', fields.map((f) => f.RateLimit).join(', '));
}
