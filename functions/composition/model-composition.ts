import type { OpenAiApiConfig, PipelineConfig } from '#config/pipeline-config';
import { SELF_HOSTED_BILLING } from '#core/cost/model-billing';
import { ModelError } from '#core/errors';
import { DEFAULT_FALLBACK_POLICY, type FallbackPolicy, withFallback } from '#model/compose-models';
import { createFallbackClient } from '#model/fallback-client';
import type { InvokeOptions, ModelClient } from '#model/model-client';
import { createOpenAiClient } from '#model/openai-client';
import { createSageMakerClient } from '#model/sagemaker-client';
import { METRIC, recordMetric } from '#shared/metrics';
import { modelApiKey } from './model-api-key';

export interface ModelCompositionOptions {
  /** Socket inactivity timeout of one SageMaker attempt (the chat-api keeps it under API Gateway's limit). */
  readonly requestTimeoutMs?: number;
  /**
   * A second backend asked when the primary cannot serve, instead of the configured one (`config.model.fallback`).
   * @default the configured fallback, if any
   */
  readonly fallback?: { readonly client: ModelClient; readonly policy?: FallbackPolicy };
  /** @default Date.now */
  readonly now?: () => number;
  /** Back-off between retries of either model. @default setTimeout-based */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * The model the pipeline asks, for the worker and `/v1/chat`: the configured SageMaker endpoint (or its sandbox
 * stand-in at `endpointUrl`), billed by its instance type; composed with a fallback when one is configured
 * (`FALLBACK_MODEL_ENDPOINT_URL`) or given.
 *
 * The configured fallback answers when the primary's call fails on its side, is throttled, has its circuit open
 * (at once: an open breaker refuses without a network call) or times out. The primary's deadline is the caller's
 * minus the fallback's budget (`FALLBACK_TIMEOUT_MS`), so a primary timeout still leaves the fallback its time. A
 * request the primary rejected (`client_error`) or answered malformed (`bad_response`) is not retried elsewhere; when
 * the fallback fails too, the primary's error is thrown. Each call the primary could not serve is counted
 * (PrimaryUnavailable).
 */
export function createModelClient(config: PipelineConfig, options: ModelCompositionOptions = {}): ModelClient {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ? { sleep: options.sleep } : {};
  const breaker = { breaker: { coolDownMs: config.model.breakerCoolDownMs } };
  const timeouts =
    options.requestTimeoutMs === undefined ? {} : { timeouts: { requestTimeoutMs: options.requestTimeoutMs } };
  const { openAi, endpointUrl } = config.model;
  const primary =
    openAi && endpointUrl
      ? createOpenAiClient({
          baseUrl: endpointUrl,
          model: openAi.model,
          modelId: config.model.modelId,
          ...optionalApiKey(openAi),
          billing: SELF_HOSTED_BILLING,
          ...timeouts,
          ...breaker,
          now,
          ...sleep,
        })
      : createSageMakerClient({
          endpointName: config.model.endpointName,
          ...(config.model.inferenceComponentName
            ? { inferenceComponentName: config.model.inferenceComponentName }
            : {}),
          endpointUrl,
          region: config.region,
          modelId: config.model.modelId,
          instanceType: config.model.instanceType,
          ...timeouts,
          ...breaker,
          now,
          ...sleep,
        });
  if (options.fallback) {
    const policy = options.fallback.policy ?? DEFAULT_FALLBACK_POLICY;
    return withFallback(counted(primary, policy, now), options.fallback.client, policy, now);
  }
  const configured = config.model.fallback;
  if (!configured) return primary;
  const budgetMs = configured.timeoutMs;
  const fallback = createFallbackClient({
    ...configured,
    ...(configured.openAi ? { openAi: { ...configured.openAi, ...optionalApiKey(configured.openAi) } } : {}),
    region: config.region,
    timeoutMs: budgetMs,
    ...breaker,
    now,
    ...sleep,
  });
  const policy = fallbackPolicy(budgetMs);
  return withFallback(counted(primary, policy, now), fallback, policy, now);
}

/**
 * An OpenAI-compatible server is the team's own (vLLM, TGI, Ollama in its VPC): its instances are billed to whatever
 * runs them, not per call, so its answers add no model line to the ledger (docs/MODEL.md says so to finance).
 */

function optionalApiKey(openAi: OpenAiApiConfig): { apiKey?: () => Promise<string>; onKeyRefused?: () => void } {
  const key = modelApiKey(openAi.apiKeySecretId);
  return key ? { apiKey: () => key.read(), onKeyRefused: () => key.invalidate() } : {};
}

/**
 * The default policy plus `timeout`, with the fallback's budget kept back from the primary's deadline: at most half
 * the time the caller has left, so the primary is always asked first, however short the worker's remaining time or
 * `/v1/chat`'s `CHAT_MODEL_TIMEOUT_MS`.
 */
function fallbackPolicy(budgetMs: number): FallbackPolicy {
  return {
    fallBackOn: new Set([...DEFAULT_FALLBACK_POLICY.fallBackOn, 'timeout']),
    reserveMs: (remainingMs) => Math.min(budgetMs, Math.floor(remainingMs / 2)),
  };
}

/**
 * The primary as `withFallback` asks it: counts each call it could not serve in a way the policy hands to the
 * fallback (PrimaryUnavailable), and is not asked at all once its share of the deadline has passed (the caller's
 * deadline is within the fallback's reserve), so a busy invocation's late calls go straight to the fallback without
 * an attempt counted against the primary's circuit breaker.
 */
function counted(primary: ModelClient, policy: FallbackPolicy, now: () => number): ModelClient {
  async function ask<T>(deadline: number, call: () => Promise<T>, handedOver: () => boolean = () => true): Promise<T> {
    // Not counted: the primary was not unavailable, the caller's time was short.
    if (deadline <= now()) throw new ModelError('No time left for the primary model before the fallback', 'timeout');
    try {
      return await call();
    } catch (err) {
      if (err instanceof ModelError && policy.fallBackOn.has(err.reason) && handedOver()) {
        recordMetric(METRIC.primaryUnavailable);
      }
      throw err;
    }
  }
  return {
    id: primary.id,
    billing: primary.billing,
    circuitState: () => primary.circuitState(),
    invoke: (request, options: InvokeOptions) => ask(options.deadline, () => primary.invoke(request, options)),
    invokeStream: (request, options: InvokeOptions) => {
      // A stream that failed after showing words is not handed over (the member saw the primary's), so not counted.
      let delivered = false;
      const onDelta = (text: string): void => {
        delivered = true;
        options.onDelta?.(text);
      };
      return ask(
        options.deadline,
        () => primary.invokeStream(request, { ...options, onDelta }),
        () => !delivered,
      );
    },
  };
}
