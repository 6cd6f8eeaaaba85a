import { MigrationInterface, QueryRunner } from "typeorm";

/** The unit prices each answer was costed with (USD per 1M tokens) and the registry's `priced_at`; null before. */
export class AnswerPrices1795601500002 implements MigrationInterface {
    name = 'AnswerPrices1795601500002'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "messages" ADD "price_input_per_1m" numeric(18,8)`);
        await queryRunner.query(`ALTER TABLE "messages" ADD "price_cached_input_per_1m" numeric(18,8)`);
        await queryRunner.query(`ALTER TABLE "messages" ADD "price_output_per_1m" numeric(18,8)`);
        await queryRunner.query(`ALTER TABLE "messages" ADD "priced_at" date`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "priced_at"`);
        await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "price_output_per_1m"`);
        await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "price_cached_input_per_1m"`);
        await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "price_input_per_1m"`);
    }

}
