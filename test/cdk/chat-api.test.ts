import { Match, Template } from 'aws-cdk-lib/assertions';
import {
  GATEWAY_MAX_CONTEXT_CHARS,
  GATEWAY_MAX_QUERY_CHARS,
  GATEWAY_MAX_TOKENS,
  loadChatApiConfig,
} from '#config/chat-api-config';
import { ENV } from '#config/env-names';
import { buildStack } from './build-stack';

/** `/v1/chat` wiring (ARCHITECTURE §4.3): usage plan + key, the JWT REQUEST authorizer, the chat-api function. */

type Json = Record<string, unknown>;
type Resources = Record<string, { Properties: Json }>;

let template: Template;
beforeAll(() => {
  template = Template.fromStack(buildStack().stack);
});

const resources = (t: Template, type: string) => t.findResources(type) as Resources;
const onlyId = (t: Template, type: string): string => {
  const ids = Object.keys(resources(t, type));
  expect(ids).toHaveLength(1);
  return ids[0] as string;
};

/** Logical id and properties of the function whose Powertools service name (= handler file) is `service`. */
function fn(service: string): { id: string; props: Json; env: Json } {
  const found = Object.entries(resources(template, 'AWS::Lambda::Function')).find(
    ([, f]) => (f.Properties.Environment as { Variables: Json }).Variables.POWERTOOLS_SERVICE_NAME === service,
  );
  if (!found) throw new Error(`no function ${service}`);
  const [id, f] = found;
  return { id, props: f.Properties, env: (f.Properties.Environment as { Variables: Json }).Variables };
}

function chatMethod(): Json {
  const method = Object.values(resources(template, 'AWS::ApiGateway::Method')).find(
    (m) => m.Properties.AuthorizationType === 'CUSTOM',
  );
  if (!method) throw new Error('no CUSTOM-authorized method');
  return method.Properties;
}

describe('usage plan and API key', () => {
  it('the plan throttles and caps each key, on this API’s deployed stage', () => {
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 50, BurstLimit: 100 },
      Quota: { Limit: 10_000, Period: 'DAY' },
      ApiStages: [
        {
          ApiId: { Ref: onlyId(template, 'AWS::ApiGateway::RestApi') },
          Stage: { Ref: onlyId(template, 'AWS::ApiGateway::Stage') },
          Throttle: {},
        },
      ],
    });
  });

  it('the one API key belongs to that plan', () => {
    template.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', {
      KeyId: { Ref: onlyId(template, 'AWS::ApiGateway::ApiKey') },
      KeyType: 'API_KEY',
      UsagePlanId: { Ref: onlyId(template, 'AWS::ApiGateway::UsagePlan') },
    });
    template.hasResourceProperties('AWS::ApiGateway::ApiKey', { Enabled: true });
    template.hasOutput('ApiKeyId', { Value: { Ref: onlyId(template, 'AWS::ApiGateway::ApiKey') } });
  });

  it('follows the app config for throttle and quota', () => {
    const custom = Template.fromStack(
      buildStack({ apiThrottle: { rateLimit: 5, burstLimit: 10 }, apiQuota: { limit: 250, period: 'WEEK' } }).stack,
    );
    custom.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 5, BurstLimit: 10 },
      Quota: { Limit: 250, Period: 'WEEK' },
    });
  });
});

describe('POST /v1/chat', () => {
  it('needs an API key and the JWT authorizer, and proxies to the chat-api function', () => {
    const method = chatMethod();
    expect(method).toMatchObject({
      HttpMethod: 'POST',
      ApiKeyRequired: true,
      AuthorizationType: 'CUSTOM',
      AuthorizerId: { Ref: onlyId(template, 'AWS::ApiGateway::Authorizer') },
      Integration: { Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' },
      // X-User-ID is optional: a member's token may leave it out (functions/core/api-identity.ts).
      RequestParameters: { 'method.request.header.X-Group-ID': true, 'method.request.header.X-User-ID': false },
    });
    expect(JSON.stringify(method.Integration)).toContain(`"Fn::GetAtt":["${fn('chat-api').id}","Arn"]`);
    const [chatResource] =
      Object.entries(resources(template, 'AWS::ApiGateway::Resource')).find(
        ([, r]) => r.Properties.PathPart === 'chat',
      ) ?? [];
    expect(method.ResourceId).toEqual({ Ref: chatResource });
  });

  it('the gateway’s request model is strict and has the same limits as the function', () => {
    template.hasResourceProperties('AWS::ApiGateway::Model', {
      Schema: Match.objectLike({
        type: 'object',
        required: ['query'],
        additionalProperties: false,
        properties: {
          query: { type: 'string', minLength: 1, maxLength: GATEWAY_MAX_QUERY_CHARS },
          context: { type: 'string', maxLength: GATEWAY_MAX_CONTEXT_CHARS },
          max_tokens: { type: 'integer', minimum: 1, maximum: GATEWAY_MAX_TOKENS },
        },
      }),
    });
  });

  it('the chat-api function starts with its environment and ends its model call before the 29 s gateway limit', () => {
    const chat = fn('chat-api');
    expect(chat.props.Timeout).toBe(29);
    // Tokens stand for CloudFormation references; the function validates the names and shapes it is given.
    const env = Object.fromEntries(
      Object.entries(chat.env).map(([k, v]) => [k, typeof v === 'string' ? v : `resolved-${k.toLowerCase()}`]),
    );
    const config = loadChatApiConfig(env);
    expect(config.modelTimeoutMs).toBeLessThan((chat.props.Timeout as number) * 1000);
    for (const name of [ENV.conversationsTable, ENV.answerCacheTable, ENV.ledgerTable, ENV.auditTable]) {
      expect(chat.env[name]).toEqual({ Ref: expect.stringMatching(/^State/) });
    }
    expect(chat.env[ENV.jwtSecretId]).toBeUndefined();
  });
});

describe('JWT authorizer', () => {
  it('is a cached REQUEST authorizer keyed by the token alone, on which its decision and context depend', () => {
    const id = onlyId(template, 'AWS::ApiGateway::Authorizer');
    const props = resources(template, 'AWS::ApiGateway::Authorizer')[id]?.Properties ?? {};
    expect(props).toMatchObject({ Type: 'REQUEST', AuthorizerResultTtlInSeconds: 300 });
    const sources = String(props.IdentitySource)
      .split(',')
      .map((s) => s.replace('method.request.header.', '').toLowerCase());
    // An identity source that is missing is a 401 before the authorizer runs: X-User-ID may be left out.
    expect(sources).toEqual(['authorization']);
    expect(JSON.stringify(props.AuthorizerUri)).toContain(`"Fn::GetAtt":["${fn('jwt-authorizer').id}","Arn"]`);
  });

  it('API Gateway may invoke the authorizer function, only as this authorizer', () => {
    const authorizerId = onlyId(template, 'AWS::ApiGateway::Authorizer');
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [fn('jwt-authorizer').id, 'Arn'] },
      Principal: 'apigateway.amazonaws.com',
      SourceArn: {
        'Fn::Join': [
          '',
          Match.arrayWith([
            { Ref: onlyId(template, 'AWS::ApiGateway::RestApi') },
            '/authorizers/',
            { Ref: authorizerId },
          ]),
        ],
      },
    });
  });

  it('reads its HS256 key from the JWT secret, with a short timeout', () => {
    const authorizer = fn('jwt-authorizer');
    expect(authorizer.env[ENV.jwtSecretId]).toEqual({ Ref: expect.stringMatching(/^SecretsJwtSecret/) });
    expect(authorizer.props.Timeout).toBe(5);
  });
});
