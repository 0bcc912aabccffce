import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ENV } from '#config/env-names';
import { enabledSkillsFor, parseSkillsConfig } from '#config/skills-config';
import { ConfigError } from '#core/errors';
import { DATA_DATASETS_ENV as HANDLER_DATASETS_ENV, parseDatasetsConfig } from '#handlers/data-skill';
import { type AppConfigInput, parseAppConfig } from '../../lib/config';
import { DATA_DATASETS_ENV } from '../../lib/constructs/data-skill';
import { copyShippedModules, DUCKDB_ON_LAMBDA_X64, packageClosure } from '../../lib/shipped-modules';
import { buildStack, EXAMPLE_MODEL_URI, noBundling } from './build-stack';
import { fakeBucketName, fakeFunctionArn, resolveIntrinsics } from './resolve-intrinsics';
import { actionsOf, type FunctionResource, type Statement, statementsOf } from './template-queries';

/**
 * The data-analysis skill in the stack (`groupgate:dataDatasets` + `groupgate:dataGroups`): a function shipping
 * DuckDB's native binary on x86_64, reading exactly the registered objects, invoked by the worker for /data and /sql
 * in the configured groups.
 */

const ROOT = path.join(__dirname, '..', '..');
const DATA = {
  dataDatasets: [
    { name: 'sales', title: 'Sales orders 2024', description: 'One row per order line', key: 'sales/2024.csv' },
    { name: 'headcount', title: 'Headcount', key: 'hr/headcount.csv' },
  ],
  dataGroups: ['slack:C0FIN', 'feishu:*'],
} satisfies Partial<AppConfigInput>;

function functionEntry(template: Template, service: string): [string, FunctionResource] {
  const fns = template.findResources('AWS::Lambda::Function') as Record<string, Partial<FunctionResource>>;
  for (const [id, fn] of Object.entries(fns)) {
    const properties = fn.Properties;
    if (properties?.Environment?.Variables.POWERTOOLS_SERVICE_NAME === service) return [id, { Properties: properties }];
  }
  throw new Error(`no function ${service}`);
}

const grantsOf = (template: Template, service: string): Statement[] =>
  statementsOf(template, functionEntry(template, service)[1]).filter(
    (s) => !actionsOf(s).some((a) => a.startsWith('logs:') || a.startsWith('xray:')),
  );

function problemsOf(overrides: Record<string, unknown>): readonly string[] {
  try {
    parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, ...overrides });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const endpointArn = (name: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':sagemaker:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      `:endpoint/${name}`,
    ],
  ],
});

describe('with datasets', () => {
  const template = Template.fromStack(buildStack(DATA).stack);
  const [dataId, dataFn] = functionEntry(template, 'data-skill');
  const bucketId = Object.keys(
    template.findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: {} } }),
  )[0];

  test('the bucket is built without knowledge bases; no database is', () => {
    template.resourceCountIs('AWS::RDS::DBCluster', 0);
    expect(bucketId).toBeDefined();
    template.hasOutput('KnowledgeBucketName', { Value: { Ref: bucketId } });
  });

  test('runs on x86_64 (the installed DuckDB binary), with room for a dataset and a deadline past the worker’s', () => {
    expect(dataFn.Properties).toMatchObject({ Architectures: ['x86_64'], MemorySize: 1024, Timeout: 12 });
  });

  test("DATA_DATASETS is what the handler's own parser accepts, each object under datasets/", () => {
    expect(DATA_DATASETS_ENV).toBe(HANDLER_DATASETS_ENV);
    const raw = resolveIntrinsics(template, dataFn.Properties.Environment.Variables[DATA_DATASETS_ENV]);
    const bucket = fakeBucketName(bucketId as string);
    expect(parseDatasetsConfig(raw)).toEqual([
      {
        name: 'sales',
        title: 'Sales orders 2024',
        description: 'One row per order line',
        s3: { bucket, key: 'datasets/sales/2024.csv' },
      },
      { name: 'headcount', title: 'Headcount', s3: { bucket, key: 'datasets/hr/headcount.csv' } },
    ]);
    expect(dataFn.Properties.Environment.Variables).toMatchObject({
      [ENV.modelEndpointName]: 'GroupGate-llm',
      [ENV.modelInstanceType]: 'ml.g4dn.xlarge',
    });
  });

  test('may read exactly the registered objects and invoke the model endpoint, nothing else', () => {
    const object = (key: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, `/datasets/${key}`]] });
    expect(grantsOf(template, 'data-skill')).toEqual([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: [object('sales/2024.csv'), object('hr/headcount.csv')] },
      { Effect: 'Allow', Action: 'sagemaker:InvokeEndpoint', Resource: endpointArn('groupgate-llm') },
    ]);
  });

  test.each(['worker', 'chat-api'])(
    '%s gets the data skill for the configured groups, and may invoke it',
    (service) => {
      const variables = functionEntry(template, service)[1].Properties.Environment.Variables;
      const skills = parseSkillsConfig(resolveIntrinsics(template, variables[ENV.skills]));
      expect(skills.remote).toEqual([
        {
          name: 'data',
          description: expect.stringContaining('/data'),
          commands: ['/data', '/数据', '/sql'],
          timeoutMs: 10_000,
          acceptsFiles: true,
          functionArn: fakeFunctionArn(dataId),
        },
      ]);
      expect([...enabledSkillsFor(skills, 'slack:C0FIN')]).toEqual(['cost', 'data']);
      expect([...enabledSkillsFor(skills, 'feishu:oc_any')]).toEqual(['cost', 'data']);
      expect([...enabledSkillsFor(skills, 'slack:C0OTHER')]).toEqual(['cost']);
      expect(grantsOf(template, service).filter((s) => actionsOf(s).includes('lambda:InvokeFunction'))).toEqual([
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [dataId, 'Arn'] } },
      ]);
    },
  );
});

test('an endpoint scaled to zero: the data skill names the inference component and may invoke it', () => {
  const template = Template.fromStack(
    buildStack({
      ...DATA,
      scaleToZero: { timeZone: 'Europe/Berlin', openDays: 'MON-FRI', opensAt: '07:30', closesAt: '19:00' },
    }).stack,
  );
  const variables = functionEntry(template, 'data-skill')[1].Properties.Environment.Variables;
  expect(variables[ENV.modelInferenceComponent]).toEqual(expect.any(String));
  const invoke = grantsOf(template, 'data-skill').find((s) => actionsOf(s).includes('sagemaker:InvokeEndpoint'));
  expect(invoke?.Resource).toEqual([endpointArn('groupgate-llm-ic'), expect.anything()]);
});

test('without datasets: no data skill function and no bucket', () => {
  const template = Template.fromStack(buildStack().stack);
  expect(() => functionEntry(template, 'data-skill')).toThrow('no function data-skill');
  template.resourceCountIs('AWS::S3::Bucket', 0);
});

describe('configuration errors', () => {
  test.each<[string, Record<string, unknown>, string[]]>([
    [
      'datasets without groups',
      { dataDatasets: DATA.dataDatasets },
      ['dataGroups: is required with dataDatasets (who may use /data and /sql: *, platform:* or platform:chatId)'],
    ],
    [
      'groups without datasets',
      { dataGroups: ['*'] },
      ['dataGroups: names who may use the data skill, but dataDatasets registers no dataset'],
    ],
    [
      'a name DuckDB would need quoted',
      { ...DATA, dataDatasets: [{ name: 'Sales-2024', title: 'Sales', key: 's.csv' }] },
      ['dataDatasets.0.name: must be a lower-case SQL name: a letter, then a-z, 0-9 or _'],
    ],
    [
      'a key escaping datasets/',
      { ...DATA, dataDatasets: [{ name: 'sales', title: 'Sales', key: 'a/../../etc.csv' }] },
      ['dataDatasets.0.key: must name one object (no trailing /, no ..)'],
    ],
    [
      'a key with an IAM wildcard',
      { ...DATA, dataDatasets: [{ name: 'sales', title: 'Sales', key: 'sales*.csv' }] },
      ["dataDatasets.0.key: must be an S3 key below datasets/ (letters, digits and !_.'()-/)"],
    ],
    [
      'a repeated name',
      { ...DATA, dataDatasets: [DATA.dataDatasets[0], { ...DATA.dataDatasets[1], name: 'sales' }] },
      ['dataDatasets: must not repeat a dataset name'],
    ],
    [
      'a group that is no group',
      { ...DATA, dataGroups: ['C0FIN'] },
      ['dataGroups.0: must be * or platform:chatId (feishu, slack, dingtalk, wecom, api)'],
    ],
    [
      'a configured skill owning /sql',
      {
        ...DATA,
        skills: {
          remote: [
            {
              name: 'warehouse',
              description: 'SQL',
              functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:wh',
              commands: ['/sql'],
            },
          ],
        },
      },
      ['skills (with the data skill the stack adds): remote.1.commands.2: /sql is already a command of warehouse'],
    ],
    [
      'an OpenAI-compatible primary (no endpoint to write the SQL)',
      {
        ...DATA,
        modelS3Uri: undefined,
        primaryModel: { kind: 'openai', baseUrl: 'https://vllm.example.com/v1', model: 'qwen' },
      },
      [
        'dataDatasets: the data skill has the SageMaker endpoint write its SQL; with primaryModel (an OpenAI-compatible server) the stack builds no endpoint for it',
      ],
    ],
  ])('%s', (_label, overrides, problems) => {
    expect(problemsOf(overrides)).toEqual(problems);
  });
});

describe('DuckDB shipped with the function', () => {
  const scratch: string[] = [];
  afterAll(() => {
    for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the closure holds node-api, node-bindings, detect-libc and the linux-x64 binary, no other platform's", () => {
    const dirs = packageClosure(ROOT, DUCKDB_ON_LAMBDA_X64);
    expect(dirs).toEqual([
      'node_modules/@duckdb/node-api',
      'node_modules/@duckdb/node-bindings',
      'node_modules/@duckdb/node-bindings-linux-x64',
      'node_modules/detect-libc',
    ]);
  });

  test('runs a query from the asset directory alone', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'groupgate-duckdb-'));
    scratch.push(out);
    copyShippedModules(ROOT, out, DUCKDB_ON_LAMBDA_X64);
    const script =
      "const { DuckDBInstance } = require('@duckdb/node-api');" +
      "DuckDBInstance.create(':memory:').then((db) => db.connect())" +
      ".then((c) => c.runAndReadAll('SELECT sum(x)::INTEGER AS s FROM range(10) t(x)'))" +
      '.then((r) => console.log(JSON.stringify(r.getRowObjectsJson())));';
    const child = spawnSync(process.execPath, ['-e', script], {
      cwd: out,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
      timeout: 60_000,
    });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual([{ s: 45 }]);
  });
});

test('cdk-nag (AwsSolutions): the data skill adds no finding', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'groupgate-data-nag-'));
  const app = new App({ outdir, context: noBundling });
  buildStack(DATA, app);
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
  const report = fs.existsSync(reportFile)
    ? (JSON.parse(fs.readFileSync(reportFile, 'utf8')) as { pluginReports: { violations: unknown[] }[] })
    : undefined;
  fs.rmSync(outdir, { recursive: true, force: true });
  expect(report?.pluginReports.flatMap((p) => p.violations) ?? []).toEqual([]);
  expect(error).toBeUndefined();
});
