import { Client } from 'pg';
import { insertSystemPromptTemplates } from '../../migrations/1795600200000-PromptTemplates';

/**
 * The PostgreSQL server the e2e tests use: `TEST_DATABASE_URL` (an admin connection, default the machine's local
 * server). Each jest worker gets its own database cloned from a migrated template, so files run in parallel and
 * every file starts from empty tables.
 */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Prefix of every database the tests create; separate runs on one server use separate prefixes. */
export const DB_PREFIX = process.env.TEST_DB_PREFIX ?? 'chat_backend_test';
export const TEMPLATE_DB = `${DB_PREFIX}_template`;

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function withAdmin<T>(fn: (client: Client) => Promise<T>, url = ADMIN_URL): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates this worker's database from the template (once per worker) and empties every table, then puts back the
 * rows the migrations ship (the system prompt templates, with their fixed ids as on a fresh install).
 */
export async function prepareWorkerDatabase(): Promise<string> {
  const name = `${DB_PREFIX}_w${process.env.JEST_WORKER_ID ?? '1'}`;
  await withAdmin(async (admin) => {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      for (let attempt = 0; ; attempt++) {
        try {
          await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${TEMPLATE_DB}"`);
          break;
        } catch (err) {
          // Another worker cloning the template at the same instant: try again shortly.
          if (attempt > 20) throw err;
          await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
        }
      }
    }
  });
  const url = databaseUrl(name);
  await withAdmin(async (db) => {
    const { rows } = await db.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('migrations', 'typeorm_metadata')",
    );
    if (rows.length) {
      await db.query(`TRUNCATE ${rows.map((r) => `"${r.tablename}"`).join(', ')} RESTART IDENTITY CASCADE`);
    }
    await insertSystemPromptTemplates((sql, params) => db.query(sql, params));
  }, url);
  return url;
}

/**
 * Makes the messages of a session inserted by hand one chain, as sends would have (each follows the one before it
 * by id), and its newest message the active leaf.
 */
export async function chainSessionMessages(db: Pick<Client, 'query'>, sessionId: number): Promise<void> {
  await db.query(
    `UPDATE messages m SET parent_id = c.previous
       FROM (SELECT id, lag(id) OVER (ORDER BY id) AS previous FROM messages WHERE session_id = $1) c
      WHERE c.id = m.id AND c.previous IS NOT NULL`,
    [sessionId],
  );
  await db.query('UPDATE chat_sessions SET active_leaf_id = (SELECT max(id) FROM messages WHERE session_id = $1) WHERE id = $1', [sessionId]);
}
