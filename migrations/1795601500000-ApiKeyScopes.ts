import { MigrationInterface, QueryRunner } from "typeorm";

/** `api_keys.scopes` (null: every scope, as keys made before scopes existed) and `api_keys.expires_at`. */
export class ApiKeyScopes1795601500000 implements MigrationInterface {
    name = 'ApiKeyScopes1795601500000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "api_keys" ADD "scopes" text array`);
        await queryRunner.query(`ALTER TABLE "api_keys" ADD "expires_at" TIMESTAMP WITH TIME ZONE`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "expires_at"`);
        await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "scopes"`);
    }

}
