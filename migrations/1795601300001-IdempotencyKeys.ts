import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Idempotency keys of sends and session creations: one row per (user, key) holding the first request's fingerprint
 * and outcome until it expires.
 */
export class IdempotencyKeys1795601300001 implements MigrationInterface {
    name = 'IdempotencyKeys1795601300001'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "idempotency_keys" ("user_id" integer NOT NULL, "key" character varying(1000) NOT NULL, "fingerprint" character(64) NOT NULL, "state" character varying(16) NOT NULL, "message_id" integer, "session_id" integer, "response" jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_392b1af86f210d98d3f0c764728" PRIMARY KEY ("user_id", "key"))`);
        await queryRunner.query(`CREATE INDEX "IDX_idempotency_keys_expires_at" ON "idempotency_keys" ("expires_at") `);
        await queryRunner.query(`ALTER TABLE "idempotency_keys" ADD CONSTRAINT "FK_4d2181624ba2d61e76a07175198" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "idempotency_keys" DROP CONSTRAINT "FK_4d2181624ba2d61e76a07175198"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_idempotency_keys_expires_at"`);
        await queryRunner.query(`DROP TABLE "idempotency_keys"`);
    }

}
