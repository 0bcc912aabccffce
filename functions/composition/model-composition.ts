import type { PipelineConfig } from '#config/pipeline-config';
import { DEFAULT_FALLBACK_POLICY, type FallbackPolicy, withFallback } from '#model/compose-models';
import type { ModelClient } from '#model/model-client';
import { createSageMakerClient } from '#model/sagemaker-client';

export interface ModelCompositionOptions {
  /** Socket inactivity timeout of one SageMaker attempt (the chat-api keeps it under API Gateway's limit). */
  readonly requestTimeoutMs?: number;
  /**
   * A second backend asked when the primary cannot serve. No deployment configures one yet: this is the seam the
   * fallback-model issue plugs its client into. @default none — the primary alone
   */
  readonly fallback?: { readonly client: ModelClient; readonly policy?: FallbackPolicy };
}

/**
 * The model the pipeline asks, for the worker and `/v1/chat`: the configured SageMaker endpoint (or its sandbox
 * stand-in at `endpointUrl`), billed by its instance type, composed with a fallback only when one is given.
 */
export function createModelClient(config: PipelineConfig, options: ModelCompositionOptions = {}): ModelClient {
  const primary = createSageMakerClient({
    endpointName: config.model.endpointName,
    endpointUrl: config.model.endpointUrl,
    region: config.region,
    modelId: config.model.modelId,
    instanceType: config.model.instanceType,
    ...(options.requestTimeoutMs === undefined ? {} : { timeouts: { requestTimeoutMs: options.requestTimeoutMs } }),
  });
  const { fallback } = options;
  return fallback ? withFallback(primary, fallback.client, fallback.policy ?? DEFAULT_FALLBACK_POLICY) : primary;
}
