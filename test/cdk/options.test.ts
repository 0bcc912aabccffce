import { Match, Template } from 'aws-cdk-lib/assertions';
import { ENV } from '#config/env-names';
import { buildStack } from './build-stack';

const IMPORTED_SLACK = 'arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:groupgate/slack-AbC123';

/** One non-default configuration: two platforms, an allowlist, a custom domain, an imported secret, a VPC. */
let template: Template;

beforeAll(() => {
  const { stack } = buildStack({
    enabledPlatforms: ['slack', 'wecom'],
    allowedCidrs: ['203.0.113.0/24', '2001:db8::/32'],
    customDomain: {
      domainName: 'chat.example.com',
      certificateArn: 'arn:aws:acm:ap-northeast-1:123456789012:certificate/11111111-2222-3333-4444-555555555555',
    },
    platformSecretArns: { slack: IMPORTED_SLACK },
    vpc: { subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] },
    modelQuantization: 'gptq',
    instanceType: 'ml.g4dn.2xlarge',
    minInstances: 2,
    maxInstances: 4,
    maxConcurrentRequestsPerInstance: 16,
    targetUtilisation: 0.5,
    meanInvocationSeconds: 4,
    alarmEmail: 'ops@example.com',
  });
  template = Template.fromStack(stack);
});

test('an allowlist becomes a resource policy that denies every other source IP', () => {
  template.hasResourceProperties('AWS::ApiGateway::RestApi', {
    Policy: {
      Statement: Match.arrayWith([
        Match.objectLike({
          Effect: 'Deny',
          Action: 'execute-api:Invoke',
          Condition: { NotIpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '2001:db8::/32'] } },
        }),
      ]),
    },
  });
});

test('the custom domain enforces TLS 1.2 and maps to the stage', () => {
  template.hasResourceProperties('AWS::ApiGateway::DomainName', {
    DomainName: 'chat.example.com',
    SecurityPolicy: 'TLS_1_2',
    EndpointConfiguration: { Types: ['REGIONAL'] },
  });
  template.resourceCountIs('AWS::ApiGateway::BasePathMapping', 1);
  template.hasOutput('WebhookUrlslack', { Value: 'https://chat.example.com/webhook/slack' });
});

test('only enabled platforms get a route and a secret', () => {
  const parts = Object.values(template.findResources('AWS::ApiGateway::Resource')).map(
    (r) => (r as { Properties: { PathPart: string } }).Properties.PathPart,
  );
  expect(parts.sort()).toEqual(['chat', 'slack', 'v1', 'webhook', 'wecom']);
  expect(Object.keys(template.findOutputs('*')).filter((o) => o.startsWith('WebhookUrl'))).toEqual([
    'WebhookUrlslack',
    'WebhookUrlwecom',
  ]);
  // wecom is created; slack is imported; plus the JWT secret.
  template.resourceCountIs('AWS::SecretsManager::Secret', 2);
  template.hasResourceProperties('AWS::Lambda::Function', {
    Environment: {
      Variables: Match.objectLike({
        POWERTOOLS_SERVICE_NAME: 'webhook',
        [ENV.slackSecretId]: IMPORTED_SLACK,
        [ENV.enabledPlatforms]: 'slack,wecom',
        [ENV.feishuSecretId]: Match.absent(),
      }),
    },
  });
});

test('WeCom GET and Slack POST require their signature parameters', () => {
  template.hasResourceProperties('AWS::ApiGateway::Method', {
    HttpMethod: 'GET',
    RequestParameters: {
      'method.request.querystring.msg_signature': true,
      'method.request.querystring.timestamp': true,
      'method.request.querystring.nonce': true,
    },
  });
  template.hasResourceProperties('AWS::ApiGateway::Method', {
    HttpMethod: 'POST',
    RequestParameters: {
      'method.request.header.X-Slack-Signature': true,
      'method.request.header.X-Slack-Request-Timestamp': true,
    },
  });
});

test('model options: explicit quantization, VPC, instance type and the derived scaling target', () => {
  template.hasResourceProperties('AWS::SageMaker::Model', {
    PrimaryContainer: Match.objectLike({ Environment: Match.objectLike({ OPTION_QUANTIZE: 'gptq' }) }),
    VpcConfig: { Subnets: ['subnet-0123456789abcdef0'], SecurityGroupIds: ['sg-0123456789abcdef0'] },
  });
  template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
    ProductionVariants: [Match.objectLike({ InstanceType: 'ml.g4dn.2xlarge', InitialInstanceCount: 2 })],
  });
  template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 4 });
  template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
    TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: Math.round(((16 * 60) / 4) * 0.5) }),
  });
});

test('the DLQ alarm notifies the configured e-mail', () => {
  template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    MetricName: 'ApproximateNumberOfMessagesVisible',
    Threshold: 1,
    AlarmActions: [{ Ref: Match.stringLikeRegexp('^ObservabilityAlarmsTopic') }],
  });
});
