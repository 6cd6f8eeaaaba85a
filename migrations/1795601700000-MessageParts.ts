import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Messages as parts: `parts` (text, image and tool-call parts, JSONB) and `tool_call_id` (a `tool` message's call).
 * Every existing message becomes one text part holding its content (none for an empty one), so `content` stays the
 * text of `parts`.
 */
export class MessageParts1795601700000 implements MigrationInterface {
    name = 'MessageParts1795601700000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "messages" ADD "parts" jsonb`);
        await queryRunner.query(`UPDATE "messages" SET "parts" = CASE WHEN "content" = '' THEN '[]'::jsonb ELSE jsonb_build_array(jsonb_build_object('type', 'text', 'text', "content")) END`);
        await queryRunner.query(`ALTER TABLE "messages" ALTER COLUMN "parts" SET NOT NULL`);
        await queryRunner.query(`ALTER TABLE "messages" ADD "tool_call_id" character varying(128)`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DELETE FROM "messages" WHERE "role" = 'tool'`);
        await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "tool_call_id"`);
        await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "parts"`);
    }

}
