import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { KeyScope, Roles, UserTokenOnly } from '../auth/auth.decorators';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { PageQueryDto } from '../common/pagination.dto';
import {
  AdminUpdateUserDto,
  AdminUserDto,
  GlobalStatsDto,
  UpdateMeDto,
  UserPageDto,
  UserProfileDto,
  UserStatsDto,
} from './users.dto';
import { UsersService } from './users.service';
import { OperationId } from '../common/operation-id.decorator';

/** `/v1/users`: one's own profile and usage; the admin's view of every user. */
@ApiTags('users')
@Controller('v1/users')
@KeyScope('none')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  /** The caller's profile. */
  @Get('me')
  @KeyScope('usage:read')
  @ApiOkResponse({ type: UserProfileDto })
  @OperationId('getMyProfile')
  getMe(@CurrentUser() user: AuthenticatedUser): Promise<UserProfileDto> {
    return this.users.getProfile(user.id);
  }

  /**
   * Changes the caller's display name, email or password. An anonymous user claims an account by sending `email`
   * and `password` together (same id, sessions kept); a registered user confirms an email or password change with
   * `current_password`. Changing the password revokes every refresh token of the account (all devices log in again).
   */
  @Patch('me')
  @UserTokenOnly()
  @ApiOkResponse({ type: UserProfileDto })
  @ApiConflictResponse({ description: 'Another account has this email.' })
  @OperationId('updateMyProfile')
  updateMe(@CurrentUser() user: AuthenticatedUser, @Body() dto: UpdateMeDto): Promise<UserProfileDto> {
    return this.users.updateMe(user.id, dto);
  }

  /** Deletes the caller's account and everything it owns, for good. */
  @Delete('me')
  @UserTokenOnly()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'The account and everything it owned are gone.' })
  @OperationId('deleteMyAccount')
  deleteMe(@CurrentUser() user: AuthenticatedUser): Promise<void> {
    return this.users.deleteMe(user.id);
  }

  /** The caller's usage: sessions, messages, tokens, cost, and the same by model. */
  @Get('me/stats')
  @KeyScope('usage:read')
  @ApiOkResponse({ type: UserStatsDto })
  @OperationId('getMyStats')
  getMyStats(@CurrentUser() user: AuthenticatedUser): Promise<UserStatsDto> {
    return this.users.stats(user.id);
  }

  /** Every user, oldest first (admin). */
  @Get()
  @Roles('admin')
  @ApiOkResponse({ type: UserPageDto })
  @OperationId('listUsers')
  list(@Query() query: PageQueryDto): Promise<UserPageDto> {
    return this.users.list(query);
  }

  /** One user (admin). */
  @Get(':id')
  @Roles('admin')
  @ApiOkResponse({ type: AdminUserDto })
  @OperationId('getUser')
  getOne(@Param('id', ParseIdPipe) id: number): Promise<AdminUserDto> {
    return this.users.getForAdmin(id);
  }

  /** One user's usage (admin). */
  @Get(':id/stats')
  @Roles('admin')
  @ApiOkResponse({ type: UserStatsDto })
  @OperationId('getUserStats')
  getStats(@Param('id', ParseIdPipe) id: number): Promise<UserStatsDto> {
    return this.users.stats(id);
  }

  /** Changes a user's role, tier, disabled flag or budget overrides (`limits`) (admin). */
  @Patch(':id')
  @Roles('admin')
  @ApiOkResponse({ type: AdminUserDto })
  @ApiConflictResponse({ description: 'Admins cannot demote or disable themselves.' })
  @OperationId('updateUser')
  update(
    @CurrentUser() caller: AuthenticatedUser,
    @Param('id', ParseIdPipe) id: number,
    @Body() dto: AdminUpdateUserDto,
  ): Promise<AdminUserDto> {
    return this.users.updateForAdmin(caller.id, id, dto);
  }
}

/** `/v1/stats`: usage of the whole service (admin). */
@ApiTags('users')
@Controller('v1/stats')
export class StatsController {
  constructor(private readonly users: UsersService) {}

  /** Users, sessions, messages, tokens and cost over the whole service, and the same by model (admin). */
  @Get('global')
  @Roles('admin')
  @ApiOkResponse({ type: GlobalStatsDto })
  @OperationId('getGlobalStats')
  getGlobal(): Promise<GlobalStatsDto> {
    return this.users.globalStats();
  }
}
