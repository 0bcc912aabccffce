import { App, CfnWaitConditionHandle, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { ENV } from '#config/env-names';
import type { AppConfigInput } from '../../lib/config';
import { wakeStalledPeriods } from '../../lib/constructs/alarms';
import { ModelEndpoint, warnScaleToZeroWithoutFallback } from '../../lib/constructs/model-endpoint';
import { buildStack } from './build-stack';

type Json = Record<string, unknown>;

const SCHEDULE = {
  timeZone: 'Asia/Shanghai',
  openDays: 'MON-FRI',
  opensAt: '08:30',
  closesAt: '19:00',
  idleMinutes: 20,
} as const;

function templateOf(overrides: Partial<AppConfigInput> = {}): Template {
  return Template.fromStack(buildStack(overrides).stack);
}

const only = (template: Template, type: string): Json => {
  const found = Object.values(template.findResources(type)) as { Properties: Json }[];
  expect(found).toHaveLength(1);
  return found[0]?.Properties ?? {};
};

/** Every alarm whose metrics (plain or inside a math expression) include `metricName`. */
function alarmsOn(template: Template, metricName: string): Json[] {
  return (Object.values(template.findResources('AWS::CloudWatch::Alarm')) as { Properties: Json }[])
    .map((a) => a.Properties)
    .filter((p) => JSON.stringify(p).includes(`"MetricName":"${metricName}"`));
}

function invokeStatements(template: Template): { Action: unknown; Resource: unknown }[] {
  return (Object.values(template.findResources('AWS::IAM::Policy')) as { Properties: Json }[]).flatMap((p) =>
    ((p.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement ?? []).filter(
      (s) => JSON.stringify(s.Action).includes('sagemaker:InvokeEndpoint'),
    ),
  );
}

describe('without scaleToZero: the instance-based endpoint, unchanged', () => {
  let template: Template;
  beforeAll(() => {
    template = templateOf();
  });

  it('has a variant naming the model, with a floor of minInstances and no inference component', () => {
    const config = only(template, 'AWS::SageMaker::EndpointConfig');
    expect(config.ExecutionRoleArn).toBeUndefined();
    expect(config.ProductionVariants).toEqual([
      expect.objectContaining({ ModelName: expect.anything(), InitialInstanceCount: 1 }),
    ]);
    expect(JSON.stringify(config)).not.toContain('ManagedInstanceScaling');
    template.resourceCountIs('AWS::SageMaker::InferenceComponent', 0);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      MinCapacity: 1,
      ScheduledActions: Match.absent(),
    });
    template.resourceCountIs('AWS::ApplicationAutoScaling::ScalingPolicy', 1);
    expect(alarmsOn(template, 'NoCapacityInvocationFailures')).toEqual([]);
  });

  it('keeps the endpoint name and logical id it always had', () => {
    const endpoints = template.findResources('AWS::SageMaker::Endpoint');
    expect(Object.keys(endpoints)).toEqual([expect.stringMatching(/^ModelEndpoint[0-9A-F]{8}$/)]);
    expect(Object.values(endpoints)[0]?.Properties?.EndpointName).toBe('GroupGate-llm');
    expect(alarmsOn(template, 'NoCapacityInvocationFailures')).toEqual([]);
  });

  it('gives the worker no inference component and emits no schedule output', () => {
    const workers = template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { [ENV.modelEndpointName]: Match.anyValue() } } },
    });
    expect(Object.keys(workers).length).toBeGreaterThan(0);
    expect(JSON.stringify(workers)).not.toContain(ENV.modelInferenceComponent);
    expect(template.findOutputs('ScaleToZeroSchedule')).toEqual({});
  });
});

describe('with scaleToZero: an inference component that sleeps outside business hours', () => {
  let template: Template;
  beforeAll(() => {
    template = templateOf({ scaleToZero: SCHEDULE, minInstances: 1, maxInstances: 3 });
  });

  it('builds the endpoint config with the execution role, managed instance scaling to zero and no model', () => {
    const config = only(template, 'AWS::SageMaker::EndpointConfig');
    expect(config.ExecutionRoleArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/ExecutionRole/), 'Arn'] });
    const [variant] = config.ProductionVariants as Json[];
    expect(variant).toEqual(
      expect.objectContaining({
        InstanceType: 'ml.g4dn.xlarge',
        ManagedInstanceScaling: { Status: 'ENABLED', MinInstanceCount: 0, MaxInstanceCount: 3 },
        RoutingConfig: { RoutingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
      }),
    );
    expect(variant?.ModelName).toBeUndefined();
  });

  it('puts the model in an inference component with one GPU per copy and minInstances copies', () => {
    const component = only(template, 'AWS::SageMaker::InferenceComponent');
    expect(component).toEqual(
      expect.objectContaining({
        InferenceComponentName: 'GroupGate-llm-ic',
        VariantName: 'AllTraffic',
        RuntimeConfig: { CopyCount: 1 },
        Specification: expect.objectContaining({
          ModelName: { 'Fn::GetAtt': [expect.stringMatching(/Model/), 'ModelName'] },
          ComputeResourceRequirements: { NumberOfAcceleratorDevicesRequired: 1, MinMemoryRequiredInMb: 1024 },
          StartupParameters: {
            ModelDataDownloadTimeoutInSeconds: 1200,
            ContainerStartupHealthCheckTimeoutInSeconds: 1800,
          },
        }),
      }),
    );
  });

  it('gives the endpoint a name of its own, so switching scaleToZero replaces it', () => {
    const endpoint = only(template, 'AWS::SageMaker::Endpoint');
    expect(endpoint.EndpointName).toBe('GroupGate-llm-ic');
  });

  it('registers the copy count with minInstances as its floor, which Close lowers to 0', () => {
    // CloudFormation applies MinCapacity on every deploy: 0 here would put the component to sleep mid-day.
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ScalableDimension: 'sagemaker:inference-component:DesiredCopyCount',
      ResourceId: 'inference-component/GroupGate-llm-ic',
      MinCapacity: 1,
      MaxCapacity: 3,
    });
    const floor = (minInstances: number) =>
      only(
        templateOf({ scaleToZero: SCHEDULE, minInstances, maxInstances: 3 }),
        'AWS::ApplicationAutoScaling::ScalableTarget',
      ).MinCapacity;
    expect(floor(2)).toBe(2);
  });

  it('scales in, to zero in closed hours, by target tracking alone, with idleMinutes as its scale-in cooldown', () => {
    const policies = Object.values(template.findResources('AWS::ApplicationAutoScaling::ScalingPolicy')) as {
      Properties: Json;
    }[];
    expect(policies.map((p) => p.Properties.PolicyType).sort()).toEqual(['StepScaling', 'TargetTrackingScaling']);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerInferenceComponentInvocationsPerCopy' },
        ScaleInCooldown: 20 * 60,
        ScaleOutCooldown: 60,
      }),
    });
    expect(JSON.stringify(policies)).not.toContain('"ScalingAdjustment":0');
    expect(alarmsOn(template, 'Invocations')).toEqual([]);
  });

  it('opens and closes on schedule in the operator time zone', () => {
    const target = only(template, 'AWS::ApplicationAutoScaling::ScalableTarget');
    expect(target.ScheduledActions).toEqual([
      {
        ScheduledActionName: 'Open',
        Schedule: 'cron(30 8 ? * MON,TUE,WED,THU,FRI *)',
        Timezone: 'Asia/Shanghai',
        ScalableTargetAction: { MinCapacity: 1 },
      },
      {
        ScheduledActionName: 'Close',
        Schedule: 'cron(0 19 ? * MON,TUE,WED,THU,FRI *)',
        Timezone: 'Asia/Shanghai',
        ScalableTargetAction: { MinCapacity: 0 },
      },
    ]);
  });

  it('wakes one copy on the first refused call (NoCapacityInvocationFailures ≥ 1)', () => {
    const wake = alarmsOn(template, 'NoCapacityInvocationFailures').filter((a) => a.MetricName && a.Period === 60);
    expect(wake).toEqual([
      expect.objectContaining({
        Namespace: 'AWS/SageMaker',
        Dimensions: [{ Name: 'InferenceComponentName', Value: 'GroupGate-llm-ic' }],
        Statistic: 'Sum',
        Period: 60,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        AlarmActions: [{ Ref: expect.stringMatching(/WakeOnRequest/) }],
      }),
    ]);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      StepScalingPolicyConfiguration: {
        AdjustmentType: 'ExactCapacity',
        Cooldown: 60,
        MetricAggregationType: 'Maximum',
        StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }],
      },
    });
  });

  it('pages through the alarm topic when a wake does not finish within the start-up timeouts', () => {
    const stalled = alarmsOn(template, 'NoCapacityInvocationFailures').filter((a) => a.Period === 300);
    expect(stalled).toEqual([
      expect.objectContaining({
        Namespace: 'AWS/SageMaker',
        Dimensions: [{ Name: 'InferenceComponentName', Value: 'GroupGate-llm-ic' }],
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        // (1200 s download + 1800 s start-up) = 50 min = 10 five-minute periods, and one more.
        EvaluationPeriods: 11,
        DatapointsToAlarm: 11,
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: expect.stringMatching(/ObservabilityAlarmsTopic/) }],
        OKActions: [{ Ref: expect.stringMatching(/ObservabilityAlarmsTopic/) }],
      }),
    ]);
  });

  it('derives the wake budget from the component start-up timeouts', () => {
    const endpoint = new ModelEndpoint(new Stack(new App(), 'Budget'), 'Model', {
      modelS3Uri: 's3://weights/model/',
      maxModelLen: 4096,
      instanceType: 'ml.g4dn.xlarge',
      minInstances: 1,
      maxInstances: 2,
      maxConcurrentRequestsPerInstance: 8,
      invocationsPerInstanceTarget: 30,
      modelDataDownloadTimeoutSeconds: 3600,
      containerStartupHealthCheckTimeoutSeconds: 1800,
      scaleToZero: { ...SCHEDULE },
    });
    expect(endpoint.wakeBudget?.toSeconds()).toBe(5400);
    expect(wakeStalledPeriods(Duration.seconds(5400))).toBe(19);
    expect(wakeStalledPeriods(Duration.seconds(3000))).toBe(11);
    expect(wakeStalledPeriods(Duration.seconds(301))).toBe(3);
  });

  it('leaves the refusals of a sleeping endpoint out of the primary-unavailable alarm', () => {
    const alarm = (Object.values(template.findResources('AWS::CloudWatch::Alarm')) as { Properties: Json }[])
      .map((a) => a.Properties)
      .find((p) => String(p.AlarmDescription).includes('primary model could not serve'));
    const metrics = alarm?.Metrics as { Id: string; Expression?: string; MetricStat?: { Metric: Json } }[];
    expect(metrics.find((m) => m.Expression)?.Expression).toBe('unavailable - FILL(asleep, 0)');
    expect(metrics.find((m) => m.Id === 'asleep')?.MetricStat?.Metric).toEqual({
      Namespace: 'AWS/SageMaker',
      MetricName: 'NoCapacityInvocationFailures',
      Dimensions: [{ Name: 'InferenceComponentName', Value: 'GroupGate-llm-ic' }],
    });
  });

  it('names the component to the worker and the chat API, and lets them invoke it', () => {
    const functions = template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { [ENV.modelInferenceComponent]: 'GroupGate-llm-ic' } } },
    });
    expect(Object.keys(functions).length).toBe(2);
    const statements = invokeStatements(template);
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      const resources = JSON.stringify(statement.Resource);
      expect(resources).toContain(':endpoint/groupgate-llm');
      expect(resources).toContain('InferenceComponentArn');
    }
  });

  it('prints the schedule for the cost report', () => {
    const outputs = template.findOutputs('ScaleToZeroSchedule');
    expect(JSON.parse(String(Object.values(outputs)[0]?.Value))).toEqual(SCHEDULE);
  });
});

describe('warnScaleToZeroWithoutFallback', () => {
  it('warns when there is no fallback model, and not when there is', () => {
    const stack = new Stack(new App(), 'Warned');
    new CfnWaitConditionHandle(stack, 'AnyResource');
    expect(warnScaleToZeroWithoutFallback(stack, true)).toBeUndefined();
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
    expect(warnScaleToZeroWithoutFallback(stack, false)).toMatch(/apology/);
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('without a fallback'))).toHaveLength(1);
  });
});
