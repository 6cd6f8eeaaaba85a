import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * An answer is a durable generation: its row is `in_progress` while a process streams it, records which instance
 * runs it and when that instance last said it was alive, and ends `complete`, `incomplete`, `failed` or
 * `cancelled`. Rows stored so far keep their status and meaning (they have no owner).
 */
export class DurableGenerations1795601300000 implements MigrationInterface {
    name = 'DurableGenerations1795601300000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "messages" ADD "owner_instance" character varying(64)`);
        await queryRunner.query(`ALTER TABLE "messages" ADD "heartbeat_at" TIMESTAMP WITH TIME ZONE`);
        await queryRunner.query(`CREATE INDEX "IDX_messages_status_heartbeat" ON "messages" ("status", "heartbeat_at") `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "IDX_messages_status_heartbeat"`);
        await queryRunner.query(`UPDATE "messages" SET status = 'incomplete' WHERE status IN ('in_progress', 'cancelled')`);
        await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "heartbeat_at"`);
        await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "owner_instance"`);
    }

}
