import { HttpStatus } from '@nestjs/common';
import { ProblemException } from '../common/problem';
import type { ChatTurn } from '../providers/model-provider';

/** Tokens a chat protocol adds around each message (OpenAI's cookbook counts 3–4). */
export const PER_MESSAGE_OVERHEAD = 4;

/**
 * Chooses what a model is sent: the system prompt, then the newest history messages that fit the budget, whole
 * (a message is never cut). The newest message, the user's, is always kept.
 * @param budget tokens the prompt may use: context window − reserved output − safety margin
 * @param count counts the tokens of a text
 * @returns the turns to send, oldest first
 * @throws ProblemException 422 when the system prompt and the newest message alone exceed the budget
 */
export function fitToContextWindow(
  systemPrompt: string | null,
  history: ChatTurn[],
  budget: number,
  count: (text: string) => number,
): ChatTurn[] {
  let used = systemPrompt ? count(systemPrompt) + PER_MESSAGE_OVERHEAD : 0;
  const kept: ChatTurn[] = [];
  for (let i = history.length - 1; i >= 0; i--) {
    const cost = count(history[i].content) + PER_MESSAGE_OVERHEAD;
    if (used + cost > budget) {
      if (kept.length === 0) {
        throw new ProblemException(
          HttpStatus.UNPROCESSABLE_ENTITY,
          `The message is too long for this model: it needs about ${used + cost} tokens of a ${budget}-token budget.`,
          { errors: [{ field: 'messages', message: 'too long for the model context window' }] },
        );
      }
      break;
    }
    used += cost;
    kept.push(history[i]);
  }
  kept.reverse();
  return systemPrompt ? [{ role: 'system', content: systemPrompt }, ...kept] : kept;
}
