import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ENV } from '#config/env-names';
import { KNOWLEDGE_FUNCTION_ENV, loadKnowledgeFunctionConfig } from '#config/knowledge-function-config';
import { enabledSkillsFor, parseSkillsConfig } from '#config/skills-config';
import { ConfigError } from '#core/errors';
import { type AppConfigInput, CONTEXT_KEY, parseAppConfig, readAppConfig } from '../../lib/config';
import { buildStack, EXAMPLE_MODEL_URI, noBundling } from './build-stack';
import { fakeFunctionArn, resolvedEnvironment, resolveIntrinsics } from './resolve-intrinsics';
import { actionsOf, type FunctionResource, type Statement, statementsOf } from './template-queries';

/**
 * The knowledge bases in the stack (`groupgate:knowledgeBases` + `groupgate:embedding`): the documents bucket, the
 * Aurora Serverless v2 store behind the Data API in an isolated VPC, ingestion (S3 notifications + a daily run), the
 * knowledge skill wired into the pipeline's SKILLS, least-privilege roles, and the configuration's named errors.
 */

const BASES = {
  bases: [
    {
      id: 'handbook',
      title: 'Employee handbook',
      prefix: 'handbook/',
      urlBase: 'https://wiki.example.com/handbook/',
      groups: ['*'],
    },
    { id: 'finance', title: 'Finance runbooks', prefix: 'finance/', groups: ['feishu:oc_42', 'slack:C0FIN'] },
  ],
};
const SAGEMAKER_EMBEDDING = { endpointName: 'BGE-M3-Embed', model: 'BAAI/bge-m3', dimensions: 1024 };
const URL_EMBEDDING = {
  url: 'https://embed.internal.example.com',
  model: 'bge-m3',
  dimensions: 1024,
  apiKeySecretName: 'groupgate/embed-key',
  minSimilarity: 0.6,
};
const KNOWLEDGE = { knowledgeBases: BASES, embedding: SAGEMAKER_EMBEDDING } satisfies Partial<AppConfigInput>;

const GLOSSARY = 'arn:aws:lambda:eu-west-1:123456789012:function:glossary';

/**
 * `functionEntry` of template-queries.ts, tolerating functions without an environment: CDK's bucket-notifications
 * handler, which a stack with knowledge bases has, sets none.
 */
function functionEntry(template: Template, service: string): [string, FunctionResource] {
  const fns = template.findResources('AWS::Lambda::Function') as Record<string, Partial<FunctionResource>>;
  for (const [id, fn] of Object.entries(fns)) {
    const properties = fn.Properties;
    if (properties?.Environment?.Variables.POWERTOOLS_SERVICE_NAME === service) return [id, { Properties: properties }];
  }
  throw new Error(`no function ${service}`);
}

const envOf = (template: Template, service: string): Record<string, unknown> =>
  functionEntry(template, service)[1].Properties.Environment.Variables;

/** The function's statements, without the two every house function has (its log group, X-Ray). */
function grantsOf(template: Template, service: string): Statement[] {
  return statementsOf(template, functionEntry(template, service)[1]).filter(
    (s) => !actionsOf(s).some((a) => a.startsWith('logs:') || a.startsWith('xray:')),
  );
}

function logicalIdOf(template: Template, type: string): string {
  const ids = Object.keys(template.findResources(type));
  if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.length}`);
  return ids[0] as string;
}

function problemsOf(overrides: Partial<AppConfigInput> | Record<string, unknown>): readonly string[] {
  try {
    parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, ...overrides });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('with knowledge bases', () => {
  const template = Template.fromStack(buildStack(KNOWLEDGE).stack);
  const cluster = logicalIdOf(template, 'AWS::RDS::DBCluster');
  const bucketId = Object.keys(
    template.findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: Match.anyValue() } }),
  )[0] as string;
  const clusterArn = {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':rds:',
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        ':cluster:',
        { Ref: cluster },
      ],
    ],
  };
  const secretRef = { Ref: logicalIdOf(template, 'AWS::SecretsManager::SecretTargetAttachment') };
  const bucketArn = { 'Fn::GetAtt': [bucketId, 'Arn'] };
  const objectsUnder = (prefix: string) => ({ 'Fn::Join': ['', [bucketArn, `/${prefix}*`]] });
  const embeddingEndpointArn = {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':sagemaker:',
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        ':endpoint/bge-m3-embed',
      ],
    ],
  };
  const storeAndModel: Statement[] = [
    {
      Effect: 'Allow',
      Action: [
        'rds-data:ExecuteStatement',
        'rds-data:BatchExecuteStatement',
        'rds-data:BeginTransaction',
        'rds-data:CommitTransaction',
        'rds-data:RollbackTransaction',
      ],
      Resource: clusterArn,
    },
    { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretRef },
    { Effect: 'Allow', Action: 'sagemaker:InvokeEndpoint', Resource: embeddingEndpointArn },
  ];

  test('Aurora Serverless v2 PostgreSQL 16 with the Data API, encrypted, protected, pausing when idle', () => {
    template.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-postgresql',
      EngineVersion: '16.6',
      EnableHttpEndpoint: true,
      StorageEncrypted: true,
      DeletionProtection: true,
      EnableIAMDatabaseAuthentication: true,
      BackupRetentionPeriod: 7,
      DatabaseName: 'knowledge',
      ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 4, SecondsUntilAutoPause: 300 },
    });
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      DBInstanceClass: 'db.serverless',
      PubliclyAccessible: false,
      DBClusterIdentifier: { Ref: cluster },
    });
    template.resourceCountIs('AWS::RDS::DBInstance', 1);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ SecretStringTemplate: '{"username":"groupgate"}' }),
    });
  });

  test('the configured capacity is used; above 0 ACU no auto-pause is set', () => {
    const t = Template.fromStack(
      buildStack({ ...KNOWLEDGE, knowledgeDatabase: { minCapacity: 0.5, maxCapacity: 8 } }).stack,
    );
    t.hasResourceProperties('AWS::RDS::DBCluster', {
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 8 },
    });
    const paused = Template.fromStack(
      buildStack({ ...KNOWLEDGE, knowledgeDatabase: { autoPauseSeconds: 3600 } }).stack,
    );
    paused.hasResourceProperties('AWS::RDS::DBCluster', {
      ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 4, SecondsUntilAutoPause: 3600 },
    });
  });

  test('the VPC has isolated subnets only: no NAT, no internet gateway, a flow log, no ingress to the database', () => {
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::Route', 0);
    const subnets = Object.values(template.findResources('AWS::EC2::Subnet'));
    expect(subnets).toHaveLength(2);
    for (const subnet of subnets) expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL' });
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    const groups = Object.values(template.findResources('AWS::EC2::SecurityGroup'));
    expect(groups).toHaveLength(1);
    expect(groups[0]?.Properties.SecurityGroupIngress).toBeUndefined();
  });

  test('the documents bucket: encrypted, versioned, private, access-logged, retained, TLS only', () => {
    const documents = template.findResources('AWS::S3::Bucket')[bucketId];
    expect(documents?.DeletionPolicy).toBe('Retain');
    expect(documents?.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LoggingConfiguration: { DestinationBucketName: { Ref: expect.any(String) }, LogFilePrefix: 'documents/' },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Resource: [bucketArn, { 'Fn::Join': ['', [bucketArn, '/*']] }],
          },
        ]),
      },
    });
  });

  test('the knowledge skill may use the store and the embedding endpoint, and nothing else', () => {
    expect(grantsOf(template, 'knowledge-skill')).toEqual(storeAndModel);
  });

  test("ingestion may also list and read the bases' prefixes, nothing else of the bucket", () => {
    expect(grantsOf(template, 'knowledge-ingest')).toEqual([
      ...storeAndModel,
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: bucketArn,
        Condition: { StringLike: { 's3:prefix': ['handbook/*', 'finance/*'] } },
      },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: [objectsUnder('handbook/'), objectsUnder('finance/')] },
    ]);
  });

  test("the only * resources are X-Ray's, which has no resource-level permissions", () => {
    for (const service of ['knowledge-skill', 'knowledge-ingest']) {
      const wildcards = statementsOf(template, functionEntry(template, service)[1]).filter((s) => s.Resource === '*');
      expect(wildcards.flatMap(actionsOf)).toEqual(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
    }
  });

  test('a url embedding model: its key secret (by name, any suffix) instead of an endpoint', () => {
    const t = Template.fromStack(buildStack({ knowledgeBases: BASES, embedding: URL_EMBEDDING }).stack);
    const statements = grantsOf(t, 'knowledge-skill');
    expect(statements.filter((s) => actionsOf(s).includes('sagemaker:InvokeEndpoint'))).toEqual([]);
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':secretsmanager:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            ':secret:groupgate/embed-key-??????',
          ],
        ],
      },
    });
    const config = loadKnowledgeFunctionConfig(resolvedEnvironment(t, envOf(t, 'knowledge-skill')));
    expect(config.embedding).toEqual({
      kind: 'openai',
      baseUrl: URL_EMBEDDING.url,
      model: 'bge-m3',
      dimensions: 1024,
      apiKeySecretId: 'groupgate/embed-key',
    });
    expect(config.minSimilarity).toBe(0.6);
  });

  test("with pipelineVpc, a url embedding server is reached from the pipeline's subnets; an endpoint needs none", () => {
    const PIPELINE_VPC = { subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] };
    const vpcConfigOf = (t: Template, service: string) => {
      const [, fn] = functionEntry(t, service);
      return (fn.Properties as { VpcConfig?: unknown }).VpcConfig;
    };
    const withUrl = Template.fromStack(
      buildStack({ knowledgeBases: BASES, embedding: URL_EMBEDDING, pipelineVpc: PIPELINE_VPC }).stack,
    );
    for (const service of ['knowledge-skill', 'knowledge-ingest']) {
      expect(vpcConfigOf(withUrl, service)).toEqual({
        SubnetIds: PIPELINE_VPC.subnetIds,
        SecurityGroupIds: PIPELINE_VPC.securityGroupIds,
      });
    }
    const withEndpoint = Template.fromStack(buildStack({ ...KNOWLEDGE, pipelineVpc: PIPELINE_VPC }).stack);
    for (const service of ['knowledge-skill', 'knowledge-ingest']) {
      expect(vpcConfigOf(withEndpoint, service)).toBeUndefined();
    }
  });

  test('S3 notifies ingestion of objects created and removed under each prefix, and may invoke only it', () => {
    const ingestId = functionEntry(template, 'knowledge-ingest')[0];
    const ingestArn = { 'Fn::GetAtt': [ingestId, 'Arn'] };
    const configuration = (prefix: string, event: string) => ({
      Events: [event],
      Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: prefix }] } },
      LambdaFunctionArn: ingestArn,
    });
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: bucketId },
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          configuration('handbook/', 's3:ObjectCreated:*'),
          configuration('handbook/', 's3:ObjectRemoved:*'),
          configuration('finance/', 's3:ObjectCreated:*'),
          configuration('finance/', 's3:ObjectRemoved:*'),
        ],
      },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: ingestArn,
      Principal: 's3.amazonaws.com',
      SourceArn: bucketArn,
    });
  });

  test('a daily schedule reconciles every base; one ingestion runs at a time, for up to 15 minutes', () => {
    const [ingestId, ingest] = functionEntry(template, 'knowledge-ingest');
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(17 3 * * ? *)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [ingestId, 'Arn'] } })],
    });
    expect(ingest.Properties).toMatchObject({ Timeout: 900, MemorySize: 1536, ReservedConcurrentExecutions: 1 });
    const skill = functionEntry(template, 'knowledge-skill')[1];
    expect(skill.Properties).toMatchObject({ Timeout: 10, MemorySize: 512 });
  });

  test.each(['knowledge-skill', 'knowledge-ingest'])(
    "%s's environment is accepted by the functions' own loader",
    (service) => {
      const env = resolvedEnvironment(template, envOf(template, service));
      const config = loadKnowledgeFunctionConfig(env);
      expect(config.knowledge).toEqual(BASES);
      expect(config.database).toEqual({
        resourceArn: `arn:aws:rds:eu-west-1:123456789012:cluster:${cluster.toLowerCase()}`,
        secretArn: expect.stringMatching(/^arn:aws:secretsmanager:/),
        database: 'knowledge',
      });
      expect(config.embedding).toEqual({ kind: 'sagemaker', ...SAGEMAKER_EMBEDDING });
      // The bucket is ingestion's alone: the skill never reads documents.
      expect(env[KNOWLEDGE_FUNCTION_ENV.bucket] !== undefined).toBe(service === 'knowledge-ingest');
    },
  );

  test.each(['worker', 'chat-api'])(
    '%s gets the knowledge skill in SKILLS, for the bases’ groups, and may invoke exactly its function',
    (service) => {
      const skillId = functionEntry(template, 'knowledge-skill')[0];
      const skills = parseSkillsConfig(resolveIntrinsics(template, envOf(template, service)[ENV.skills]));
      expect(skills.remote).toEqual([
        {
          name: 'knowledge',
          description: 'Answers from the company knowledge bases, with cited sources',
          functionArn: fakeFunctionArn(skillId),
          timeoutMs: 5000,
        },
      ]);
      expect(skills.groups).toEqual({
        '*': ['cost', 'knowledge'],
        'feishu:oc_42': ['cost', 'knowledge'],
        'slack:C0FIN': ['cost', 'knowledge'],
      });
      const invoke = grantsOf(template, service).filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
      expect(invoke).toEqual([
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [skillId, 'Arn'] } },
      ]);
    },
  );

  test('outputs the bucket name and the cluster ARN', () => {
    template.hasOutput('KnowledgeBucketName', { Value: { Ref: bucketId } });
    template.hasOutput('KnowledgeClusterArn', { Value: clusterArn });
  });
});

describe('beside configured skills', () => {
  const skills = {
    remote: [{ name: 'glossary', description: 'Terms', functionArn: GLOSSARY, commands: ['/define'] }],
    groups: { '*': ['cost'], 'slack:C0FIN': ['glossary'] },
  };
  const template = Template.fromStack(
    buildStack({
      knowledgeBases: { bases: [BASES.bases[1] as (typeof BASES.bases)[1]] },
      embedding: SAGEMAKER_EMBEDDING,
      skills,
    }).stack,
  );

  test('a group keeps its skills and gains knowledge only where a base admits it; the worker may invoke both', () => {
    const skillId = functionEntry(template, 'knowledge-skill')[0];
    const deployed = parseSkillsConfig(resolveIntrinsics(template, envOf(template, 'worker')[ENV.skills]));
    expect(deployed.remote.map((s) => s.name)).toEqual(['glossary', 'knowledge']);
    expect([...enabledSkillsFor(deployed, 'slack:C0FIN')]).toEqual(['glossary', 'knowledge']);
    expect([...enabledSkillsFor(deployed, 'feishu:oc_42')]).toEqual(['cost', 'knowledge']);
    expect([...enabledSkillsFor(deployed, 'slack:C0OTHER')]).toEqual(['cost']);
    expect(grantsOf(template, 'worker').filter((s) => actionsOf(s).includes('lambda:InvokeFunction'))).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: [GLOSSARY, { 'Fn::GetAtt': [skillId, 'Arn'] }] },
    ]);
  });

  test("the partition rule covers the configured skills only (the stack's own are in its partition)", () => {
    const rules = template.toJSON().Rules as Record<string, { Assertions: unknown[] }>;
    expect(Object.keys(rules).filter((id) => id.includes('SkillsPartition'))).toHaveLength(1);
  });
});

describe('without knowledge bases', () => {
  test.each<[string, Partial<AppConfigInput>]>([
    ['unset', {}],
    ['an empty list', { knowledgeBases: { bases: [] } }],
  ])('%s: no cluster, no bucket, no VPC, no knowledge function, no SKILLS', (_label, overrides) => {
    const template = Template.fromStack(buildStack(overrides).stack);
    for (const type of ['AWS::RDS::DBCluster', 'AWS::S3::Bucket', 'AWS::EC2::VPC', 'Custom::S3BucketNotifications']) {
      template.resourceCountIs(type, 0);
    }
    expect(() => functionEntry(template, 'knowledge-skill')).toThrow('no function knowledge-skill');
    expect(() => functionEntry(template, 'knowledge-ingest')).toThrow('no function knowledge-ingest');
    expect(envOf(template, 'worker')[ENV.skills]).toBeUndefined();
    expect(Object.keys(template.toJSON().Outputs).filter((id) => id.startsWith('Knowledge'))).toEqual([]);
  });
});

describe('configuration errors', () => {
  test('knowledge bases without an embedding model: a named problem', () => {
    expect(problemsOf({ knowledgeBases: BASES })).toEqual([
      'embedding: is required with knowledgeBases (the private embedding model: {"url" or "endpointName", "model", "dimensions"})',
    ]);
  });

  test('overlapping prefixes: the knowledge config module names both bases', () => {
    const nested = { id: 'finance-eu', title: 'EU', prefix: 'finance/eu/', groups: ['*'] };
    expect(problemsOf({ ...KNOWLEDGE, knowledgeBases: { bases: [...BASES.bases, nested] } })).toEqual([
      "knowledgeBases.bases.2.prefix: finance/eu/ is inside finance's prefix finance/: a document would belong to both",
    ]);
  });

  test.each<[string, Record<string, unknown>, string[]]>([
    [
      'both url and endpointName',
      { embedding: { ...SAGEMAKER_EMBEDDING, url: 'https://e.example.com' } },
      ['embedding: needs exactly one of url and endpointName'],
    ],
    [
      'neither url nor endpointName',
      { embedding: { model: 'm', dimensions: 8 } },
      ['embedding: needs exactly one of url and endpointName'],
    ],
    [
      'a key for an endpoint',
      { embedding: { ...SAGEMAKER_EMBEDDING, apiKeySecretName: 'k' } },
      [
        'embedding.apiKeySecretName: is the key of a url; an endpointName is invoked with the function role, without a key',
      ],
    ],
    [
      'a plain-http url',
      { embedding: { ...URL_EMBEDDING, url: 'http://embed.example.com' } },
      ['embedding.url: must be an https URL with a DNS host name'],
    ],
    [
      'a url with a query',
      { embedding: { ...URL_EMBEDDING, url: 'https://embed.example.com/?k=1' } },
      ['embedding.url: must be the server root, without a query, fragment or credentials'],
    ],
    [
      'too few dimensions',
      { embedding: { ...SAGEMAKER_EMBEDDING, dimensions: 4 } },
      [expect.stringMatching(/^embedding\.dimensions: /) as unknown as string],
    ],
    [
      'min capacity above max',
      { knowledgeDatabase: { minCapacity: 8, maxCapacity: 4 } },
      ['knowledgeDatabase.minCapacity: 8 is greater than maxCapacity (4)'],
    ],
    [
      'auto-pause without 0 ACU',
      { knowledgeDatabase: { minCapacity: 1, autoPauseSeconds: 600 } },
      ['knowledgeDatabase.autoPauseSeconds: Aurora pauses only with minCapacity 0'],
    ],
    [
      'capacity off the 0.5 steps',
      { knowledgeDatabase: { maxCapacity: 2.3 } },
      [expect.stringMatching(/^knowledgeDatabase\.maxCapacity: /) as unknown as string],
    ],
    [
      'a prefix overlapping datasets/',
      { knowledgeBases: { bases: [{ id: 'data', title: 'Data', prefix: 'datasets/docs/', groups: ['*'] }] } },
      ["knowledgeBases.bases.0.prefix: datasets/docs/ overlaps datasets/, where the data skill's datasets are kept"],
    ],
    [
      'a prefix with an IAM wildcard',
      { knowledgeBases: { bases: [{ id: 'hr', title: 'HR', prefix: 'h*r/', groups: ['*'] }] } },
      [
        "knowledgeBases.bases.0.prefix: h*r/ contains *, a wildcard in the IAM grant of the base's documents: ingestion could read other prefixes",
      ],
    ],
    [
      'a third-party skill named knowledge',
      { skills: { remote: [{ name: 'knowledge', description: 'Mine', functionArn: GLOSSARY }] } },
      ['SKILLS: the remote skill name knowledge is reserved for the knowledge bases'],
    ],
  ])('%s', (_label, overrides, problems) => {
    expect(problemsOf({ ...KNOWLEDGE, ...overrides })).toEqual(problems);
  });

  test('embedding or knowledgeDatabase without bases would do nothing: refused', () => {
    expect(problemsOf({ embedding: SAGEMAKER_EMBEDDING, knowledgeDatabase: { maxCapacity: 2 } })).toEqual([
      'embedding: configures the knowledge bases, but knowledgeBases has none',
      'knowledgeDatabase: configures the knowledge bases, but knowledgeBases has none',
    ]);
  });

  test("the bases' groups must fit the worker's SKILLS, and the bases the functions' environment", () => {
    const groups = Array.from({ length: 150 }, (_, i) => `feishu:oc_${'g'.repeat(8)}${i}`);
    const problems = problemsOf({
      ...KNOWLEDGE,
      knowledgeBases: { bases: [{ id: 'wide', title: 'Wide', prefix: 'wide/', groups }] },
    });
    expect(problems).toEqual([
      expect.stringMatching(
        /^knowledgeBases: \d+ bytes as JSON; at most 2048 fit in the knowledge functions' environment/,
      ),
    ]);
    const fewer = groups.slice(0, 60);
    expect(
      problemsOf({
        ...KNOWLEDGE,
        knowledgeBases: { bases: [{ id: 'wide', title: 'Wide', prefix: 'wide/', groups: fewer }] },
      }),
    ).toEqual([
      expect.stringMatching(
        /^skills: \d+ bytes as JSON \(with the knowledge skill the stack adds\); at most 2048 fit beside the other settings/,
      ),
    ]);
  });

  test('-c groupgate:knowledgeBases and groupgate:embedding flags are parsed as JSON and validated', () => {
    const context = {
      [CONTEXT_KEY]: { modelS3Uri: EXAMPLE_MODEL_URI },
      [`${CONTEXT_KEY}:knowledgeBases`]: JSON.stringify(BASES),
      [`${CONTEXT_KEY}:embedding`]: JSON.stringify(SAGEMAKER_EMBEDDING),
    };
    const config = readAppConfig(new App({ context }).node);
    expect(config.knowledgeBases).toEqual(BASES);
    expect(config.knowledgeDatabase).toEqual({ minCapacity: 0, maxCapacity: 4, autoPauseSeconds: 300 });
    const { [`${CONTEXT_KEY}:embedding`]: _dropped, ...withoutEmbedding } = context;
    expect(() => readAppConfig(new App({ context: withoutEmbedding }).node)).toThrow(/embedding: is required/);
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  const outdirs: string[] = [];
  afterAll(() => {
    for (const dir of outdirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  test.each<[string, Partial<AppConfigInput>]>([
    ['a SageMaker embedding endpoint', KNOWLEDGE],
    [
      'a url embedding model with a key, beside a configured skill',
      {
        knowledgeBases: BASES,
        embedding: URL_EMBEDDING,
        skills: { remote: [{ name: 'glossary', description: 'Terms', functionArn: GLOSSARY, commands: ['/define'] }] },
      },
    ],
  ])('knowledge bases with %s: zero unacknowledged findings', (_label, overrides) => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'groupgate-knowledge-nag-'));
    outdirs.push(outdir);
    const app = new App({ outdir, context: noBundling });
    buildStack(overrides, app);
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
    expect(report?.pluginReports.flatMap((p) => p.violations) ?? []).toEqual([]);
    expect(error).toBeUndefined();
  });
});
