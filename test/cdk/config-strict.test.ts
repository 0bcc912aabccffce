import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { ConfigError } from '#core/errors';
import { CONTEXT_KEY, parseAppConfig, readAppConfig } from '../../lib/config';
import { editDistance, nearestKey } from '../../lib/nearest-key';

const MODEL = 's3://example-model-bucket/models/qwen/';

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const read = (context: Record<string, unknown>) => () => readAppConfig(new App({ context }).node);

describe('unknown -c groupgate:<key> flags', () => {
  test('a mistyped flag is an error naming the key it most likely meant', () => {
    const problems = problemsOf(read({ [CONTEXT_KEY]: { modelS3Uri: MODEL }, 'groupgate:maxInstance': '3' }));
    expect(problems).toEqual(['groupgate:maxInstance: unknown key; did you mean `groupgate:maxInstances`?']);
  });

  test('a flag like no known key is an error without a suggestion', () => {
    const problems = problemsOf(read({ [CONTEXT_KEY]: { modelS3Uri: MODEL }, 'groupgate:bogusKey': '1' }));
    expect(problems).toEqual(['groupgate:bogusKey: unknown key']);
  });

  test('case slips are typos too', () => {
    expect(problemsOf(read({ 'groupgate:modelS3URI': MODEL }))).toEqual([
      'groupgate:modelS3URI: unknown key; did you mean `groupgate:modelS3Uri`?',
      'modelS3Uri: is required (s3://bucket/prefix/)',
    ]);
  });

  test('the error message carries the suggestion, as `cdk synth` prints it', () => {
    expect(read({ [CONTEXT_KEY]: { modelS3Uri: MODEL }, 'groupgate:maxInstance': '3' })).toThrow(
      'Invalid configuration:\n  - groupgate:maxInstance: unknown key; did you mean `groupgate:maxInstances`?',
    );
  });

  test('ONE error lists every unknown flag and object key together with the other problems', () => {
    const problems = problemsOf(
      read({
        [CONTEXT_KEY]: { modelS3Uri: MODEL, minInstance: 1, apiThrottle: { rateLimt: 5, burstLimit: 10 } },
        'groupgate:maxInstance': '3',
        'groupgate:bogusKey': '1',
        'groupgate:logLevel': 'VERBOSE',
      }),
    );
    expect(problems).toEqual([
      'groupgate:maxInstance: unknown key; did you mean `groupgate:maxInstances`?',
      'groupgate:bogusKey: unknown key',
      expect.stringMatching(/^logLevel: /),
      expect.stringMatching(/^apiThrottle\.rateLimit: /),
      'apiThrottle.rateLimt: unknown key; did you mean `apiThrottle.rateLimit`?',
      'minInstance: unknown key; did you mean `minInstances`?',
    ]);
  });

  test('the checked-in cdk.json context, CDK feature flags and other apps’ keys are not GroupGate’s to refuse', () => {
    const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as {
      context: { groupgate: { modelS3Uri: string } } & Record<string, unknown>;
    };
    expect(Object.keys(cdkJson.context).filter((key) => key.startsWith('@aws-cdk/')).length).toBeGreaterThan(0);
    const config = readAppConfig(
      new App({
        context: {
          ...cdkJson.context,
          'aws:cdk:bundling-stacks': [],
          'otherapp:maxInstance': '3',
          groupgateExtra: 'x',
          'groupgate:maxInstances': '4',
        },
      }).node,
    );
    expect(config).toMatchObject({ modelS3Uri: cdkJson.context.groupgate.modelS3Uri, maxInstances: 4 });
  });

  test('every flag naming a known key is accepted', () => {
    const config = readAppConfig(
      new App({
        context: {
          'groupgate:modelS3Uri': MODEL,
          'groupgate:maxInstances': '3',
          'groupgate:enabledPlatforms': 'feishu,slack',
          'groupgate:streaming': '{"enabled":false}',
          'groupgate:feishuApiBaseUrl': 'https://open.larksuite.com',
        },
      }).node,
    );
    expect(config).toMatchObject({
      modelS3Uri: MODEL,
      maxInstances: 3,
      enabledPlatforms: ['feishu', 'slack'],
      streaming: { enabled: false, optOutChats: [] },
      feishuApiBaseUrl: 'https://open.larksuite.com',
    });
  });
});

describe('unknown keys inside the groupgate object', () => {
  test.each<[string, Record<string, unknown>, string]>([
    ['a top-level typo', { maxInstance: 3 }, 'maxInstance: unknown key; did you mean `maxInstances`?'],
    [
      'a nested typo',
      { streaming: { enabeld: false } },
      'streaming.enabeld: unknown key; did you mean `streaming.enabled`?',
    ],
    ['a key like no other', { tablePrefix: 'x' }, 'tablePrefix: unknown key'],
    ['an unknown platform secret', { platformSecretArns: { teams: 'x' } }, 'platformSecretArns.teams: unknown key'],
  ])('%s', (_label, overrides, problem) => {
    expect(problemsOf(() => parseAppConfig({ modelS3Uri: MODEL, ...overrides }))).toEqual([problem]);
  });

  test('the same reaches readAppConfig through the context object', () => {
    expect(problemsOf(read({ [CONTEXT_KEY]: { modelS3Uri: MODEL, vpcs: {} } }))).toEqual([
      'vpcs: unknown key; did you mean `vpc`?',
    ]);
  });
});

describe('nearestKey', () => {
  test.each([
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
    ['abc', '', 3],
    ['maxInstances', 'MAXINSTANCES', 0],
    ['flaw', 'lawn', 2],
  ])('editDistance(%j, %j) = %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });

  const known = ['minInstances', 'maxInstances', 'vpc', 'logLevel'];

  test.each<[string, string | undefined]>([
    ['maxInstance', 'maxInstances'],
    ['mininstances', 'minInstances'],
    ['vpcs', 'vpc'],
    ['vp', 'vpc'],
    ['loglvl', 'logLevel'],
    ['bogusKey', undefined],
    ['v', undefined],
    ['xyz', undefined],
  ])('%j → %j', (typed, expected) => {
    expect(nearestKey(typed, known)).toBe(expected);
  });

  test('the nearest wins over an earlier, farther one; an equal tie goes to the earlier key', () => {
    expect(nearestKey('maxInstancs', ['minInstances', 'maxInstances'])).toBe('maxInstances');
    expect(nearestKey('mInstances', ['minInstances', 'maxInstances'])).toBe('minInstances');
    expect(nearestKey('mInstances', ['maxInstances', 'minInstances'])).toBe('maxInstances');
  });
});
