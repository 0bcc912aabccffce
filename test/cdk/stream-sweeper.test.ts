import { Match, Template } from 'aws-cdk-lib/assertions';
import { ENV } from '#config/env-names';
import { buildStack } from './build-stack';

type Json = Record<string, unknown>;
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

const SWEEPER = 'stream-sweeper';

function resourcesOf(template: Template, type: string): Record<string, { Properties: Json }> {
  return template.findResources(type) as Record<string, { Properties: Json }>;
}

function sweeperFunction(template: Template): [string, { Properties: Json }] {
  const found = Object.entries(resourcesOf(template, 'AWS::Lambda::Function')).find(
    ([, f]) => (f.Properties.Environment as { Variables: Json }).Variables.POWERTOOLS_SERVICE_NAME === SWEEPER,
  );
  if (!found) throw new Error('no stream-sweeper function');
  return found;
}

function sweeperStatements(template: Template): Statement[] {
  const [, fn] = sweeperFunction(template);
  const roleRef = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleRef))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('stream sweeper (all four platforms)', () => {
  const template = Template.fromStack(buildStack().stack);

  test('the events table has the sparse openSurfaces index, sorted by the numeric sweep time', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'openSurface', AttributeType: 'S' },
        { AttributeName: 'surfaceSweepAt', AttributeType: 'N' },
      ]),
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: 'openSurfaces',
          KeySchema: [
            { AttributeName: 'openSurface', KeyType: 'HASH' },
            { AttributeName: 'surfaceSweepAt', KeyType: 'RANGE' },
          ],
        }),
      ],
    });
  });

  test('an EventBridge rule runs the sweeper every minute', () => {
    const [fnId] = sweeperFunction(template);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
    });
  });

  test('the run ends before the next one starts, and its lease outlives the run', () => {
    const [, fn] = sweeperFunction(template);
    expect(fn.Properties.Timeout).toBe(40);
    expect(fn.Properties.Environment).toEqual({
      Variables: expect.objectContaining({
        [ENV.claimLeaseSeconds]: '55',
        [ENV.enabledPlatforms]: 'feishu,slack,dingtalk,wecom',
        [ENV.eventsTable]: { Ref: expect.stringMatching(/^StateEvents/) },
      }),
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 0 });
  });

  test('least privilege: Query on the index only, UpdateItem on the table, the platform secrets', () => {
    const statements = sweeperStatements(template);
    const actions = [...new Set(statements.flatMap(actionsOf))].sort();
    expect(actions).toEqual(
      [
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'secretsmanager:GetSecretValue',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
    const query = statements.filter((s) => actionsOf(s).includes('dynamodb:Query'));
    expect(query).toHaveLength(1);
    expect(query[0]?.Resource).toEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^StateEvents/), 'Arn'] }, '/index/openSurfaces']],
    });
    const update = statements.filter((s) => actionsOf(s).includes('dynamodb:UpdateItem'));
    expect(update.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^StateEvents/), 'Arn'] }]);
    expect(actionsOf(update[0] as Statement)).toEqual(['dynamodb:UpdateItem']);
    const secrets = statements.filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'));
    expect(secrets).toHaveLength(4);
  });
});

describe('stream sweeper (Slack only)', () => {
  const template = Template.fromStack(buildStack({ enabledPlatforms: ['slack'] }).stack);

  test('reads only the enabled platform secret', () => {
    const secrets = sweeperStatements(template).filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'));
    expect(secrets.map((s) => s.Resource)).toEqual([{ Ref: expect.stringMatching(/^Secretsslack/) }]);
    const [, fn] = sweeperFunction(template);
    expect((fn.Properties.Environment as { Variables: Json }).Variables[ENV.enabledPlatforms]).toBe('slack');
  });
});

describe('stream sweeper with a DingTalk AI-card template', () => {
  const template = Template.fromStack(
    buildStack({ dingtalkCardTemplateId: 'tpl-123.schema', dingtalkCardContentKey: 'content' }).stack,
  );

  test('gets the worker card settings, so it resumes the same cards', () => {
    const [, fn] = sweeperFunction(template);
    expect((fn.Properties.Environment as { Variables: Json }).Variables).toEqual(
      expect.objectContaining({
        [ENV.dingtalkCardTemplateId]: 'tpl-123.schema',
        [ENV.dingtalkCardContentKey]: 'content',
      }),
    );
  });
});
