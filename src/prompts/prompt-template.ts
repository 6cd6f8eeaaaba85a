/**
 * Prompt template rendering (the API guide's "Preview Prompt"): `{name}` placeholders, where a name is made of
 * identifier characters (`[A-Za-z_][A-Za-z0-9_]*`). `{{` and `}}` stand for literal braces. A brace that starts
 * no placeholder (`{ "a": 1 }`, `{1}`) is kept as written, so JSON or code in a prompt needs no escaping unless it
 * looks exactly like a placeholder.
 *
 * Rendering is single-pass and evaluates nothing: a value is inserted verbatim, so a value containing `{x}` is
 * never expanded again.
 */

/** A piece of parsed content: literal text or a placeholder. */
type Part = { text: string } | { variable: string };

const PLACEHOLDER = /^\{([A-Za-z_][A-Za-z0-9_]*)\}/;
/** Names longer than this are not placeholders (keeps the scan linear on hostile input). */
const MAX_NAME_SCAN = 128;

function parse(content: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < content.length) {
    const pair = content.slice(i, i + 2);
    if (pair === '{{' || pair === '}}') {
      literal += pair[0];
      i += 2;
      continue;
    }
    const match = content[i] === '{' ? PLACEHOLDER.exec(content.slice(i, i + 2 + MAX_NAME_SCAN)) : null;
    if (match) {
      if (literal) parts.push({ text: literal });
      literal = '';
      parts.push({ variable: match[1] });
      i += match[0].length;
      continue;
    }
    literal += content[i];
    i += 1;
  }
  if (literal) parts.push({ text: literal });
  return parts;
}

/** @returns the distinct variable names of `content`, in order of first appearance. */
export function templateVariables(content: string): string[] {
  const names = new Set<string>();
  for (const part of parse(content)) if ('variable' in part) names.add(part.variable);
  return [...names];
}

/** Thrown by {@link renderTemplate} when placeholders have no value; `missing` lists every such name. */
export class MissingVariablesError extends Error {
  constructor(readonly missing: string[]) {
    super(`Missing value for ${missing.map((n) => `"${n}"`).join(', ')}.`);
    this.name = 'MissingVariablesError';
  }
}

/**
 * Fills the placeholders of `content` with `variables` in one pass. Unused variables are ignored.
 * @returns the rendered text
 * @throws MissingVariablesError naming every placeholder without a value
 */
export function renderTemplate(content: string, variables: Readonly<Record<string, string>>): string {
  const parts = parse(content);
  const missing = [
    ...new Set(
      parts.flatMap((p) => ('variable' in p && !Object.prototype.hasOwnProperty.call(variables, p.variable) ? [p.variable] : [])),
    ),
  ];
  if (missing.length) throw new MissingVariablesError(missing);
  return parts.map((p) => ('variable' in p ? variables[p.variable] : p.text)).join('');
}
