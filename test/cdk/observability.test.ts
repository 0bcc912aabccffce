import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { METRIC } from '#shared/metrics';
import { Alarms, DEFAULT_ALARM_THRESHOLDS } from '../../lib/constructs/alarms';
import { buildStack } from './build-stack';

type Json = Record<string, unknown>;

let template: Template;
let withEmail: Template;

beforeAll(() => {
  template = Template.fromStack(buildStack().stack);
  withEmail = Template.fromStack(buildStack({ alarmEmail: 'ops@example.com' }).stack);
});

const topicRef = { Ref: Match.stringLikeRegexp('^ObservabilityAlarmsTopic[A-F0-9]{8}$') };
const groupGateDims = [{ Name: 'service', Value: 'groupgate' }];

function alarms(): Json[] {
  return Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
    (r) => (r as { Properties: Json }).Properties,
  );
}

/** The dashboard body with its CloudFormation tokens resolved to placeholders, parsed as CloudWatch sees it. */
function dashboardBody(): { widgets: { properties: Json }[] } {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as {
    Properties: { DashboardBody: { 'Fn::Join': [string, unknown[]] } };
  }[];
  if (!dashboard) throw new Error('no dashboard');
  const parts = dashboard.Properties.DashboardBody['Fn::Join'][1];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'TOKEN')).join(''));
}

describe('dashboard', () => {
  test('one dashboard, named after the stack', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'GroupGate-GroupGate' });
  });

  test('graphs every GroupGate EMF metric in the GroupGate namespace with the service dimension', () => {
    const body = JSON.stringify(dashboardBody());
    // Per-platform reply figures are published with the `platform` dimension and graphed by SEARCH, one line each.
    const perPlatform: Readonly<Record<string, string>> = {
      [METRIC.timeToFirstVisibleTextMs]: 'p50',
      [METRIC.platformCallsPerReply]: 'Average',
    };
    // Published with the `reason` dimension, whatever reasons occur: graphed by SEARCH, one line per reason.
    const byReason: readonly string[] = [METRIC.webhookRejected, METRIC.skillFailures];
    for (const name of Object.values(METRIC)) {
      if (byReason.includes(name)) {
        expect(body).toContain(`SEARCH('{GroupGate,service,reason} MetricName=\\"${name}\\"', 'Sum', 60)`);
        continue;
      }
      const statistic = perPlatform[name];
      if (statistic) {
        expect(body).toContain(`SEARCH('{GroupGate,service,platform} MetricName=\\"${name}\\"', '${statistic}', 60)`);
        continue;
      }
      expect(body).toContain(`["GroupGate","${name}","service","groupgate"`);
    }
  });

  test('graphs SQS, Lambda, DynamoDB and SageMaker endpoint metrics', () => {
    const body = JSON.stringify(dashboardBody());
    for (const expected of [
      '"AWS/SQS","ApproximateAgeOfOldestMessage"',
      '"AWS/SQS","ApproximateNumberOfMessagesVisible"',
      '"AWS/Lambda","Invocations"',
      '"AWS/Lambda","Errors"',
      '"AWS/Lambda","Duration"',
      '"AWS/Lambda","Throttles"',
      '"AWS/DynamoDB","ConsumedReadCapacityUnits"',
      '"AWS/DynamoDB","ConsumedWriteCapacityUnits"',
      '"AWS/DynamoDB","ReadThrottleEvents"',
      '"AWS/DynamoDB","WriteThrottleEvents"',
      '"AWS/SageMaker","Invocations","EndpointName"',
      '"AWS/SageMaker","ModelLatency","EndpointName"',
      '"AWS/SageMaker","Invocation4XXErrors","EndpointName"',
      '"AWS/SageMaker","Invocation5XXErrors","EndpointName"',
      '"/aws/sagemaker/Endpoints","GPUUtilization","EndpointName"',
    ]) {
      expect(body).toContain(expected);
    }
    expect(body).toContain('"VariantName","AllTraffic"');
  });

  test('shows the state of every alarm', () => {
    const statusWidget = dashboardBody().widgets.find((w) => w.properties.title === 'Alarms');
    expect(statusWidget?.properties.alarms).toHaveLength(8);
  });
});

describe('alarms', () => {
  test('eight alarms, each notifying the topic on alarm and on recovery', () => {
    expect(alarms()).toHaveLength(8);
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [topicRef], OKActions: [topicRef] });
  });

  test('model p90 latency over the threshold, 3 of 5 minutes', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'GroupGate',
      MetricName: 'ModelLatencyMs',
      Dimensions: groupGateDims,
      ExtendedStatistic: 'p90',
      Period: 60,
      Threshold: DEFAULT_ALARM_THRESHOLDS.modelLatencyP90Ms,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 3,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  test('error rate: failed events per enqueued event, in percent', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: DEFAULT_ALARM_THRESHOLDS.errorRatePercent,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'IF(FILL(enqueued, 0) > 0, 100 * FILL(errors, 0) / FILL(enqueued, 0), 0)' }),
        Match.objectLike({
          Id: 'errors',
          MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'Errors', Namespace: 'GroupGate' }) }),
        }),
        Match.objectLike({
          Id: 'enqueued',
          MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'Enqueued' }) }),
        }),
      ]),
    });
  });

  test('any message in the dead-letter queue (and only one such alarm)', () => {
    const dlqAlarms = alarms().filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible');
    expect(dlqAlarms).toHaveLength(1);
    expect(dlqAlarms[0]).toMatchObject({
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Statistic: 'Maximum',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [expect.stringMatching(/^ChatQueueDeadLetterQueue/), 'QueueName'] },
        },
      ],
    });
  });

  test('age of the oldest message in the chat queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: DEFAULT_ALARM_THRESHOLDS.oldestMessageAgeSeconds,
      Statistic: 'Maximum',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ChatQueue[A-F0-9]{8}$'), 'QueueName'] } },
      ],
    });
  });

  test('delivery failure rate over delivered + failed replies', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: DEFAULT_ALARM_THRESHOLDS.deliveryFailureRatePercent,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: '100 * failures / (FILL(delivered, 0) + failures)' }),
        Match.objectLike({
          Id: 'failures',
          MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'DeliveryFailures' }) }),
        }),
        Match.objectLike({
          Id: 'delivered',
          MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'RepliesDelivered' }) }),
        }),
      ]),
    });
  });

  test('endpoint 5xx on the model endpoint variant', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SageMaker',
      MetricName: 'Invocation5XXErrors',
      Dimensions: Match.arrayWith([{ Name: 'VariantName', Value: 'AllTraffic' }]),
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  test('request volume outside its anomaly-detection band', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'LessThanLowerOrGreaterThanUpperThreshold',
      ThresholdMetricId: 'expr_1',
      Metrics: Match.arrayWith([
        Match.objectLike({
          Id: 'expr_1',
          Expression: `ANOMALY_DETECTION_BAND(m0, ${DEFAULT_ALARM_THRESHOLDS.requestVolumeStdDevs})`,
        }),
        Match.objectLike({
          Id: 'm0',
          MetricStat: Match.objectLike({
            Metric: { Namespace: 'GroupGate', MetricName: 'WebhookRequests', Dimensions: groupGateDims },
            Period: 300,
            Stat: 'Sum',
          }),
        }),
      ]),
    });
  });

  test('thresholds can be overridden key by key; the rest keep their defaults', () => {
    const stack = new Stack(new App(), 'Bare');
    const metric = (name: string) => new Metric({ namespace: 'Test', metricName: name });
    new Alarms(stack, 'Alarms', {
      signals: {
        modelLatencyP90Ms: metric('latency'),
        errorRatePercent: metric('errors'),
        deadLetterDepth: metric('dlq'),
        oldestMessageAgeSeconds: metric('age'),
        deliveryFailureRatePercent: metric('delivery'),
        endpoint5xx: metric('5xx'),
        requestVolume: metric('requests'),
        primaryUnavailable: metric('primary'),
      },
      thresholds: { modelLatencyP90Ms: 9000 },
    });
    const bare = Template.fromStack(stack);
    bare.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'latency', Threshold: 9000 });
    bare.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'age',
      Threshold: DEFAULT_ALARM_THRESHOLDS.oldestMessageAgeSeconds,
    });
    bare.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'primary',
      Threshold: DEFAULT_ALARM_THRESHOLDS.primaryUnavailablePerFiveMinutes,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
    });
    bare.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('alarm topic', () => {
  test('KMS-encrypted with a rotating key CloudWatch may use', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ObservabilityAlarmsTopicKey'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      Description: 'Encrypts the GroupGate alarm topic',
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          }),
        ]),
      },
    });
  });

  test('refuses non-TLS publishers', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topicRef],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('e-mail subscription only when alarmEmail is configured', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    withEmail.resourceCountIs('AWS::SNS::Subscription', 1);
    withEmail.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: topicRef,
    });
  });
});

describe('saved Logs Insights queries', () => {
  const queries = () =>
    Object.values(template.findResources('AWS::Logs::QueryDefinition')).map(
      (r) => (r as { Properties: { Name: string; QueryString: string; LogGroupNames: unknown[] } }).Properties,
    );

  test('one conversation by event id, errors by code, slowest requests', () => {
    const byName = Object.fromEntries(queries().map((q) => [q.Name, q]));
    expect(Object.keys(byName).sort()).toEqual([
      'GroupGate/errors by code',
      'GroupGate/one conversation by event id',
      'GroupGate/slowest requests',
    ]);
    expect(byName['GroupGate/one conversation by event id']?.QueryString).toMatch(
      /filter eventId = "EVENT_ID" or correlation_id like \/EVENT_ID\/[\s\S]*sort @timestamp asc/,
    );
    expect(byName['GroupGate/errors by code']?.QueryString).toMatch(/stats count\(\*\) as occurrences by errorCode/);
    expect(byName['GroupGate/slowest requests']?.QueryString).toMatch(
      /filter message = "invocation recorded"[\s\S]*sort latencyMs desc/,
    );
    expect(byName['GroupGate/one conversation by event id']?.LogGroupNames).toHaveLength(4);
    expect(byName['GroupGate/slowest requests']?.LogGroupNames).toHaveLength(2);
  });
});
