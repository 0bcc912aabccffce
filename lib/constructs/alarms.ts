import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  AnomalyDetectionAlarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/**
 * The signals GroupGate pages on; built by `Observability` from the EMF, SQS and SageMaker metrics. Every signal but
 * `endpoint5xx` is the pipeline's own and exists whatever serves the model.
 */
export interface AlarmSignals {
  /** p90 of the EMF `ModelLatencyMs`. */
  readonly modelLatencyP90Ms: IMetric;
  /** 100 × failed events / enqueued events. */
  readonly errorRatePercent: IMetric;
  /** Maximum messages visible in the dead-letter queue. */
  readonly deadLetterDepth: IMetric;
  /** Maximum age of the oldest message in the chat queue, in seconds. */
  readonly oldestMessageAgeSeconds: IMetric;
  /** 100 × delivery failures / delivery attempts. */
  readonly deliveryFailureRatePercent: IMetric;
  /**
   * Sum of the endpoint's `Invocation5XXErrors`. @default none: no SageMaker endpoint (an OpenAI-compatible
   * `primaryModel`), so no Endpoint5xx alarm; PrimaryModelUnavailable still pages when that server fails.
   */
  readonly endpoint5xx?: IMetric;
  /** Sum of `WebhookRequests`, watched by an anomaly-detection band. */
  readonly requestVolume: IMetric;
  /** Sum of `PrimaryUnavailable` per five minutes: calls the primary model could not serve, handed to the fallback. */
  readonly primaryUnavailable: IMetric;
  /**
   * With `scaleToZero`: the calls the inference component refused for want of a copy and how long a copy may take
   * to start. A copy that cannot start (bad weights, failed health check, no capacity) leaves every call refused and
   * `primaryUnavailable` blind to it, since it leaves refusals out; this signal pages instead. @default none
   */
  readonly modelWake?: ModelWakeSignal;
}

export interface ModelWakeSignal {
  /** Sum of the component's `NoCapacityInvocationFailures`; the alarm counts it per `WAKE_PERIOD`. */
  readonly refusals: Metric;
  /** The longest a copy may take to start (`ModelEndpoint.wakeBudget`: model download + container start-up). */
  readonly budget: Duration;
}

/** Alarm thresholds; each `@default` is the value used when the key is absent. */
export interface AlarmThresholds {
  /** @default 15000 (15 s: a T4 answering a long question still fits; beyond it members give up) */
  readonly modelLatencyP90Ms: number;
  /** @default 5 */
  readonly errorRatePercent: number;
  /** @default 300 (five minutes of backlog means the worker is not keeping up) */
  readonly oldestMessageAgeSeconds: number;
  /** @default 5 */
  readonly deliveryFailureRatePercent: number;
  /** 5xx responses of the endpoint in five minutes. @default 1 */
  readonly endpoint5xxPerFiveMinutes: number;
  /** Width of the request-volume band in standard deviations. @default 3 */
  readonly requestVolumeStdDevs: number;
  /**
   * Calls the primary model could not serve in five minutes, in two five-minute periods running. @default 5 (the
   * breaker opens after a few failures, so an outage of the primary crosses it within minutes)
   */
  readonly primaryUnavailablePerFiveMinutes: number;
}

export const DEFAULT_ALARM_THRESHOLDS: AlarmThresholds = {
  modelLatencyP90Ms: 15_000,
  errorRatePercent: 5,
  oldestMessageAgeSeconds: 300,
  deliveryFailureRatePercent: 5,
  endpoint5xxPerFiveMinutes: 1,
  requestVolumeStdDevs: 3,
  primaryUnavailablePerFiveMinutes: 5,
};

export interface AlarmsProps {
  readonly signals: AlarmSignals;
  /** @default DEFAULT_ALARM_THRESHOLDS, key by key */
  readonly thresholds?: Partial<AlarmThresholds>;
  /** @default no subscriber (the topic and alarms still exist) */
  readonly email?: string;
}

export type AlarmName = keyof AlarmSignals;

/**
 * One alarm per signal: Endpoint5xx only with a SageMaker endpoint to watch, ModelWakeStalled only with an
 * endpoint that scales to zero.
 */
export type AlarmSet = Readonly<
  Record<Exclude<AlarmName, 'endpoint5xx' | 'modelWake'>, Alarm> & { endpoint5xx?: Alarm; modelWake?: Alarm }
>;

/** The period of the wake alarm: refusals are counted per five minutes. */
export const WAKE_PERIOD = Duration.minutes(5);

/**
 * Five-minute periods a wake may refuse calls before it pages: enough to cover the whole start-up budget, plus one,
 * so only a wake that outlasted every SageMaker timeout breaches in all of them (50 min of timeouts → 11 periods).
 */
export function wakeStalledPeriods(budget: Duration): number {
  return Math.ceil(budget.toSeconds() / WAKE_PERIOD.toSeconds()) + 1;
}

/**
 * `PrimaryUnavailable` less the calls a scaled-to-zero endpoint refused (`NoCapacityInvocationFailures` of its
 * inference component), per five minutes. Such a refusal is the schedule working, not an outage: it is handed to the
 * fallback and counted in `PrimaryUnavailable` like any other, so without this the alarm would page on every busy
 * night and every morning while the endpoint wakes. The worker's breaker does not open on these refusals
 * (functions/model/classify-error.ts), so every refused call reaches SageMaker and is in both metrics.
 */
export function primaryUnavailableWhileAwake(primaryUnavailable: IMetric, inferenceComponentName: string): IMetric {
  return new MathExpression({
    expression: 'unavailable - FILL(asleep, 0)',
    usingMetrics: {
      unavailable: primaryUnavailable,
      asleep: new Metric({
        namespace: 'AWS/SageMaker',
        metricName: 'NoCapacityInvocationFailures',
        dimensionsMap: { InferenceComponentName: inferenceComponentName },
        statistic: Stats.SUM,
        period: Duration.minutes(5),
      }),
    },
    label: 'primary unavailable (not asleep)',
    period: Duration.minutes(5),
  });
}

/**
 * Every operational alarm, each notifying one KMS-encrypted, TLS-only SNS topic (alarm and recovery). Nothing is
 * dropped silently: a single message in the DLQ pages. Rates, latency and backlog need 3 of 5 breaching periods so a
 * lone slow answer does not page anyone; missing data (no traffic) never breaches. Periods live in the metrics.
 */
export class Alarms extends Construct {
  readonly topic: Topic;
  readonly alarms: AlarmSet;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const t = { ...DEFAULT_ALARM_THRESHOLDS, ...props.thresholds };
    const { signals } = props;

    const key = new Key(this, 'TopicKey', {
      enableKeyRotation: true,
      description: 'Encrypts the GroupGate alarm topic',
    });
    // CloudWatch alarms publish to an encrypted topic only if the key lets the CloudWatch service use it.
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey');
    this.topic = new Topic(this, 'Topic', { masterKey: key, enforceSSL: true });
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));

    const sustained = {
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    };

    this.alarms = {
      modelLatencyP90Ms: new Alarm(this, 'ModelLatencyP90', {
        ...sustained,
        alarmDescription: `Model p90 latency above ${t.modelLatencyP90Ms} ms: members wait too long for answers`,
        metric: signals.modelLatencyP90Ms,
        threshold: t.modelLatencyP90Ms,
      }),
      errorRatePercent: new Alarm(this, 'ErrorRate', {
        ...sustained,
        alarmDescription: `More than ${t.errorRatePercent}% of queued events failed to be answered`,
        metric: signals.errorRatePercent,
        threshold: t.errorRatePercent,
      }),
      deadLetterDepth: new Alarm(this, 'DeadLetters', {
        alarmDescription: 'Chat events failed after every retry and wait in the dead-letter queue',
        metric: signals.deadLetterDepth,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      oldestMessageAgeSeconds: new Alarm(this, 'OldestMessageAge', {
        ...sustained,
        alarmDescription: `A chat event has waited more than ${t.oldestMessageAgeSeconds} s in the queue`,
        metric: signals.oldestMessageAgeSeconds,
        threshold: t.oldestMessageAgeSeconds,
      }),
      deliveryFailureRatePercent: new Alarm(this, 'DeliveryFailureRate', {
        ...sustained,
        alarmDescription: `More than ${t.deliveryFailureRatePercent}% of replies could not be delivered to the platform`,
        metric: signals.deliveryFailureRatePercent,
        threshold: t.deliveryFailureRatePercent,
      }),
      ...(signals.endpoint5xx
        ? {
            endpoint5xx: new Alarm(this, 'Endpoint5xx', {
              alarmDescription: 'The model endpoint answered with 5xx errors',
              metric: signals.endpoint5xx,
              threshold: t.endpoint5xxPerFiveMinutes,
              evaluationPeriods: 1,
              comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
              treatMissingData: TreatMissingData.NOT_BREACHING,
            }),
          }
        : {}),
      requestVolume: new AnomalyDetectionAlarm(this, 'RequestVolumeAnomaly', {
        alarmDescription: 'Webhook request volume left its usual band (a flood, or platforms stopped reaching us)',
        metric: signals.requestVolume,
        stdDevs: t.requestVolumeStdDevs,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        comparisonOperator: ComparisonOperator.LESS_THAN_LOWER_OR_GREATER_THAN_UPPER_THRESHOLD,
        // EMF publishes nothing without requests, so quiet nights are missing data, not an outage.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      // While the fallback model answers, members get replies and the error alarms stay quiet: this one says the
      // primary is down and members are on the smaller model (a scaled-to-zero endpoint's refusals while it sleeps are
      // left out of the signal: see `primaryUnavailableWhileAwake`).
      primaryUnavailable: new Alarm(this, 'PrimaryModelUnavailable', {
        alarmDescription: `The primary model could not serve ${t.primaryUnavailablePerFiveMinutes} or more calls in five minutes, twice running: members are answered by the fallback model`,
        metric: signals.primaryUnavailable,
        threshold: t.primaryUnavailablePerFiveMinutes,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      ...(signals.modelWake ? { modelWake: this.modelWakeStalled(signals.modelWake) } : {}),
    };

    const action = new SnsAction(this.topic);
    for (const alarm of Object.values(this.alarms)) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
  }

  /**
   * A wake that does not finish: refused calls in every five-minute period for longer than a copy may take to start.
   * A sleeping component refuses only the calls that wake it, and a started copy stops the refusals, so calls
   * refused throughout that long mean no copy could start. Missing data (no call at all) does not breach: without
   * callers nothing is refused, and the next refused call starts the count again.
   */
  private modelWakeStalled(signal: ModelWakeSignal): Alarm {
    const periods = wakeStalledPeriods(signal.budget);
    return new Alarm(this, 'ModelWakeStalled', {
      alarmDescription: `The scaled-to-zero model refused calls for want of a copy in every five minutes for ${periods * 5} minutes, longer than a copy may take to start (${Math.round(signal.budget.toSeconds() / 60)} min): the wake failed and members are on the fallback model`,
      metric: signal.refusals.with({ period: WAKE_PERIOD }),
      threshold: 1,
      evaluationPeriods: periods,
      datapointsToAlarm: periods,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }
}
