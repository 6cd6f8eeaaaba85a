import { Controller, Get, Param } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { KeyScope, Roles } from '../auth/auth.decorators';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { LimitsReportDto } from './budgets.dto';
import { LimitsService } from './limits.service';

/** `/v1/users/…/limits`: budgets, what is used and left, and when each resets. */
@ApiTags('users')
@Controller('v1/users')
@KeyScope('usage:read')
export class LimitsController {
  constructor(private readonly limits: LimitsService) {}

  /** The caller's limits with what is used and left in each window, and when it resets. */
  @Get('me/limits')
  @ApiOkResponse({ type: LimitsReportDto })
  getMyLimits(@CurrentUser() user: AuthenticatedUser): Promise<LimitsReportDto> {
    return this.limits.report(user.id);
  }

  /** One user's limits (admin). */
  @Get(':id/limits')
  @Roles('admin')
  @ApiOkResponse({ type: LimitsReportDto })
  getLimits(@Param('id', ParseIdPipe) id: number): Promise<LimitsReportDto> {
    return this.limits.report(id);
  }
}
