import { MigrationInterface, QueryRunner } from "typeorm";

export class InitialSchema1795404344451 implements MigrationInterface {
    name = 'InitialSchema1795404344451'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "users" ("id" SERIAL NOT NULL, "email" character varying(320), "password_hash" character varying(255), "display_name" character varying(100), "role" character varying(16) NOT NULL DEFAULT 'user', "tier" character varying(32) NOT NULL DEFAULT 'free', "is_anonymous" boolean NOT NULL DEFAULT false, "disabled" boolean NOT NULL DEFAULT false, "tokens_input" bigint NOT NULL DEFAULT '0', "tokens_output" bigint NOT NULL DEFAULT '0', "cost" numeric(18,8) NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_a3ffb1c0c8416b9fc6f907b7433" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_users_email" ON "users"  ("email") WHERE email IS NOT NULL`);
        await queryRunner.query(`CREATE TABLE "applications" ("id" SERIAL NOT NULL, "user_id" integer NOT NULL, "name" character varying(100) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_938c0a27255637bde919591888f" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_applications_user_id" ON "applications"  ("user_id") `);
        await queryRunner.query(`CREATE TABLE "api_keys" ("id" SERIAL NOT NULL, "application_id" integer NOT NULL, "name" character varying(100), "prefix" character varying(16) NOT NULL, "key_hash" character(64) NOT NULL, "last_used_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_api_keys_application_id" ON "api_keys"  ("application_id") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_api_keys_key_hash" ON "api_keys"  ("key_hash") `);
        await queryRunner.query(`CREATE TABLE "refresh_tokens" ("id" SERIAL NOT NULL, "user_id" integer NOT NULL, "family_id" uuid NOT NULL, "token_hash" character(64) NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "used_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_7d8bee0204106019488c4c50ffa" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_refresh_tokens_user_id" ON "refresh_tokens"  ("user_id") `);
        await queryRunner.query(`CREATE INDEX "IDX_refresh_tokens_family_id" ON "refresh_tokens"  ("family_id") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_refresh_tokens_token_hash" ON "refresh_tokens"  ("token_hash") `);
        await queryRunner.query(`CREATE TABLE "chat_sessions" ("id" SERIAL NOT NULL, "user_id" integer NOT NULL, "application_id" integer, "model" character varying(200) NOT NULL, "title" character varying(200), "system_prompt" text, "summary" text, "metadata" jsonb NOT NULL DEFAULT '{}'::jsonb, "message_count" integer NOT NULL DEFAULT '0', "tokens_input" bigint NOT NULL DEFAULT '0', "tokens_output" bigint NOT NULL DEFAULT '0', "cost" numeric(18,8) NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "archived_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_efc151a4aafa9a28b73dedc485f" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_chat_sessions_application_id" ON "chat_sessions"  ("application_id") `);
        await queryRunner.query(`CREATE INDEX "IDX_chat_sessions_user_updated" ON "chat_sessions"  ("user_id", "updated_at") `);
        await queryRunner.query(`CREATE TABLE "messages" ("id" SERIAL NOT NULL, "session_id" integer NOT NULL, "role" character varying(16) NOT NULL, "content" text NOT NULL, "model" character varying(200), "status" character varying(16) NOT NULL DEFAULT 'complete', "finish_reason" character varying(32), "tokens_input" integer NOT NULL DEFAULT '0', "tokens_output" integer NOT NULL DEFAULT '0', "usage_estimated" boolean NOT NULL DEFAULT false, "cost" numeric(18,8) NOT NULL DEFAULT '0', "error" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_18325f38ae6de43878487eff986" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_messages_session_id_id" ON "messages"  ("session_id", "id") `);
        await queryRunner.query(`ALTER TABLE "applications" ADD CONSTRAINT "FK_9e7594d5b474d9cbebba15c1ae7" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "api_keys" ADD CONSTRAINT "FK_c1226be0b825ac08ac94afc196d" FOREIGN KEY ("application_id") REFERENCES "applications"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" ADD CONSTRAINT "FK_3ddc983c5f7bcf132fd8732c3f4" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" ADD CONSTRAINT "FK_1fa209cf48ae975a109366542a5" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" ADD CONSTRAINT "FK_247dff5dc8abfe048bd544281ba" FOREIGN KEY ("application_id") REFERENCES "applications"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "messages" ADD CONSTRAINT "FK_ff71b7760071ed9caba7f02beb4" FOREIGN KEY ("session_id") REFERENCES "chat_sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "messages" DROP CONSTRAINT "FK_ff71b7760071ed9caba7f02beb4"`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" DROP CONSTRAINT "FK_247dff5dc8abfe048bd544281ba"`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" DROP CONSTRAINT "FK_1fa209cf48ae975a109366542a5"`);
        await queryRunner.query(`ALTER TABLE "refresh_tokens" DROP CONSTRAINT "FK_3ddc983c5f7bcf132fd8732c3f4"`);
        await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "FK_c1226be0b825ac08ac94afc196d"`);
        await queryRunner.query(`ALTER TABLE "applications" DROP CONSTRAINT "FK_9e7594d5b474d9cbebba15c1ae7"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_messages_session_id_id"`);
        await queryRunner.query(`DROP TABLE "messages"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_chat_sessions_user_updated"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_chat_sessions_application_id"`);
        await queryRunner.query(`DROP TABLE "chat_sessions"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_refresh_tokens_token_hash"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_refresh_tokens_family_id"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_refresh_tokens_user_id"`);
        await queryRunner.query(`DROP TABLE "refresh_tokens"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_api_keys_key_hash"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_api_keys_application_id"`);
        await queryRunner.query(`DROP TABLE "api_keys"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_applications_user_id"`);
        await queryRunner.query(`DROP TABLE "applications"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_users_email"`);
        await queryRunner.query(`DROP TABLE "users"`);
    }

}
