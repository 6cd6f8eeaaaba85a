import { MigrationInterface, QueryRunner } from "typeorm";

/** PDF uploads: `files` (metadata and extracted text) and `file_contents` (the bytes), both removed with their session. */
export class Files1795600300000 implements MigrationInterface {
    name = 'Files1795600300000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "files" ("id" SERIAL NOT NULL, "session_id" integer NOT NULL, "filename" character varying(255) NOT NULL, "mime_type" character varying(100) NOT NULL, "file_size" integer NOT NULL, "sha256" character(64) NOT NULL, "storage_name" character varying(64) NOT NULL, "page_count" integer NOT NULL, "extracted_text" text NOT NULL, "text_truncated" boolean NOT NULL DEFAULT false, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_6c16b9093a142e0e7613b04a3d9" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_files_session_sha256" ON "files"  ("session_id", "sha256") `);
        await queryRunner.query(`CREATE TABLE "file_contents" ("file_id" integer NOT NULL, "data" bytea NOT NULL, CONSTRAINT "PK_f56db5b438dffddab17036f4f47" PRIMARY KEY ("file_id"))`);
        await queryRunner.query(`ALTER TABLE "files" ADD CONSTRAINT "FK_73ecff86bd2964ea1f8db5f671b" FOREIGN KEY ("session_id") REFERENCES "chat_sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "file_contents" ADD CONSTRAINT "FK_f56db5b438dffddab17036f4f47" FOREIGN KEY ("file_id") REFERENCES "files"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "file_contents" DROP CONSTRAINT "FK_f56db5b438dffddab17036f4f47"`);
        await queryRunner.query(`ALTER TABLE "files" DROP CONSTRAINT "FK_73ecff86bd2964ea1f8db5f671b"`);
        await queryRunner.query(`DROP TABLE "file_contents"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_files_session_sha256"`);
        await queryRunner.query(`DROP TABLE "files"`);
    }

}
