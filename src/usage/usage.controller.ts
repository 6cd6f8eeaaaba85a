import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { KeyScope, Roles } from '../auth/auth.decorators';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { UsageQueryDto, UsageReportDto } from './usage.dto';
import { UsageService } from './usage.service';

/** `/v1/users/…/usage`: the usage ledger by UTC day and model. */
@ApiTags('users')
@Controller('v1/users')
@KeyScope('usage:read')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  /** The caller's usage per UTC day and model, with totals (default: the last 30 days). */
  @Get('me/usage')
  @ApiOkResponse({ type: UsageReportDto })
  getMyUsage(@CurrentUser() user: AuthenticatedUser, @Query() query: UsageQueryDto): Promise<UsageReportDto> {
    return this.usage.report(user.id, query);
  }

  /** One user's usage per UTC day and model, with totals (admin). */
  @Get(':id/usage')
  @Roles('admin')
  @ApiOkResponse({ type: UsageReportDto })
  getUsage(@Param('id', ParseIdPipe) id: number, @Query() query: UsageQueryDto): Promise<UsageReportDto> {
    return this.usage.report(id, query);
  }
}
