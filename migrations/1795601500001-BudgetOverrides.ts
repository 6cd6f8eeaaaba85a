import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Budget overrides on users and applications (`limits`, null: none), and the usage ledger kept per application
 * (`usage_daily.application_id`, 0 for calls made with a user access token; rows written before hold 0).
 */
export class BudgetOverrides1795601500001 implements MigrationInterface {
    name = 'BudgetOverrides1795601500001'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "users" ADD "limits" jsonb`);
        await queryRunner.query(`ALTER TABLE "applications" ADD "limits" jsonb`);
        await queryRunner.query(`ALTER TABLE "usage_daily" ADD "application_id" integer NOT NULL DEFAULT '0'`);
        await queryRunner.query(`ALTER TABLE "usage_daily" DROP CONSTRAINT "PK_97e827c12446c09a91f2c075150"`);
        await queryRunner.query(`ALTER TABLE "usage_daily" ADD CONSTRAINT "PK_480702316d35c2b2e6efceeb648" PRIMARY KEY ("user_id", "day", "model", "purpose", "application_id")`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        // Rows of one user, day, model and purpose made by several applications become one again.
        const sums = ['requests', 'tokens_input', 'tokens_output', 'tokens_cached', 'tokens_reasoning', 'cost'];
        await queryRunner.query(
            `CREATE TEMPORARY TABLE "usage_daily_merged" AS SELECT "user_id", "day", "model", "purpose", ${sums.map((c) => `SUM("${c}") AS "${c}"`).join(', ')}
               FROM "usage_daily" GROUP BY "user_id", "day", "model", "purpose"`,
        );
        await queryRunner.query(`DELETE FROM "usage_daily"`);
        await queryRunner.query(`ALTER TABLE "usage_daily" DROP CONSTRAINT "PK_480702316d35c2b2e6efceeb648"`);
        await queryRunner.query(`ALTER TABLE "usage_daily" DROP COLUMN "application_id"`);
        await queryRunner.query(`ALTER TABLE "usage_daily" ADD CONSTRAINT "PK_97e827c12446c09a91f2c075150" PRIMARY KEY ("user_id", "day", "model", "purpose")`);
        await queryRunner.query(
            `INSERT INTO "usage_daily" ("user_id", "day", "model", "purpose", ${sums.map((c) => `"${c}"`).join(', ')})
             SELECT "user_id", "day", "model", "purpose", ${sums.map((c) => `"${c}"`).join(', ')} FROM "usage_daily_merged"`,
        );
        await queryRunner.query(`DROP TABLE "usage_daily_merged"`);
        await queryRunner.query(`ALTER TABLE "applications" DROP COLUMN "limits"`);
        await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "limits"`);
    }

}
