import { decode, encode } from 'gpt-tokenizer';
import type { ChatTurn } from '../providers/model-provider';
import type { RegisteredModel } from '../providers/model-registry';
import { countTokens, PLAIN_TEXT } from '../providers/tokenizer';

/** Tokens a chat protocol adds around each message: 3 of framing plus the role (OpenAI cookbook, "How to count tokens"). */
export const PER_MESSAGE_OVERHEAD = 4;

/** Counts and cuts text in one model family's tokens. */
export interface TokenCounter {
  /** `o200k_base`, or `o200k_base×1.25 (estimate)` for families whose tokenizer we don't ship. */
  readonly name: string;
  /** @returns the tokens `text` takes (0 for an empty string) */
  count(text: string): number;
  /** @returns the longest prefix of `text` that takes at most `maxTokens` tokens (cut at a token boundary) */
  truncate(text: string, maxTokens: number): string;
  /** @returns the tokens these turns take as sent: each one's content plus {@link PER_MESSAGE_OVERHEAD} */
  countTurns(turns: readonly Pick<ChatTurn, 'content'>[]): number;
}

/** A counter from its text operations, with `countTurns` built on `count`. */
export function makeTokenCounter(parts: Omit<TokenCounter, 'countTurns'>): TokenCounter {
  return {
    ...parts,
    countTurns: (turns) => turns.reduce((n, t) => n + parts.count(t.content) + PER_MESSAGE_OVERHEAD, 0),
  };
}

/** Providers whose models use OpenAI's `o200k_base` encoding (the offline model counts with it too). */
const O200K_PROVIDERS = new Set(['openai', 'offline']);

/**
 * The token counter for a model's family: exact `o200k_base` (gpt-tokenizer) for OpenAI models (also through
 * OpenRouter's `openai/…`); for every other family (Llama, Mistral, DeepSeek, Claude, Gemini) the o200k count × `factor`,
 * rounded up, because their tokenizers are not shipped and use up to ~25% more tokens for the same text.
 * @param factor `context_management.token_estimate_factor`
 */
export function tokenCounterFor(model: Pick<RegisteredModel, 'provider' | 'upstreamModel'>, factor: number): TokenCounter {
  const exact = O200K_PROVIDERS.has(model.provider) || (model.provider === 'openrouter' && model.upstreamModel.startsWith('openai/'));
  if (exact || factor === 1) {
    return makeTokenCounter({ name: 'o200k_base', count: countTokens, truncate: (text, max) => cut(text, max) });
  }
  return makeTokenCounter({
    name: `o200k_base×${factor} (estimate)`,
    count: (text) => Math.ceil(countTokens(text) * factor),
    truncate: (text, max) => cut(text, Math.floor(max / factor)),
  });
}

function cut(text: string, maxTokens: number): string {
  if (maxTokens <= 0) return '';
  const tokens = encode(text, PLAIN_TEXT);
  // A cut inside a multi-byte character decodes to U+FFFD: drop that partial character.
  return tokens.length <= maxTokens ? text : decode(tokens.slice(0, maxTokens)).replace(/\uFFFD+$/, '');
}
