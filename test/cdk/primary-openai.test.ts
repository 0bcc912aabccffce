import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { createModelClient } from '#composition/model-composition';
import { loadChatApiConfig } from '#config/chat-api-config';
import { ENV } from '#config/env-names';
import { pipelineEnvShape } from '#config/pipeline-config';
import { loadWorkerConfig } from '#config/worker-config';
import { ConfigError } from '#core/errors';
import { type AppConfigInput, CONTEXT_KEY, parseAppConfig, readAppConfig } from '../../lib/config';
import { GroupGateStack } from '../../lib/groupgate-stack';
import { buildStack, EXAMPLE_MODEL_URI, noBundling } from './build-stack';
import {
  actionsOf,
  type FunctionResource,
  functionEntry,
  type Json,
  type Statement,
  statementsOf,
} from './template-queries';

const VLLM_URL = 'https://vllm.internal.example.com/v1';
const VLLM_MODEL = 'Qwen/Qwen2.5-7B-Instruct';
const KEY_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:groupgate/vllm-key-AbC123';
const FALLBACK_KEY_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:groupgate/ollama-key-XyZ789';
const PRIMARY = { kind: 'openai', baseUrl: VLLM_URL, model: VLLM_MODEL } as const;
/** The pipeline's own `MODEL_ID` default: what a SageMaker primary's ledger rows carry. */
const DEFAULT_MODEL_ID = pipelineEnvShape[ENV.modelId].parse(undefined);
const SAGEMAKER_TYPES = [
  'AWS::SageMaker::Model',
  'AWS::SageMaker::EndpointConfig',
  'AWS::SageMaker::Endpoint',
  'AWS::SageMaker::InferenceComponent',
  'AWS::ApplicationAutoScaling::ScalableTarget',
  'AWS::ApplicationAutoScaling::ScalingPolicy',
];

/** A stack from exactly this configuration (no `modelS3Uri` added, unlike `buildStack`). */
function stackOf(input: AppConfigInput) {
  const config = parseAppConfig(input);
  const stack = new GroupGateStack(new App({ context: noBundling }), 'GroupGate', { config });
  return { config, stack, template: Template.fromStack(stack) };
}

const functionNamed = (template: Template, service: string): FunctionResource => functionEntry(template, service)[1];
const actions = actionsOf;

const secretReads = (template: Template, fn: FunctionResource): unknown[] =>
  statementsOf(template, fn)
    .filter((s) => actions(s).some((a) => a.startsWith('secretsmanager:')))
    .map((s) => ({ actions: actions(s), resource: s.Resource }));

function resourceCounts(template: Template): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { Type } of Object.values(template.toJSON().Resources as Record<string, { Type: string }>)) {
    counts[Type] = (counts[Type] ?? 0) + 1;
  }
  return counts;
}

/** A function's environment as Lambda would hand it over: CloudFormation references become placeholder strings. */
function resolvedEnv(fn: FunctionResource): Record<string, string> {
  return Object.fromEntries(
    Object.entries(fn.Properties.Environment.Variables).map(([k, v]) => [k, typeof v === 'string' ? v : `ref-${k}`]),
  );
}

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const sageMakerOnly = (key: string) =>
  `${key}: configures the SageMaker endpoint, which primaryModel replaces (none is built); remove it from the ` +
  `groupgate object in cdk.json, or unset it for one command with -c groupgate:${key}=''`;

describe('primaryModel.kind = openai: what is not built', () => {
  const { stack, template } = stackOf({ primaryModel: { ...PRIMARY, apiKeySecretArn: KEY_ARN } });

  test('no SageMaker model, endpoint, inference component, scaling, or role SageMaker could assume', () => {
    for (const type of SAGEMAKER_TYPES) template.resourceCountIs(type, 0);
    const roles = Object.values(template.findResources('AWS::IAM::Role'));
    expect(JSON.stringify(roles)).not.toContain('sagemaker.amazonaws.com');
    expect(stack.model).toBeUndefined();
  });

  test('no function may call SageMaker at all', () => {
    const policies = template.findResources('AWS::IAM::Policy') as Record<
      string,
      { Properties: { PolicyDocument: { Statement: Statement[] } } }
    >;
    const all = Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap(actions));
    expect(all.length).toBeGreaterThan(0);
    expect(all.filter((a) => a.startsWith('sagemaker:'))).toEqual([]);
  });

  test('the ModelEndpointName output is gone; the others stay', () => {
    const outputs = Object.keys(template.toJSON().Outputs as Json);
    expect(outputs).not.toContain('ModelEndpointName');
    expect(outputs).toEqual(expect.arrayContaining(['ChatApiUrl', 'QueueUrl', 'DeadLetterQueueUrl']));
  });

  test('compared with the default stack, only the endpoint, its role, its scaling and Endpoint5xx are missing', () => {
    const withEndpoint = resourceCounts(Template.fromStack(buildStack().stack));
    const without = resourceCounts(template);
    const changed = Object.keys({ ...withEndpoint, ...without })
      .filter((type) => withEndpoint[type] !== without[type])
      .sort()
      .map((type) => [type, withEndpoint[type] ?? 0, without[type] ?? 0]);
    expect(changed).toEqual([
      ['AWS::ApplicationAutoScaling::ScalableTarget', 1, 0],
      ['AWS::ApplicationAutoScaling::ScalingPolicy', 1, 0],
      ['AWS::CloudWatch::Alarm', 8, 7],
      // The endpoint's execution role and the scalable target's role, and the execution role's policy.
      ['AWS::IAM::Policy', 6, 5],
      ['AWS::IAM::Role', 7, 5],
      ['AWS::SageMaker::Endpoint', 1, 0],
      ['AWS::SageMaker::EndpointConfig', 1, 0],
      ['AWS::SageMaker::Model', 1, 0],
    ]);
  });
});

describe('primaryModel.kind = openai: the pipeline functions', () => {
  const { template } = stackOf({ primaryModel: { ...PRIMARY, apiKeySecretArn: KEY_ARN }, maxModelLen: 8192 });

  test.each(['worker', 'chat-api'])('%s speaks the OpenAI API to the server, under the primary id', (name) => {
    const vars = functionNamed(template, name).Properties.Environment.Variables;
    expect(vars).toMatchObject({
      [ENV.modelApi]: 'openai',
      [ENV.modelEndpointUrl]: VLLM_URL,
      [ENV.modelOpenAiModel]: VLLM_MODEL,
      [ENV.modelId]: DEFAULT_MODEL_ID,
      [ENV.modelApiKeySecretId]: KEY_ARN,
      // maxModelLen sets the prompt budget only: no server is configured by the stack.
      [ENV.modelContextWindow]: '8192',
    });
    // Nothing that names a SageMaker endpoint or prices an instance the deployment does not run.
    expect(vars).not.toHaveProperty(ENV.modelEndpointName);
    expect(vars).not.toHaveProperty(ENV.modelInstanceType);
    expect(vars).not.toHaveProperty(ENV.modelInferenceComponent);
  });

  test('chat-api may read the key secret and no other; the worker the key and the platform secrets', () => {
    expect(secretReads(template, functionNamed(template, 'chat-api'))).toEqual([
      { actions: ['secretsmanager:GetSecretValue'], resource: KEY_ARN },
    ]);
    const worker = secretReads(template, functionNamed(template, 'worker'));
    expect(worker).toContainEqual({ actions: ['secretsmanager:GetSecretValue'], resource: KEY_ARN });
    for (const read of worker) expect(read).toMatchObject({ actions: ['secretsmanager:GetSecretValue'] });
  });

  test.each(['webhook', 'jwt-authorizer'])('%s knows nothing of the model or its key', (name) => {
    const fn = functionNamed(template, name);
    expect(Object.keys(fn.Properties.Environment.Variables).filter((k) => k.startsWith('MODEL_'))).toEqual([]);
    expect(JSON.stringify(statementsOf(template, fn))).not.toContain(KEY_ARN);
  });

  test('the runtime accepts the environment the stack sets, and bills the answers `free` (no model cost)', () => {
    const worker = loadWorkerConfig(resolvedEnv(functionNamed(template, 'worker')));
    const chatApi = loadChatApiConfig(resolvedEnv(functionNamed(template, 'chat-api')));
    for (const config of [worker, chatApi]) {
      expect(config.model).toMatchObject({
        endpointUrl: VLLM_URL,
        modelId: DEFAULT_MODEL_ID,
        contextWindow: 8192,
        openAi: { model: VLLM_MODEL, apiKeySecretId: KEY_ARN },
      });
      const client = createModelClient(config);
      expect(client.id).toBe(DEFAULT_MODEL_ID);
      expect(client.billing).toEqual({ kind: 'free' });
    }
  });

  test('without a key: no key variable and no secret grant; a modelId of its own reaches the functions', () => {
    const keyless = stackOf({ primaryModel: { ...PRIMARY, modelId: 'vllm-qwen7b' } }).template;
    const chatApi = functionNamed(keyless, 'chat-api');
    expect(chatApi.Properties.Environment.Variables).not.toHaveProperty(ENV.modelApiKeySecretId);
    expect(chatApi.Properties.Environment.Variables[ENV.modelId]).toBe('vllm-qwen7b');
    expect(secretReads(keyless, chatApi)).toEqual([]);
  });

  test('in pipelineVpc, the worker and chat-api run in its subnets to reach a VPC-only server', () => {
    const vpc = { subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] };
    const inVpc = stackOf({ primaryModel: PRIMARY, pipelineVpc: vpc }).template;
    for (const name of ['worker', 'chat-api']) {
      expect(functionNamed(inVpc, name).Properties.VpcConfig).toEqual({
        SubnetIds: vpc.subnetIds,
        SecurityGroupIds: vpc.securityGroupIds,
      });
    }
  });
});

describe('primaryModel.kind = openai beside a fallback model', () => {
  test('an OpenAI-compatible fallback: both servers, each key granted on its own ARN', () => {
    const { template } = stackOf({
      primaryModel: { ...PRIMARY, apiKeySecretArn: KEY_ARN },
      fallbackModel: {
        kind: 'openai',
        baseUrl: 'https://ollama.internal.example.com:11434/v1',
        model: 'qwen2.5:0.5b',
        apiKeySecretArn: FALLBACK_KEY_ARN,
      },
    });
    const chatApi = functionNamed(template, 'chat-api');
    expect(chatApi.Properties.Environment.Variables).toMatchObject({
      [ENV.modelEndpointUrl]: VLLM_URL,
      [ENV.modelApiKeySecretId]: KEY_ARN,
      [ENV.fallbackModelEndpointUrl]: 'https://ollama.internal.example.com:11434/v1',
      [ENV.fallbackModelApiKeySecretId]: FALLBACK_KEY_ARN,
      [ENV.fallbackModelId]: 'fallback-openai',
    });
    expect(secretReads(template, chatApi)).toEqual([
      { actions: ['secretsmanager:GetSecretValue'], resource: KEY_ARN },
      { actions: ['secretsmanager:GetSecretValue'], resource: FALLBACK_KEY_ARN },
    ]);
    const config = loadChatApiConfig(resolvedEnv(chatApi));
    expect(config.model.fallback).toMatchObject({ modelId: 'fallback-openai', openAi: { model: 'qwen2.5:0.5b' } });
  });

  test('a fallback function: it is built and the pipeline may call its URL, still without SageMaker', () => {
    const { stack, template } = stackOf({
      primaryModel: PRIMARY,
      fallbackModel: { kind: 'function', weightsS3Uri: 's3://example-model-bucket/fallback/qwen-0.5b-q8_0.gguf' },
    });
    expect(stack.fallbackModel).toBeDefined();
    template.resourceCountIs('AWS::Lambda::Url', 1);
    const worker = functionNamed(template, 'worker');
    expect(worker.Properties.Environment.Variables).toMatchObject({
      [ENV.modelApi]: 'openai',
      [ENV.fallbackModelId]: 'fallback-cpu',
    });
    expect(statementsOf(template, worker).flatMap(actions)).toContain('lambda:InvokeFunctionUrl');
    for (const type of SAGEMAKER_TYPES) template.resourceCountIs(type, 0);
  });
});

describe('observability with an OpenAI-compatible primary', () => {
  const { template } = stackOf({ primaryModel: PRIMARY });
  const alarmNames = (t: Template) =>
    Object.keys(t.findResources('AWS::CloudWatch::Alarm'))
      .map((id) => id.replace(/^ObservabilityAlarms/, '').replace(/[0-9A-F]{8}$/, ''))
      .sort();

  test('the pipeline alarms stay; Endpoint5xx (a SageMaker metric) is the only one gone', () => {
    const sageMaker = alarmNames(Template.fromStack(buildStack().stack));
    expect(sageMaker).toHaveLength(8);
    expect(sageMaker.filter((name) => !alarmNames(template).includes(name))).toEqual(['Endpoint5xx']);
    expect(alarmNames(template)).toEqual(expect.arrayContaining(['PrimaryModelUnavailable', 'ModelLatencyP90']));
    template.resourceCountIs('AWS::CloudWatch::Alarm', 7);
  });

  test('neither alarms nor dashboard read a SageMaker metric', () => {
    const alarms = JSON.stringify(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).not.toMatch(/AWS\/SageMaker|Invocation5XXErrors/);
    const dashboards = JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toContain('Model latency (ms)');
    expect(dashboards).not.toMatch(/AWS\/SageMaker|\/aws\/sagemaker\/Endpoints|Endpoint invocations/);
  });
});

describe('the default stack is unchanged', () => {
  const { stack } = buildStack();
  const template = Template.fromStack(stack);

  test('the SageMaker endpoint, its eight alarms, its dashboard row and its output', () => {
    expect(stack.model).toBeDefined();
    for (const type of SAGEMAKER_TYPES.filter((t) => t !== 'AWS::SageMaker::InferenceComponent')) {
      template.resourceCountIs(type, 1);
    }
    template.resourceCountIs('AWS::CloudWatch::Alarm', 8);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Invocation5XXErrors' });
    expect(JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'))).toContain('Endpoint invocations');
    expect(Object.keys(template.toJSON().Outputs as Json)).toContain('ModelEndpointName');
  });

  test.each(['worker', 'chat-api'])('%s invokes the endpoint by name and prices its instance', (name) => {
    const fn = functionNamed(template, name);
    const vars = fn.Properties.Environment.Variables;
    expect(vars).toMatchObject({ [ENV.modelEndpointName]: 'GroupGate-llm', [ENV.modelInstanceType]: 'ml.g4dn.xlarge' });
    for (const key of [ENV.modelApi, ENV.modelEndpointUrl, ENV.modelOpenAiModel, ENV.modelId]) {
      expect(vars).not.toHaveProperty(key);
    }
    expect(statementsOf(template, fn).flatMap(actions)).toContain('sagemaker:InvokeEndpointWithResponseStream');
  });
});

describe('primaryModel configuration', () => {
  test('modelS3Uri is not required; modelId defaults to the pipeline’s MODEL_ID default', () => {
    const config = parseAppConfig({ primaryModel: PRIMARY });
    expect(config.modelS3Uri).toBeUndefined();
    expect(config.primaryModel).toEqual({ ...PRIMARY, modelId: DEFAULT_MODEL_ID });
    expect(DEFAULT_MODEL_ID).toBe('private-llm-int8');
  });

  test('without primaryModel, modelS3Uri is still required, with the same problem', () => {
    expect(problemsOf(() => parseAppConfig({}))).toEqual(['modelS3Uri: is required (s3://bucket/prefix/)']);
  });

  test.each<[keyof AppConfigInput, unknown]>([
    ['modelS3Uri', EXAMPLE_MODEL_URI],
    ['modelImageUri', '123456789012.dkr.ecr.us-east-1.amazonaws.com/my-lmi:latest'],
    ['modelQuantization', 'gptq'],
    ['instanceType', 'ml.g4dn.xlarge'],
    ['minInstances', 1],
    ['maxInstances', 2],
    ['scaleToZero', { timeZone: 'Europe/Berlin', openDays: 'MON-FRI', opensAt: '07:30', closesAt: '19:00' }],
    ['targetUtilisation', 0.7],
    ['maxConcurrentRequestsPerInstance', 8],
    ['meanInvocationSeconds', 1],
    ['vpc', { subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] }],
  ])('refuses %s beside it (whatever the value, its default too), naming the key and how to unset it', (key, value) => {
    expect(problemsOf(() => parseAppConfig({ primaryModel: PRIMARY, [key]: value }))).toEqual([sageMakerOnly(key)]);
  });

  test('scaleToZero is refused even with a fallback model configured', () => {
    const problems = problemsOf(() =>
      parseAppConfig({
        primaryModel: PRIMARY,
        fallbackModel: { kind: 'openai', baseUrl: 'https://x.example.com/v1', model: 'm' },
        scaleToZero: { timeZone: 'Europe/Berlin', openDays: 'MON-FRI', opensAt: '07:30', closesAt: '19:00' },
      }),
    );
    expect(problems).toEqual([sageMakerOnly('scaleToZero')]);
  });

  test('ONE error lists every SageMaker-only key set, beside the other problems', () => {
    const problems = problemsOf(() =>
      parseAppConfig({
        primaryModel: PRIMARY,
        modelS3Uri: EXAMPLE_MODEL_URI,
        vpc: undefined,
        maxInstances: 4,
        logLevel: 'VERBOSE' as never,
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^logLevel: /),
      sageMakerOnly('modelS3Uri'),
      sageMakerOnly('maxInstances'),
    ]);
  });

  test('keys that still mean something are accepted beside it', () => {
    const vpc = { subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] };
    const config = parseAppConfig({
      primaryModel: PRIMARY,
      maxModelLen: 16_384,
      modelMaxTokens: 1024,
      pipelineVpc: vpc,
    });
    expect(config).toMatchObject({ maxModelLen: 16_384, modelMaxTokens: 1024, pipelineVpc: vpc });
  });

  test.each<[string, unknown, string]>([
    ['no baseUrl', { kind: 'openai', model: 'm' }, 'primaryModel.baseUrl: must be an http(s) URL'],
    ['a baseUrl that is not http(s)', { ...PRIMARY, baseUrl: 'ftp://x.example.com/v1' }, 'primaryModel.baseUrl: must'],
    ['no model', { kind: 'openai', baseUrl: VLLM_URL }, 'primaryModel.model: '],
    ['an empty model', { ...PRIMARY, model: '' }, 'primaryModel.model: '],
    ['a key by name, not ARN', { ...PRIMARY, apiKeySecretArn: 'vllm-key' }, 'primaryModel.apiKeySecretArn: must be a'],
    ['a modelId with spaces', { ...PRIMARY, modelId: 'my model' }, 'primaryModel.modelId: must be 1–64'],
    ['another kind', { ...PRIMARY, kind: 'sagemaker' }, 'primaryModel.kind: '],
    ['a fallback-only key', { ...PRIMARY, callTimeoutSeconds: 20 }, 'primaryModel.callTimeoutSeconds: unknown key'],
    ['a typo', { ...PRIMARY, baseURL: VLLM_URL }, 'primaryModel.baseURL: unknown key; did you mean'],
  ])('refuses %s with a named problem', (_label, primaryModel, problem) => {
    const problems = problemsOf(() => parseAppConfig({ primaryModel } as AppConfigInput));
    expect(problems).toEqual([expect.stringContaining(problem)]);
  });

  test('a fallback may not carry the primary’s id, whichever it is', () => {
    const fallback = { kind: 'openai', baseUrl: 'https://x.example.com/v1', model: 'm' } as const;
    expect(
      problemsOf(() =>
        parseAppConfig({
          primaryModel: { ...PRIMARY, modelId: 'vllm-qwen7b' },
          fallbackModel: { ...fallback, modelId: 'vllm-qwen7b' },
        }),
      ),
    ).toEqual([
      `fallbackModel.modelId: "vllm-qwen7b" is the primary model's id; the backup's answers would be cached and billed as the primary's`,
    ]);
    // The SageMaker primary's default id is free once the primary has another.
    const config = parseAppConfig({
      primaryModel: { ...PRIMARY, modelId: 'vllm-qwen7b' },
      fallbackModel: { ...fallback, modelId: DEFAULT_MODEL_ID },
    });
    expect(config.fallbackModel?.modelId).toBe(DEFAULT_MODEL_ID);
  });
});

describe('primaryModel from the CDK context (cdk.json sets the SageMaker keys)', () => {
  const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as {
    context: { groupgate: Record<string, unknown> } & Record<string, unknown>;
  };
  const primaryFlag = { [`${CONTEXT_KEY}:primaryModel`]: JSON.stringify(PRIMARY) };
  const read = (flags: Record<string, unknown>) => () =>
    readAppConfig(new App({ context: { ...cdkJson.context, ...noBundling, ...flags } }).node);
  const setInCdkJson = [
    'modelS3Uri',
    'instanceType',
    'minInstances',
    'maxInstances',
    'scaleToZero',
    'targetUtilisation',
    'maxConcurrentRequestsPerInstance',
    'meanInvocationSeconds',
    'modelImageUri',
    'modelQuantization',
    'vpc',
  ].filter((key) => key in cdkJson.context.groupgate);

  test('the flag alone is refused, naming each SageMaker key cdk.json sets', () => {
    expect(setInCdkJson).toContain('modelS3Uri');
    expect(problemsOf(read(primaryFlag))).toEqual(setInCdkJson.map(sageMakerOnly));
  });

  test('an empty flag unsets a key cdk.json sets, as the problems say', () => {
    const unset = Object.fromEntries(setInCdkJson.map((key) => [`${CONTEXT_KEY}:${key}`, '']));
    const config = readAppConfig(new App({ context: { ...cdkJson.context, ...primaryFlag, ...unset } }).node);
    expect(config.modelS3Uri).toBeUndefined();
    expect(config.primaryModel?.baseUrl).toBe(VLLM_URL);
    // Unset, a key with a default has it again; other cdk.json keys are kept.
    expect(config.instanceType).toBe('ml.g4dn.xlarge');
    expect(config.enabledPlatforms).toEqual(cdkJson.context.groupgate.enabledPlatforms);
  });

  test('an empty flag for a required key is still a problem without primaryModel', () => {
    expect(problemsOf(read({ [`${CONTEXT_KEY}:modelS3Uri`]: '' }))).toEqual([
      'modelS3Uri: is required (s3://bucket/prefix/)',
    ]);
  });
});
