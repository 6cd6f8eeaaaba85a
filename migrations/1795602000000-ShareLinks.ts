import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Read-only share links of conversations: the SHA-256 of each link's token (never the token), the snapshot it
 * shows, its expiry and revocation; removed with their session or user.
 */
export class ShareLinks1795602000000 implements MigrationInterface {
    name = 'ShareLinks1795602000000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "share_links" ("id" SERIAL NOT NULL, "user_id" integer NOT NULL, "session_id" integer NOT NULL, "token_hash" character(64) NOT NULL, "snapshot" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_70320b79ecd8acab96419fcdd6d" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_share_links_session_id" ON "share_links"  ("session_id") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_share_links_token_hash" ON "share_links"  ("token_hash") `);
        await queryRunner.query(`CREATE INDEX "IDX_share_links_user_id" ON "share_links"  ("user_id", "id") `);
        await queryRunner.query(`ALTER TABLE "share_links" ADD CONSTRAINT "FK_6545cc8f42ed8a2af5652e5e5c7" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "share_links" ADD CONSTRAINT "FK_b9cb95b4e2e2b537ec3588c47d9" FOREIGN KEY ("session_id") REFERENCES "chat_sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "share_links" DROP CONSTRAINT "FK_b9cb95b4e2e2b537ec3588c47d9"`);
        await queryRunner.query(`ALTER TABLE "share_links" DROP CONSTRAINT "FK_6545cc8f42ed8a2af5652e5e5c7"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_share_links_user_id"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_share_links_token_hash"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_share_links_session_id"`);
        await queryRunner.query(`DROP TABLE "share_links"`);
    }

}
