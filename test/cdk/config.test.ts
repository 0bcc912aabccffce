import { App } from 'aws-cdk-lib';
import { ConfigError } from '#core/errors';
import { invocationsPerInstanceTarget, parseAppConfig, readAppConfig } from '../../lib/config';

const MODEL = 's3://example-model-bucket/models/qwen/';

function problemsOf(raw: unknown): readonly string[] {
  try {
    parseAppConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseAppConfig', () => {
  test('only modelS3Uri is required; the rest takes documented defaults', () => {
    const config = parseAppConfig({ modelS3Uri: MODEL });
    expect(config).toMatchObject({
      enabledPlatforms: ['feishu', 'slack', 'dingtalk', 'wecom'],
      instanceType: 'ml.g4dn.xlarge',
      minInstances: 1,
      maxInstances: 2,
      targetUtilisation: 0.7,
      workerTimeoutSeconds: 60,
      maxReceiveCount: 5,
      contextTtlMinutes: 30,
      answerCacheTtlMinutes: 60,
      allowedCidrs: [],
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  test('ONE error lists EVERY problem, each with its key', () => {
    const problems = problemsOf({
      enabledPlatforms: ['slack', 'teams'],
      minInstances: 3,
      maxInstances: 2,
      allowedCidrs: ['10.0.0.0/8', '10.0.0.0/33', 'not-a-cidr', '2001:db8::/129'],
    });
    expect(problems).toEqual([
      expect.stringMatching(/^enabledPlatforms\.1: unknown platform "teams"/),
      'modelS3Uri: is required (s3://bucket/prefix/)',
      'allowedCidrs.1: must be a valid IPv4 or IPv6 CIDR',
      'allowedCidrs.2: must be a valid IPv4 or IPv6 CIDR',
      'allowedCidrs.3: must be a valid IPv4 or IPv6 CIDR',
      'minInstances: 3 is greater than maxInstances (2)',
    ]);
    expect(() => parseAppConfig({ minInstances: 3, maxInstances: 2 })).toThrow(
      /Invalid configuration:\n {2}- modelS3Uri: .*\n {2}- minInstances: 3 is greater than maxInstances \(2\)/,
    );
  });

  test.each([
    [{ modelS3Uri: 's3://bucket/no-trailing-slash' }, /^modelS3Uri: must look like/],
    [{ modelS3Uri: 'https://bucket/models/' }, /^modelS3Uri: must look like/],
    [{ instanceType: 'ml.g5.xlarge' }, /^instanceType: must be an ml\.g4dn\.\* instance type/],
    [{ minInstances: 0 }, /^minInstances: /],
    [{ targetUtilisation: 1.5 }, /^targetUtilisation: /],
    [{ workerMaxConcurrency: 1 }, /^workerMaxConcurrency: /],
    [{ logRetentionDays: 10 }, /^logRetentionDays: must be one of 1, 3, 5/],
    [{ enabledPlatforms: ['slack', 'slack'] }, /^enabledPlatforms: must not repeat a platform/],
    [{ enabledPlatforms: [] }, /^enabledPlatforms: /],
    [
      { platformSecretArns: { slack: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x' } },
      /^platformSecretArns\.slack: must be a complete/,
    ],
    [{ platformSecretArns: { teams: 'x' } }, /^platformSecretArns\.teams: unknown key/],
    [{ customDomain: { domainName: 'chat.example.com' } }, /^customDomain\.certificateArn: /],
    [{ vpc: { subnetIds: ['vpc-1'], securityGroupIds: [] } }, /^vpc\.subnetIds\.0: must be a subnet id/],
    [{ alarmEmail: 'nobody' }, /^alarmEmail: /],
    [{ apiQuota: { limit: 10, period: 'YEAR' } }, /^apiQuota\.period: /],
    [{ modelQuantization: 'fp8' }, /^modelQuantization: /],
    [{ tablePrefix: 'x' }, /^tablePrefix: unknown key/],
  ])('rejects %j', (overrides, message) => {
    expect(problemsOf({ modelS3Uri: MODEL, ...overrides })).toEqual(
      expect.arrayContaining([expect.stringMatching(message)]),
    );
  });

  test('a secret ARN for a platform that is not enabled is reported', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:groupgate/slack-AbC123';
    expect(problemsOf({ modelS3Uri: MODEL, enabledPlatforms: ['feishu'], platformSecretArns: { slack: arn } })).toEqual(
      ['platformSecretArns.slack: platform is not in enabledPlatforms'],
    );
  });

  test('accepts IPv4 and IPv6 CIDRs', () => {
    const config = parseAppConfig({ modelS3Uri: MODEL, allowedCidrs: ['203.0.113.0/24', '2001:db8::/32'] });
    expect(config.allowedCidrs).toEqual(['203.0.113.0/24', '2001:db8::/32']);
  });
});

describe('readAppConfig', () => {
  test('merges the context object with flat -c groupgate:<key>=<value> flags (flags win)', () => {
    const app = new App({
      context: {
        groupgate: { modelS3Uri: MODEL, minInstances: 1, maxInstances: 3 },
        'groupgate:maxInstances': '5',
        'groupgate:enabledPlatforms': 'slack, wecom',
        'groupgate:instanceType': 'ml.g4dn.2xlarge',
        'groupgate:apiThrottle': '{"rateLimit":5,"burstLimit":10}',
      },
    });
    expect(readAppConfig(app.node)).toMatchObject({
      modelS3Uri: MODEL,
      maxInstances: 5,
      enabledPlatforms: ['slack', 'wecom'],
      instanceType: 'ml.g4dn.2xlarge',
      apiThrottle: { rateLimit: 5, burstLimit: 10 },
    });
  });

  test("accepts the object as a JSON string (-c groupgate='{...}') and rejects malformed JSON", () => {
    const ok = new App({ context: { groupgate: JSON.stringify({ modelS3Uri: MODEL }) } });
    expect(readAppConfig(ok.node).modelS3Uri).toBe(MODEL);
    const bad = new App({ context: { groupgate: '{not json' } });
    expect(() => readAppConfig(bad.node)).toThrow(ConfigError);
  });

  test('no context at all reports the missing model URI', () => {
    expect(() => readAppConfig(new App().node)).toThrow(/modelS3Uri: is required/);
  });
});

test('scaling target = round(concurrency x 60 / mean seconds x utilisation) invocations per minute', () => {
  expect(invocationsPerInstanceTarget(parseAppConfig({ modelS3Uri: MODEL }))).toBe(336);
  const slow = parseAppConfig({ modelS3Uri: MODEL, maxConcurrentRequestsPerInstance: 4, meanInvocationSeconds: 6 });
  expect(invocationsPerInstanceTarget(slow)).toBe(28);
});
