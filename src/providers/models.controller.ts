import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { KeyScope } from '../auth/auth.decorators';
import { AuthenticatedUser, CurrentUser } from '../common/authenticated-user';
import { ModelDto, ModelListDto } from './dto/model.dto';
import { ModelsService } from './models.service';
import { OperationId } from '../common/operation-id.decorator';

/** Response header telling whether the built-in offline model answers every request. */
export const OFFLINE_MODE_HEADER = 'X-Offline-Mode';

const offlineModeHeader = {
  [OFFLINE_MODE_HEADER]: {
    description: '`true` when no provider is configured and the offline model answers every request.',
    schema: { type: 'string', enum: ['true', 'false'] },
  },
};

/** The model registry, as clients may choose from it, in OpenAI's shapes (errors too: `{ error: {…} }`). */
@ApiTags('models')
@Controller('v1/models')
@KeyScope('chat')
export class ModelsController {
  constructor(private readonly models: ModelsService) {}

  /** List the models this server knows, their limits and prices, and which model really answers for each. */
  @Get()
  @OperationId('listModels')
  @ApiOkResponse({ type: ModelListDto, headers: offlineModeHeader })
  list(@CurrentUser() user: AuthenticatedUser, @Res({ passthrough: true }) res: Response): ModelListDto {
    res.setHeader(OFFLINE_MODE_HEADER, String(this.models.offlineMode));
    return this.models.list(user);
  }

  /** One model, by registry id or alias; an id's `/` is sent percent-encoded (`openai%2Fgpt-4o-mini`). */
  @Get(':model_id')
  @OperationId('getModel')
  @ApiParam({ name: 'model_id', description: 'Registry id or alias, e.g. `openai%2Fgpt-4o-mini` or `gpt-4`.' })
  @ApiOkResponse({ type: ModelDto, headers: offlineModeHeader })
  @ApiNotFoundResponse({ description: 'No model has this id or alias (`code: model_not_found`).' })
  get(@CurrentUser() user: AuthenticatedUser, @Param('model_id') id: string, @Res({ passthrough: true }) res: Response): ModelDto {
    res.setHeader(OFFLINE_MODE_HEADER, String(this.models.offlineMode));
    return this.models.get(id, user);
  }
}
