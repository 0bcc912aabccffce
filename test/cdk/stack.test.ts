import { Match, Template } from 'aws-cdk-lib/assertions';
import { ENV } from '#config/env-names';
import { TABLE_SPECS, type TableSpec } from '#shared/table-specs';
import { buildStack, EXAMPLE_MODEL_URI } from './build-stack';

type Json = Record<string, unknown>;
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

let template: Template;

beforeAll(() => {
  template = Template.fromStack(buildStack().stack);
});

const resourcesOf = (type: string): Record<string, { Properties: Json }> =>
  template.findResources(type) as Record<string, { Properties: Json }>;

/** Every statement of every identity policy (AWS::IAM::Policy and inline role policies). */
function identityStatements(): { policy: string; statement: Statement }[] {
  const out: { policy: string; statement: Statement }[] = [];
  for (const [id, res] of Object.entries(resourcesOf('AWS::IAM::Policy'))) {
    const doc = res.Properties.PolicyDocument as { Statement: Statement[] };
    for (const statement of doc.Statement) out.push({ policy: id, statement });
  }
  for (const [id, res] of Object.entries(resourcesOf('AWS::IAM::Role'))) {
    for (const inline of (res.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]) ?? []) {
      for (const statement of inline.PolicyDocument.Statement) out.push({ policy: id, statement });
    }
  }
  return out;
}

const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesOfStatement = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** The statements attached to the role of the function whose Powertools service name is `service`. */
function statementsOfFunction(service: string): Statement[] {
  const fns = resourcesOf('AWS::Lambda::Function');
  const fn = Object.values(fns).find(
    (f) => (f.Properties.Environment as { Variables: Json }).Variables.POWERTOOLS_SERVICE_NAME === service,
  );
  if (!fn) throw new Error(`no function with service name ${service}`);
  const roleRef = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return Object.values(resourcesOf('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleRef))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

describe('queue', () => {
  test('FIFO queue with a FIFO DLQ, redrive after maxReceiveCount, customer-managed KMS key', () => {
    const queues = resourcesOf('AWS::SQS::Queue');
    expect(Object.keys(queues)).toHaveLength(2);
    const [dlqId] = Object.entries(queues).find(([, q]) => !q.Properties.RedrivePolicy) ?? [];
    expect(dlqId).toBeDefined();
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ChatQueueKey'), 'Arn'] },
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 },
      VisibilityTimeout: 360,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
    });
    expect(queues[dlqId as string]?.Properties).toMatchObject({ FifoQueue: true, KmsMasterKeyId: expect.anything() });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('both queues deny non-TLS requests', () => {
    const policies = Object.values(resourcesOf('AWS::SQS::QueuePolicy'));
    expect(policies).toHaveLength(2);
    for (const p of policies) {
      expect(JSON.stringify(p.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    }
  });

  test('the worker consumes the queue with partial batch failures and bounded concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });
});

describe('state', () => {
  test.each(Object.values(TABLE_SPECS) as TableSpec[])('table $id: TTL, PITR, SSE, on-demand, keys', (spec) => {
    const keySchema: { AttributeName: string; KeyType: string }[] = [
      { AttributeName: spec.partitionKey, KeyType: 'HASH' },
    ];
    if (spec.sortKey) keySchema.push({ AttributeName: spec.sortKey, KeyType: 'RANGE' });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: keySchema,
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: spec.ttlAttribute, Enabled: true },
    });
  });

  test('exactly five tables, the ledger with its byDay index', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 5);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: 'byDay',
          KeySchema: [
            { AttributeName: 'day', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
        }),
      ],
    });
  });
});

describe('model endpoint', () => {
  test('model: LMI container, uncompressed S3 prefix, fp16 compute for the 8-bit checkpoint, network isolation', () => {
    template.hasResourceProperties('AWS::SageMaker::Model', {
      EnableNetworkIsolation: true,
      PrimaryContainer: {
        Image: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('^763104351884\\.dkr\\.ecr\\.')])] },
        ModelDataSource: {
          S3DataSource: { S3Uri: EXAMPLE_MODEL_URI, S3DataType: 'S3Prefix', CompressionType: 'None' },
        },
        Environment: {
          HF_MODEL_ID: '/opt/ml/model',
          OPTION_DTYPE: 'fp16',
          OPTION_MAX_MODEL_LEN: '4096',
          OPTION_MAX_ROLLING_BATCH_SIZE: '8',
          TENSOR_PARALLEL_DEGREE: 'max',
        },
      },
      VpcConfig: Match.absent(),
    });
    // A pre-quantized INT8 checkpoint declares its method; LMI advises not to override it.
    const [model] = Object.values(resourcesOf('AWS::SageMaker::Model'));
    expect(JSON.stringify(model)).not.toContain('OPTION_QUANTIZE');
  });

  test('endpoint config: ml.g4dn.xlarge, download and startup timeouts', () => {
    template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [
        Match.objectLike({
          InstanceType: 'ml.g4dn.xlarge',
          InitialInstanceCount: 1,
          ModelDataDownloadTimeoutInSeconds: 1200,
          ContainerStartupHealthCheckTimeoutInSeconds: 1800,
        }),
      ],
    });
    template.resourceCountIs('AWS::SageMaker::Endpoint', 1);
  });

  test('scalable target min/max and target tracking on invocations per instance', () => {
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ServiceNamespace: 'sagemaker',
      ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      MinCapacity: 1,
      MaxCapacity: 2,
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
        TargetValue: Math.round(8 * 60 * 0.7),
      }),
    });
  });

  test('the execution role reads only the model prefix', () => {
    const roles = resourcesOf('AWS::IAM::Role');
    const [roleId] =
      Object.entries(roles).find(([, r]) => JSON.stringify(r.Properties).includes('sagemaker.amazonaws.com')) ?? [];
    const s3 = identityStatements()
      .filter(({ policy, statement }) => {
        const policyRes = resourcesOf('AWS::IAM::Policy')[policy];
        const attached = JSON.stringify(policyRes?.Properties.Roles ?? []).includes(roleId as string);
        return attached && actionsOf(statement).some((a) => a.startsWith('s3:'));
      })
      .map(({ statement }) => statement);
    expect(s3.flatMap(actionsOf).sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
    expect(JSON.stringify(s3)).toContain('example-model-bucket/models/qwen2.5-7b-instruct-int8/*');
    expect(JSON.stringify(s3)).toContain('"s3:prefix":["models/qwen2.5-7b-instruct-int8/*"]');
  });
});

describe('api', () => {
  test('webhook routes for every enabled platform; WeCom also answers GET', () => {
    const methods = Object.values(resourcesOf('AWS::ApiGateway::Method')).map((m) => m.Properties);
    const paths = Object.values(resourcesOf('AWS::ApiGateway::Resource')).map((r) => r.Properties.PathPart);
    expect(paths).toEqual(expect.arrayContaining(['webhook', 'feishu', 'slack', 'dingtalk', 'wecom', 'v1', 'chat']));
    expect(methods.filter((m) => m.HttpMethod === 'GET')).toHaveLength(1);
    expect(methods.filter((m) => m.HttpMethod === 'POST')).toHaveLength(5);
    for (const m of methods) expect(m.RequestValidatorId).toBeDefined();
  });

  test('/v1/chat requires an API key and the cached REQUEST authorizer', () => {
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      ApiKeyRequired: true,
      AuthorizationType: 'CUSTOM',
      AuthorizerId: { Ref: Match.stringLikeRegexp('JwtAuthorizer') },
      RequestModels: { 'application/json': Match.anyValue() },
    });
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      AuthorizerResultTtlInSeconds: 300,
      IdentitySource: 'method.request.header.Authorization',
    });
  });

  test('usage plan with throttle and quota, bound to the stage and an API key', () => {
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 50, BurstLimit: 100 },
      Quota: { Limit: 10000, Period: 'DAY' },
      ApiStages: [Match.objectLike({ Stage: Match.anyValue() })],
    });
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
  });

  test('stage: access logs, throttling, tracing; no resource policy without an allowlist', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
      TracingEnabled: true,
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 })],
    });
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { Policy: Match.absent() });
    template.resourceCountIs('AWS::ApiGateway::DomainName', 0);
  });
});

describe('functions', () => {
  test('house defaults: arm64, nodejs22.x, active tracing, Powertools env, own log group', () => {
    const fns = Object.values(resourcesOf('AWS::Lambda::Function'));
    // webhook, worker, chat-api, jwt-authorizer, stream-sweeper
    expect(fns).toHaveLength(5);
    for (const fn of fns) {
      expect(fn.Properties).toMatchObject({
        Architectures: ['arm64'],
        Runtime: 'nodejs22.x',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: expect.anything() },
        Environment: {
          Variables: expect.objectContaining({
            POWERTOOLS_METRICS_NAMESPACE: 'GroupGate',
            POWERTOOLS_LOG_LEVEL: 'INFO',
          }),
        },
      });
      // Stack traces are mapped by the handlers on demand; --enable-source-maps would decode the map at cold start.
      expect(fn.Properties).not.toMatchObject({ Environment: { Variables: { NODE_OPTIONS: expect.anything() } } });
    }
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 30 }, 6);
  });

  test('bound resources set their env vars from the shared ENV names', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'webhook',
          [ENV.eventsTable]: { Ref: Match.stringLikeRegexp('^StateEvents') },
          [ENV.queueUrl]: { Ref: Match.stringLikeRegexp('^ChatQueue[0-9A-F]{8}$') },
          [ENV.slackSecretId]: { Ref: Match.stringLikeRegexp('^Secretsslack') },
          [ENV.enabledPlatforms]: 'feishu,slack,dingtalk,wecom',
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'worker',
          [ENV.modelEndpointName]: 'GroupGate-llm',
          [ENV.contextTtlMinutes]: '30',
          [ENV.answerCacheTtlMinutes]: '60',
          [ENV.conversationsTable]: Match.anyValue(),
          [ENV.ledgerTable]: Match.anyValue(),
          [ENV.auditTable]: Match.anyValue(),
        }),
      },
    });
  });

  test('webhook may only touch events items, send to the queue and read platform secrets', () => {
    const statements = statementsOfFunction('webhook');
    const actions = [...new Set(statements.flatMap(actionsOf))].sort();
    expect(actions).toEqual(
      [
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'kms:Decrypt',
        'kms:GenerateDataKey',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'secretsmanager:GetSecretValue',
        'sqs:SendMessage',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
    const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.flatMap(resourcesOfStatement)).toEqual([
      { 'Fn::GetAtt': [expect.stringMatching(/^StateEvents/), 'Arn'] },
    ]);
    const secretResources = statements
      .filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'))
      .flatMap(resourcesOfStatement);
    expect(secretResources).toHaveLength(4);
  });

  test('the JWT authorizer can read only the JWT secret', () => {
    const data = statementsOfFunction('jwt-authorizer').filter(
      (s) => !actionsOf(s).some((a) => a.startsWith('logs:') || a.startsWith('xray:')),
    );
    expect(data).toEqual([
      expect.objectContaining({
        Action: 'secretsmanager:GetSecretValue',
        Resource: { Ref: expect.stringMatching(/^SecretsJwtSecret/) },
      }),
    ]);
  });

  test('no identity policy has a wildcard action, and data actions never target "*"', () => {
    const statements = identityStatements();
    expect(statements.length).toBeGreaterThan(20);
    const dataServices = /^(dynamodb|sqs|s3|secretsmanager|kms|sagemaker):/;
    for (const { policy, statement } of statements) {
      for (const action of actionsOf(statement)) {
        expect({ policy, action, wildcard: action.includes('*') }).toEqual({ policy, action, wildcard: false });
      }
      if (actionsOf(statement).some((a) => dataServices.test(a))) {
        expect({ policy, resources: resourcesOfStatement(statement) }).not.toEqual({
          policy,
          resources: expect.arrayContaining(['*']),
        });
      }
    }
  });
});

test('outputs: webhook URL per platform, chat API, queues and tables', () => {
  const outputs = Object.keys(template.findOutputs('*'));
  expect(outputs).toEqual(
    expect.arrayContaining([
      'WebhookUrlfeishu',
      'WebhookUrlslack',
      'WebhookUrldingtalk',
      'WebhookUrlwecom',
      'ChatApiUrl',
      'QueueUrl',
      'DeadLetterQueueUrl',
      'Tableconversations',
      'Tableevents',
      'TableanswerCache',
      'Tableledger',
      'Tableaudit',
    ]),
  );
});
