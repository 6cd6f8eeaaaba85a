/**
 * Token estimates with OpenAI's `o200k_base` encoding (GPT-4o, GPT-4.1, o-series), via gpt-tokenizer.
 * Text counts are exact for those models, within a few percent for older OpenAI models (`cl100k_base`), and only an estimate
 * for other families (Llama, Mistral, DeepSeek…), which have their own tokenizers: usage counted here is
 * always marked `estimated`.
 */
import { countTokens as countO200k } from 'gpt-tokenizer';
import { ChatTurn, ModelRequest, ModelUsage } from './model-provider';

/**
 * gpt-tokenizer's options for user text: special-token markers such as `<|endoftext|>` are counted as plain text,
 * never rejected.
 */
export const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** Chat-format overhead per message and for priming the reply (OpenAI cookbook, "How to count tokens"). */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_REPLY = 3;

/** @returns the number of tokens in `text` (0 for an empty string). */
export function countTokens(text: string): number {
  return text ? countO200k(text, PLAIN_TEXT) : 0;
}

/**
 * @returns the input tokens a Chat Completions request with these turns costs: each turn's role and content
 * plus the chat format's per-message and reply-priming overhead.
 */
export function countChatTokens(messages: readonly ChatTurn[]): number {
  return messages.reduce(
    (sum, m) => sum + TOKENS_PER_MESSAGE + countTokens(m.role) + countTokens(m.content),
    TOKENS_PER_REPLY,
  );
}

/** The usage of a call whose provider reported none: the request's turns and the answer's text, counted here. */
export function estimatedUsage(request: Pick<ModelRequest, 'messages'>, text: string): ModelUsage {
  return { inputTokens: countChatTokens(request.messages), outputTokens: countTokens(text), estimated: true };
}
