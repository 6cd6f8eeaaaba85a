import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CredentialsModule } from '../credentials/credentials.module';
import { PasswordHasher } from './password-hasher.service';
import { UserEntity } from './user.entity';
import { StatsController, UsersController } from './users.controller';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

/** Users: profiles, account claims, statistics, the admin's view, and the `ADMIN_EMAIL` admin at start-up. */
@Module({
  imports: [TypeOrmModule.forFeature([UserEntity]), CredentialsModule],
  controllers: [UsersController, StatsController],
  providers: [UsersRepository, UsersService, PasswordHasher],
  exports: [UsersRepository, UsersService, PasswordHasher],
})
export class UsersModule {}
