import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CredentialsModule } from '../credentials/credentials.module';
import { ApiKeyEntity } from './api-key.entity';
import { ApiKeyStrategy } from './api-key.strategy';
import { ApiKeysRepository } from './api-keys.repository';
import { ApplicationEntity } from './application.entity';
import { ApplicationsController } from './applications.controller';
import { ApplicationsRepository } from './applications.repository';
import { ApplicationsService } from './applications.service';

/** Applications and their API keys (`/v1/applications`), and the `api-key` strategy of the global auth guard. */
@Module({
  imports: [PassportModule, TypeOrmModule.forFeature([ApplicationEntity, ApiKeyEntity]), CredentialsModule],
  controllers: [ApplicationsController],
  providers: [ApplicationsRepository, ApiKeysRepository, ApplicationsService, ApiKeyStrategy],
  exports: [ApplicationsRepository],
})
export class ApplicationsModule {}
