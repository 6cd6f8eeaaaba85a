import { Bench, Row, Section, envInt, ms, times } from '../harness';
import { createSession, newestPageAfter, newestPageTimes, seedChain } from './newest-page';

/**
 * Creates a session of `groups × 4` messages in SQL shaped as edits and regenerations leave it: each group is a
 * question and three answers to it (an answer regenerated twice), the next question following the group's first
 * answer. The active branch runs through the first answers (half the messages); the other answers are dead ends.
 */
async function seedBranchyTree(bench: Bench, groups: number): Promise<{ id: number; afterId: number }> {
  const id = await createSession(bench);
  await bench.sql(
    `INSERT INTO messages (session_id, role, content, parts)
     SELECT $1, CASE WHEN n % 4 = 1 THEN 'user' ELSE 'assistant' END, m.text, jsonb_build_array(jsonb_build_object('type', 'text', 'text', m.text))
       FROM generate_series(1, $2::int) AS n, LATERAL (SELECT 'Message ' || n || ' of a branching conversation about lighthouses.' AS text) m
      ORDER BY n`,
    [id, groups * 4],
  );
  // Message n (1-based, by id): a question (n % 4 = 1) follows the first answer of the group before; an answer
  // follows its group's question.
  await bench.sql(
    `WITH r AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM messages WHERE session_id = $1),
          p AS (SELECT r.id, CASE WHEN r.n % 4 = 1 THEN r.n - 3 ELSE r.n - (r.n - 1) % 4 END AS parent_n FROM r)
     UPDATE messages m SET parent_id = parent.id FROM p JOIN r parent ON parent.n = p.parent_n WHERE m.id = p.id`,
    [id],
  );
  await bench.sql(
    `UPDATE chat_sessions SET message_count = $2,
            active_leaf_id = (SELECT id FROM messages WHERE session_id = $1 ORDER BY id OFFSET $2 - 3 LIMIT 1)
      WHERE id = $1`,
    [id, groups * 4],
  );
  return { id, afterId: await newestPageAfter(bench, id, 50) };
}

/**
 * The newest page (50 messages) of the active branch of a session of 100,000 messages on a branchy tree (every
 * answer regenerated twice) against a 100-message chain: the page is read by walking up from the active leaf, so
 * it should cost the same.
 */
export const tree: Section = {
  name: 'tree',
  title: 'Newest page of the active branch, 100,000-message branchy tree vs a 100-message chain',
  async run(bench) {
    const groups = Math.ceil(envInt('BENCH_TREE_MESSAGES', 100_000, 1_000_000) / 4);
    const branchy = await seedBranchyTree(bench, groups);
    const chain = await seedChain(bench, 100);
    await bench.sql('ANALYZE messages');
    const { a: pTree, b: pChain } = await newestPageTimes(bench, branchy, chain, envInt('BENCH_PAGE_REQUESTS', 200));
    const rows: Row[] = [
      { measure: 'p50, chain of 100 messages', app: ms(pChain) },
      { measure: `p50, tree of ${(groups * 4).toLocaleString('en')} messages (${(groups * 2).toLocaleString('en')} on the active branch)`, app: ms(pTree) },
      { measure: 'p50 ratio tree / chain', app: times(pTree, pChain, 0.001), target: '≤ 1.2×', met: pTree <= 1.2 * pChain },
    ];
    return rows;
  },
};
