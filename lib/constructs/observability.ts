import { Duration, Stack } from 'aws-cdk-lib';
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  SingleValueWidget,
  Stats,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { QueryDefinition, QueryString } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DIMENSION, METRIC, METRICS_NAMESPACE, METRICS_SERVICE, type MetricName } from '#shared/metrics';
import { type AlarmSignals, Alarms, type AlarmThresholds, primaryUnavailableWhileAwake } from './alarms';
import type { HouseFunction } from './house-function';
import { noCapacityInvocationFailures } from './model-endpoint';

/** The variant `ModelEndpoint` creates; SageMaker's endpoint metrics are per endpoint and variant. */
const DEFAULT_VARIANT = 'AllTraffic';
const MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

export interface ObservabilityProps {
  /** The four functions (their `fn` for Lambda metrics, their `logGroup` for the saved Logs Insights queries). */
  readonly functions: {
    readonly webhook: HouseFunction;
    readonly worker: HouseFunction;
    readonly chatApi: HouseFunction;
    readonly jwtAuthorizer: HouseFunction;
  };
  readonly queues: { readonly queue: IQueue; readonly deadLetterQueue: IQueue };
  readonly tables: Readonly<Record<string, ITable>>;
  /**
   * The SageMaker endpoint serving the primary model: its metrics on the dashboard and the Endpoint5xx alarm.
   * @default none: an OpenAI-compatible `primaryModel` (its server's metrics are the team's own)
   */
  readonly modelEndpointName?: string;
  /** @default 'AllTraffic' (the variant `ModelEndpoint` creates) */
  readonly modelVariantName?: string;
  /**
   * The endpoint's inference component when it scales to zero: calls it refused while asleep are expected, so the
   * primary-unavailable alarm does not count them. @default none (an always-on endpoint)
   */
  readonly modelInferenceComponentName?: string;
  /**
   * With `modelInferenceComponentName`: the longest a copy may take to start (`ModelEndpoint.wakeBudget`); the
   * ModelWakeStalled alarm pages when refusals outlast it. @default no ModelWakeStalled alarm
   */
  readonly modelWakeBudget?: Duration;
  /** @default no subscriber on the alarm topic */
  readonly alarmEmail?: string;
  /** @default DEFAULT_ALARM_THRESHOLDS (lib/constructs/alarms.ts) */
  readonly thresholds?: Partial<AlarmThresholds>;
}

/** A GroupGate EMF metric with the exact dimension set functions/shared/metrics.ts publishes it with. */
export function groupGateMetric(name: MetricName, statistic: string = Stats.SUM, period = MINUTE): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { [DIMENSION.service]: METRICS_SERVICE },
    statistic,
    period,
  });
}

/**
 * What an operator needs in one place: a CloudWatch dashboard (GroupGate EMF metrics, SQS, Lambda, DynamoDB and,
 * when there is one, the SageMaker endpoint), the alarms (see `Alarms`) and three saved CloudWatch Logs Insights
 * queries.
 */
export class Observability extends Construct {
  readonly dashboard: Dashboard;
  readonly alarms: Alarms;
  readonly queries: Readonly<Record<'conversation' | 'errorsByCode' | 'slowestRequests', QueryDefinition>>;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { queue, deadLetterQueue } = props.queues;
    const endpointDims = props.modelEndpointName
      ? { EndpointName: props.modelEndpointName, VariantName: props.modelVariantName ?? DEFAULT_VARIANT }
      : undefined;

    this.alarms = new Alarms(this, 'Alarms', {
      signals: this.alarmSignals(props, endpointDims),
      email: props.alarmEmail,
      thresholds: props.thresholds,
    });

    const functions = Object.entries({
      webhook: props.functions.webhook,
      worker: props.functions.worker,
      'chat-api': props.functions.chatApi,
      authorizer: props.functions.jwtAuthorizer,
    });
    const perFunction = (metric: (f: HouseFunction) => Metric) =>
      functions.map(([name, f]) => metric(f).with({ label: name, period: MINUTE }));
    const tables = Object.entries(props.tables);
    const perTable = (metricName: string) =>
      tables.map(([name, table]) => table.metric(metricName, { statistic: Stats.SUM, period: MINUTE, label: name }));
    const emf = (names: readonly MetricName[]) => names.map((name) => groupGateMetric(name));
    const percentiles = (name: MetricName) =>
      [Stats.p(50), Stats.p(90), Stats.p(99)].map((s) => groupGateMetric(name, s).with({ label: s }));
    const graph = (title: string, left: IMetric[], width = 8, right: IMetric[] = []) =>
      new GraphWidget({ title, left, right, width, height: 6 });

    const rejectedByReason = new MathExpression({
      expression: `SEARCH('{${METRICS_NAMESPACE},${DIMENSION.service},${DIMENSION.reason}} MetricName="${METRIC.webhookRejected}"', 'Sum', 60)`,
      usingMetrics: {},
      label: 'rejected',
      period: MINUTE,
    });

    // Reply figures carry a `platform` dimension (`recordReplyMetrics`): one line per platform, whichever are enabled.
    const perPlatform = (metricName: MetricName, statistic: string, label: string) =>
      new MathExpression({
        expression: `SEARCH('{${METRICS_NAMESPACE},${DIMENSION.service},${DIMENSION.platform}} MetricName="${metricName}"', '${statistic}', 60)`,
        usingMetrics: {},
        label,
        period: MINUTE,
      });

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}-GroupGate`,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          '# GroupGate\nWebhook → queue → worker → model → platform. Alarms notify the SNS topic; saved Logs Insights ' +
          'queries: *one conversation by event id*, *errors by code*, *slowest requests*.',
        width: 24,
        height: 2,
      }),
      new AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(this.alarms.alarms), width: 24, height: 3 }),
    );
    this.dashboard.addWidgets(
      graph(
        'Webhook requests, enqueued, duplicates',
        emf([METRIC.webhookRequests, METRIC.enqueued, METRIC.duplicates]),
      ),
      graph('Webhook rejections by reason', [rejectedByReason]),
      new SingleValueWidget({
        title: 'Active users (in the time range)',
        metrics: [groupGateMetric(METRIC.activeUsers)],
        setPeriodToTimeRange: true,
        width: 8,
        height: 6,
      }),
    );
    this.dashboard.addWidgets(
      graph('Queue wait (ms)', percentiles(METRIC.queueWaitMs)),
      graph('Model latency (ms)', percentiles(METRIC.modelLatencyMs)),
      graph('Time to first token (ms)', percentiles(METRIC.timeToFirstTokenMs)),
    );
    this.dashboard.addWidgets(
      graph(
        'Time to first visible text, p50 / p99 by platform (ms)',
        [perPlatform(METRIC.timeToFirstVisibleTextMs, 'p50', 'p50')],
        12,
        [perPlatform(METRIC.timeToFirstVisibleTextMs, 'p99', 'p99')],
      ),
      graph(
        'Platform calls per reply, average / max by platform',
        [perPlatform(METRIC.platformCallsPerReply, 'Average', 'avg')],
        12,
        [perPlatform(METRIC.platformCallsPerReply, 'Maximum', 'max')],
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Replies, failures, errors, fallbacks, swept, images not posted',
        emf([
          METRIC.repliesDelivered,
          METRIC.deliveryFailures,
          METRIC.errors,
          METRIC.fallbackUsed,
          METRIC.fallbackAnswers,
          METRIC.primaryUnavailable,
          METRIC.sweptReplies,
          METRIC.replyImageFailures,
        ]),
      ),
      graph('Cache hits and filtered replies', emf([METRIC.cacheHits, METRIC.filteredReplies])),
      graph('Tokens', emf([METRIC.promptTokens, METRIC.completionTokens])),
    );
    // Third-party skills (docs/SKILLS.md): what they answered, how they failed (each failure went on to the model),
    // and what their calls add to members' waits.
    const skillFailuresByReason = new MathExpression({
      expression: `SEARCH('{${METRICS_NAMESPACE},${DIMENSION.service},${DIMENSION.reason}} MetricName="${METRIC.skillFailures}"', 'Sum', 60)`,
      usingMetrics: {},
      label: 'failed',
      period: MINUTE,
    });
    this.dashboard.addWidgets(
      graph('Skill answers, and skill failures by reason', [...emf([METRIC.skillAnswers]), skillFailuresByReason], 12),
      graph('Skill call latency (ms)', percentiles(METRIC.skillLatencyMs), 12),
    );
    this.dashboard.addWidgets(
      graph('Queue: age of oldest message (s)', [
        queue.metricApproximateAgeOfOldestMessage({ statistic: Stats.MAXIMUM, period: MINUTE, label: 'chat queue' }),
      ]),
      graph('Dead-letter queue depth', [
        deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          statistic: Stats.MAXIMUM,
          period: MINUTE,
          label: 'DLQ visible',
        }),
      ]),
      graph('Queue: messages visible / in flight', [
        queue.metricApproximateNumberOfMessagesVisible({ statistic: Stats.MAXIMUM, period: MINUTE, label: 'visible' }),
        queue.metricApproximateNumberOfMessagesNotVisible({
          statistic: Stats.MAXIMUM,
          period: MINUTE,
          label: 'in flight',
        }),
      ]),
    );
    this.dashboard.addWidgets(
      graph(
        'Lambda invocations',
        perFunction((f) => f.fn.metricInvocations()),
        6,
      ),
      graph(
        'Lambda errors',
        perFunction((f) => f.fn.metricErrors()),
        6,
      ),
      graph(
        'Lambda duration p90 (ms)',
        perFunction((f) => f.fn.metricDuration({ statistic: Stats.p(90) })),
        6,
      ),
      graph(
        'Lambda throttles',
        perFunction((f) => f.fn.metricThrottles()),
        6,
      ),
    );
    this.dashboard.addWidgets(
      graph('DynamoDB consumed read units', perTable('ConsumedReadCapacityUnits')),
      graph('DynamoDB consumed write units', perTable('ConsumedWriteCapacityUnits')),
      graph('DynamoDB throttled requests', [...perTable('ReadThrottleEvents'), ...perTable('WriteThrottleEvents')]),
    );
    if (endpointDims) {
      const endpointMetric = (namespace: string, metricName: string, statistic: string) =>
        new Metric({ namespace, metricName, dimensionsMap: endpointDims, statistic, period: MINUTE });
      this.dashboard.addWidgets(
        graph('Endpoint invocations', [endpointMetric('AWS/SageMaker', 'Invocations', Stats.SUM)], 6),
        graph(
          'Endpoint model latency (µs)',
          [Stats.p(50), Stats.p(90)].map((s) => endpointMetric('AWS/SageMaker', 'ModelLatency', s)),
          6,
        ),
        graph(
          'Endpoint 4xx / 5xx',
          ['Invocation4XXErrors', 'Invocation5XXErrors'].map((m) => endpointMetric('AWS/SageMaker', m, Stats.SUM)),
          6,
        ),
        graph(
          'Endpoint GPU utilisation (%)',
          ['GPUUtilization', 'GPUMemoryUtilization'].map((m) =>
            endpointMetric('/aws/sagemaker/Endpoints', m, Stats.AVERAGE),
          ),
          6,
        ),
      );
    }

    const logGroups = functions.map(([, f]) => f.logGroup);
    const prefix = `${Stack.of(this).stackName}/`;
    this.queries = {
      conversation: new QueryDefinition(this, 'ConversationQuery', {
        queryDefinitionName: `${prefix}one conversation by event id`,
        logGroups,
        queryString: new QueryString({
          fields: ['@timestamp', '@log', 'level', 'message', 'eventId', 'correlation_id', 'platform'],
          // Replace EVENT_ID before running: the webhook logs it in correlation_id (platform#id), the worker as eventId.
          filterStatements: ['eventId = "EVENT_ID" or correlation_id like /EVENT_ID/'],
          sort: '@timestamp asc',
          limit: 200,
        }),
      }),
      errorsByCode: new QueryDefinition(this, 'ErrorsByCodeQuery', {
        queryDefinitionName: `${prefix}errors by code`,
        logGroups,
        queryString: new QueryString({
          fields: ['coalesce(error.code, code, error.name) as errorCode'],
          filterStatements: ['level in ["ERROR", "WARN"]'],
          statsStatements: ['count(*) as occurrences by errorCode'],
          sort: 'occurrences desc',
        }),
      }),
      slowestRequests: new QueryDefinition(this, 'SlowestRequestsQuery', {
        queryDefinitionName: `${prefix}slowest requests`,
        logGroups: [props.functions.worker.logGroup, props.functions.chatApi.logGroup],
        queryString: new QueryString({
          fields: ['@timestamp', 'eventId', 'platform', 'source', 'latencyMs', 'queueWaitMs', 'totalUsd'],
          filterStatements: ['message = "invocation recorded"'],
          sort: 'latencyMs desc',
          limit: 50,
        }),
      }),
    };
  }

  private alarmSignals(props: ObservabilityProps, endpointDims: Record<string, string> | undefined): AlarmSignals {
    const { queue, deadLetterQueue } = props.queues;
    return {
      modelLatencyP90Ms: groupGateMetric(METRIC.modelLatencyMs, Stats.p(90)),
      errorRatePercent: new MathExpression({
        expression: 'IF(FILL(enqueued, 0) > 0, 100 * FILL(errors, 0) / FILL(enqueued, 0), 0)',
        usingMetrics: { errors: groupGateMetric(METRIC.errors), enqueued: groupGateMetric(METRIC.enqueued) },
        label: 'error rate %',
        period: MINUTE,
      }),
      deadLetterDepth: deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        statistic: Stats.MAXIMUM,
        period: MINUTE,
      }),
      oldestMessageAgeSeconds: queue.metricApproximateAgeOfOldestMessage({ statistic: Stats.MAXIMUM, period: MINUTE }),
      deliveryFailureRatePercent: new MathExpression({
        expression: '100 * failures / (FILL(delivered, 0) + failures)',
        usingMetrics: {
          failures: groupGateMetric(METRIC.deliveryFailures),
          delivered: groupGateMetric(METRIC.repliesDelivered),
        },
        label: 'delivery failure rate %',
        period: MINUTE,
      }),
      ...(endpointDims
        ? {
            endpoint5xx: new Metric({
              namespace: 'AWS/SageMaker',
              metricName: 'Invocation5XXErrors',
              dimensionsMap: endpointDims,
              statistic: Stats.SUM,
              period: FIVE_MINUTES,
            }),
          }
        : {}),
      requestVolume: groupGateMetric(METRIC.webhookRequests, Stats.SUM, FIVE_MINUTES),
      primaryUnavailable: props.modelInferenceComponentName
        ? primaryUnavailableWhileAwake(
            groupGateMetric(METRIC.primaryUnavailable, Stats.SUM, FIVE_MINUTES),
            props.modelInferenceComponentName,
          )
        : groupGateMetric(METRIC.primaryUnavailable, Stats.SUM, FIVE_MINUTES),
      ...(props.modelInferenceComponentName && props.modelWakeBudget
        ? {
            modelWake: {
              refusals: noCapacityInvocationFailures(props.modelInferenceComponentName, FIVE_MINUTES),
              budget: props.modelWakeBudget,
            },
          }
        : {}),
    };
  }
}
