import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ApplicationEntity } from './application.entity';

/** Ids beyond PostgreSQL's `integer` cannot exist (and would make the query fail): treat them as not found. */
export const isId = (id: number) => Number.isSafeInteger(id) && id > 0 && id <= 2_147_483_647;

/** Persistence of applications; every read and write is scoped to the owning user. */
@Injectable()
export class ApplicationsRepository {
  constructor(@InjectRepository(ApplicationEntity) private readonly applications: Repository<ApplicationEntity>) {}

  create(userId: number, name: string): Promise<ApplicationEntity> {
    return this.applications.save(this.applications.create({ userId, name }));
  }

  /** @returns the application when it exists **and** belongs to `userId`, else null */
  findOwned(userId: number, id: number): Promise<ApplicationEntity | null> {
    return isId(id) ? this.applications.findOneBy({ id, userId }) : Promise.resolve(null);
  }

  /**
   * @param any true (an admin): any user's application
   * @returns the application when it exists and belongs to `userId` (or `any`), else null
   */
  findVisible(userId: number, any: boolean, id: number): Promise<ApplicationEntity | null> {
    if (!isId(id)) return Promise.resolve(null);
    return this.applications.findOneBy(any ? { id } : { id, userId });
  }

  /** Writes an application's name and limits (each when given) and returns the fresh row. */
  async update(id: number, fields: Partial<Pick<ApplicationEntity, 'name' | 'limits'>>): Promise<ApplicationEntity | null> {
    const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    if (Object.keys(defined).length) await this.applications.update({ id }, defined);
    return this.applications.findOneBy({ id });
  }

  /** One page of a user's applications, newest first. */
  findPageOwned(userId: number, skip: number, take: number): Promise<[ApplicationEntity[], number]> {
    return this.applications.findAndCount({ where: { userId }, order: { id: 'DESC' }, skip, take });
  }

  /** Deletes an owned application; its keys go with it (FK cascade), its sessions keep a null application id. */
  async deleteOwned(userId: number, id: number): Promise<boolean> {
    if (!isId(id)) return false;
    const { affected } = await this.applications.delete({ id, userId });
    return (affected ?? 0) > 0;
  }
}
