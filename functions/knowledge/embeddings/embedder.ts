/**
 * The embedding contract of the knowledge base: ingestion embeds chunks as `document`s, each question is embedded as
 * a `query` at answer time, both with the company's private embedding model (an OpenAI-compatible server, a SageMaker
 * endpoint, or the sandbox's hashing stand-in). Vectors of one model are only comparable with each other: whatever
 * stores them records `model` and `dimensions` next to them.
 */

export type EmbeddingPurpose = 'document' | 'query';

export interface Embedder {
  readonly model: string;
  readonly dimensions: number;
  /**
   * One vector per text, in order, each of length `dimensions`, L2-normalised (normalise here if the server does
   * not). Batches internally (maxBatch). Throws EmbeddingError.
   *
   * A text longer than the embedder's `maxChars` (default `DEFAULT_MAX_CHARS`) is cut there: embedding models
   * truncate to their token window anyway, and the cut keeps requests bounded. An empty text is embedded as is.
   */
  embed(
    texts: readonly string[],
    purpose: EmbeddingPurpose,
    options?: { readonly signal?: AbortSignal },
  ): Promise<Float32Array[]>;
}

/**
 * - `timeout`: an attempt passed its time limit, or the caller's signal aborted the call.
 * - `unavailable`: the server failed (5xx) or could not be reached, after the retries.
 * - `throttled`: the server said 429 (or SageMaker throttled) after the retries, or asked for a longer wait than
 *   the client will make.
 * - `bad_response`: a success whose body is off contract (not JSON, wrong shape, wrong count, wrong indices).
 * - `dimensions`: a vector of another length than the configured `dimensions` (the wrong model is deployed).
 * - `rejected`: the server refused the request itself (4xx: key refused, unknown model, wrong URL).
 * - `too_long`: the server refused an input as longer than the model's window (lower `maxChars`).
 */
export type EmbeddingErrorCode =
  | 'timeout'
  | 'unavailable'
  | 'throttled'
  | 'bad_response'
  | 'dimensions'
  | 'rejected'
  | 'too_long';

export class EmbeddingError extends Error {
  readonly name = 'EmbeddingError';
  constructor(
    readonly code: EmbeddingErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Characters kept of one input by default: well past a 512-token model's window, yet a bounded request. */
export const DEFAULT_MAX_CHARS = 8_000;
