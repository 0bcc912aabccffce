import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildStack } from './build-stack';

/** The stack hands the runtime every setting it validates at cold start, so no function fails its config in AWS. */
const template = Template.fromStack(
  buildStack({
    jwtIssuer: 'https://idp.example.com',
    jwtAudience: 'helpdesk',
    instanceType: 'ml.g4dn.2xlarge',
    maxModelLen: 8192,
  }).stack,
);

test('the JWT authorizer gets the issuer and audience it checks', () => {
  template.hasResourceProperties('AWS::Lambda::Function', {
    Description: 'Verifies caller JWTs for /v1/chat',
    Environment: {
      Variables: Match.objectLike({
        JWT_ISSUER: 'https://idp.example.com',
        JWT_AUDIENCE: 'helpdesk',
        JWT_SECRET_ID: Match.anyValue(),
      }),
    },
  });
});

test('the worker prices and budgets with the configured instance type, window and reply ceiling', () => {
  template.hasResourceProperties('AWS::Lambda::Function', {
    Description: 'Answers queued chat events with the private model',
    Environment: {
      Variables: Match.objectLike({
        MODEL_INSTANCE_TYPE: 'ml.g4dn.2xlarge',
        MODEL_CONTEXT_WINDOW: '8192',
        MODEL_MAX_TOKENS: '512',
        // Lambda timeout (60 s) + 30 s: the claim lapses before SQS redelivers (visibility 360 s).
        CLAIM_LEASE_SECONDS: '90',
      }),
    },
  });
});

describe('per-chat system prompts (SYSTEM_PROMPT_OVERRIDES)', () => {
  const overrides = { 'feishu:oc_hr': 'You are the HR assistant.', 'api:ops': 'You are the on-call assistant.' };
  const withOverrides = Template.fromStack(buildStack({ systemPromptOverrides: overrides }).stack);

  test.each(['Answers queued chat events with the private model', 'Unified REST API /v1/chat'])(
    '%s gets them as JSON',
    (description) => {
      withOverrides.hasResourceProperties('AWS::Lambda::Function', {
        Description: description,
        Environment: { Variables: Match.objectLike({ SYSTEM_PROMPT_OVERRIDES: JSON.stringify(overrides) }) },
      });
    },
  );

  test('are not set when none are configured', () => {
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties?.Environment?.Variables?.SYSTEM_PROMPT_OVERRIDES).toBeUndefined();
    }
  });

  test.each<[string, unknown, RegExp]>([
    ['a key without a platform', { oc_hr: 'HR' }, /systemPromptOverrides\.oc_hr: keys must be platform:chatId/],
    ['an empty prompt', { 'feishu:oc_hr': '' }, /systemPromptOverrides\.feishu:oc_hr: each prompt must be non-empty/],
    ['more than the environment holds', { 'feishu:oc_hr': 'x'.repeat(3000) }, /systemPromptOverrides: must be at most/],
  ])('refuses %s at synth', (_label, value, message) => {
    expect(() => buildStack({ systemPromptOverrides: value as Record<string, string> })).toThrow(message);
  });
});
