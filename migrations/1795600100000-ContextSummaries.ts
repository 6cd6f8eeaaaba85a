import { MigrationInterface, QueryRunner } from 'typeorm';

/** Which message a session's rolling summary covers up to, and when it was last written. */
export class ContextSummaries1795600100000 implements MigrationInterface {
  name = 'ContextSummaries1795600100000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "chat_sessions" ADD "summary_message_id" integer`);
    await queryRunner.query(`ALTER TABLE "chat_sessions" ADD "summary_updated_at" TIMESTAMP WITH TIME ZONE`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "chat_sessions" DROP COLUMN "summary_updated_at"`);
    await queryRunner.query(`ALTER TABLE "chat_sessions" DROP COLUMN "summary_message_id"`);
  }
}
