import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ENV } from '#config/env-names';
import { parseSkillsConfig } from '#config/skills-config';
import { ConfigError } from '#core/errors';
import { type AppConfigInput, CONTEXT_KEY, parseAppConfig, readAppConfig } from '../../lib/config';
import { GroupGateStack } from '../../lib/groupgate-stack';
import { buildStack, EXAMPLE_MODEL_URI, noBundling } from './build-stack';
import { actionsOf, functionEntry, type Statement, statementsOf } from './template-queries';

/**
 * Third-party skills in the stack (`groupgate:skills`): validated with the runtime's own schema plus the AWS-only
 * rules, handed to the worker and /v1/chat as `SKILLS`, and granted `lambda:InvokeFunction` on exactly the configured
 * function ARNs.
 */

const GLOSSARY = 'arn:aws:lambda:eu-west-1:123456789012:function:glossary';
/** Another region and account, with an alias: granted as written. */
const SEARCH = 'arn:aws:lambda:us-east-1:210987654321:function:doc-search:live';

const SKILLS = {
  remote: [
    { name: 'glossary', description: 'Company terms: /define <term>', functionArn: GLOSSARY, commands: ['/define'] },
    { name: 'doc-search', description: 'Grounds answers in the handbook', functionArn: SEARCH, timeoutMs: 8000 },
  ],
  groups: { '*': ['cost'], 'slack:C0123': ['cost', 'glossary', 'doc-search'] },
} satisfies AppConfigInput['skills'];

const PIPELINE_FUNCTIONS = ['worker', 'chat-api'] as const;
const OTHER_FUNCTIONS = ['webhook', 'jwt-authorizer', 'stream-sweeper'] as const;

const invokeStatements = (template: Template, service: string): Statement[] =>
  statementsOf(template, functionEntry(template, service)[1]).filter((s) =>
    actionsOf(s).some((a) => a.startsWith('lambda:')),
  );

const envOf = (template: Template, service: string): Record<string, unknown> =>
  functionEntry(template, service)[1].Properties.Environment.Variables;

function problemsOf(skills: unknown, extra: Partial<AppConfigInput> = {}): readonly string[] {
  try {
    parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, ...extra, skills });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('with skills', () => {
  const template = Template.fromStack(buildStack({ skills: SKILLS }).stack);

  test.each(PIPELINE_FUNCTIONS)('%s gets SKILLS: the validated configuration, which the runtime parses back', (fn) => {
    const value = envOf(template, fn)[ENV.skills];
    expect(typeof value).toBe('string');
    const deployed: unknown = JSON.parse(value as string);
    // Defaults filled in (timeoutMs), nothing else added or lost.
    expect(deployed).toEqual({
      remote: [{ ...SKILLS.remote[0], timeoutMs: 3000 }, SKILLS.remote[1]],
      groups: SKILLS.groups,
    });
    expect(parseSkillsConfig(value as string)).toEqual(deployed);
  });

  test.each(PIPELINE_FUNCTIONS)('%s may invoke exactly the configured functions, nothing wider', (fn) => {
    const statements = invokeStatements(template, fn);
    expect(statements).toEqual([{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: [GLOSSARY, SEARCH] }]);
  });

  test.each(OTHER_FUNCTIONS)('%s gets neither SKILLS nor the right to invoke a skill', (fn) => {
    expect(envOf(template, fn)[ENV.skills]).toBeUndefined();
    expect(invokeStatements(template, fn)).toEqual([]);
  });

  test('two skills on one function: its ARN is granted once', () => {
    const shared = {
      remote: [
        { name: 'define', description: 'Terms', functionArn: GLOSSARY, commands: ['/define'] },
        { name: 'acronym', description: 'Acronyms', functionArn: GLOSSARY, commands: ['/acronym'] },
      ],
    };
    const t = Template.fromStack(buildStack({ skills: shared }).stack);
    expect(invokeStatements(t, 'worker')).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: GLOSSARY },
    ]);
  });

  test('an environment-agnostic stack refuses to deploy outside the skills’ partition (a template rule)', () => {
    const rules = template.toJSON().Rules as Record<string, { Assertions: unknown[] }>;
    const skillRules = Object.entries(rules).filter(([id]) => id.includes('SkillsPartition'));
    expect(skillRules).toHaveLength(1);
    expect(skillRules[0]?.[1].Assertions).toEqual([
      {
        Assert: { 'Fn::Equals': [{ Ref: 'AWS::Partition' }, 'aws'] },
        AssertDescription: expect.stringContaining('partition aws'),
      },
    ]);
  });
});

describe('without skills', () => {
  test('no SKILLS, no invoke statement, no partition rule', () => {
    const template = Template.fromStack(buildStack().stack);
    for (const fn of [...PIPELINE_FUNCTIONS, ...OTHER_FUNCTIONS]) {
      expect(envOf(template, fn)[ENV.skills]).toBeUndefined();
      expect(invokeStatements(template, fn)).toEqual([]);
    }
    expect(Object.keys(template.toJSON().Rules ?? {}).filter((id) => id.includes('Skills'))).toEqual([]);
  });

  test('an empty object is the default: still no SKILLS and no statement', () => {
    const template = Template.fromStack(buildStack({ skills: {} }).stack);
    expect(envOf(template, 'worker')[ENV.skills]).toBeUndefined();
    expect(invokeStatements(template, 'worker')).toEqual([]);
  });

  test('groups alone (no remote skill) are handed on, and grant nothing', () => {
    const template = Template.fromStack(buildStack({ skills: { groups: { '*': [] } } }).stack);
    expect(JSON.parse(envOf(template, 'chat-api')[ENV.skills] as string)).toEqual({ remote: [], groups: { '*': [] } });
    expect(invokeStatements(template, 'chat-api')).toEqual([]);
  });
});

describe('validation', () => {
  test('a url is refused with the reason', () => {
    expect(problemsOf({ remote: [{ name: 'glossary', description: 'Terms', url: 'http://127.0.0.1:8080/' }] })).toEqual(
      ['skills.remote.0.url: url is for the sandbox; in AWS a skill is a Lambda function (functionArn)'],
    );
  });

  test.each([
    ['not an ARN', 'glossary'],
    ['an account id too short', 'arn:aws:lambda:eu-west-1:1234:function:glossary'],
    ['another service', 'arn:aws:sqs:eu-west-1:123456789012:glossary'],
    ['a layer', 'arn:aws:lambda:eu-west-1:123456789012:layer:glossary:1'],
    ['a wildcard', 'arn:aws:lambda:eu-west-1:123456789012:function:*'],
  ])('a functionArn that is %s is refused', (_label, functionArn) => {
    expect(problemsOf({ remote: [{ name: 'glossary', description: 'Terms', functionArn }] })).toEqual([
      'skills.remote.0.functionArn: must be a Lambda function ARN',
    ]);
  });

  test('neither functionArn nor url: the config module says so', () => {
    expect(problemsOf({ remote: [{ name: 'glossary', description: 'Terms' }] })).toEqual([
      'skills.remote.0: needs exactly one of functionArn and url',
    ]);
  });

  test('a group naming an unknown skill gets the config module’s message', () => {
    expect(problemsOf({ ...SKILLS, groups: { 'slack:C0123': ['cost', 'glosary'] } })).toEqual([
      'skills.groups.slack:C0123.1: unknown skill glosary (known: cost, glossary, doc-search)',
    ]);
  });

  test('skills in two partitions are refused: one stack invokes in one partition', () => {
    const china = 'arn:aws-cn:lambda:cn-north-1:123456789012:function:glossary';
    expect(
      problemsOf({
        remote: [SKILLS.remote[0], { name: 'cn-glossary', description: 'Terms', functionArn: china }],
      }),
    ).toEqual([
      'skills.remote.1.functionArn: is in partition aws-cn, another skill in aws: the stack invokes skills in its own partition only',
    ]);
  });

  test('an unknown key names the one meant, inside a skill too', () => {
    expect(problemsOf({ remote: [{ ...SKILLS.remote[0], comands: ['/x'] }], group: {} })).toEqual([
      'skills.remote.0.comands: unknown key; did you mean `skills.remote.0.commands`?',
      'skills.group: unknown key; did you mean `skills.groups`?',
    ]);
  });

  test('skills and per-chat prompts together must fit the Lambda environment', () => {
    const overrides = { 'feishu:oc_hr': 'p'.repeat(1900) };
    const overrideBytes = Buffer.byteLength(JSON.stringify(overrides));
    expect(problemsOf(SKILLS, { systemPromptOverrides: overrides })).toEqual([
      expect.stringMatching(
        new RegExp(`^skills: \\d+ bytes as JSON plus ${overrideBytes} of systemPromptOverrides; at most 2048 fit`),
      ),
    ]);
    expect(() => parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, skills: SKILLS })).not.toThrow();
  });

  test('a -c groupgate:skills flag is parsed as JSON and validated like the object', () => {
    const context = {
      [CONTEXT_KEY]: { modelS3Uri: EXAMPLE_MODEL_URI },
      [`${CONTEXT_KEY}:skills`]: JSON.stringify(SKILLS),
    };
    expect(readAppConfig(new App({ context }).node).skills?.remote.map((s) => s.functionArn)).toEqual([
      GLOSSARY,
      SEARCH,
    ]);
    const bad = {
      ...context,
      [`${CONTEXT_KEY}:skills`]: '{"remote":[{"name":"x1","description":"d","url":"http://h/"}]}',
    };
    expect(() => readAppConfig(new App({ context: bad }).node)).toThrow(
      /skills\.remote\.0\.url: url is for the sandbox/,
    );
  });

  test('a stack with a region checks the partition at synth', () => {
    const config = parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, skills: SKILLS });
    const app = () => new App({ context: { ...noBundling, '@aws-cdk/core:enablePartitionLiterals': true } });
    const china = { account: '123456789012', region: 'cn-north-1' };
    expect(() => new GroupGateStack(app(), 'GroupGate', { config, env: china })).toThrow(
      /skills\.remote: the skills' functions are in partition aws, the stack in aws-cn/,
    );
    // In its own partition (another region than the skills'): no error, and no template rule needed.
    const stack = new GroupGateStack(app(), 'GroupGate', {
      config,
      env: { account: '123456789012', region: 'ap-southeast-1' },
    });
    const rules = Template.fromStack(stack).toJSON().Rules ?? {};
    expect(Object.keys(rules).filter((id) => id.includes('SkillsPartition'))).toEqual([]);
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  const outdirs: string[] = [];
  afterAll(() => {
    for (const dir of outdirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('skills add no finding: the grant names exact ARNs', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'groupgate-skills-nag-'));
    outdirs.push(outdir);
    const app = new App({ outdir, context: noBundling });
    buildStack({ skills: SKILLS }, app);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const quiet = [jest.spyOn(console, 'error'), jest.spyOn(console, 'log')].map((s) =>
      s.mockImplementation(() => undefined),
    );
    let error: unknown;
    try {
      app.synth();
    } catch (err) {
      error = err;
    } finally {
      for (const spy of quiet) spy.mockRestore();
    }
    const reportFile = path.join(outdir, 'validation-report.json');
    const violations = fs.existsSync(reportFile)
      ? (
          JSON.parse(fs.readFileSync(reportFile, 'utf8')) as {
            pluginReports: { violations: unknown[] }[];
          }
        ).pluginReports.flatMap((p) => p.violations)
      : [];
    expect(violations).toEqual([]);
    expect(error).toBeUndefined();
  });
});
