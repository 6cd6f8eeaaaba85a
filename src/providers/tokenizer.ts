/**
 * The one token estimator: OpenAI's `o200k_base` encoding (GPT-4o, GPT-4.1, o-series) via gpt-tokenizer, exact for
 * those models, and × `context_management.token_estimate_factor` for families whose tokenizer is not shipped
 * (Llama, Mistral, DeepSeek, Claude, Gemini). Context budgets, previews and every estimated usage (a provider that
 * reported none, an answer cut short) count with it; usage counted here is always marked `estimated`.
 */
import { countTokens as countO200k, decode, encode } from 'gpt-tokenizer';
import { LRUCache } from 'lru-cache';
import type { ChatTurn, ModelRequest, ModelUsage } from './model-provider';
import type { RegisteredModel } from './model-registry';

/**
 * gpt-tokenizer's options for user text: special-token markers such as `<|endoftext|>` are counted as plain text,
 * never rejected.
 */
export const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/**
 * Tokens a chat protocol adds around each message: 3 of framing plus the role, which is one token in o200k for
 * every role (OpenAI cookbook, "How to count tokens").
 */
export const PER_MESSAGE_OVERHEAD = 4;

/** Tokens that prime the reply, once per request (same source). */
const REPLY_PRIMING = 3;

/**
 * Counts of texts seen recently, by the text itself. Every send counts the session's history again to fit it to
 * the model's window; without this a long session would be tokenized in full on every turn. Bounded by the
 * characters it keeps (about 2 bytes each), not by entries; texts shorter than {@link CACHED_FROM} are counted again
 * (cheaper than the lookup).
 */
const counted = new LRUCache<string, number>({ maxSize: 8_000_000, sizeCalculation: (_, text) => text.length });
const CACHED_FROM = 64;

/** @returns the number of o200k tokens in `text` (0 for an empty string). */
export function countTokens(text: string): number {
  if (!text) return 0;
  if (text.length < CACHED_FROM) return countO200k(text, PLAIN_TEXT);
  let n = counted.get(text);
  if (n === undefined) {
    n = countO200k(text, PLAIN_TEXT);
    counted.set(text, n);
  }
  return n;
}

/** Counts and cuts text in one model family's tokens. */
export interface TokenCounter {
  /** `o200k_base`, or `o200k_base×1.25 (estimate)` for families whose tokenizer we don't ship. */
  readonly name: string;
  /** @returns the tokens `text` takes (0 for an empty string) */
  count(text: string): number;
  /** @returns the longest prefix of `text` that takes at most `maxTokens` tokens (cut at a token boundary) */
  truncate(text: string, maxTokens: number): string;
  /** @returns the tokens these turns take in a context: each one's content plus {@link PER_MESSAGE_OVERHEAD} */
  countTurns(turns: readonly Pick<ChatTurn, 'content'>[]): number;
  /** @returns the input tokens a request with these turns costs: {@link countTurns} plus the reply priming */
  countRequest(turns: readonly Pick<ChatTurn, 'content'>[]): number;
}

/** A counter from its text operations, with `countTurns` and `countRequest` built on `count`. */
export function makeTokenCounter(parts: Pick<TokenCounter, 'name' | 'count' | 'truncate'>): TokenCounter {
  const countTurns = (turns: readonly Pick<ChatTurn, 'content'>[]) =>
    turns.reduce((n, t) => n + parts.count(t.content) + PER_MESSAGE_OVERHEAD, 0);
  return { ...parts, countTurns, countRequest: (turns) => countTurns(turns) + REPLY_PRIMING };
}

/** Exact o200k counting. */
const O200K = makeTokenCounter({ name: 'o200k_base', count: countTokens, truncate: (text, max) => cut(text, max) });

/** Providers whose models use OpenAI's `o200k_base` encoding (the offline model counts with it too). */
const O200K_PROVIDERS = new Set(['openai', 'offline']);

/**
 * The token counter for a model's family: exact `o200k_base` for OpenAI models (also through OpenRouter's
 * `openai/…`); for every other family the o200k count × `factor`, rounded up, because their tokenizers are not
 * shipped and use up to ~25% more tokens for the same text.
 * @param factor `context_management.token_estimate_factor`
 */
export function tokenCounterFor(model: Pick<RegisteredModel, 'provider' | 'upstreamModel'>, factor: number): TokenCounter {
  const exact = O200K_PROVIDERS.has(model.provider) || (model.provider === 'openrouter' && model.upstreamModel.startsWith('openai/'));
  if (exact || factor === 1) return O200K;
  return makeTokenCounter({
    name: `o200k_base×${factor} (estimate)`,
    count: (text) => Math.ceil(countTokens(text) * factor),
    truncate: (text, max) => cut(text, Math.floor(max / factor)),
  });
}

/** @returns the input tokens a request with these turns costs in o200k ({@link TokenCounter.countRequest}). */
export function countChatTokens(messages: readonly ChatTurn[]): number {
  return O200K.countRequest(messages);
}

/**
 * The usage of a call whose provider reported none: the request's turns and the answer's text, counted in o200k
 * (the adapter's model family is not known here).
 */
export function estimatedUsage(request: Pick<ModelRequest, 'messages'>, text: string): ModelUsage {
  return { inputTokens: O200K.countRequest(request.messages), outputTokens: countTokens(text), estimated: true };
}

function cut(text: string, maxTokens: number): string {
  if (maxTokens <= 0) return '';
  const tokens = encode(text, PLAIN_TEXT);
  // A cut inside a multi-byte character decodes to U+FFFD: drop that partial character.
  return tokens.length <= maxTokens ? text : decode(tokens.slice(0, maxTokens)).replace(/\uFFFD+$/, '');
}
