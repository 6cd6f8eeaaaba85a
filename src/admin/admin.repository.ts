import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { runMigrationsLocked } from '../database/migrate';

/** Whole-database operations for the admin; the only SQL that is not about one feature's tables. */
@Injectable()
export class AdminRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Drops the current schema with everything in it (tables, sequences, functions, triggers) and runs every
   * migration again, so the database is exactly a fresh install: ids start at 1 and the rows the migrations ship
   * (the system prompt templates) are back as the latest migrations left them.
   * @returns the names of the migrations applied
   */
  async resetToFreshInstall(): Promise<string[]> {
    const [{ schema }]: { schema: string }[] = await this.dataSource.query('SELECT current_schema() AS schema');
    const quoted = `"${schema.replace(/"/g, '""')}"`;
    await this.dataSource.query(`DROP SCHEMA ${quoted} CASCADE`);
    await this.dataSource.query(`CREATE SCHEMA ${quoted}`);
    return runMigrationsLocked(this.dataSource);
  }
}
