import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `usage_daily.purpose`: the ledger tells answers from session titles, rolling summaries and prompt previews, and
 * its key becomes (user, day, model, purpose). Rows kept so far were all answers.
 */
export class UsagePurpose1795600400000 implements MigrationInterface {
    name = 'UsagePurpose1795600400000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "usage_daily" ADD "purpose" character varying(16) NOT NULL DEFAULT 'answer'`);
        await queryRunner.query(`ALTER TABLE "usage_daily" ALTER COLUMN "purpose" DROP DEFAULT`);
        await queryRunner.query(`ALTER TABLE "usage_daily" DROP CONSTRAINT "PK_0a401d4f2a5ff635fc25b0b6fe5"`);
        await queryRunner.query(`ALTER TABLE "usage_daily" ADD CONSTRAINT "PK_97e827c12446c09a91f2c075150" PRIMARY KEY ("user_id", "day", "model", "purpose")`);
        await queryRunner.query(`ALTER TABLE "usage_daily" ADD CONSTRAINT "CHK_usage_daily_purpose" CHECK (purpose IN ('answer', 'title', 'summary', 'preview'))`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "usage_daily" DROP CONSTRAINT "CHK_usage_daily_purpose"`);
        // Without the purpose, the rows of one user, day and model fold into one.
        const sums = ['requests', 'tokens_input', 'tokens_output', 'tokens_cached', 'tokens_reasoning', 'cost'];
        await queryRunner.query(`CREATE TEMPORARY TABLE "usage_daily_folded" AS
            SELECT "user_id", "day", "model", ${sums.map((c) => `sum("${c}") AS "${c}"`).join(', ')}
              FROM "usage_daily" GROUP BY "user_id", "day", "model"`);
        await queryRunner.query(`DELETE FROM "usage_daily"`);
        await queryRunner.query(`ALTER TABLE "usage_daily" DROP CONSTRAINT "PK_97e827c12446c09a91f2c075150"`);
        await queryRunner.query(`ALTER TABLE "usage_daily" DROP COLUMN "purpose"`);
        await queryRunner.query(`ALTER TABLE "usage_daily" ADD CONSTRAINT "PK_0a401d4f2a5ff635fc25b0b6fe5" PRIMARY KEY ("user_id", "day", "model")`);
        const columns = ['user_id', 'day', 'model', ...sums].map((c) => `"${c}"`).join(', ');
        await queryRunner.query(`INSERT INTO "usage_daily" (${columns}) SELECT ${columns} FROM "usage_daily_folded"`);
        await queryRunner.query(`DROP TABLE "usage_daily_folded"`);
    }

}
