import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { AppConfigInput } from '../../lib/config';
import { buildStack, noBundling } from './build-stack';

interface Report {
  pluginReports: { violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[];
}

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Synthesises a GroupGate app with the AwsSolutions pack exactly as bin/app.ts registers it. */
function synthWithNag(overrides: Partial<AppConfigInput>, extra?: (app: App) => void) {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'groupgate-nag-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: noBundling });
  const { stack } = buildStack(overrides, app);
  extra?.(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  const logSpy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    app.synth();
    return { stack, error: undefined, report: undefined };
  } catch (error) {
    const file = path.join(outdir, 'validation-report.json');
    const report = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Report) : undefined;
    return { stack, error, report };
  } finally {
    spy.mockRestore();
    logSpy.mockRestore();
  }
}

const PIPELINE_VPC = { subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] };

test('default configuration: zero unacknowledged AwsSolutions findings', () => {
  const { error, report } = synthWithNag({});
  expect(report?.pluginReports.flatMap((p) => p.violations) ?? []).toEqual([]);
  expect(error).toBeUndefined();
});

test('every optional feature on (allowlist, domain, VPC, imported secret, alarm e-mail): still zero findings', () => {
  const { error, report } = synthWithNag({
    enabledPlatforms: ['slack', 'wecom'],
    allowedCidrs: ['203.0.113.0/24'],
    customDomain: {
      domainName: 'chat.example.com',
      certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555',
    },
    platformSecretArns: { slack: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:groupgate/slack-AbC123' },
    vpc: { subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] },
    modelImageUri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/my-lmi:latest',
    alarmEmail: 'ops@example.com',
  });
  expect(report?.pluginReports.flatMap((p) => p.violations) ?? []).toEqual([]);
  expect(error).toBeUndefined();
});

test('scale to zero (inference component, schedule, wake and idle alarms): still zero findings', () => {
  const { error, report } = synthWithNag({
    scaleToZero: { timeZone: 'Europe/Berlin', openDays: 'MON-FRI', opensAt: '07:30', closesAt: '19:00' },
  });
  expect(report?.pluginReports.flatMap((p) => p.violations) ?? []).toEqual([]);
  expect(error).toBeUndefined();
});

test('an OpenAI-compatible primary (no endpoint; key secret, fallback, pipeline VPC): still zero findings', () => {
  const { error, report } = synthWithNag({
    modelS3Uri: undefined,
    primaryModel: {
      kind: 'openai',
      baseUrl: 'https://vllm.internal.example.com/v1',
      model: 'Qwen/Qwen2.5-7B-Instruct',
      apiKeySecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:groupgate/vllm-key-AbC123',
    },
    fallbackModel: { kind: 'openai', baseUrl: 'https://ollama.internal.example.com/v1', model: 'qwen2.5:0.5b' },
    pipelineVpc: { subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] },
  });
  expect(report?.pluginReports.flatMap((p) => p.violations) ?? []).toEqual([]);
  expect(error).toBeUndefined();
});

test.each([
  [
    'Amazon Transcribe and Polly, worker in a VPC',
    { voice: { asr: 'transcribe', tts: 'polly', replyChats: ['feishu:oc_team'] }, pipelineVpc: PIPELINE_VPC },
  ],
  ['a Whisper endpoint', { voice: { asr: 'sagemaker-whisper', asrEndpointName: 'whisper-large-v3' } }],
] as const)('voice messages with %s: still zero findings', (_label, overrides) => {
  const { error, report } = synthWithNag(overrides as Partial<AppConfigInput>);
  expect(report?.pluginReports.flatMap((p) => p.violations) ?? []).toEqual([]);
  expect(error).toBeUndefined();
});

test('an unacknowledged finding fails the synth and names the offending construct', () => {
  const { error, report } = synthWithNag({}, (app) => {
    const stack = app.node.findChild('GroupGate');
    new Queue(stack, 'Unreviewed');
  });
  expect(String(error)).toMatch(/ValidationFailed[\s\S]*GroupGate\/Unreviewed/);
  const violations = report?.pluginReports.flatMap((p) => p.violations) ?? [];
  expect(violations.map((v) => v.ruleName).sort()).toEqual(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']);
  for (const v of violations) {
    expect(v.violatingConstructs.map((c) => c.constructPath)).toEqual(['GroupGate/Unreviewed/Resource']);
  }
});
