import { Controller, Get, Res } from '@nestjs/common';
import { KeyScope } from '../auth/auth.decorators';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { ModelDto } from './dto/model.dto';
import { ModelsService } from './models.service';

/** Response header telling whether the built-in offline model answers every request. */
export const OFFLINE_MODE_HEADER = 'X-Offline-Mode';

/** The model registry, as clients may choose from it. */
@ApiTags('models')
@ApiBearerAuth()
@Controller('v1/models')
@KeyScope('chat')
export class ModelsController {
  constructor(private readonly models: ModelsService) {}

  /** List the models this server knows, their limits and prices, and which model really answers for each. */
  @Get()
  @ApiOkResponse({
    type: [ModelDto],
    headers: {
      [OFFLINE_MODE_HEADER]: {
        description: '`true` when no provider is configured and the offline model answers every request.',
        schema: { type: 'string', enum: ['true', 'false'] },
      },
    },
  })
  list(@CurrentUser() user: AuthenticatedUser, @Res({ passthrough: true }) res: Response): ModelDto[] {
    res.setHeader(OFFLINE_MODE_HEADER, String(this.models.offlineMode));
    return this.models.list(user.tier);
  }
}
