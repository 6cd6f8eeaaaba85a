import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * PDF uploads: `files` (metadata and extracted text), `file_contents` (the bytes, when kept in PostgreSQL), both
 * removed with their session; and `file_object_deletions`, filled by a trigger whenever a file whose bytes are in
 * S3 is deleted (directly or by cascade), so the storage can remove the object.
 */
export class Files1795600300000 implements MigrationInterface {
    name = 'Files1795600300000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "files" ("id" SERIAL NOT NULL, "session_id" integer NOT NULL, "filename" character varying(255) NOT NULL, "mime_type" character varying(100) NOT NULL, "file_size" integer NOT NULL, "sha256" character(64) NOT NULL, "storage_name" character varying(64) NOT NULL, "storage" character varying(16) NOT NULL DEFAULT 'postgres', "page_count" integer NOT NULL, "extracted_text" text NOT NULL, "text_truncated" boolean NOT NULL DEFAULT false, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_6c16b9093a142e0e7613b04a3d9" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_files_session_sha256" ON "files"  ("session_id", "sha256") `);
        await queryRunner.query(`CREATE TABLE "file_contents" ("file_id" integer NOT NULL, "data" bytea NOT NULL, CONSTRAINT "PK_f56db5b438dffddab17036f4f47" PRIMARY KEY ("file_id"))`);
        await queryRunner.query(`CREATE TABLE "file_object_deletions" ("id" SERIAL NOT NULL, "storage_name" character varying(64) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_7376b0b8df024caa65e366c003d" PRIMARY KEY ("id"))`);
        await queryRunner.query(`ALTER TABLE "files" ADD CONSTRAINT "FK_73ecff86bd2964ea1f8db5f671b" FOREIGN KEY ("session_id") REFERENCES "chat_sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "file_contents" ADD CONSTRAINT "FK_f56db5b438dffddab17036f4f47" FOREIGN KEY ("file_id") REFERENCES "files"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`CREATE FUNCTION "files_queue_object_deletion"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO "file_object_deletions" ("storage_name") VALUES (OLD."storage_name"); RETURN NULL; END $$`);
        await queryRunner.query(`CREATE TRIGGER "TR_files_queue_object_deletion" AFTER DELETE ON "files" FOR EACH ROW WHEN (OLD."storage" = 's3') EXECUTE FUNCTION "files_queue_object_deletion"()`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP TRIGGER "TR_files_queue_object_deletion" ON "files"`);
        await queryRunner.query(`DROP FUNCTION "files_queue_object_deletion"()`);
        await queryRunner.query(`ALTER TABLE "file_contents" DROP CONSTRAINT "FK_f56db5b438dffddab17036f4f47"`);
        await queryRunner.query(`ALTER TABLE "files" DROP CONSTRAINT "FK_73ecff86bd2964ea1f8db5f671b"`);
        await queryRunner.query(`DROP TABLE "file_object_deletions"`);
        await queryRunner.query(`DROP TABLE "file_contents"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_files_session_sha256"`);
        await queryRunner.query(`DROP TABLE "files"`);
    }

}
