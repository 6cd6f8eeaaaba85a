import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig, appConfig } from '../../config/app-config';
import { abortError, isAbortError } from '../abort';
import { ImagePart, imagesOf, ToolCallPart, toolCallsOf, ToolDefinition } from '../content-parts';
import {
  ChatTurn,
  FinishReason,
  ModelCompletion,
  ModelProvider,
  ModelRequest,
  ModelStreamEvent,
  ModelUsage,
} from '../model-provider';
import { OFFLINE_PROVIDER } from '../model-registry';
import { countTokens, estimatedUsage } from '../tokenizer';

/** How much of the last user message (or of a tool's result) the offline model echoes, in characters (code points). */
export const OFFLINE_ECHO_LIMIT = 200;

/** Characters (code points) of a tool call's JSON arguments per streamed piece. */
export const OFFLINE_ARGUMENTS_PIECE = 16;

const PREAMBLE =
  'I am the offline model: no model provider is configured on this server, so I answer without a language model.';

/** A planned answer: text pieces, or tool calls (each streamed as pieces of its arguments); why it stops; its cost. */
interface OfflineAnswer {
  pieces: string[];
  toolCalls: ToolCallPart[];
  finishReason: FinishReason;
  usage: ModelUsage;
}

/**
 * The built-in model that answers when no provider is configured (API.md "Configuration"): no network, no key,
 * deterministic. Streams pieces `offline.piece_delay_ms` apart; usage is counted with the tokenizer and marked
 * `estimated`. What it answers:
 *
 * - After tool results (the last turns are `tool` turns): for each, `The tool "NAME" returned: "RESULT"` (the
 *   result's start, at most {@link OFFLINE_ECHO_LIMIT} characters), in text.
 * - With `tools` (and `toolChoice` not `none`): tool calls instead of text, see {@link OfflineModelProvider.toolCallsFor}.
 * - Otherwise: what it is, a description of each image of the last user message by its type and size, then an
 *   echo of that message's text (at most {@link OFFLINE_ECHO_LIMIT} characters).
 */
@Injectable()
export class OfflineModelProvider extends ModelProvider {
  readonly name = OFFLINE_PROVIDER;

  constructor(@Inject(appConfig.KEY) private readonly config: AppConfig) {
    super();
  }

  /** @returns the whole text answer the offline model gives to these messages, before any `maxTokens` cut. */
  static replyTo(request: ModelRequest): string {
    const results = trailingToolResults(request.messages);
    if (results.length) return results.map((r) => `The tool "${toolNameOf(request.messages, r)}" returned: "${echo(r.content)}"`).join('\n');
    const lastUser = request.messages.findLast((m) => m.role === 'user');
    const text = lastUser?.content.trim() ?? '';
    const images = imagesOf(lastUser?.parts);
    let reply = PREAMBLE;
    if (images.length === 1) reply += ` You sent ${describeImage(images[0])}.`;
    else if (images.length > 1) reply += ` You sent ${images.length} images: ${images.map(describeImage).join('; ')}.`;
    if (text) reply += ` You said: "${echo(text)}"`;
    return reply;
  }

  /**
   * The tool calls the offline model answers with, or none (it answers in text). None after tool results, nor
   * without `tools`, nor with `toolChoice: none`. Otherwise it calls:
   * - with `toolChoice: {name}`: that tool;
   * - else every tool the last user message's text names (as a whole word, case-insensitive), in the order they
   *   are first named;
   * - with `toolChoice: required` and no tool named: the first tool.
   *
   * Call ids are `call_offline_<n>`, numbered on from the tool calls already in the conversation. The arguments
   * are a JSON object made from the tool's `parameters` schema ({@link argumentsFor}).
   */
  static toolCallsFor(request: ModelRequest): ToolCallPart[] {
    const tools = request.tools ?? [];
    const choice = request.toolChoice ?? 'auto';
    if (!tools.length || choice === 'none' || trailingToolResults(request.messages).length) return [];
    const text = request.messages.findLast((m) => m.role === 'user')?.content ?? '';
    let called: ToolDefinition[];
    if (typeof choice === 'object') {
      called = [tools.find((t) => t.name === choice.name) ?? { name: choice.name, parameters: {} }];
    } else {
      called = tools
        .map((tool) => ({ tool, at: mentionOf(text, tool.name) }))
        .filter(({ at }) => at !== -1)
        .sort((a, b) => a.at - b.at)
        .map(({ tool }) => tool);
      if (!called.length && choice === 'required') called = [tools[0]];
    }
    const earlier = request.messages.reduce((n, m) => n + toolCallsOf(m.parts).length, 0);
    return called.map((tool, i) => ({
      type: 'tool_call',
      id: `call_offline_${earlier + i + 1}`,
      name: tool.name,
      arguments: JSON.stringify(argumentsFor(tool, text)),
    }));
  }

  /**
   * Yields the answer piece by piece, then `finish`. A tool call comes as a first delta with its id and name, then
   * its JSON arguments in pieces of {@link OFFLINE_ARGUMENTS_PIECE} characters.
   * @throws an abort error (see `isAbortError`) as soon as `signal` aborts
   */
  async *stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<ModelStreamEvent> {
    const answer = this.answer(request);
    const delayMs = this.config.offline.piece_delay_ms;
    const events: ModelStreamEvent[] = answer.pieces.map((text) => ({ type: 'delta', text }));
    for (const [index, call] of answer.toolCalls.entries()) {
      events.push({ type: 'tool_call_delta', index, id: call.id, name: call.name, arguments: '' });
      for (const piece of chunks(call.arguments, OFFLINE_ARGUMENTS_PIECE)) {
        events.push({ type: 'tool_call_delta', index, arguments: piece });
      }
    }
    for (const [i, event] of events.entries()) {
      if (signal.aborted) throw abortError(signal);
      if (i > 0 && delayMs > 0) await pause(delayMs, signal);
      yield event;
    }
    const { finishReason, usage, toolCalls } = answer;
    yield toolCalls.length ? { type: 'finish', finishReason, usage, toolCalls } : { type: 'finish', finishReason, usage };
  }

  /**
   * @returns the same answer `stream` yields, at once
   * @throws an abort error when `signal` has already aborted
   */
  async complete(request: ModelRequest, signal: AbortSignal): Promise<ModelCompletion> {
    if (signal.aborted) throw abortError(signal);
    const { pieces, finishReason, usage, toolCalls } = this.answer(request);
    const text = pieces.join('');
    return toolCalls.length ? { text, finishReason, usage, toolCalls } : { text, finishReason, usage };
  }

  /**
   * Tool calls whole (neither `maxTokens` nor stop sequences cut them: broken JSON would help no one), or the text
   * reply split into words (each keeping its leading whitespace), stopping before `maxTokens` is passed. A stop
   * sequence cuts the reply where it would begin, as providers do (it is not part of the text).
   */
  private answer(request: ModelRequest): OfflineAnswer {
    const toolCalls = OfflineModelProvider.toolCallsFor(request);
    if (toolCalls.length) {
      return { pieces: [], toolCalls, finishReason: 'tool_calls', usage: estimatedUsage(request, '', 'openai', toolCalls) };
    }
    let reply = OfflineModelProvider.replyTo(request);
    for (const stop of request.stop ?? []) {
      const at = reply.indexOf(stop);
      if (at !== -1) reply = reply.slice(0, at);
    }
    const words = reply.match(/\s*\S+|\s+/g) ?? [];
    const pieces: string[] = [];
    let text = '';
    let finishReason: FinishReason = 'stop';
    for (const word of words) {
      if (request.maxTokens !== undefined && countTokens(text + word) > request.maxTokens) {
        finishReason = 'length';
        break;
      }
      pieces.push(word);
      text += word;
    }
    return { pieces, toolCalls: [], finishReason, usage: estimatedUsage(request, text) };
  }
}

/**
 * The arguments the offline model passes to `tool`, from its `parameters` schema, property by property in schema
 * order:
 * - a property with a `default` gets it; else one with an `enum` gets its first value;
 * - string properties take the quoted texts of the user's message (`"…"`, `'…'`, `“…”`), one each, in order;
 * - a required property left without a value gets the empty value of its type (`""`, `0`, `false`, `[]`, `{}`;
 *   `null` for an untyped one); an optional one is left out.
 * @param text the last user message's text
 * @returns a JSON object (`{}` for a schema without properties)
 */
export function argumentsFor(tool: ToolDefinition, text: string): Record<string, unknown> {
  const schema = tool.parameters;
  const properties = isObject(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const quotes = quotedTexts(text);
  const args: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    const p = isObject(property) ? property : {};
    const type: unknown = Array.isArray(p.type) ? p.type[0] : p.type;
    if ('default' in p) args[name] = p.default;
    else if (Array.isArray(p.enum) && p.enum.length) args[name] = p.enum[0];
    else if (type === 'string' && quotes.length) args[name] = quotes.shift();
    else if (required.has(name)) args[name] = emptyValue(type);
  }
  return args;
}

/** The `tool` turns that end the conversation (after its last assistant turn), in order. */
function trailingToolResults(turns: readonly ChatTurn[]): ChatTurn[] {
  const last = turns.findLastIndex((t) => t.role !== 'tool' && t.role !== 'system');
  return turns.slice(last + 1).filter((t) => t.role === 'tool');
}

/** The name of the tool whose call the `tool` turn `result` answers, from the assistant turns before it. */
function toolNameOf(turns: readonly ChatTurn[], result: ChatTurn): string {
  for (const turn of turns) {
    const call = toolCallsOf(turn.parts).find((c) => c.id === result.toolCallId);
    if (call) return call.name;
  }
  return result.toolCallId ?? 'unknown';
}

/** `an image/png image, 640×480 pixels`; `an image of unknown type, size unknown` when the part does not say. */
function describeImage(image: ImagePart): string {
  const type = image.media_type ? `an ${image.media_type} image` : 'an image of unknown type';
  return image.width && image.height ? `${type}, ${image.width}×${image.height} pixels` : `${type}, size unknown`;
}

/** At most {@link OFFLINE_ECHO_LIMIT} characters of `text` (trimmed), with `…` when cut; never splits a character. */
function echo(text: string): string {
  const chars = Array.from(text.trim());
  return chars.length > OFFLINE_ECHO_LIMIT ? `${chars.slice(0, OFFLINE_ECHO_LIMIT).join('')}…` : chars.join('');
}

/** Where `name` first occurs in `text` as a whole word (not inside a longer name), case-insensitive; -1 if not. */
function mentionOf(text: string, name: string): number {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.search(new RegExp(`(?<![\\p{L}\\p{N}_-])${escaped}(?![\\p{L}\\p{N}_-])`, 'iu'));
}

/** The texts between matching quotes in `text`, in order. */
function quotedTexts(text: string): string[] {
  return Array.from(text.matchAll(/"([^"]*)"|“([^”]*)”|(?<![\p{L}\p{N}])'([^']*)'(?![\p{L}\p{N}])/gu), (m) => m[1] ?? m[2] ?? m[3]);
}

function emptyValue(type: unknown): unknown {
  const empty: Record<string, unknown> = { string: '', number: 0, integer: 0, boolean: false, array: [], object: {} };
  return typeof type === 'string' && type in empty ? empty[type] : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `text` in pieces of `size` characters (code points), in order; none for an empty text. */
function chunks(text: string, size: number): string[] {
  const chars = Array.from(text);
  const pieces: string[] = [];
  for (let i = 0; i < chars.length; i += size) pieces.push(chars.slice(i, i + size).join(''));
  return pieces;
}

/** Waits `ms` milliseconds; throws an abort error the moment `signal` aborts. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (err) {
    throw isAbortError(err) ? abortError(signal) : err;
  }
}
