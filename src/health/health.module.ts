import { Module } from '@nestjs/common';
import { ProvidersModule } from '../providers/providers.module';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';

@Module({ imports: [ProvidersModule], controllers: [HealthController], providers: [HealthService] })
export class HealthModule {}
