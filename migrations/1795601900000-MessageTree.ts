import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Messages as a tree: `messages.parent_id` (the message each one follows; siblings are alternative versions), the
 * session's `active_leaf_id` (the newest message of the branch shown and sent to the model), and the origin of a
 * forked session. Every existing session becomes one chain: each message's parent is the one before it (by id) in
 * its session, and its newest message is the active leaf.
 *
 * A forked session gets copies of its origin's files; copies of a file kept in S3 share its object, so the trigger
 * queueing an object's removal now waits until no file row names it.
 */
export class MessageTree1795601900000 implements MigrationInterface {
    name = 'MessageTree1795601900000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "chat_sessions" ADD "active_leaf_id" integer`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" ADD "forked_from_session_id" integer`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" ADD "forked_from_message_id" integer`);
        await queryRunner.query(`ALTER TABLE "messages" ADD "parent_id" integer`);
        await queryRunner.query(
            `UPDATE "messages" m SET "parent_id" = c.previous
               FROM (SELECT id, lag(id) OVER (PARTITION BY session_id ORDER BY id) AS previous FROM "messages") c
              WHERE c.id = m.id AND c.previous IS NOT NULL`,
        );
        await queryRunner.query(
            `UPDATE "chat_sessions" s SET "active_leaf_id" = l.id
               FROM (SELECT session_id, max(id) AS id FROM "messages" GROUP BY session_id) l
              WHERE l.session_id = s.id`,
        );
        await queryRunner.query(`CREATE INDEX "IDX_messages_session_roots" ON "messages"  ("session_id") WHERE "parent_id" IS NULL`);
        await queryRunner.query(`CREATE INDEX "IDX_messages_parent_id" ON "messages"  ("parent_id") `);
        await queryRunner.query(`ALTER TABLE "chat_sessions" ADD CONSTRAINT "FK_00dc38cdb09becbe36716a7e1e1" FOREIGN KEY ("forked_from_session_id") REFERENCES "chat_sessions"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "messages" ADD CONSTRAINT "FK_932abe146b78bd584b4d1851ce3" FOREIGN KEY ("parent_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`CREATE INDEX "IDX_files_storage_name" ON "files" ("storage_name") `);
        await queryRunner.query(
            `CREATE OR REPLACE FUNCTION "files_queue_object_deletion"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
               IF NOT EXISTS (SELECT 1 FROM "files" WHERE "storage_name" = OLD."storage_name") THEN
                 INSERT INTO "file_object_deletions" ("storage_name") VALUES (OLD."storage_name");
               END IF;
               RETURN NULL;
             END $$`,
        );
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE OR REPLACE FUNCTION "files_queue_object_deletion"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO "file_object_deletions" ("storage_name") VALUES (OLD."storage_name"); RETURN NULL; END $$`);
        await queryRunner.query(`DROP INDEX "public"."IDX_files_storage_name"`);
        await queryRunner.query(`ALTER TABLE "messages" DROP CONSTRAINT "FK_932abe146b78bd584b4d1851ce3"`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" DROP CONSTRAINT "FK_00dc38cdb09becbe36716a7e1e1"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_messages_parent_id"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_messages_session_roots"`);
        await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "parent_id"`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" DROP COLUMN "forked_from_message_id"`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" DROP COLUMN "forked_from_session_id"`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" DROP COLUMN "active_leaf_id"`);
    }

}
