import { Injectable } from '@nestjs/common';
import { AuthenticatedUser } from '../common/authenticated-user';
import { mergeLimitOverrides } from '../common/limit-overrides.dto';
import { PageQueryDto } from '../common/pagination.dto';
import { invalidField, notFound } from '../common/problem';
import { AuthInvalidationBus } from '../credentials/auth-invalidation.bus';
import { generateApiKey } from './api-key.token';
import { ApiKeysRepository } from './api-keys.repository';
import { ApplicationEntity } from './application.entity';
import {
  ApiKeyDto,
  ApiKeyPageDto,
  ApplicationDto,
  ApplicationPageDto,
  CreateApiKeyDto,
  CreateApplicationDto,
  CreatedApiKeyDto,
  UpdateApplicationDto,
} from './applications.dto';
import { ApplicationsRepository } from './applications.repository';

/** A user's applications and their API keys. Another user's application is answered exactly like a missing one. */
@Injectable()
export class ApplicationsService {
  constructor(
    private readonly applications: ApplicationsRepository,
    private readonly keys: ApiKeysRepository,
    private readonly invalidations: AuthInvalidationBus,
  ) {}

  async create(userId: number, dto: CreateApplicationDto): Promise<ApplicationDto> {
    return ApplicationDto.from(await this.applications.create(userId, dto.name));
  }

  async list(userId: number, query: PageQueryDto): Promise<ApplicationPageDto> {
    const [rows, total] = await this.applications.findPageOwned(userId, (query.page - 1) * query.page_size, query.page_size);
    return { total, page: query.page, page_size: query.page_size, items: rows.map(ApplicationDto.from) };
  }

  /**
   * Renames an application or changes its budget overrides: its owner, or an admin (any application). The
   * overrides apply to its keys' next requests on every instance.
   * @throws 404 when missing or not the caller's (unless an admin)
   */
  async update(caller: AuthenticatedUser, id: number, dto: UpdateApplicationDto): Promise<ApplicationDto> {
    const app = await this.applications.findVisible(caller.id, caller.role === 'admin', id);
    if (!app) throw notFound('Application');
    const limits = dto.limits === undefined ? undefined : mergeLimitOverrides(app.limits, dto.limits);
    const updated = await this.applications.update(app.id, { name: dto.name, limits });
    if (!updated) throw notFound('Application');
    await this.invalidations.emit({ kind: 'application', applicationId: app.id });
    return ApplicationDto.from(updated);
  }

  /** Deletes an application and its keys; the keys stop working at once. @throws 404 when missing or not the caller's */
  async delete(userId: number, id: number): Promise<void> {
    if (!(await this.applications.deleteOwned(userId, id))) throw notFound('Application');
    await this.invalidations.emit({ kind: 'application', applicationId: id });
  }

  /** Creates a key; the answer is the only time the key is shown. @throws 404 for an unknown application */
  async createKey(userId: number, applicationId: number, dto: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    const app = await this.owned(userId, applicationId);
    if (dto.expires_at && Date.parse(dto.expires_at) <= Date.now()) throw invalidField('expires_at', 'must be in the future');
    const { key, prefix, hash } = generateApiKey();
    const saved = await this.keys.create(app.id, {
      name: dto.name || null,
      prefix,
      keyHash: hash,
      scopes: dto.scopes ? [...new Set(dto.scopes)] : null,
      expiresAt: dto.expires_at ? new Date(dto.expires_at) : null,
    });
    return { ...ApiKeyDto.from(saved), key };
  }

  async listKeys(userId: number, applicationId: number, query: PageQueryDto): Promise<ApiKeyPageDto> {
    const app = await this.owned(userId, applicationId);
    const [rows, total] = await this.keys.findPage(app.id, (query.page - 1) * query.page_size, query.page_size);
    return { total, page: query.page, page_size: query.page_size, items: rows.map(ApiKeyDto.from) };
  }

  /** Revokes a key (idempotent); it stops working at once. @throws 404 for an unknown application or key */
  async revokeKey(userId: number, applicationId: number, keyId: number): Promise<void> {
    const app = await this.owned(userId, applicationId);
    if (!(await this.keys.revoke(app.id, keyId))) throw notFound('API key');
    await this.invalidations.emit({ kind: 'api-key', keyId });
  }

  private async owned(userId: number, id: number): Promise<ApplicationEntity> {
    const app = await this.applications.findOwned(userId, id);
    if (!app) throw notFound('Application');
    return app;
  }
}
