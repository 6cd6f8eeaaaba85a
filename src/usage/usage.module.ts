import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { UsersModule } from '../users/users.module';
import { UsageDailyEntity } from './usage-daily.entity';
import { UsageController } from './usage.controller';
import { UsageRepository } from './usage.repository';
import { UsageService } from './usage.service';

/**
 * The usage ledger and running totals: recording model calls (answers through the messages module's transaction,
 * titles, summaries, previews through `UsageService.recordCall`) and the reports (`GET /v1/users/me/usage`,
 * `GET /v1/users/{id}/usage`).
 */
@Module({
  imports: [TypeOrmModule.forFeature([UsageDailyEntity]), UsersModule],
  controllers: [UsageController],
  providers: [UsageRepository, UsageService],
  exports: [UsageRepository, UsageService],
})
export class UsageModule {}
