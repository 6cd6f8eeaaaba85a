import { Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/auth.decorators';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { AdminMessageDto } from './admin.dto';
import { AdminService } from './admin.service';
import { OperationId } from '../common/operation-id.decorator';

/** `/v1/admin`: maintenance for admins. */
@ApiTags('admin')
@Controller('v1/admin')
@Roles('admin')
export class AdminController {
  constructor(private readonly admin: AdminService) {}

  /**
   * Empties every table except `migrations` (development and tests only: needs `ALLOW_DB_RESET=true`, never in
   * production; 403 otherwise). The `ADMIN_EMAIL` admin is re-created; every other account is gone.
   */
  @Post('reset-db')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: AdminMessageDto })
  @OperationId('resetDatabase')
  resetDb(@CurrentUser() user: AuthenticatedUser): Promise<AdminMessageDto> {
    return this.admin.resetDatabase(user.id);
  }
}
