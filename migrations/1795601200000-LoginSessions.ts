import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Login sessions: each refresh token records its family's login time and the user agent and address of the
 * request that minted it; revoked tokens are indexed so instances can load recent revocations.
 */
export class LoginSessions1795601200000 implements MigrationInterface {
    name = 'LoginSessions1795601200000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "refresh_tokens" ADD "family_created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" ADD "user_agent" character varying(512)`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" ADD "ip" character varying(64)`);
        await queryRunner.query(`UPDATE "refresh_tokens" t SET "family_created_at" = f."first"
            FROM (SELECT "family_id", min("created_at") AS "first" FROM "refresh_tokens" GROUP BY "family_id") f
            WHERE f."family_id" = t."family_id"`);
        await queryRunner.query(`CREATE INDEX "IDX_refresh_tokens_revoked_at" ON "refresh_tokens" ("revoked_at") WHERE revoked_at IS NOT NULL`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "public"."IDX_refresh_tokens_revoked_at"`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" DROP COLUMN "ip"`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" DROP COLUMN "user_agent"`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" DROP COLUMN "family_created_at"`);
    }

}
