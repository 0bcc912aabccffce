import type { ModelBilling } from '#core/cost/model-billing';
import type { ChatRequest, FinishReason, TokenUsage } from './chat-completions';
import type { CircuitState } from './circuit-breaker';

/**
 * The one seam between the pipeline and whatever answers: the SageMaker/URL client (`sagemaker-client.ts`) and
 * compositions of clients (`compose-models.ts`) implement it. A client describes itself (`id`, `billing`) and every
 * result names the model that actually answered, so cache entries and ledger rows follow the answering model.
 */

export interface InvokeOptions {
  /** Absolute time (ms, same clock as `now`) by which the call must have finished; keep it below the Lambda timeout. */
  deadline: number;
  /** Streaming only: called with each content delta as it arrives. */
  onDelta?: (text: string) => void;
  /**
   * Ends the call early, as a `timeout`: a composition stops a primary that has shown nothing by the time it must hand
   * over to its fallback, without cutting off one that is already streaming.
   */
  signal?: AbortSignal;
}

export interface ModelResult {
  content: string;
  finishReason: FinishReason;
  /** Always present for `invoke`; for `invokeStream` only when the server streamed a usage chunk. */
  usage?: TokenUsage;
  /** The answering model's call, including its retries and back-off. */
  latencyMs: number;
  /**
   * How long until the first words could be shown: streaming, from the start of the successful attempt to the first
   * content delta; a whole-answer call, its latency (the first token arrives with the last). Fed to TimeToFirstTokenMs.
   */
  timeToFirstTokenMs?: number;
  attempts: number;
  /** Id of the model that answered (a composition's fallback answers under its own id). */
  modelId: string;
  /** How the model that answered is paid for. */
  billing: ModelBilling;
}

export interface ModelClient {
  /** Logical model id (cache keys, ledger); for a composition, the primary's. */
  readonly id: string;
  /** How this client's own answers are paid for; for a composition, the primary's. */
  readonly billing: ModelBilling;
  /** Non-streaming call. Throws `ModelError`. */
  invoke(request: ChatRequest, options: InvokeOptions): Promise<ModelResult & { usage: TokenUsage }>;
  /** Streaming call. Throws `ModelError`; never retries (or falls back) once a delta was delivered. */
  invokeStream(request: ChatRequest, options: InvokeOptions): Promise<ModelResult>;
  /** The breaker that decides whether calls fail fast; for a composition, the primary's. */
  circuitState(): CircuitState;
}
