import { Module } from '@nestjs/common';
import { ImagesModule } from '../images/images.module';
import { ModelProviderFactory } from './model-provider.factory';
import { ModelRegistry } from './model-registry';
import { ModelRouter } from './model-router';
import { ModelsController } from './models.controller';
import { ModelsService } from './models.service';
import { OfflineModelProvider } from './offline/offline.model-provider';

/**
 * The model registry, the adapters behind `ModelProvider`, the factory that picks one, the router that calls
 * models with timeouts, retries and fallbacks, and `GET /v1/models`.
 */
@Module({
  imports: [ImagesModule],
  controllers: [ModelsController],
  providers: [ModelRegistry, OfflineModelProvider, ModelProviderFactory, ModelRouter, ModelsService],
  exports: [ModelRegistry, ModelProviderFactory, ModelRouter],
})
export class ProvidersModule {}
