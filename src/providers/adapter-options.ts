import { abortError } from './abort';
import type { ImageLoader } from './content-parts';
import type { RegisteredModel } from './model-registry';
import { connectTimeoutError, deadlineError } from './provider-errors';

/** Limits every adapter takes: the whole-call deadline and the wait for response headers, both in ms. */
export interface AdapterTimeouts {
  /** A whole call, first byte sent to last byte received (`limits.provider_timeout_ms`). */
  timeoutMs: number;
  /** Until the response headers of a streamed call arrive (`limits.provider_connect_timeout_ms`). */
  connectTimeoutMs: number;
}

/** What an adapter may learn from the registry about one of its provider's models, by upstream name. */
export type ModelLookup = (
  upstreamModel: string,
) => Pick<RegisteredModel, 'maxOutputTokens' | 'supportsTemperature'> | undefined;

/** Options every adapter takes: its timeouts, and the registry's knowledge of its models. */
export interface AdapterOptions extends AdapterTimeouts {
  /** Unset, or unknown model: the request is sent as it is (max tokens only when asked for). */
  models?: ModelLookup;
  /** Loads `https:` images for protocols that take images only inline; unset: such images are refused. */
  loadImage?: ImageLoader;
}

/** True unless the registry says the model refuses a temperature other than its default. */
export function acceptsTemperature(options: AdapterOptions, upstreamModel: string): boolean {
  return options.models?.(upstreamModel)?.supportsTemperature !== false;
}

/**
 * The limits of one upstream call as one `signal` for the SDK: the caller's abort, the whole-call deadline
 * (`timeoutMs`), and for a streamed call the wait for response headers (`connectTimeoutMs`, ended by
 * {@link headersReceived}). A non-streamed answer's headers come with the whole answer, so there only the
 * deadline applies. Kept outside the SDKs so every adapter measures the same thing the same way.
 */
export class CallLimits {
  readonly signal: AbortSignal;
  private readonly deadline: AbortSignal;
  private readonly headers = new AbortController();
  private readonly timer?: NodeJS.Timeout;

  constructor(
    private readonly caller: AbortSignal,
    private readonly timeouts: AdapterTimeouts,
    streamed: boolean,
  ) {
    this.deadline = AbortSignal.timeout(timeouts.timeoutMs);
    this.signal = AbortSignal.any([caller, this.deadline, this.headers.signal]);
    if (streamed) this.timer = setTimeout(() => this.headers.abort(), timeouts.connectTimeoutMs);
  }

  /** The response headers arrived: from now on only the caller and the deadline end the call. */
  headersReceived(): void {
    clearTimeout(this.timer);
  }

  /** True once the caller aborted or a limit passed; the SDKs end a stream quietly then. */
  get ended(): boolean {
    return this.signal.aborted;
  }

  /**
   * @returns the error for a call ended by the caller (an abort error, see `isAbortError`) or by a limit (a
   *          `timeout` ModelProviderError); undefined when neither ended it
   */
  endError(): Error | undefined {
    clearTimeout(this.timer);
    if (this.caller.aborted) return abortError(this.caller);
    if (this.deadline.aborted) return deadlineError(this.timeouts.timeoutMs);
    if (this.headers.signal.aborted) return connectTimeoutError(this.timeouts.connectTimeoutMs);
    return undefined;
  }
}
