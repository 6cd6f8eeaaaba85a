/**
 * SQL of a recursive CTE (PostgreSQL, "WITH Queries", §7.8.2) walking one branch of a session's message tree from
 * the message `tip` up towards the session's first message, newest first (a child's id is always larger than its
 * parent's), while ids stay above `afterId`. Start the statement with `WITH RECURSIVE`.
 *
 * PostgreSQL evaluates a WITH query only as far as its reader fetches rows, so a reader with LIMIT and no ORDER BY
 * (nor join) stops walking once it has its rows: the newest messages of a branch cost the same whatever its length
 * or the number of other branches. Each step is one lookup on the primary key.
 * @param name the CTE's name
 * @param columns columns of `messages` the CTE returns (`parent_id` is always added: the walk follows it)
 * @param tip SQL giving the id of the branch's newest message (NULL: the walk yields nothing)
 * @param afterId SQL giving the id the walk stops above (0: up to the first message)
 * @returns `name AS (…)`, to place after `WITH RECURSIVE`
 */
export function branchWalk(name: string, columns: readonly string[], tip: string, afterId: string): string {
  const list = (alias: string) => [...new Set([...columns, 'parent_id'])].map((c) => `${alias}.${c}`).join(', ');
  return `${name} AS (
    SELECT ${list('m')} FROM messages m WHERE m.id = ${tip} AND m.id > ${afterId}
    UNION ALL
    SELECT ${list('p')} FROM ${name} b JOIN messages p ON p.id = b.parent_id WHERE p.id > ${afterId}
  )`;
}
