import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig, appConfig } from '../../config/app-config';
import { abortError, isAbortError } from '../abort';
import { FinishReason, ModelCompletion, ModelProvider, ModelRequest, ModelStreamEvent, ModelUsage } from '../model-provider';
import { OFFLINE_PROVIDER } from '../model-registry';
import { countTokens, estimatedUsage } from '../tokenizer';

/** How much of the last user message the offline model echoes, in characters (code points). */
export const OFFLINE_ECHO_LIMIT = 200;

const PREAMBLE =
  'I am the offline model: no model provider is configured on this server, so I answer without a language model.';

/** A planned answer: the pieces to send, why it stops, and what it costs. */
interface OfflineAnswer {
  pieces: string[];
  finishReason: FinishReason;
  usage: ModelUsage;
}

/**
 * The built-in model that answers when no provider is configured (API.md "Configuration"): no network, no key,
 * deterministic. It says what it is, then echoes the start of the last user message (at most
 * {@link OFFLINE_ECHO_LIMIT} characters). Streams word-sized pieces `offline.piece_delay_ms` apart; usage is
 * counted with the tokenizer and marked `estimated`.
 */
@Injectable()
export class OfflineModelProvider extends ModelProvider {
  readonly name = OFFLINE_PROVIDER;

  constructor(@Inject(appConfig.KEY) private readonly config: AppConfig) {
    super();
  }

  /** @returns the whole answer the offline model gives to these messages, before any `maxTokens` cut. */
  static replyTo(request: ModelRequest): string {
    const lastUser = request.messages.findLast((m) => m.role === 'user')?.content.trim();
    if (!lastUser) return PREAMBLE;
    const chars = Array.from(lastUser);
    const echo = chars.length > OFFLINE_ECHO_LIMIT ? `${chars.slice(0, OFFLINE_ECHO_LIMIT).join('')}…` : lastUser;
    return `${PREAMBLE} You said: "${echo}"`;
  }

  /**
   * Yields the answer piece by piece, then `finish`.
   * @throws an abort error (see `isAbortError`) as soon as `signal` aborts
   */
  async *stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<ModelStreamEvent> {
    const answer = this.answer(request);
    const delayMs = this.config.offline.piece_delay_ms;
    for (const [i, text] of answer.pieces.entries()) {
      if (signal.aborted) throw abortError(signal);
      if (i > 0 && delayMs > 0) await pause(delayMs, signal);
      yield { type: 'delta', text };
    }
    yield { type: 'finish', finishReason: answer.finishReason, usage: answer.usage };
  }

  /**
   * @returns the same text `stream` yields, at once
   * @throws an abort error when `signal` has already aborted
   */
  async complete(request: ModelRequest, signal: AbortSignal): Promise<ModelCompletion> {
    if (signal.aborted) throw abortError(signal);
    const { pieces, finishReason, usage } = this.answer(request);
    return { text: pieces.join(''), finishReason, usage };
  }

  /**
   * Splits the reply into words (each keeping its leading whitespace) and stops before `maxTokens` is passed. A
   * stop sequence cuts the reply where it would begin, as providers do (it is not part of the text).
   */
  private answer(request: ModelRequest): OfflineAnswer {
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
    return { pieces, finishReason, usage: estimatedUsage(request, text) };
  }
}

/** Waits `ms` milliseconds; throws an abort error the moment `signal` aborts. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (err) {
    throw isAbortError(err) ? abortError(signal) : err;
  }
}
