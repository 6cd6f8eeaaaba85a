import { Module } from '@nestjs/common';
import { ModelProviderFactory } from './model-provider.factory';
import { ModelRegistry } from './model-registry';
import { ModelsController } from './models.controller';
import { ModelsService } from './models.service';
import { OfflineModelProvider } from './offline/offline.model-provider';

/** The model registry, the adapters behind `ModelProvider`, the factory that picks one, and `GET /v1/models`. */
@Module({
  controllers: [ModelsController],
  providers: [ModelRegistry, OfflineModelProvider, ModelProviderFactory, ModelsService],
  exports: [ModelRegistry, ModelProviderFactory],
})
export class ProvidersModule {}
