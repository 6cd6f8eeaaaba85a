import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { insertSystemPromptTemplates } from '../../migrations/1795600200000-PromptTemplates';

/** Whole-database operations for the admin; the only SQL that is not about one feature's tables. */
@Injectable()
export class AdminRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Empties every table of the current schema except `migrations` and TypeORM's `typeorm_metadata` (the schema
   * stays migrated), in one statement, restarting id sequences; then puts back the rows the migrations ship
   * (the system prompt templates), so the reset database looks freshly installed.
   * @returns the names of the tables emptied
   */
  async resetToFreshInstall(): Promise<string[]> {
    const rows: { tablename: string }[] = await this.dataSource.query(
      `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT IN ('migrations', 'typeorm_metadata') ORDER BY tablename`,
    );
    const tables = rows.map((r) => r.tablename);
    if (tables.length) {
      const list = tables.map((t) => `"${t.replace(/"/g, '""')}"`).join(', ');
      await this.dataSource.query(`TRUNCATE ${list} RESTART IDENTITY CASCADE`);
    }
    await insertSystemPromptTemplates((sql, params) => this.dataSource.query(sql, params));
    return tables;
  }
}
