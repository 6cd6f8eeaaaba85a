import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { ApiForbiddenResponse } from '@nestjs/swagger';
import type { UserRole } from '../common/user-role';
import { ROLES_KEY, RolesGuard, UserTokenGuard } from './roles.guard';

/** Restricts a route (or controller) to callers with one of these roles; others get 403. */
export const Roles = (...roles: UserRole[]) =>
  applyDecorators(
    SetMetadata(ROLES_KEY, roles),
    UseGuards(RolesGuard),
    ApiForbiddenResponse({ description: `Requires the ${roles.join(' or ')} role.` }),
  );

/** Restricts a route (or controller) to callers holding a user access JWT; API-key callers get 403. */
export const UserTokenOnly = () =>
  applyDecorators(
    UseGuards(UserTokenGuard),
    ApiForbiddenResponse({ description: 'Not allowed with an application API key; use a user access token.' }),
  );
