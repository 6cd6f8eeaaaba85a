import { MigrationInterface, QueryRunner } from "typeorm";

/** `login_failures`: failed logins per account (SHA-256 of the email) for the login backoff without Redis. */
export class LoginFailures1795601200001 implements MigrationInterface {
    name = 'LoginFailures1795601200001'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "login_failures" ("account_hash" character(64) NOT NULL, "failures" integer NOT NULL, "last_failure_at" TIMESTAMP WITH TIME ZONE NOT NULL, "locked_until" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_login_failures" PRIMARY KEY ("account_hash"))`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP TABLE "login_failures"`);
    }

}
