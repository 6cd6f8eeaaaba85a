import { randomBytes } from 'node:crypto';
import { ContentPart, IMAGE_MEDIA_TYPES, ImageMediaType, ToolCallPart } from './content-parts';
import { ChatTurn, ModelProviderError, ToolCallDelta } from './model-provider';

/** A tool's result inside a conversation turn: the text of a `tool` turn, with the call it answers. */
export interface ToolResultPart {
  type: 'tool_result';
  toolCallId: string;
  /** The called function's name, from the call earlier in the conversation; undefined when no earlier turn has it. */
  name?: string;
  content: string;
}

/** A piece of a {@link ConversationTurn}: text, an image, a tool call (assistant) or a tool result (user). */
export type TurnPart = ContentPart | ToolResultPart;

/** A user or assistant turn, as protocols with a separate system instruction take them. */
export interface ConversationTurn {
  role: 'user' | 'assistant';
  parts: TurnPart[];
}

/**
 * Our turns in the shape the Messages and Gemini APIs want: the system turns' text joined into one instruction
 * (blank line between; images in system turns are not sent), the others with consecutive turns of one role merged
 * and empty text dropped. Tool turns become `tool_result` parts of a user turn, each with the name of the call it
 * answers (both protocols put tool results in the user's turn); nothing else is dropped or reordered. Where two
 * merged turns meet with text on both sides, the texts are joined with a blank line, as plain turns always were.
 * @returns the system text ('' when there is none) and the user and assistant turns, in order
 * @throws ModelProviderError `bad_request` for a tool turn without `toolCallId`
 */
export function mergeTurns(turns: readonly ChatTurn[]): { system: string; turns: ConversationTurn[] } {
  const system = turns
    .filter((t) => t.role === 'system' && t.content)
    .map((t) => t.content)
    .join('\n\n');
  const names = new Map<string, string>();
  const merged: ConversationTurn[] = [];
  for (const turn of turns) {
    if (turn.role === 'system') continue;
    let parts: TurnPart[];
    if (turn.role === 'tool') {
      const toolCallId = toolCallIdOf(turn);
      parts = [{ type: 'tool_result', toolCallId, name: names.get(toolCallId), content: turn.content }];
    } else {
      parts = partsOf(turn).filter((p) => p.type !== 'text' || p.text);
      for (const call of parts) if (call.type === 'tool_call') names.set(call.id, call.name);
    }
    if (!parts.length) continue;
    const role = turn.role === 'assistant' ? 'assistant' : 'user';
    const last = merged.at(-1);
    if (last?.role !== role) {
      merged.push({ role, parts });
      continue;
    }
    const end = last.parts.at(-1);
    const [first, ...rest] = parts;
    if (end?.type === 'text' && first.type === 'text') {
      last.parts[last.parts.length - 1] = { type: 'text', text: `${end.text}\n\n${first.text}` };
      last.parts.push(...rest);
    } else {
      last.parts.push(...parts);
    }
  }
  return { system, turns: merged };
}

/** A turn's parts: `parts` when present, else its `content` as one text part. */
export function partsOf(turn: Pick<ChatTurn, 'content' | 'parts'>): ContentPart[] {
  return turn.parts ?? [{ type: 'text', text: turn.content }];
}

/**
 * @returns the id of the call a `tool` turn answers
 * @throws ModelProviderError `bad_request` when it has none: no protocol takes a tool result without its call
 */
export function toolCallIdOf(turn: Pick<ChatTurn, 'toolCallId'>): string {
  if (!turn.toolCallId) throw new ModelProviderError('bad_request', 'A tool result must name the tool call it answers (tool_call_id).');
  return turn.toolCallId;
}

/**
 * A tool call's arguments as an object, for protocols that take them parsed (Anthropic `input`, Gemini `args`):
 * the JSON object `text` holds; `{}` when it holds no object (a model may write broken JSON, e.g. when cut short).
 */
export function argumentsObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The media type and base64 data of a `data:` URL. */
export interface InlineImage {
  mediaType: ImageMediaType;
  /** Base64, as in the URL. */
  data: string;
}

const DATA_URL = /^data:([^;,]+)((?:;[^;,]*)*);base64,(.*)$/s;

/**
 * Splits a `data:<media type>[;params];base64,<data>` URL (RFC 2397) into its media type and base64 data.
 * @returns undefined when `url` is not a `data:` URL
 * @throws ModelProviderError `bad_request` for a `data:` URL that is not base64 or not a PNG, JPEG, WebP or GIF
 */
export function inlineImageOf(url: string): InlineImage | undefined {
  if (!url.startsWith('data:')) return undefined;
  const match = DATA_URL.exec(url);
  const mediaType = match?.[1].toLowerCase();
  if (!match || !IMAGE_MEDIA_TYPES.includes(mediaType as ImageMediaType)) {
    throw new ModelProviderError('bad_request', 'An image data: URL must be base64 and of type image/png, image/jpeg, image/webp or image/gif.');
  }
  return { mediaType: mediaType as ImageMediaType, data: match[3] };
}

/**
 * Assembles the tool calls of a streamed answer from their pieces, in the order the model began them, and says
 * each piece as a {@link ToolCallDelta}. Calls are told apart by the provider's key (OpenAI's `index`, Anthropic's
 * block index); a call without an id gets a generated one (`call_<index>_<random>`).
 */
export class ToolCallStream {
  private readonly calls: ToolCallPart[] = [];
  private readonly byKey = new Map<string | number, number>();

  /** The key of the call begun last; undefined before the first. */
  lastKey?: string | number;

  /**
   * Adds a piece of the call `key`, beginning it when it is new (its `id` and `name` taken from this first piece).
   * @returns the piece as a delta
   */
  piece(key: string | number, piece: { id?: string | null; name?: string | null; arguments?: string | null }): ToolCallDelta {
    let index = this.byKey.get(key);
    const args = piece.arguments ?? '';
    if (index === undefined) {
      index = this.calls.length;
      this.byKey.set(key, index);
      this.lastKey = key;
      const call: ToolCallPart = { type: 'tool_call', id: piece.id || generatedCallId(index), name: piece.name ?? '', arguments: args };
      this.calls.push(call);
      return { type: 'tool_call_delta', index, id: call.id, name: call.name, arguments: args };
    }
    this.calls[index].arguments += args;
    return { type: 'tool_call_delta', index, arguments: args };
  }

  /**
   * Ends the stream: a call that received no arguments at all (a function without parameters) gets `{}`, so that
   * every call's arguments are JSON text.
   * @returns the deltas that complete such calls
   */
  end(): ToolCallDelta[] {
    return this.calls.flatMap((call, index) => {
      if (call.arguments) return [];
      call.arguments = '{}';
      return [{ type: 'tool_call_delta' as const, index, arguments: '{}' }];
    });
  }

  /** Every call so far, whole, in the order they began. */
  get all(): ToolCallPart[] {
    return this.calls.map((c) => ({ ...c }));
  }
}

/** An id for a tool call the provider gave none (Gemini has no call ids): `call_<index>_<12 hex chars>`. */
export function generatedCallId(index: number): string {
  return `call_${index}_${randomBytes(6).toString('hex')}`;
}
