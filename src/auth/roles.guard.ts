import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ApiKeyScope } from '../common/api-key-scopes';
import type { AuthenticatedUser } from '../common/authenticated-user';
import { ProblemException } from '../common/problem';
import type { UserRole } from '../common/user-role';

export const ROLES_KEY = 'roles';

/**
 * Lets a request through only when the caller's role is one of the route's `@Roles(...)`. Runs after the global
 * authentication guard, so `req.user` is set. Routes without `@Roles` are not restricted.
 * @throws 403 problem for any other role
 */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const roles = this.reflector.getAllAndOverride<UserRole[] | undefined>(ROLES_KEY, [context.getHandler(), context.getClass()]);
    if (!roles?.length) return true;
    const user = context.switchToHttp().getRequest<{ user?: AuthenticatedUser }>().user;
    if (user && roles.includes(user.role)) return true;
    throw new ProblemException(HttpStatus.FORBIDDEN, `This action requires the ${roles.join(' or ')} role.`);
  }
}

/**
 * Lets a request through only when it was authenticated with a user's access JWT, not an application API key:
 * a leaked key must not be able to mint more keys or take over the account.
 * @throws 403 problem for API-key callers
 */
@Injectable()
export class UserTokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const user = context.switchToHttp().getRequest<{ user?: AuthenticatedUser }>().user;
    if (user && user.applicationId === null) return true;
    throw new ProblemException(HttpStatus.FORBIDDEN, 'This action needs a user access token; API keys cannot perform it.');
  }
}

export const KEY_SCOPE_KEY = 'apiKeyScope';

/** A route's API-key scope, or `none` for routes no API key may call (admin, account management). */
export type RouteKeyScope = ApiKeyScope | 'none';

/**
 * Global guard, after authentication: an API-key caller must hold the route's scope (`@KeyScope`). A route without
 * one is closed to keys (every route is classified; a test checks). User access tokens are not limited here.
 * @throws 403 problem naming the scope the key lacks
 */
@Injectable()
export class KeyScopeGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const user = context.switchToHttp().getRequest<{ user?: AuthenticatedUser }>().user;
    if (!user?.scopes) return true;
    const scope = this.reflector.getAllAndOverride<RouteKeyScope | undefined>(KEY_SCOPE_KEY, [context.getHandler(), context.getClass()]);
    if (scope && scope !== 'none' && user.scopes.includes(scope)) return true;
    if (!scope || scope === 'none') {
      throw new ProblemException(HttpStatus.FORBIDDEN, 'This action needs a user access token; API keys cannot perform it.');
    }
    throw new ProblemException(HttpStatus.FORBIDDEN, `This API key lacks the "${scope}" scope this action needs.`, { scope });
  }
}
