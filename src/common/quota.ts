/**
 * One limit the caller's request counted against, as the IETF RateLimit header fields advertise it
 * (draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy` and `RateLimit`, Structured Fields, RFC 9651).
 */
export interface QuotaState {
  /** The policy's name: `requests`, `sends`, `auth`, or a budget (`daily_cost_usd`…). */
  name: string;
  /** The quota (`q`) in `unit`s, a whole number. */
  quota: number;
  /** What is left of it after this request (`r`), in `unit`s. */
  remaining: number;
  /** Quota unit (`qu`): `requests` (the draft's default), `tokens` or `usd-micros` (millionths of a US dollar). */
  unit: 'requests' | 'tokens' | 'usd-micros';
  /** Seconds the window lasts (`w`). */
  windowSeconds: number;
  /** Seconds until the window ends and the quota is whole again (`t`). */
  resetSeconds: number;
}

/** Share of the quota left (a quota of 0 has none). */
const shareLeft = (q: QuotaState) => (q.quota > 0 ? q.remaining / q.quota : 0);

/**
 * Quotas from the tightest: the smallest share left (remaining ÷ quota) first, then, between equal shares, the
 * one that resets last. A quota with nothing left always comes first.
 */
export function byTightness(quotas: readonly QuotaState[]): QuotaState[] {
  return [...quotas].sort((a, b) => shareLeft(a) - shareLeft(b) || b.resetSeconds - a.resetSeconds);
}

/**
 * The two header fields of one quota, as Structured Field lists of one item:
 * `RateLimit-Policy: "sends";q=10;w=60` (with `qu` unless the unit is `requests`, the default) and
 * `RateLimit: "sends";r=9;t=42`.
 */
export function rateLimitFields(quota: QuotaState): { 'RateLimit-Policy': string; RateLimit: string } {
  const name = JSON.stringify(quota.name); // names are plain ASCII identifiers: an sf-string
  const unit = quota.unit === 'requests' ? '' : `;qu="${quota.unit}"`;
  return {
    'RateLimit-Policy': `${name};q=${Math.max(0, Math.floor(quota.quota))}${unit};w=${Math.max(1, Math.round(quota.windowSeconds))}`,
    RateLimit: `${name};r=${Math.max(0, Math.floor(quota.remaining))};t=${Math.max(0, Math.ceil(quota.resetSeconds))}`,
  };
}
