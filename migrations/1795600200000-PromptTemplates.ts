import { MigrationInterface, QueryRunner } from "typeorm";

/** The prompts' full-text document (a copy: a migration must not change when the entity does). */
const SEARCH_DOCUMENT = "setweight(to_tsvector('simple', coalesce(title, '')), 'A') || setweight(to_tsvector('simple', coalesce(description, '')), 'B') || setweight(to_tsvector('simple', coalesce(content, '')), 'C')";

/**
 * Largest id a user's prompt can get (the `prompts_id_seq` sequence's MAXVALUE). System templates have fixed ids
 * above it, so user prompts are numbered from 1 as the API guide's examples show (a fresh install's first prompt is
 * id 1, and its PUT/DELETE on id 1 act on that prompt), and the two ranges never meet.
 */
export const MAX_USER_PROMPT_ID = 1_000_000_000;

/**
 * The system templates every user sees: no owner, `is_template` true, changed only by admins. Their ids
 * are fixed (above {@link MAX_USER_PROMPT_ID}, below the `integer` maximum): a later migration adds a template
 * with the next free id, never renumbering these.
 */
export const SYSTEM_PROMPT_TEMPLATES = [
    {
        id: 1_000_000_001,
        title: 'Text Summarizer',
        scenario: 'summarization',
        description: 'Generates concise summaries that keep the key facts.',
        content: 'Summarize the following text in a few sentences, keeping the key facts:\n\n{text}',
        tags: ['summary', 'concise'],
    },
    {
        id: 1_000_000_002,
        title: 'Translator',
        scenario: 'translation',
        description: 'Translates text into another language, keeping meaning and tone.',
        content: 'Translate the following text into {language}. Keep the meaning and the tone; answer with the translation only.\n\n{text}',
        tags: ['translation', 'language'],
    },
    {
        id: 1_000_000_003,
        title: 'Code Explainer',
        scenario: 'coding',
        description: 'Explains what a piece of code does, step by step.',
        content: 'Explain what the following {language} code does, step by step, for a developer who is new to it:\n\n{code}',
        tags: ['code', 'explanation'],
    },
    {
        id: 1_000_000_004,
        title: 'Grammar Fixer',
        scenario: 'writing',
        description: 'Corrects grammar, spelling and punctuation without changing the meaning.',
        content: 'Fix the grammar, spelling and punctuation of the following text without changing its meaning. Answer with the corrected text only.\n\n{text}',
        tags: ['grammar', 'proofreading'],
    },
    {
        id: 1_000_000_005,
        title: 'Email Writer',
        scenario: 'email',
        description: 'Drafts a clear email from a few key points.',
        content: 'Write a {tone} email to {recipient} about {subject}. Cover these points:\n{points}',
        tags: ['email', 'writing'],
    },
    {
        id: 1_000_000_006,
        title: 'Helpful Assistant',
        scenario: 'general',
        description: 'A plain system prompt for everyday questions.',
        content: 'You are a helpful, concise assistant. Answer clearly, and say so when you are not sure.',
        tags: ['general', 'system'],
    },
];

/**
 * Inserts the system templates with their fixed ids (which leave the id sequence alone).
 * @param query runs one parameterised statement (a QueryRunner's, or a pg client's in the test support)
 */
export async function insertSystemPromptTemplates(query: (sql: string, params: unknown[]) => Promise<unknown>): Promise<void> {
    for (const t of SYSTEM_PROMPT_TEMPLATES) {
        await query(
            `INSERT INTO "prompts" ("id", "user_id", "title", "content", "scenario", "description", "metadata", "is_template") VALUES ($1, NULL, $2, $3, $4, $5, $6, true)`,
            [t.id, t.title, t.content, t.scenario, t.description, JSON.stringify({ tags: t.tags })],
        );
    }
}

export class PromptTemplates1795600200000 implements MigrationInterface {
    name = 'PromptTemplates1795600200000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        // TypeORM compares generated columns with the expression recorded here; current_database() keeps the row
        // right in databases cloned from this one.
        await queryRunner.query(`INSERT INTO "typeorm_metadata"("database", "schema", "table", "type", "name", "value") VALUES (current_database(), current_schema(), 'prompts', 'GENERATED_COLUMN', 'search_vector', $1)`, [SEARCH_DOCUMENT]);
        await queryRunner.query(`CREATE TABLE "prompts" ("id" SERIAL NOT NULL, "user_id" integer, "title" character varying(200) NOT NULL, "content" text NOT NULL, "scenario" character varying(100), "description" text, "metadata" jsonb NOT NULL DEFAULT '{}', "is_template" boolean NOT NULL DEFAULT false, "usage_count" integer NOT NULL DEFAULT '0', "version" integer NOT NULL DEFAULT '1', "search_vector" tsvector GENERATED ALWAYS AS (setweight(to_tsvector('simple', coalesce(title, '')), 'A') || setweight(to_tsvector('simple', coalesce(description, '')), 'B') || setweight(to_tsvector('simple', coalesce(content, '')), 'C')) STORED NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "CHK_prompts_template_owner" CHECK ((is_template AND user_id IS NULL) OR (NOT is_template AND user_id IS NOT NULL)), CONSTRAINT "PK_21f33798862975179e40b216a1d" PRIMARY KEY ("id"))`);
        await queryRunner.query(`ALTER SEQUENCE "prompts_id_seq" MAXVALUE ${MAX_USER_PROMPT_ID}`);
        await queryRunner.query(`CREATE INDEX "IDX_prompts_scenario" ON "prompts"  ("scenario") `);
        await queryRunner.query(`CREATE INDEX "IDX_prompts_is_template" ON "prompts"  ("is_template") `);
        await queryRunner.query(`CREATE INDEX "IDX_prompts_user_updated" ON "prompts"  ("user_id", "updated_at") `);
        await queryRunner.query(`CREATE INDEX "IDX_prompts_search" ON "prompts" USING GIN ("search_vector")`);
        await queryRunner.query(`CREATE TABLE "prompt_versions" ("id" SERIAL NOT NULL, "prompt_id" integer NOT NULL, "version" integer NOT NULL, "title" character varying(200) NOT NULL, "content" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_prompt_versions_prompt_version" UNIQUE ("prompt_id", "version"), CONSTRAINT "PK_5411972c2e9c63bd40530b80545" PRIMARY KEY ("id"))`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" ADD "prompt_id" integer`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" ADD "prompt_version" integer`);
        await queryRunner.query(`CREATE INDEX "IDX_chat_sessions_prompt_id" ON "chat_sessions"  ("prompt_id") `);
        await queryRunner.query(`ALTER TABLE "prompts" ADD CONSTRAINT "FK_aa88f45bd24d019088a898cf66b" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" ADD CONSTRAINT "FK_d4f6983cd2f663efa6a3bb70054" FOREIGN KEY ("prompt_id") REFERENCES "prompts"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "prompt_versions" ADD CONSTRAINT "FK_504d9127713c34218c85bcd6ab9" FOREIGN KEY ("prompt_id") REFERENCES "prompts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await insertSystemPromptTemplates((sql, params) => queryRunner.query(sql, params));
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "prompt_versions" DROP CONSTRAINT "FK_504d9127713c34218c85bcd6ab9"`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" DROP CONSTRAINT "FK_d4f6983cd2f663efa6a3bb70054"`);
        await queryRunner.query(`ALTER TABLE "prompts" DROP CONSTRAINT "FK_aa88f45bd24d019088a898cf66b"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_chat_sessions_prompt_id"`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" DROP COLUMN "prompt_version"`);
        await queryRunner.query(`ALTER TABLE "chat_sessions" DROP COLUMN "prompt_id"`);
        await queryRunner.query(`DROP TABLE "prompt_versions"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_prompts_search"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_prompts_user_updated"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_prompts_is_template"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_prompts_scenario"`);
        await queryRunner.query(`DROP TABLE "prompts"`);
        await queryRunner.query(`DELETE FROM "typeorm_metadata" WHERE "type" = 'GENERATED_COLUMN' AND "name" = 'search_vector' AND "database" = current_database() AND "schema" = current_schema() AND "table" = 'prompts'`);
    }

}
