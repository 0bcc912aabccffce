import { Template } from 'aws-cdk-lib/assertions';
import { ENV } from '#config/env-names';
import { ConfigError } from '#core/errors';
import { parseAppConfig } from '../../lib/config';
import { buildStack, EXAMPLE_MODEL_URI } from './build-stack';
import { actionsOf, functionEntry, statementsOf } from './template-queries';

/**
 * Member profiles in the stack (docs/PROFILES.md): the `profile*` keys reach both pipeline functions' environment,
 * and the functions get exactly the table rights profiles need (the profile lives in the conversations table).
 */

const template = Template.fromStack(
  buildStack({
    profileRetentionDays: 90,
    profileGroupDefaults: { 'feishu:*': { language: '中文' } },
    profileDirectory: ['slack'],
    profileDirectoryTtlHours: 12,
  }).stack,
);

it.each(['worker', 'chat-api'])('%s gets the profile settings', (service) => {
  const [, fn] = functionEntry(template, service);
  expect(fn.Properties.Environment.Variables).toMatchObject({
    [ENV.profileRetentionDays]: '90',
    [ENV.profileGroupDefaults]: JSON.stringify({ 'feishu:*': { language: 'zh' } }),
    [ENV.profileDirectory]: 'slack',
    [ENV.profileDirectoryTtlHours]: '12',
  });
});

it('the worker may delete a profile item and batch-read the tables its prefetch reads', () => {
  const [, fn] = functionEntry(template, 'worker');
  const statements = statementsOf(template, fn);
  const conversations = statements.find(
    (s) => actionsOf(s).includes('dynamodb:DeleteItem') && JSON.stringify(s.Resource).includes('StateConversations'),
  );
  expect(actionsOf(conversations ?? { Effect: '', Action: [], Resource: '' }).sort()).toEqual(
    ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'].sort(),
  );
  const batch = statements.filter((s) => actionsOf(s).includes('dynamodb:BatchGetItem'));
  expect(batch).toHaveLength(1);
  expect(actionsOf(batch[0] ?? { Effect: '', Action: [], Resource: '' })).toEqual(['dynamodb:BatchGetItem']);
  expect(JSON.stringify(batch[0]?.Resource)).toMatch(/StateConversations.*StateAnswerCache.*StateEvents/);
});

it.each(['worker', 'chat-api'])(
  '%s reads and updates answer-cache items (variants beside each other), never puts',
  (service) => {
    const [, fn] = functionEntry(template, service);
    const onCache = statementsOf(template, fn).filter(
      (s) => JSON.stringify(s.Resource).includes('StateAnswerCache') && !actionsOf(s).includes('dynamodb:BatchGetItem'),
    );
    expect(onCache.flatMap(actionsOf).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
  },
);

it('refuses a bad profile setting with the runtime’s own message', () => {
  expect(() =>
    parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, profileGroupDefaults: { '*': { language: 'klingon' } } }),
  ).toThrow(ConfigError);
  expect(() =>
    parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, profileGroupDefaults: { '*': { language: 'klingon' } } }),
  ).toThrow(/profileGroupDefaults.*Unknown language "klingon"/s);
});
