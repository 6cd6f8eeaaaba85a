/** Per-message cached and reasoning tokens and the models tried (`attempts`); the `usage_daily` ledger. */
import { MigrationInterface, QueryRunner } from "typeorm";

export class UsageLedger1795600000000 implements MigrationInterface {
    name = 'UsageLedger1795600000000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "usage_daily" ("user_id" integer NOT NULL, "day" date NOT NULL, "model" character varying(200) NOT NULL, "requests" integer NOT NULL DEFAULT '0', "tokens_input" bigint NOT NULL DEFAULT '0', "tokens_output" bigint NOT NULL DEFAULT '0', "tokens_cached" bigint NOT NULL DEFAULT '0', "tokens_reasoning" bigint NOT NULL DEFAULT '0', "cost" numeric(18,8) NOT NULL DEFAULT '0', CONSTRAINT "PK_0a401d4f2a5ff635fc25b0b6fe5" PRIMARY KEY ("user_id", "day", "model"))`);
        await queryRunner.query(`ALTER TABLE "messages" ADD "tokens_cached" integer NOT NULL DEFAULT '0'`);
        await queryRunner.query(`ALTER TABLE "messages" ADD "tokens_reasoning" integer NOT NULL DEFAULT '0'`);
        await queryRunner.query(`ALTER TABLE "messages" ADD "attempts" jsonb NOT NULL DEFAULT '[]'`);
        await queryRunner.query(`ALTER TABLE "usage_daily" ADD CONSTRAINT "FK_203b27e5e3fbbe9bbf427ccea26" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "usage_daily" DROP CONSTRAINT "FK_203b27e5e3fbbe9bbf427ccea26"`);
        await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "attempts"`);
        await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "tokens_reasoning"`);
        await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "tokens_cached"`);
        await queryRunner.query(`DROP TABLE "usage_daily"`);
    }

}
