import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { KeyScopeGuard } from './auth/roles.guard';
import { LoggerModule } from 'nestjs-pino';
import { AdminModule } from './admin/admin.module';
import { ApplicationsModule } from './applications/applications.module';
import { AuthModule } from './auth/auth.module';
import { JwtAuthGuard } from './auth/jwt-auth.guard';
import { ChatsModule } from './chats/chats.module';
import { DrainingModule } from './common/draining';
import { ProblemDetailsFilter } from './common/problem-details.filter';
import { redactedPath } from './common/secret-paths';
import { createValidationPipe } from './common/validation.pipe';
import { AppConfig, appConfig } from './config/app-config';
import { DatabaseModule } from './database/database.module';
import { ENTITIES } from './entities';
import { FilesModule } from './files/files.module';
import { HealthModule } from './health/health.module';
import { MessagesModule } from './messages/messages.module';
import { SharingModule } from './sharing/sharing.module';
import { MetricsModule } from './metrics/metrics.module';
import { PromptsModule } from './prompts/prompts.module';
import { ProvidersModule } from './providers/providers.module';
import { RateLimitGuard } from './rate-limit/rate-limit.guard';
import { RateLimitModule } from './rate-limit/rate-limit.module';
import { UsageModule } from './usage/usage.module';
import { UsersModule } from './users/users.module';
import { randomUUID } from 'node:crypto';

/**
 * The whole service. Global pipe, filter and guards are providers here (not set in main.ts), so every test app
 * built from this module behaves like production: validation → JWT/API-key auth → rate limits by tier.
 */
@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, load: [appConfig], envFilePath: ['.env'], cache: true }),
    LoggerModule.forRootAsync({
      inject: [appConfig.KEY],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
          level: config.logLevel,
          transport:
            config.logFormat === 'pretty'
              ? { target: 'pino-pretty', options: { singleLine: true, ignore: 'pid,hostname,req,res' } }
              : undefined,
          genReqId: (req, res) => {
            const id = (req.headers['x-request-id'] as string | undefined)?.slice(0, 100) || randomUUID();
            res.setHeader('X-Request-Id', id);
            return id;
          },
          // A request line names the request, never its headers (no credentials or cookies to redact), a secret
          // in its path (a share link's token, redacted) nor its body; serializing only these fields also keeps
          // the per-request cost of logging low.
          serializers: {
            req: (req: { id: unknown; method: string; url: string; remoteAddress?: string }) => ({
              id: req.id,
              method: req.method,
              url: redactedPath(req.url),
              remote_address: req.remoteAddress,
            }),
            res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
          },
          // The caller's id (never the email) on every request line, once authentication has run.
          customProps: (req) => {
            const id = (req as { user?: { id?: number } }).user?.id;
            return id === undefined ? {} : { user_id: id };
          },
          autoLogging: { ignore: (req) => req.url === '/health' },
        },
      }),
    }),
    DrainingModule,
    DatabaseModule.forRoot(ENTITIES),
    MetricsModule,
    RateLimitModule,
    UsersModule,
    AuthModule,
    ApplicationsModule,
    ProvidersModule,
    ChatsModule,
    MessagesModule,
    SharingModule,
    PromptsModule,
    UsageModule,
    FilesModule,
    HealthModule,
    AdminModule,
  ],
  providers: [
    { provide: APP_PIPE, useFactory: createValidationPipe },
    { provide: APP_FILTER, useClass: ProblemDetailsFilter },
    { provide: APP_GUARD, useClass: JwtAuthGuard },
    { provide: APP_GUARD, useClass: KeyScopeGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
})
export class AppModule {}
