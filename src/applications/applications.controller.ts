import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { UserTokenOnly } from '../auth/auth.decorators';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { PageQueryDto } from '../common/pagination.dto';
import {
  ApiKeyPageDto,
  ApplicationDto,
  ApplicationPageDto,
  CreateApiKeyDto,
  CreateApplicationDto,
  CreatedApiKeyDto,
  UpdateApplicationDto,
} from './applications.dto';
import { ApplicationsService } from './applications.service';
import { OperationId } from '../common/operation-id.decorator';

/** `/v1/applications`: the caller's applications and their API keys. Managed with a user access token only. */
@ApiTags('applications')
@Controller('v1/applications')
@UserTokenOnly()
export class ApplicationsController {
  constructor(private readonly applications: ApplicationsService) {}

  /** Creates an application. */
  @Post()
  @ApiCreatedResponse({ type: ApplicationDto })
  @OperationId('createApplication')
  create(@CurrentUser() user: AuthenticatedUser, @Body() dto: CreateApplicationDto): Promise<ApplicationDto> {
    return this.applications.create(user.id, dto);
  }

  /** The caller's applications, newest first. */
  @Get()
  @ApiOkResponse({ type: ApplicationPageDto })
  @OperationId('listApplications')
  list(@CurrentUser() user: AuthenticatedUser, @Query() query: PageQueryDto): Promise<ApplicationPageDto> {
    return this.applications.list(user.id, query);
  }

  /**
   * Renames an application or sets its budget overrides (`limits`), which its API keys share within the user's
   * budget. Its owner, or an admin for any application.
   */
  @Patch(':id')
  @ApiOkResponse({ type: ApplicationDto })
  @OperationId('updateApplication')
  update(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', ParseIdPipe) id: number,
    @Body() dto: UpdateApplicationDto,
  ): Promise<ApplicationDto> {
    return this.applications.update(user, id, dto);
  }

  /** Deletes an application and its keys; its sessions stay, without an application. */
  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'Deleted.' })
  @OperationId('deleteApplication')
  delete(@CurrentUser() user: AuthenticatedUser, @Param('id', ParseIdPipe) id: number): Promise<void> {
    return this.applications.delete(user.id, id);
  }

  /** Creates an API key; the key is in this answer only. */
  @Post(':id/keys')
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @OperationId('createApiKey')
  createKey(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', ParseIdPipe) id: number,
    @Body() dto: CreateApiKeyDto,
  ): Promise<CreatedApiKeyDto> {
    return this.applications.createKey(user.id, id, dto);
  }

  /** The application's keys (prefix only, never the key), newest first. */
  @Get(':id/keys')
  @ApiOkResponse({ type: ApiKeyPageDto })
  @OperationId('listApiKeys')
  listKeys(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', ParseIdPipe) id: number,
    @Query() query: PageQueryDto,
  ): Promise<ApiKeyPageDto> {
    return this.applications.listKeys(user.id, id, query);
  }

  /** Revokes a key: it stops authenticating at once. */
  @Delete(':id/keys/:keyId')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'Revoked (also when it already was).' })
  @OperationId('revokeApiKey')
  revokeKey(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', ParseIdPipe) id: number,
    @Param('keyId', ParseIdPipe) keyId: number,
  ): Promise<void> {
    return this.applications.revokeKey(user.id, id, keyId);
  }
}
