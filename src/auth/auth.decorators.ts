import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import type { ClientSeen } from '../credentials/refresh-tokens.repository';
import { ApiForbiddenResponse } from '@nestjs/swagger';
import type { UserRole } from '../common/user-role';
import { KEY_SCOPE_KEY, ROLES_KEY, RolesGuard, RouteKeyScope, UserTokenGuard } from './roles.guard';

/** Restricts a route (or controller) to callers with one of these roles; others get 403. */
export const Roles = (...roles: UserRole[]) =>
  applyDecorators(
    SetMetadata(ROLES_KEY, roles),
    // Admin routes are never open to API keys, whatever the key's user.
    ...(roles.includes('user') ? [] : [SetMetadata(KEY_SCOPE_KEY, 'none')]),
    UseGuards(RolesGuard),
    ApiForbiddenResponse({ description: `Requires the ${roles.join(' or ')} role.` }),
  );

/**
 * The scope an API key needs for a route (or a controller's routes); `none`: no API key may call it. Every
 * authenticated route has one.
 */
export const KeyScope = (scope: RouteKeyScope) =>
  applyDecorators(
    SetMetadata(KEY_SCOPE_KEY, scope),
    ApiForbiddenResponse({ description: scope === 'none' ? 'Not allowed with an API key.' : `An API key needs the "${scope}" scope.` }),
  );

/** Restricts a route (or controller) to callers holding a user access JWT; API-key callers get 403. */
export const UserTokenOnly = () =>
  applyDecorators(
    SetMetadata(KEY_SCOPE_KEY, 'none'),
    UseGuards(UserTokenGuard),
    ApiForbiddenResponse({ description: 'Not allowed with an application API key; use a user access token.' }),
  );

/**
 * Injects who is asking for tokens: the `User-Agent` header (cut to 512 characters) and the client address as
 * Express sees it (`req.ip`, which follows `TRUST_PROXY`), for the session list.
 */
export const Client = createParamDecorator((_: unknown, ctx: ExecutionContext): ClientSeen => {
  const req = ctx.switchToHttp().getRequest<Request>();
  const userAgent = req.headers['user-agent'];
  return { userAgent: typeof userAgent === 'string' && userAgent ? userAgent.slice(0, 512) : null, ip: req.ip?.slice(0, 64) ?? null };
});
