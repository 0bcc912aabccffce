import type { FallbackModelConfig, PipelineConfig } from '#config/pipeline-config';
import { ModelError } from '#core/errors';
import { DEFAULT_FALLBACK_POLICY, type FallbackPolicy, withFallback } from '#model/compose-models';
import { createFallbackClient } from '#model/fallback-client';
import type { InvokeOptions, ModelClient } from '#model/model-client';
import { createSageMakerClient } from '#model/sagemaker-client';
import { METRIC, recordMetric } from '#shared/metrics';

export interface ModelCompositionOptions {
  /** Socket inactivity timeout of one SageMaker attempt (the chat-api keeps it under API Gateway's limit). */
  readonly requestTimeoutMs?: number;
  /**
   * The longest deadline the caller gives one model call (the chat-api's `CHAT_MODEL_TIMEOUT_MS`). With a
   * configured fallback, its reserve and budget are capped at half of it, so the primary always keeps at least as
   * long as the fallback. @default unbounded (the worker's deadline follows the invocation's remaining time)
   */
  readonly callBudgetMs?: number;
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
  const primary = createSageMakerClient({
    endpointName: config.model.endpointName,
    endpointUrl: config.model.endpointUrl,
    region: config.region,
    modelId: config.model.modelId,
    instanceType: config.model.instanceType,
    ...(options.requestTimeoutMs === undefined ? {} : { timeouts: { requestTimeoutMs: options.requestTimeoutMs } }),
    now,
    ...sleep,
  });
  if (options.fallback) {
    const policy = options.fallback.policy ?? DEFAULT_FALLBACK_POLICY;
    return withFallback(counted(primary, policy, now), options.fallback.client, policy, now);
  }
  const configured = config.model.fallback;
  if (!configured) return primary;
  const budgetMs = fallbackBudgetMs(configured, options.callBudgetMs);
  const fallback = createFallbackClient({ ...configured, region: config.region, timeoutMs: budgetMs, now, ...sleep });
  const policy = fallbackPolicy(budgetMs);
  return withFallback(counted(primary, policy, now), fallback, policy, now);
}

/** The configured fallback's budget: `FALLBACK_TIMEOUT_MS`, at most half the caller's whole budget when it has one. */
function fallbackBudgetMs(fallback: Pick<FallbackModelConfig, 'timeoutMs'>, callBudgetMs?: number): number {
  return callBudgetMs === undefined ? fallback.timeoutMs : Math.min(fallback.timeoutMs, Math.floor(callBudgetMs / 2));
}

/** The default policy plus `timeout`, with the fallback's budget kept back from the primary's deadline. */
function fallbackPolicy(reserveMs: number): FallbackPolicy {
  return { fallBackOn: new Set([...DEFAULT_FALLBACK_POLICY.fallBackOn, 'timeout']), reserveMs };
}

/**
 * The primary as `withFallback` asks it: counts each call it could not serve in a way the policy hands to the
 * fallback (PrimaryUnavailable), and is not asked at all once its share of the deadline has passed (the caller's
 * deadline is within the fallback's reserve), so a busy invocation's late calls go straight to the fallback without
 * an attempt counted against the primary's circuit breaker.
 */
function counted(primary: ModelClient, policy: FallbackPolicy, now: () => number): ModelClient {
  async function ask<T>(deadline: number, call: () => Promise<T>): Promise<T> {
    // Not counted: the primary was not unavailable, the caller's time was short.
    if (deadline <= now()) throw new ModelError('No time left for the primary model before the fallback', 'timeout');
    try {
      return await call();
    } catch (err) {
      if (err instanceof ModelError && policy.fallBackOn.has(err.reason)) recordMetric(METRIC.primaryUnavailable);
      throw err;
    }
  }
  return {
    id: primary.id,
    billing: primary.billing,
    circuitState: () => primary.circuitState(),
    invoke: (request, options: InvokeOptions) => ask(options.deadline, () => primary.invoke(request, options)),
    invokeStream: (request, options: InvokeOptions) =>
      ask(options.deadline, () => primary.invokeStream(request, options)),
  };
}
