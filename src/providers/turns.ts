import { ChatTurn } from './model-provider';

/** A user or assistant turn, as protocols with a separate system instruction take them. */
export interface ConversationTurn {
  role: 'user' | 'assistant';
  content: string;
}

/**
 * Our turns in the shape the Messages and Gemini APIs want: the system turns joined into one instruction (blank
 * line between), the others with consecutive turns of one role merged (blank line between) and empty ones dropped.
 * @returns the system text ('' when there is none) and the user and assistant turns, in order
 */
export function mergeTurns(turns: readonly ChatTurn[]): { system: string; turns: ConversationTurn[] } {
  const system = turns
    .filter((t) => t.role === 'system' && t.content)
    .map((t) => t.content)
    .join('\n\n');
  const merged: ConversationTurn[] = [];
  for (const turn of turns) {
    if (turn.role === 'system' || turn.role === 'tool' || !turn.content) continue;
    const last = merged.at(-1);
    if (last?.role === turn.role) last.content = `${last.content}\n\n${turn.content}`;
    else merged.push({ role: turn.role, content: turn.content });
  }
  return { system, turns: merged };
}
