import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** Whole-database operations for the admin; the only SQL that is not about one feature's tables. */
@Injectable()
export class AdminRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Empties every table of the current schema except `migrations` (the schema stays migrated), in one statement,
   * restarting id sequences.
   * @returns the names of the tables emptied
   */
  async truncateAllExceptMigrations(): Promise<string[]> {
    const rows: { tablename: string }[] = await this.dataSource.query(
      `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'migrations' ORDER BY tablename`,
    );
    const tables = rows.map((r) => r.tablename);
    if (tables.length) {
      const list = tables.map((t) => `"${t.replace(/"/g, '""')}"`).join(', ');
      await this.dataSource.query(`TRUNCATE ${list} RESTART IDENTITY CASCADE`);
    }
    return tables;
  }
}
