import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { BudgetLimits } from '../config/file-config';
import type { ApiKeyScope } from './api-key-scopes';
import type { UserRole } from './user-role';

/** Who is calling: set on `req.user` by the JWT or API-key strategy. */
export interface AuthenticatedUser {
  id: number;
  role: UserRole;
  tier: string;
  /** Set when the call was made with an application's API key; new sessions are stamped with it. */
  applicationId: number | null;
  /** The login session (`sid`) of the access token; null for API keys. */
  sessionId: string | null;
  /** An API key's scopes (README "Applications and API keys"); undefined for a user access token (no limit). */
  scopes?: readonly ApiKeyScope[];
  /**
   * Budget overrides (README "Budgets and quotas") of the user and, for an API key, of its application; each
   * tightens the tier's. Absent or null: none.
   */
  limits?: { user: BudgetLimits | null; application: BudgetLimits | null };
}

/** Injects the authenticated caller (`req.user`) into a handler parameter. */
export const CurrentUser = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): AuthenticatedUser => ctx.switchToHttp().getRequest<{ user: AuthenticatedUser }>().user,
);
