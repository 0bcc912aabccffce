import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricUnit as Unit } from '@aws-lambda-powertools/metrics/types';
import type { PipelineOutcome } from '#core/answer-pipeline';
import type { GroupGateError } from '#core/errors';

/**
 * GroupGate's CloudWatch metrics (Powertools Metrics, EMF). The names, namespace and dimensions here are the
 * contract with the dashboard and alarms in lib/constructs/observability.ts: CloudWatch identifies a metric by
 * namespace + name + the exact dimension set, so emit only through this module.
 *
 * Dimensions are deliberately low-cardinality: every metric carries only `service = groupgate` (fixed here, not
 * the per-function POWERTOOLS_SERVICE_NAME, so the webhook and the worker publish into the same series), and
 * `WebhookRejected` additionally carries `reason` = a `GroupGateError` code. Never add group, user or event ids
 * as dimensions: they belong in logs and the ledger.
 */
export const METRICS_NAMESPACE = 'GroupGate';
export const METRICS_SERVICE = 'groupgate';

export const DIMENSION = { service: 'service', reason: 'reason', platform: 'platform' } as const;

export const METRIC = {
  /** Webhook calls received (before verification). */
  webhookRequests: 'WebhookRequests',
  /** Webhook calls refused; published with the `reason` dimension (see `countRejection`). */
  webhookRejected: 'WebhookRejected',
  /** Events put on the queue. */
  enqueued: 'Enqueued',
  /** Platform retries / redeliveries recognised as already seen. */
  duplicates: 'Duplicates',
  /** Worker start − SQS SentTimestamp. */
  queueWaitMs: 'QueueWaitMs',
  /** Model call, request to last token. */
  modelLatencyMs: 'ModelLatencyMs',
  timeToFirstTokenMs: 'TimeToFirstTokenMs',
  /**
   * The member's wait for the first words: platform event time → the platform accepted the reply's first visible
   * text (a streamed reply's first update, or a one-shot reply's send). Dimension `platform` (`recordReplyMetrics`).
   */
  timeToFirstVisibleTextMs: 'TimeToFirstVisibleText',
  /** Platform API calls one reply took (open, updates, finish, retries). Dimension `platform`. */
  platformCallsPerReply: 'PlatformCallsPerReply',
  promptTokens: 'PromptTokens',
  completionTokens: 'CompletionTokens',
  repliesDelivered: 'RepliesDelivered',
  deliveryFailures: 'DeliveryFailures',
  /** Answered from the FAQ answer cache. */
  cacheHits: 'CacheHits',
  /** Replies the output filter changed or withheld. */
  filteredReplies: 'FilteredReplies',
  /** The model failed and the fallback answer was sent. */
  fallbackUsed: 'FallbackUsed',
  /**
   * Answers the fallback model wrote because the primary could not (failed, timed out, circuit open). Members were
   * served, so Errors and FallbackUsed stay quiet: this is the count that shows the primary endpoint is down.
   */
  fallbackAnswers: 'FallbackAnswers',
  /**
   * Model calls the primary could not serve in a way that hands them to the fallback model (only published when a
   * fallback is configured): FallbackAnswers plus the calls the fallback failed too.
   */
  primaryUnavailable: 'PrimaryUnavailable',
  /**
   * Unexpected failures: webhook calls answered 5xx, `/v1/chat` calls answered 5xx, worker records that failed and
   * go back to the queue (a record dead-lettered after N receives counts N times; the DLQ depth alarm counts it once).
   */
  errors: 'Errors',
  /** A user's first message in a group on a UTC day, counted once (the caller makes that durable). */
  activeUsers: 'ActiveUsers',
  /**
   * Streamed replies the stream sweeper finished with the interrupted-answer note because no delivery did (worker
   * crashed, every redelivery failed or was dead-lettered). Should stay near zero; each one is a lost answer.
   */
  sweptReplies: 'SweptReplies',
  /** Messages a third-party skill answered itself (`source: 'skill'`). */
  skillAnswers: 'SkillAnswers',
  /** Time of each third-party skill call, ms, whatever it answered. */
  skillLatencyMs: 'SkillLatencyMs',
  /**
   * Third-party skill calls that failed (timeout, function error, throttling, an invalid answer…); published with
   * the `reason` dimension (`countSkillFailure`). The member's question went on to the model, so nothing was lost,
   * but the skill did not help: a rising count is the skill's owner's to look at.
   */
  skillFailures: 'SkillFailures',
  /**
   * Images of a reply (a data skill's chart) the platform did not take after the call's retries. The reply's text was
   * delivered and holds every number, so nothing was lost; a steady count points at a missing upload scope.
   */
  replyImageFailures: 'ReplyImageFailures',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** Every metric's unit, fixed once so a name is never published with two units. */
export const METRIC_UNIT: Readonly<Record<MetricName, Unit>> = {
  WebhookRequests: MetricUnit.Count,
  TimeToFirstVisibleText: MetricUnit.Milliseconds,
  PlatformCallsPerReply: MetricUnit.Count,
  WebhookRejected: MetricUnit.Count,
  Enqueued: MetricUnit.Count,
  Duplicates: MetricUnit.Count,
  QueueWaitMs: MetricUnit.Milliseconds,
  ModelLatencyMs: MetricUnit.Milliseconds,
  TimeToFirstTokenMs: MetricUnit.Milliseconds,
  PromptTokens: MetricUnit.Count,
  CompletionTokens: MetricUnit.Count,
  RepliesDelivered: MetricUnit.Count,
  DeliveryFailures: MetricUnit.Count,
  CacheHits: MetricUnit.Count,
  FilteredReplies: MetricUnit.Count,
  FallbackUsed: MetricUnit.Count,
  FallbackAnswers: MetricUnit.Count,
  PrimaryUnavailable: MetricUnit.Count,
  Errors: MetricUnit.Count,
  ActiveUsers: MetricUnit.Count,
  SweptReplies: MetricUnit.Count,
  SkillAnswers: MetricUnit.Count,
  SkillLatencyMs: MetricUnit.Milliseconds,
  SkillFailures: MetricUnit.Count,
  ReplyImageFailures: MetricUnit.Count,
};

/**
 * Powertools Metrics whose flush of an invocation that recorded no metric writes nothing. Powertools itself warns
 * "No application metrics to publish" on each such flush, and GroupGate has them by design: a `/v1/chat` call refused
 * with 4xx, a stream sweep with nothing due. One warning per refused request buries the log (Lambda and sandbox
 * alike) and tells an operator nothing. Not for use with `throwOnEmptyMetrics`, which GroupGate does not set.
 */
class QuietWhenEmptyMetrics extends Metrics {
  override publishStoredMetrics(): this {
    if (this.hasStoredMetrics()) return super.publishStoredMetrics();
    // What a flush would have cleared, so nothing of this invocation reaches the next one's blob.
    this.clearDimensions();
    this.clearMetadata();
    return this;
  }
}

/**
 * The singleton, one per cold start. Handlers flush it with Powertools' middy middleware
 * (`logMetrics(metrics)`) or `metrics.publishStoredMetrics()`; an invocation that recorded nothing publishes nothing.
 */
export const metrics: Metrics = new QuietWhenEmptyMetrics({
  namespace: METRICS_NAMESPACE,
  serviceName: METRICS_SERVICE,
});

/** Adds one data point of `name` in its fixed unit to the current EMF blob. */
export function recordMetric(name: MetricName, value = 1): void {
  metrics.addMetric(name, METRIC_UNIT[name], value);
}

/**
 * Counts one refused webhook call under its error code (`invalid_signature`, `stale_request`, ...). Published
 * at once as its own EMF blob, so the `reason` dimension never spreads to the other metrics of the invocation.
 */
export function countRejection(error: Pick<GroupGateError, 'code'>): void {
  const single = metrics.singleMetric();
  single.addDimension(DIMENSION.reason, error.code);
  single.addMetric(METRIC.webhookRejected, METRIC_UNIT.WebhookRejected, 1);
}

/** Counts one failed third-party skill call under its reason code, as its own EMF blob (like `countRejection`). */
export function countSkillFailure(reason: string): void {
  const single = metrics.singleMetric();
  single.addDimension(DIMENSION.reason, reason);
  single.addMetric(METRIC.skillFailures, METRIC_UNIT.SkillFailures, 1);
}

/**
 * One delivered reply's platform-side figures under the `platform` dimension, published as their own EMF blob (like
 * `countRejection`) so the dimension does not spread: the wait for the first visible words and the API calls made.
 */
export function recordReplyMetrics(
  platform: string,
  figures: { readonly timeToFirstVisibleMs?: number; readonly platformCalls: number },
): void {
  const blob = perPlatformMetrics(platform);
  if (figures.timeToFirstVisibleMs !== undefined) {
    blob.addMetric(METRIC.timeToFirstVisibleTextMs, METRIC_UNIT.TimeToFirstVisibleText, figures.timeToFirstVisibleMs);
  }
  blob.addMetric(METRIC.platformCallsPerReply, METRIC_UNIT.PlatformCallsPerReply, figures.platformCalls);
  blob.publishStoredMetrics();
}

/**
 * One Metrics instance per platform name (four at most), made on first use and kept: `singleMetric()` would build a
 * Metrics, environment lookups and all, for every figure of every reply, and flush each figure as its own line.
 */
const platformMetrics = new Map<string, Metrics>();
function perPlatformMetrics(platform: string): Metrics {
  let blob = platformMetrics.get(platform);
  if (!blob) {
    blob = new QuietWhenEmptyMetrics({
      namespace: METRICS_NAMESPACE,
      serviceName: METRICS_SERVICE,
      defaultDimensions: { [DIMENSION.platform]: platform },
    });
    platformMetrics.set(platform, blob);
  }
  return blob;
}

/**
 * The metrics of one answered question (worker and `/v1/chat`): model latency, time to first token (streamed
 * answers only), tokens, answers the fallback model wrote, FAQ cache hits and output-filtered replies (masked or
 * withheld). A model failure is the caller's to count: the worker sends the fallback answer (FallbackUsed),
 * `/v1/chat` answers 5xx (Errors).
 */
export function recordOutcome(
  outcome: Pick<PipelineOutcome, 'source' | 'outputFilter' | 'model' | 'modelSource'>,
): void {
  const model = outcome.model;
  if (model) {
    recordMetric(METRIC.modelLatencyMs, model.latencyMs);
    if (model.timeToFirstTokenMs !== undefined) recordMetric(METRIC.timeToFirstTokenMs, model.timeToFirstTokenMs);
    recordMetric(METRIC.promptTokens, model.promptTokens);
    recordMetric(METRIC.completionTokens, model.completionTokens);
  }
  if (outcome.modelSource === 'fallback') recordMetric(METRIC.fallbackAnswers);
  if (outcome.source === 'cache') recordMetric(METRIC.cacheHits);
  if (outcome.source === 'skill') recordMetric(METRIC.skillAnswers);
  if (outcome.outputFilter !== 'allow') recordMetric(METRIC.filteredReplies);
}
