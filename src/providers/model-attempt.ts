import type { ModelProviderErrorKind } from './model-provider';

/** One model tried for an answer, as stored on the message (`attempts`) and shown in its DTO. */
export interface ModelAttempt {
  /** Registry id of the model. */
  model: string;
  /**
   * Why this model was given up (or failed mid-stream); null for the model that answered. `context_too_small`:
   * the conversation could not be fitted to its context window, so it was skipped without a call.
   */
  error_kind: ModelProviderErrorKind | 'context_too_small' | null;
  /** The provider's HTTP status for that error, when there was one. */
  upstream_status: number | null;
  /** Calls to this model after its first one. */
  retries: number;
}
