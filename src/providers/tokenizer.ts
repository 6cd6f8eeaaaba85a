/**
 * The one token estimator: OpenAI's `o200k_base` encoding (GPT-4o, GPT-4.1, o-series) via gpt-tokenizer, exact for
 * those models, and × `context_management.token_estimate_factor` for families whose tokenizer is not shipped
 * (Llama, Mistral, DeepSeek, Claude, Gemini). Context budgets, previews and every estimated usage (a provider that
 * reported none, an answer cut short) count with it; usage counted here is always marked `estimated`.
 */
import { countTokens as countO200k, decode, encode } from 'gpt-tokenizer';
import { LRUCache } from 'lru-cache';
import type { ProviderProtocol } from '../config/file-config';
import type { ImagePart, ToolCallPart, ToolDefinition } from './content-parts';
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

/**
 * The tokens one image costs under a protocol's published rule, for estimates (images are not text: the encoding
 * does not count them). Sizes are in pixels; an image is only ever scaled down.
 *
 * - `openai` (OpenAI "Images and vision" → "Calculating costs", GPT-4o / GPT-4.1 tile rule): `detail: low` costs 85;
 *   otherwise the image is scaled to fit 2048×2048, then so that its shortest side is at most 768, and costs
 *   85 + 170 per 512×512 tile covering it (`auto` is counted as `high`).
 * - `anthropic` (Anthropic "Vision" → "Evaluate image size" and "Calculate image costs"): an image whose long edge
 *   exceeds 1568 is scaled down to it; it then costs ⌈width × height / 750⌉, at most about 1,600 (larger images are
 *   scaled down until they fit that).
 * - `gemini` (Gemini API "Understand and count tokens" → images, Gemini 2.x): 258 when both sides are at most 384,
 *   else 258 per 768×768 tile covering the image.
 * @param detail OpenAI's image detail; ignored by the other rules
 */
export function imageTokens(protocol: ProviderProtocol, width: number, height: number, detail?: ImagePart['detail']): number {
  if (protocol === 'anthropic') {
    const scale = Math.min(1, ANTHROPIC_MAX_EDGE / Math.max(width, height));
    return Math.min(ANTHROPIC_MAX_TOKENS, Math.ceil((Math.floor(width * scale) * Math.floor(height * scale)) / 750));
  }
  if (protocol === 'gemini') {
    if (width <= 384 && height <= 384) return GEMINI_TILE_TOKENS;
    return Math.ceil(width / 768) * Math.ceil(height / 768) * GEMINI_TILE_TOKENS;
  }
  if (detail === 'low') return OPENAI_BASE_TOKENS;
  const fit = Math.min(1, 2048 / Math.max(width, height));
  const [w, h] = [width * fit, height * fit];
  const shortest = Math.min(1, 768 / Math.min(w, h));
  const tiles = Math.ceil(Math.floor(w * shortest) / 512) * Math.ceil(Math.floor(h * shortest) / 512);
  return OPENAI_BASE_TOKENS + OPENAI_TILE_TOKENS * tiles;
}

const OPENAI_BASE_TOKENS = 85;
const OPENAI_TILE_TOKENS = 170;
const ANTHROPIC_MAX_EDGE = 1568;
const ANTHROPIC_MAX_TOKENS = 1600;
const GEMINI_TILE_TOKENS = 258;

/**
 * The size an image whose dimensions are unknown (a URL passed through unfetched) is counted at: 1024×1024, a
 * common upload size (OpenAI high detail 765 tokens, Anthropic 1,399, Gemini 1,032).
 */
export const UNSIZED_IMAGE = { width: 1024, height: 1024 } as const;

/** @returns the tokens `image` costs under `protocol` ({@link imageTokens}; {@link UNSIZED_IMAGE} when its size is unknown) */
export function imagePartTokens(protocol: ProviderProtocol, image: ImagePart): number {
  const sized = image.width && image.height;
  return imageTokens(protocol, sized ? image.width! : UNSIZED_IMAGE.width, sized ? image.height! : UNSIZED_IMAGE.height, image.detail);
}

/** A turn as counted: its text, and its parts when it has images or tool calls. */
export type CountedTurn = Pick<ChatTurn, 'content' | 'parts'>;

/** Counts and cuts text in one model family's tokens, and counts turns with their images. */
export interface TokenCounter {
  /** `o200k_base`, or `o200k_base×1.25 (estimate)` for families whose tokenizer we don't ship. */
  readonly name: string;
  /** @returns the tokens `text` takes (0 for an empty string) */
  count(text: string): number;
  /** @returns the longest prefix of `text` that takes at most `maxTokens` tokens (cut at a token boundary) */
  truncate(text: string, maxTokens: number): string;
  /** @returns the tokens an image costs under the model's protocol ({@link imagePartTokens}) */
  countImage(image: ImagePart): number;
  /**
   * @returns the tokens these turns take in a context: each one's text (`content`), the images and tool calls
   *          (name and arguments) among its parts, plus {@link PER_MESSAGE_OVERHEAD}
   */
  countTurns(turns: readonly CountedTurn[]): number;
  /**
   * @returns the input tokens a request with these turns costs: {@link countTurns} plus the reply priming, plus the
   *          tool definitions (counted as their JSON text) when given
   */
  countRequest(turns: readonly CountedTurn[], tools?: readonly ToolDefinition[]): number;
}

/**
 * A counter from its text operations, with `countTurns` and `countRequest` built on `count`; images are counted
 * under `protocol`'s rule (OpenAI's when unset).
 */
export function makeTokenCounter(
  parts: Pick<TokenCounter, 'name' | 'count' | 'truncate'>,
  protocol: ProviderProtocol = 'openai',
): TokenCounter {
  const countImage = (image: ImagePart) => imagePartTokens(protocol, image);
  const countTurn = (turn: CountedTurn) => {
    let n = parts.count(turn.content) + PER_MESSAGE_OVERHEAD;
    for (const part of turn.parts ?? []) {
      if (part.type === 'image') n += countImage(part);
      else if (part.type === 'tool_call') n += parts.count(part.name) + parts.count(part.arguments);
    }
    return n;
  };
  const countTurns = (turns: readonly CountedTurn[]) => turns.reduce((n, t) => n + countTurn(t), 0);
  return {
    ...parts,
    countImage,
    countTurns,
    countRequest: (turns, tools) => countTurns(turns) + REPLY_PRIMING + (tools?.length ? parts.count(JSON.stringify(tools)) : 0),
  };
}

/** Exact o200k counting, by the protocol whose image rule applies. */
const O200K = new Map<ProviderProtocol, TokenCounter>(
  (['openai', 'anthropic', 'gemini'] as const).map((protocol) => [
    protocol,
    makeTokenCounter({ name: 'o200k_base', count: countTokens, truncate: (text, max) => cut(text, max) }, protocol),
  ]),
);

/** Providers whose models use OpenAI's `o200k_base` encoding (the offline model counts with it too). */
const O200K_PROVIDERS = new Set(['openai', 'offline']);

/**
 * The token counter for a model's family: exact `o200k_base` for OpenAI models (also through OpenRouter's
 * `openai/…`); for every other family the o200k count × `factor`, rounded up, because their tokenizers are not
 * shipped and use up to ~25% more tokens for the same text. Images count by the rule of `model.protocol` (the wire
 * protocol of the model's provider; OpenAI's when unset), see {@link imageTokens}.
 * @param factor `context_management.token_estimate_factor`
 */
export function tokenCounterFor(
  model: Pick<RegisteredModel, 'provider' | 'upstreamModel'> & { protocol?: ProviderProtocol },
  factor: number,
): TokenCounter {
  const protocol = model.protocol ?? 'openai';
  const exact = O200K_PROVIDERS.has(model.provider) || (model.provider === 'openrouter' && model.upstreamModel.startsWith('openai/'));
  if (exact || factor === 1) return O200K.get(protocol)!;
  return makeTokenCounter(
    {
      name: `o200k_base×${factor} (estimate)`,
      count: (text) => Math.ceil(countTokens(text) * factor),
      truncate: (text, max) => cut(text, Math.floor(max / factor)),
    },
    protocol,
  );
}

/**
 * @returns the input tokens a request with these turns (and tools) costs in o200k, images by OpenAI's rule
 *          ({@link TokenCounter.countRequest})
 */
export function countChatTokens(messages: readonly CountedTurn[], tools?: readonly ToolDefinition[]): number {
  return O200K.get('openai')!.countRequest(messages, tools);
}

/**
 * The usage of a call whose provider reported none: the request's turns and tools, and the answer's text and tool
 * calls, counted in o200k (the adapter's model family is not known here), images by `protocol`'s rule.
 */
export function estimatedUsage(
  request: Pick<ModelRequest, 'messages' | 'tools'>,
  text: string,
  protocol: ProviderProtocol = 'openai',
  toolCalls: readonly ToolCallPart[] = [],
): ModelUsage {
  const output = toolCalls.reduce((n, call) => n + countTokens(call.name) + countTokens(call.arguments), countTokens(text));
  return { inputTokens: O200K.get(protocol)!.countRequest(request.messages, request.tools), outputTokens: output, estimated: true };
}

function cut(text: string, maxTokens: number): string {
  if (maxTokens <= 0) return '';
  const tokens = encode(text, PLAIN_TEXT);
  // A cut inside a multi-byte character decodes to U+FFFD: drop that partial character.
  return tokens.length <= maxTokens ? text : decode(tokens.slice(0, maxTokens)).replace(/\uFFFD+$/, '');
}
