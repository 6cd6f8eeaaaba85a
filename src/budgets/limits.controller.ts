import { Controller, Get, Param } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { KeyScope, Roles } from '../auth/auth.decorators';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { OperationId } from '../common/operation-id.decorator';
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
  @OperationId('getMyLimits')
  getMyLimits(@CurrentUser() user: AuthenticatedUser): Promise<LimitsReportDto> {
    return this.limits.report(user.id);
  }

  /** One user's limits (admin). */
  @Get(':id/limits')
  @Roles('admin')
  @ApiOkResponse({ type: LimitsReportDto })
  @OperationId('getUserLimits')
  getLimits(@Param('id', ParseIdPipe) id: number): Promise<LimitsReportDto> {
    return this.limits.report(id);
  }
}

/** `/v1/applications/{id}/limits`: an application's budgets, shared by its API keys within its user's. */
@ApiTags('applications')
@Controller('v1/applications')
@KeyScope('usage:read')
export class ApplicationLimitsController {
  constructor(private readonly limits: LimitsService) {}

  /**
   * An application's limits (the tightest of tier, user and application), what its keys spent and what is left, and
   * when each window resets. Its owner or an admin; an API key only its own application's.
   */
  @Get(':id/limits')
  @ApiOkResponse({ type: LimitsReportDto })
  @OperationId('getApplicationLimits')
  getLimits(@CurrentUser() user: AuthenticatedUser, @Param('id', ParseIdPipe) id: number): Promise<LimitsReportDto> {
    return this.limits.applicationReport(user, id);
  }
}
