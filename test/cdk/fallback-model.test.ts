import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { ENV } from '#config/env-names';
import { ConfigError } from '#core/errors';
import { type AppConfigInput, parseAppConfig } from '../../lib/config';
import { buildStack, EXAMPLE_MODEL_URI } from './build-stack';
import { actionsOf, type FunctionResource, functionEntry, type Json, statementsOf } from './template-queries';

const WEIGHTS = 's3://example-model-bucket/fallback/qwen2.5-0.5b-instruct-q8_0.gguf';
const API_KEY_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:groupgate/vllm-key-AbC123';

function templateOf(overrides: Partial<AppConfigInput>): Template {
  return Template.fromStack(buildStack(overrides).stack);
}

const functionNamed = functionEntry;
const actions = actionsOf;

const FALLBACK_VARS = Object.values(ENV).filter((name) => name.startsWith('FALLBACK_'));

describe('without fallbackModel', () => {
  const template = templateOf({});

  test('no backup function is built and no pipeline function is told of one', () => {
    const fns = template.findResources('AWS::Lambda::Function') as Record<string, FunctionResource>;
    expect(Object.values(fns).map((f) => f.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME)).not.toContain(
      'fallback-model',
    );
    template.resourceCountIs('AWS::Lambda::Url', 0);
    for (const fn of Object.values(fns)) {
      expect(Object.keys(fn.Properties.Environment.Variables).filter((k) => k.startsWith('FALLBACK_'))).toEqual([]);
    }
  });
});

describe('fallbackModel.kind = function', () => {
  const template = templateOf({ fallbackModel: { kind: 'function', weightsS3Uri: WEIGHTS } });
  const [fallbackId, fallback] = functionNamed(template, 'fallback-model');

  test('an arm64 function sized for a CPU model: memory, /tmp for the weights, concurrency cap, timeout', () => {
    expect(fallback.Properties).toMatchObject({
      Architectures: ['arm64'],
      Runtime: 'nodejs22.x',
      MemorySize: 3008,
      EphemeralStorage: { Size: 4096 },
      ReservedConcurrentExecutions: 4,
      Timeout: 120,
    });
    expect(fallback.Properties.Environment.Variables).toMatchObject({
      FALLBACK_WEIGHTS_S3_URI: WEIGHTS,
      FALLBACK_CONTEXT_SIZE: '2048',
      FALLBACK_MAX_TOKENS: '512',
      FALLBACK_ENDPOINT_NAME: 'groupgate-fallback',
    });
  });

  test('a five-minute schedule keeps one environment warm, without retries', () => {
    template.resourceCountIs('AWS::Events::Rule', 2); // with the stream sweeper's
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [fallbackId, 'Arn'] },
          Input: JSON.stringify({ warmUp: true }),
          RetryPolicy: { MaximumRetryAttempts: 0 },
        },
      ],
    });
    const off = templateOf({ fallbackModel: { kind: 'function', weightsS3Uri: WEIGHTS, keepWarm: false } });
    off.resourceCountIs('AWS::Events::Rule', 1);
  });

  test('its function URL needs SigV4 (AWS_IAM) and streams responses', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      InvokeMode: 'RESPONSE_STREAM',
      TargetFunctionArn: { 'Fn::GetAtt': [fallbackId, 'Arn'] },
    });
  });

  test('its role reads the one weights object and nothing else in S3', () => {
    const s3 = statementsOf(template, fallback).filter((s) => actions(s).some((a) => a.startsWith('s3:')));
    expect(s3).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':s3:::example-model-bucket/fallback/qwen2.5-0.5b-instruct-q8_0.gguf'],
          ],
        },
      }),
    ]);
  });

  test.each(['worker', 'chat-api'])('%s reaches it by URL, may call that URL only, and prices its answers', (name) => {
    const [, fn] = functionNamed(template, name);
    const urlId = Object.keys(template.findResources('AWS::Lambda::Url'))[0] ?? '';
    expect(fn.Properties.Environment.Variables).toMatchObject({
      [ENV.fallbackModelEndpointUrl]: { 'Fn::GetAtt': [urlId, 'FunctionUrl'] },
      [ENV.fallbackModelId]: 'fallback-cpu',
      [ENV.fallbackModelMemoryMb]: '3008',
      [ENV.fallbackTimeoutMs]: '20000',
    });
    // Function URLs with IAM auth need both actions (since October 2025), each only through the URL.
    const lambda = statementsOf(template, fn).filter((s) => actions(s).some((a) => a.startsWith('lambda:')));
    expect(lambda.flatMap(actions).sort()).toEqual(['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl']);
    for (const statement of lambda) {
      expect(statement.Resource).toEqual({ 'Fn::GetAtt': [fallbackId, 'Arn'] });
    }
    expect(lambda.find((s) => actions(s).includes('lambda:InvokeFunctionUrl'))?.Condition).toEqual({
      StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' },
    });
    expect(lambda.find((s) => actions(s).includes('lambda:InvokeFunction'))?.Condition).toEqual({
      Bool: { 'lambda:InvokedViaFunctionUrl': true },
    });
  });

  test('the webhook knows nothing of it', () => {
    const [, webhook] = functionNamed(template, 'webhook');
    expect(
      Object.keys(webhook.Properties.Environment.Variables).filter((k) => FALLBACK_VARS.includes(k as never)),
    ).toEqual([]);
  });

  test('throttles and errors of the function page the alarm topic', () => {
    const alarms = template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { Dimensions: [{ Name: 'FunctionName', Value: { Ref: fallbackId } }] },
    }) as Record<string, { Properties: Json }>;
    expect(
      Object.values(alarms)
        .map((a) => a.Properties.MetricName)
        .sort(),
    ).toEqual(['Errors', 'Throttles']);
    const topics = Object.keys(template.findResources('AWS::SNS::Topic'));
    expect(topics).toHaveLength(1);
    for (const alarm of Object.values(alarms)) {
      expect(alarm.Properties).toMatchObject({
        Threshold: 1,
        AlarmActions: [{ Ref: topics[0] }],
        OKActions: [{ Ref: topics[0] }],
      });
    }
  });

  test('its settings reach the function and the pipeline', () => {
    const custom = templateOf({
      fallbackModel: {
        kind: 'function',
        weightsS3Uri: WEIGHTS,
        modelId: 'qwen-0.5b-cpu',
        memoryMb: 10_240,
        ephemeralStorageMb: 2048,
        maxConcurrency: 2,
        contextSize: 4096,
        maxTokens: 256,
        callTimeoutSeconds: 30,
        functionTimeoutSeconds: 300,
      },
    });
    const [, fn] = functionNamed(custom, 'fallback-model');
    expect(fn.Properties).toMatchObject({
      MemorySize: 10_240,
      EphemeralStorage: { Size: 2048 },
      ReservedConcurrentExecutions: 2,
      Timeout: 300,
    });
    expect(fn.Properties.Environment.Variables).toMatchObject({
      FALLBACK_CONTEXT_SIZE: '4096',
      FALLBACK_MAX_TOKENS: '256',
    });
    const [, worker] = functionNamed(custom, 'worker');
    expect(worker.Properties.Environment.Variables).toMatchObject({
      [ENV.fallbackModelId]: 'qwen-0.5b-cpu',
      [ENV.fallbackModelMemoryMb]: '10240',
      [ENV.fallbackTimeoutMs]: '30000',
    });
  });
});

describe('fallbackModel.kind = openai', () => {
  const template = templateOf({
    fallbackModel: {
      kind: 'openai',
      baseUrl: 'https://vllm.internal.example.com/v1',
      model: 'Qwen/Qwen2.5-7B-Instruct',
      apiKeySecretArn: API_KEY_ARN,
    },
  });

  test('no function is built; the pipeline speaks the OpenAI API to the team’s server with its key secret', () => {
    template.resourceCountIs('AWS::Lambda::Url', 0);
    for (const name of ['worker', 'chat-api']) {
      const [, fn] = functionNamed(template, name);
      expect(fn.Properties.Environment.Variables).toMatchObject({
        [ENV.fallbackModelEndpointUrl]: 'https://vllm.internal.example.com/v1',
        [ENV.fallbackModelApi]: 'openai',
        [ENV.fallbackModelOpenAiModel]: 'Qwen/Qwen2.5-7B-Instruct',
        [ENV.fallbackModelApiKeySecretId]: API_KEY_ARN,
        [ENV.fallbackModelId]: 'fallback-openai',
      });
      expect(fn.Properties.Environment.Variables).not.toHaveProperty(ENV.fallbackModelMemoryMb);
      const reads = statementsOf(template, fn).filter((s) => actions(s).includes('secretsmanager:GetSecretValue'));
      expect(reads.map((s) => s.Resource)).toContain(API_KEY_ARN);
    }
  });
});

describe('fallbackModel validation', () => {
  const problemsOf = (fallbackModel: unknown): readonly string[] => {
    try {
      parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, fallbackModel } as AppConfigInput);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems;
    }
    throw new Error('expected a ConfigError');
  };

  test.each<[string, unknown, RegExp]>([
    ['no weights', { kind: 'function' }, /fallbackModel\.weightsS3Uri.*required/],
    ['a prefix, not a GGUF', { kind: 'function', weightsS3Uri: 's3://bucket/models/' }, /s3:\/\/bucket\/key\.gguf/],
    ['memory below a CPU model', { kind: 'function', weightsS3Uri: WEIGHTS, memoryMb: 512 }, /fallbackModel\.memoryMb/],
    ['an unknown kind', { kind: 'ollama' }, /fallbackModel.*kind must be "function" or "openai"/],
    ['openai without a model', { kind: 'openai', baseUrl: 'https://x.example.com/v1' }, /fallbackModel\.model/],
    [
      'openai key by name, not ARN',
      { kind: 'openai', baseUrl: 'https://x.example.com/v1', model: 'm', apiKeySecretArn: 'vllm-key' },
      /complete Secrets Manager ARN/,
    ],
    [
      'a key over plain http',
      { kind: 'openai', baseUrl: 'http://vllm.internal:8000/v1', model: 'm', apiKeySecretArn: API_KEY_ARN },
      /fallbackModel\.baseUrl: must be https when apiKeySecretArn is set/,
    ],
    [
      'the primary’s id',
      { kind: 'function', weightsS3Uri: WEIGHTS, modelId: 'private-llm-int8' },
      /fallbackModel\.modelId: "private-llm-int8" is the primary model's id/,
    ],
  ])('refuses %s with a named problem', (_label, fallbackModel, message) => {
    expect(problemsOf(fallbackModel).join('\n')).toMatch(message);
  });
});

describe('pipelineVpc', () => {
  const vpc = { subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] };
  const template = templateOf({ pipelineVpc: vpc });

  test.each(['worker', 'chat-api'])(
    '%s runs in the subnets, with the network-interface actions Lambda needs',
    (name) => {
      const [, fn] = functionNamed(template, name);
      expect(fn.Properties.VpcConfig).toEqual({ SubnetIds: vpc.subnetIds, SecurityGroupIds: vpc.securityGroupIds });
      const eni = statementsOf(template, fn).filter((s) => actions(s).includes('ec2:CreateNetworkInterface'));
      expect(eni).toHaveLength(1);
    },
  );

  test.each(['webhook', 'jwt-authorizer', 'stream-sweeper'])('%s stays outside the VPC', (name) => {
    const [, fn] = functionNamed(template, name);
    expect(fn.Properties.VpcConfig).toBeUndefined();
    expect(statementsOf(template, fn).filter((s) => actions(s).some((a) => a.startsWith('ec2:')))).toEqual([]);
  });
});

describe('scaleToZero and the backup model', () => {
  const scaleToZero = { timeZone: 'Asia/Shanghai', openDays: 'MON-FRI', opensAt: '08:00', closesAt: '20:00' };
  const warnings = (overrides: Partial<AppConfigInput>) =>
    Annotations.fromStack(buildStack(overrides).stack).findWarning(
      '*',
      Match.stringLikeRegexp('scaleToZero without a fallback model'),
    );

  test('synth warns when closed hours have no backup to answer, and not when one is configured', () => {
    expect(warnings({ scaleToZero })).toHaveLength(1);
    expect(warnings({ scaleToZero, fallbackModel: { kind: 'function', weightsS3Uri: WEIGHTS } })).toEqual([]);
    expect(warnings({})).toEqual([]);
  });
});
