import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { CredentialsModule } from '../credentials/credentials.module';
import { UsersModule } from '../users/users.module';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { jwtSigningKeyProvider } from './jwt-secret.provider';
import { JwtStrategy } from './jwt.strategy';
import { TokensService } from './tokens.service';

/**
 * Authentication: `/v1/auth/*`, the `jwt` passport strategy used by the global JwtAuthGuard, access JWTs and
 * rotating refresh tokens. (The `api-key` strategy lives in ApplicationsModule.)
 */
@Module({
  imports: [PassportModule, JwtModule.register({}), UsersModule, CredentialsModule],
  controllers: [AuthController],
  providers: [jwtSigningKeyProvider, TokensService, AuthService, JwtStrategy],
})
export class AuthModule {}
