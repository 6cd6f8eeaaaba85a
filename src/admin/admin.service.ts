import { HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import { ProblemException } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { AuthInvalidationBus } from '../credentials/auth-invalidation.bus';
import { UsersService } from '../users/users.service';
import { AdminMessageDto } from './admin.dto';
import { AdminRepository } from './admin.repository';

/** Admin-only maintenance. */
@Injectable()
export class AdminService {
  private readonly logger = new Logger(AdminService.name);

  constructor(
    private readonly admin: AdminRepository,
    private readonly users: UsersService,
    private readonly invalidations: AuthInvalidationBus,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /**
   * The development reset, made safe: re-creates the schema from the migrations (a fresh install), then
   * the `ADMIN_EMAIL` admin (if configured) so the service is not left without one.
   * @throws 403 unless `ALLOW_DB_RESET=true` and `NODE_ENV` is not production
   */
  async resetDatabase(callerId: number): Promise<AdminMessageDto> {
    if (!this.config.allowDbReset || this.config.nodeEnv === 'production') {
      throw new ProblemException(
        HttpStatus.FORBIDDEN,
        'Database reset is disabled: it needs ALLOW_DB_RESET=true and is never allowed when NODE_ENV=production.',
      );
    }
    const migrations = await this.admin.resetToFreshInstall();
    await this.invalidations.emit({ kind: 'all' });
    this.logger.warn(`Database reset by user ${callerId}: schema re-created by ${migrations.length} migrations.`);
    await this.users.ensureConfiguredAdmin();
    return { message: 'Database reset' };
  }
}
