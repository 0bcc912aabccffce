import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LONG_CONNECTION_PLATFORMS as RUNTIME_LONG_CONNECTION_PLATFORMS } from '#connector/platform-connections';
import { ConfigError } from '#core/errors';
import { type AppConfigInput, LONG_CONNECTION_PLATFORMS, parseAppConfig } from '../../lib/config';
import { bundleConnector } from '../../lib/constructs/connector-image';
import { buildStack, EXAMPLE_MODEL_URI, noBundling } from './build-stack';
import { actionsOf, type Json, type Statement } from './template-queries';

/**
 * The long-connection connector (issue 18) as the stack builds it: an ECS Fargate service, outbound only, with a
 * least-privilege task role, health check, circuit breaker and alarms; nothing of it without `longConnection`.
 */
const LONG = { longConnection: { platforms: ['slack', 'dingtalk'] } } satisfies Partial<AppConfigInput>;
const PIPELINE_VPC = {
  subnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
  securityGroupIds: ['sg-0123456789abcdef0'],
};

function only(template: Template, type: string): [string, { Properties: Json }] {
  const entries = Object.entries(template.findResources(type)) as [string, { Properties: Json }][];
  if (entries.length !== 1) throw new Error(`expected one ${type}, found ${entries.length}`);
  return entries[0] as [string, { Properties: Json }];
}

function container(template: Template): Json {
  const [, taskDefinition] = only(template, 'AWS::ECS::TaskDefinition');
  const [first] = taskDefinition.Properties.ContainerDefinitions as Json[];
  return first ?? {};
}

function roleStatements(template: Template, roleId: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy') as Record<
    string,
    { Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } } }
  >;
  return Object.values(policies)
    .filter((p) => p.Properties.Roles.some((r) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

function configProblems(input: Partial<AppConfigInput>): readonly string[] {
  try {
    parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, ...input });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('without longConnection (webhook mode, the default)', () => {
  const template = Template.fromStack(buildStack().stack);

  test('builds no connector: no ECS resource, no VPC, no output', () => {
    for (const type of ['AWS::ECS::Cluster', 'AWS::ECS::Service', 'AWS::ECS::TaskDefinition', 'AWS::EC2::VPC']) {
      expect({ type, count: Object.keys(template.findResources(type)).length }).toEqual({ type, count: 0 });
    }
    expect(Object.keys(template.findOutputs('*')).filter((id) => id.startsWith('Connector'))).toEqual([]);
  });

  test("Slack's secret has no appToken placeholder", () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp('slack'),
      SecretString: Match.not(Match.stringLikeRegexp('appToken')),
    });
  });
});

describe('longConnection: slack and dingtalk, in a VPC of its own', () => {
  const { stack } = buildStack(LONG);
  const template = Template.fromStack(stack);

  test('the task definition: Fargate, arm64, 0.25 vCPU, 0.5 GB', () => {
    const [, taskDefinition] = only(template, 'AWS::ECS::TaskDefinition');
    expect(taskDefinition.Properties).toMatchObject({
      Cpu: '256',
      Memory: '512',
      NetworkMode: 'awsvpc',
      RequiresCompatibilities: ['FARGATE'],
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
    });
  });

  test('the container: health check on /healthz, read-only root, the ingest and secret-id environment', () => {
    const c = container(template);
    expect(c.HealthCheck).toEqual({
      Command: ['CMD', 'node', '-e', expect.stringContaining("fetch('http://127.0.0.1:8080/healthz')")],
      Interval: 30,
      Timeout: 5,
      Retries: 3,
      StartPeriod: 60,
    });
    expect(c).toMatchObject({ Essential: true, ReadonlyRootFilesystem: true, StopTimeout: 30 });
    const env = Object.fromEntries((c.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
    expect(env).toEqual({
      LONG_CONNECTION_PLATFORMS: 'slack,dingtalk',
      ENABLED_PLATFORMS: 'slack,dingtalk',
      QUEUE_URL: { Ref: expect.stringMatching(/^ChatQueue/) },
      EVENTS_TABLE: { Ref: expect.stringMatching(/^StateEvents/) },
      HEALTH_PORT: '8080',
      SLACK_SECRET_ID: { Ref: expect.stringMatching(/^Secretsslack/) },
      DINGTALK_SECRET_ID: { Ref: expect.stringMatching(/^Secretsdingtalk/) },
      AWS_REGION: { Ref: 'AWS::Region' },
      POWERTOOLS_SERVICE_NAME: 'groupgate-connector',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    });
    expect(c.LogConfiguration).toMatchObject({
      LogDriver: 'awslogs',
      Options: { 'awslogs-group': { Ref: expect.stringMatching(/^ConnectorLogs/) }, mode: 'non-blocking' },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('the service: two tasks across the public subnets, public IPs, circuit breaker with rollback', () => {
    const [, service] = only(template, 'AWS::ECS::Service');
    expect(service.Properties).toMatchObject({
      LaunchType: 'FARGATE',
      DesiredCount: 2,
      AvailabilityZoneRebalancing: 'ENABLED',
      DeploymentConfiguration: {
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
      },
      NetworkConfiguration: {
        AwsvpcConfiguration: {
          AssignPublicIp: 'ENABLED',
          Subnets: [
            { Ref: expect.stringMatching(/^ConnectorVpcPublicSubnet1/) },
            { Ref: expect.stringMatching(/^ConnectorVpcPublicSubnet2/) },
          ],
        },
      },
    });
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  test('outbound only: no ingress rule anywhere, egress TCP 443 alone, no NAT gateway', () => {
    const [, group] = only(template, 'AWS::EC2::SecurityGroup');
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    expect(group.Properties.SecurityGroupEgress).toEqual([
      {
        CidrIp: '0.0.0.0/0',
        Description: 'WebSocket and API calls over TLS',
        FromPort: 443,
        IpProtocol: 'tcp',
        ToPort: 443,
      },
    ]);
    expect(Object.keys(template.findResources('AWS::EC2::SecurityGroupIngress'))).toEqual([]);
    expect(Object.keys(template.findResources('AWS::EC2::NatGateway'))).toEqual([]);
    template.hasResourceProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false });
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL' });
  });

  test('the task role: exactly the ingest writes, the queue send with its key, and the two secrets', () => {
    const [, taskDefinition] = only(template, 'AWS::ECS::TaskDefinition');
    const roleId = (taskDefinition.Properties.TaskRoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statements = roleStatements(template, roleId).map((s) => ({
      effect: s.Effect,
      actions: actionsOf(s).sort(),
      resources: s.Resource,
    }));
    expect(statements).toEqual([
      {
        effect: 'Allow',
        actions: ['dynamodb:DeleteItem', 'dynamodb:PutItem'],
        resources: { 'Fn::GetAtt': [expect.stringMatching(/^StateEvents/), 'Arn'] },
      },
      {
        effect: 'Allow',
        actions: ['sqs:SendMessage'],
        resources: { 'Fn::GetAtt': [expect.stringMatching(/^ChatQueue/), 'Arn'] },
      },
      {
        effect: 'Allow',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: { 'Fn::GetAtt': [expect.stringMatching(/^ChatQueueKey/), 'Arn'] },
      },
      {
        effect: 'Allow',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [
          { Ref: expect.stringMatching(/^Secretsslack/) },
          { Ref: expect.stringMatching(/^Secretsdingtalk/) },
        ],
      },
    ]);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'ecs-tasks.amazonaws.com' } })],
      },
      Description: 'Task role of the GroupGate long-connection connector',
    });
  });

  test('alarms: tasks below desired and ERROR lines, both on the alarm topic', () => {
    const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0];
    const alarms = template.findResources('AWS::CloudWatch::Alarm') as Record<string, { Properties: Json }>;
    const below = Object.entries(alarms).find(([id]) => id.startsWith('ConnectorTasksBelowDesired'))?.[1];
    expect(below?.Properties).toMatchObject({
      Namespace: 'ECS/ContainerInsights',
      MetricName: 'RunningTaskCount',
      Statistic: 'Minimum',
      Threshold: 2,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 5,
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: topic }],
      OKActions: [{ Ref: topic }],
      Dimensions: expect.arrayContaining([
        { Name: 'ClusterName', Value: { Ref: expect.stringMatching(/^ConnectorCluster/) } },
        { Name: 'ServiceName', Value: { 'Fn::GetAtt': [expect.stringMatching(/^ConnectorService/), 'Name'] } },
      ]),
    });
    const errors = Object.entries(alarms).find(([id]) => id.startsWith('ConnectorErrors'))?.[1];
    expect(errors?.Properties).toMatchObject({
      Namespace: 'GroupGate',
      MetricName: 'ConnectorErrors',
      Threshold: 1,
      AlarmActions: [{ Ref: topic }],
    });
    template.hasResourceProperties('AWS::Logs::MetricFilter', { FilterPattern: '{ $.level = "ERROR" }' });
  });

  test('outputs: the service name and the cost report flags', () => {
    const outputs = template.findOutputs('*');
    expect(outputs.ConnectorServiceName?.Value).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^ConnectorService/), 'Name'],
    });
    expect(outputs.ConnectorCostReportArgs?.Value).toBe('--connector-tasks 2 --connector-public-ipv4');
  });

  test("Slack's secret gets the appToken placeholder Socket Mode needs", () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp('slack'),
      SecretString: Match.stringLikeRegexp('"appToken":"REPLACE_ME"'),
    });
  });

  test('the image asset is built for linux/arm64 from the synthesized context', () => {
    const assets = stack.node.findAll().filter((c) => c.node.path.endsWith('Connector/Image'));
    expect(assets).toHaveLength(1);
    const [, taskDefinition] = only(template, 'AWS::ECS::TaskDefinition');
    expect(JSON.stringify(taskDefinition.Properties.ContainerDefinitions)).toContain('cdk-hnb659fds-container-assets');
  });
});

describe('longConnection in pipelineVpc', () => {
  const template = Template.fromStack(
    buildStack({ ...LONG, longConnection: { platforms: ['feishu'], desiredCount: 1 }, pipelineVpc: PIPELINE_VPC })
      .stack,
  );

  test("runs in the pipeline's subnets and security groups, without public IPs or a VPC of its own", () => {
    const [, service] = only(template, 'AWS::ECS::Service');
    expect(service.Properties).toMatchObject({
      DesiredCount: 1,
      NetworkConfiguration: {
        AwsvpcConfiguration: {
          AssignPublicIp: 'DISABLED',
          Subnets: PIPELINE_VPC.subnetIds,
          SecurityGroups: PIPELINE_VPC.securityGroupIds,
        },
      },
    });
    expect(Object.keys(template.findResources('AWS::EC2::VPC'))).toEqual([]);
    expect(template.findOutputs('ConnectorCostReportArgs').ConnectorCostReportArgs?.Value).toBe('--connector-tasks 1');
  });

  test('feishu: its secret, its API origin, and the alarm at one task', () => {
    const env = Object.fromEntries(
      (container(template).Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]),
    );
    expect(env).toMatchObject({
      LONG_CONNECTION_PLATFORMS: 'feishu',
      FEISHU_SECRET_ID: { Ref: expect.stringMatching(/^Secretsfeishu/) },
      FEISHU_API_BASE_URL: 'https://open.feishu.cn',
    });
    expect(env.SLACK_SECRET_ID).toBeUndefined();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'RunningTaskCount', Threshold: 1 });
  });
});

describe('longConnection: WeCom beside Slack (one service, the lease limits WeCom to one task)', () => {
  const { stack } = buildStack({ longConnection: { platforms: ['slack', 'wecom'] } });
  const template = Template.fromStack(stack);
  const queues = () =>
    Object.entries(template.findResources('AWS::SQS::Queue') as Record<string, { Properties: Json }>).filter(([id]) =>
      id.startsWith('ConnectorWecomRelay'),
    );

  test('the relay: a FIFO queue with a FIFO dead-letter queue, both on the chat key, TLS only', () => {
    const found = queues();
    expect(found.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'ConnectorWecomRelayDeadLetterQueue',
      'ConnectorWecomRelayQueue',
    ]);
    for (const [, queue] of found) {
      expect(queue.Properties).toMatchObject({
        FifoQueue: true,
        KmsMasterKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^ChatQueueKey/), 'Arn'] },
      });
    }
    const [, relay] = found.find(([id]) => id.startsWith('ConnectorWecomRelayQueue')) ?? ['', { Properties: {} }];
    expect(relay.Properties).toMatchObject({
      VisibilityTimeout: 30,
      MessageRetentionPeriod: 86_400,
      RedrivePolicy: { maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('the task role: lease items only, and the relay consumer', () => {
    const [, taskDefinition] = only(template, 'AWS::ECS::TaskDefinition');
    const roleId = (taskDefinition.Properties.TaskRoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statements = roleStatements(template, roleId);
    const lease = statements.find((s) => actionsOf(s).includes('dynamodb:UpdateItem'));
    expect(lease && actionsOf(lease).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    expect(lease?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['lease#wecom#*'] } });
    const relay = statements.find((s) => actionsOf(s).includes('sqs:ReceiveMessage'));
    expect(relay && actionsOf(relay).sort()).toEqual([
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:ReceiveMessage',
    ]);
    expect(relay?.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^ConnectorWecomRelayQueue/), 'Arn'] });
    expect(container(template).Environment).toEqual(
      expect.arrayContaining([
        { Name: 'WECOM_RELAY_QUEUE_URL', Value: { Ref: expect.stringMatching(/^ConnectorWecomRelayQueue/) } },
        { Name: 'LONG_CONNECTION_PLATFORMS', Value: 'slack,wecom' },
      ]),
    );
  });

  test('the worker may send to the relay (and nothing else of it) and knows its URL', () => {
    const roles = template.findResources('AWS::IAM::Role') as Record<string, { Properties: { Description?: string } }>;
    const [workerRoleId] = Object.entries(roles).find(([, r]) => r.Properties.Description?.includes('worker')) ?? [];
    const onRelay = roleStatements(template, workerRoleId ?? '').filter((s) =>
      JSON.stringify(s.Resource).includes('ConnectorWecomRelay'),
    );
    expect(onRelay.map((s) => actionsOf(s))).toEqual([['sqs:SendMessage']]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          WECOM_RELAY_QUEUE_URL: { Ref: Match.stringLikeRegexp('^ConnectorWecomRelayQueue') },
        }),
      },
    });
  });

  test("an alarm on the relay's dead-letter queue, on the alarm topic; none without WeCom", () => {
    const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0];
    const alarms = template.findResources('AWS::CloudWatch::Alarm') as Record<string, { Properties: Json }>;
    const relay = Object.entries(alarms).find(([id]) => id.startsWith('ConnectorWecomRelayDeadLetters'))?.[1];
    expect(relay?.Properties).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: topic }],
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [expect.stringMatching(/^ConnectorWecomRelayDeadLetterQueue/), 'QueueName'] },
        },
      ],
    });
    const slackOnly = Template.fromStack(buildStack({ longConnection: { platforms: ['slack'] } }).stack);
    expect(Object.keys(slackOnly.findResources('AWS::CloudWatch::Alarm')).filter((id) => id.includes('Relay'))).toEqual(
      [],
    );
  });

  test("WeCom's secret gets the botId and botSecret placeholders the socket needs", () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp('wecom'),
      SecretString: Match.stringLikeRegexp('botSecret'),
    });
  });
});

describe('groupgate:longConnection validation', () => {
  test('the CDK list of long-connection platforms is the connector’s own', () => {
    expect([...LONG_CONNECTION_PLATFORMS].sort()).toEqual([...RUNTIME_LONG_CONNECTION_PLATFORMS].sort());
  });

  test('defaults desiredCount to 2', () => {
    const config = parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, ...LONG });
    expect(config.longConnection).toEqual({ platforms: ['slack', 'dingtalk'], desiredCount: 2 });
  });

  test('accepts WeCom and refuses a platform that is not enabled, naming it', () => {
    expect(configProblems({ longConnection: { platforms: ['wecom'] } })).toEqual([]);
    expect(
      configProblems({ enabledPlatforms: ['slack', 'wecom'], longConnection: { platforms: ['wecom', 'dingtalk'] } }),
    ).toEqual(['longConnection.platforms: dingtalk is not in enabledPlatforms']);
  });

  test('refuses an unknown platform, an empty or repeated list, a bad count and an unknown key', () => {
    expect(configProblems({ longConnection: { platforms: ['teams' as 'slack'] } })).toEqual([
      'longConnection.platforms.0: unknown platform "teams" (expected feishu|slack|dingtalk|wecom)',
    ]);
    expect(configProblems({ longConnection: { platforms: [] } })).toEqual([
      expect.stringMatching(/^longConnection\.platforms: /),
    ]);
    expect(configProblems({ longConnection: { platforms: ['slack', 'slack'] } })).toEqual([
      'longConnection.platforms: must not repeat a platform',
    ]);
    expect(configProblems({ longConnection: { platforms: ['slack'], desiredCount: 0 } })).toEqual([
      expect.stringMatching(/^longConnection\.desiredCount: /),
    ]);
    expect(
      configProblems({ longConnection: { platforms: ['slack'], desiredCont: 2 } as AppConfigInput['longConnection'] }),
    ).toEqual([
      expect.stringMatching(
        /^longConnection\.desiredCont: unknown key; did you mean `longConnection\.desiredCount`\?$/,
      ),
    ]);
  });
});

describe('cdk-nag AwsSolutions', () => {
  const outdirs: string[] = [];
  afterAll(() => {
    for (const dir of outdirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  function violations(overrides: Partial<AppConfigInput>): unknown[] {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'groupgate-connector-nag-'));
    outdirs.push(outdir);
    const app = new App({ outdir, context: noBundling });
    buildStack(overrides, app);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const quiet = [jest.spyOn(console, 'error'), jest.spyOn(console, 'log')].map((s) =>
      s.mockImplementation(() => undefined),
    );
    try {
      app.synth();
      return [];
    } catch {
      const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as {
        pluginReports: { violations: unknown[] }[];
      };
      return report.pluginReports.flatMap((p) => p.violations);
    } finally {
      for (const spy of quiet) spy.mockRestore();
    }
  }

  test('zero unacknowledged findings in a VPC of its own', () => {
    expect(violations({ longConnection: { platforms: ['feishu', 'slack', 'dingtalk'] } })).toEqual([]);
  });

  test('zero unacknowledged findings with WeCom (lease, relay queue)', () => {
    expect(violations({ longConnection: { platforms: ['slack', 'wecom'] } })).toEqual([]);
  });

  test('zero unacknowledged findings in pipelineVpc', () => {
    expect(violations({ ...LONG, pipelineVpc: PIPELINE_VPC })).toEqual([]);
  });
});

describe('the image context', () => {
  test('the bundle is one self-contained file that starts and refuses an empty environment', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'groupgate-connector-bundle-'));
    try {
      const bytes = bundleConnector(dir);
      expect(bytes).toBeGreaterThan(100_000);
      expect(fs.readdirSync(dir).sort()).toEqual(['connector.js', 'connector.js.map']);
      const run = spawnSync(process.execPath, [path.join(dir, 'connector.js')], {
        env: { PATH: process.env.PATH ?? '' },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(run.status).toBe(1);
      expect(`${run.stdout}${run.stderr}`).toMatch(
        /connector: invalid configuration.*LONG_CONNECTION_PLATFORMS: not set/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
