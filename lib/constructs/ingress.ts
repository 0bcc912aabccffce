import { Duration, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  ApiKey,
  AuthorizationType,
  EndpointType,
  IdentitySource,
  JsonSchemaType,
  LambdaIntegration,
  LogGroupLogDestination,
  type Method,
  MethodLoggingLevel,
  type Model,
  Period,
  RequestAuthorizer,
  RequestValidator,
  ResponseType,
  RestApi,
  SecurityPolicy,
} from 'aws-cdk-lib/aws-apigateway';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { AnyPrincipal, Effect, PolicyDocument, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { WebhookRouteSpec } from '#platforms/manifest';
import { PLATFORM_MANIFESTS } from '#platforms/manifests';
import type { PlatformName } from '#platforms/types';

export const STAGE_NAME = 'prod';

export interface IngressProps {
  readonly platforms: readonly PlatformName[];
  readonly webhookFunction: IFunction;
  readonly chatFunction: IFunction;
  readonly authorizerFunction: IFunction;
  /** Source CIDRs allowed to call the API. @default [] (no resource policy: open to the internet) */
  readonly allowedCidrs?: readonly string[];
  /** @default none (execute-api URL only) */
  readonly customDomain?: { readonly domainName: string; readonly certificateArn: string };
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly quota: { readonly limit: number; readonly period: 'DAY' | 'WEEK' | 'MONTH' };
  readonly logRetention: RetentionDays;
  /** How long API Gateway caches an authorizer decision per identity. @default 5 minutes */
  readonly authorizerCacheTtl?: Duration;
}

/**
 * The public edge: a regional REST API with access logs, stage throttling, request validation, an optional source-IP
 * allowlist and custom domain (TLS 1.2 minimum). Webhook routes exist only for enabled platforms and are
 * authenticated by the platform signature inside the webhook; `/v1/chat` needs an API key (usage plan with throttle
 * and quota) and a JWT checked by a cached Lambda REQUEST authorizer.
 */
export class Ingress extends Construct {
  readonly api: RestApi;
  readonly apiKey: ApiKey;
  /** Path of each enabled platform's webhook, e.g. `/webhook/slack`. */
  readonly webhookPaths: Readonly<Partial<Record<PlatformName, string>>>;
  readonly chatPath = '/v1/chat';

  constructor(scope: Construct, id: string, props: IngressProps) {
    super(scope, id);
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    const cidrs = props.allowedCidrs ?? [];

    this.api = new RestApi(this, 'Api', {
      description: 'GroupGate: chat platform webhooks and the unified chat API',
      endpointTypes: [EndpointType.REGIONAL],
      cloudWatchRole: false,
      policy: cidrs.length > 0 ? allowlistPolicy(cidrs) : undefined,
      domainName: props.customDomain && {
        domainName: props.customDomain.domainName,
        certificate: Certificate.fromCertificateArn(this, 'Certificate', props.customDomain.certificateArn),
        securityPolicy: SecurityPolicy.TLS_1_2,
        endpointType: EndpointType.REGIONAL,
      },
      deployOptions: {
        stageName: STAGE_NAME,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel: MethodLoggingLevel.OFF,
      },
    });
    this.jsonErrors();
    Validations.of(this.api.deploymentStage).acknowledge(
      {
        id: 'AwsSolutions-APIG3',
        reason:
          'No WAF web ACL by default: webhooks verify platform signatures, /v1/chat needs an API key and JWT, and the stage is throttled and optionally IP-allowlisted. Associate an organisation web ACL after deploy if policy requires one.',
      },
      {
        id: 'AwsSolutions-APIG6',
        reason:
          'Access logs are on for every request; execution logging needs the account-wide API Gateway CloudWatch role, which cdk.json deliberately does not let this stack own (@aws-cdk/aws-apigateway:disableCloudWatchRole).',
      },
    );

    const validator = new RequestValidator(this, 'Validator', {
      restApi: this.api,
      validateRequestBody: true,
      validateRequestParameters: true,
    });

    const integration = new LambdaIntegration(props.webhookFunction);
    const webhook = this.api.root.addResource('webhook');
    const paths: Partial<Record<PlatformName, string>> = {};
    for (const platform of props.platforms) {
      const resource = webhook.addResource(platform);
      paths[platform] = resource.path;
      const route = PLATFORM_MANIFESTS[platform].webhook;
      const requestParameters = requiredRequestParameters(route);
      for (const httpMethod of route.methods) {
        const method = resource.addMethod(httpMethod, integration, {
          authorizationType: AuthorizationType.NONE,
          requestValidator: validator,
          requestParameters,
        });
        acknowledgeSignedWebhook(method, platform);
      }
    }
    this.webhookPaths = paths;

    // The authorizer's decision and context depend on the token alone (functions/core/api-identity.ts), so the token
    // is the whole cache key. X-User-ID is optional and checked by the chat-api on every call: as an identity source
    // its absence would be a 401 before the authorizer runs.
    const authorizer = new RequestAuthorizer(this, 'JwtAuthorizer', {
      handler: props.authorizerFunction,
      identitySources: [IdentitySource.header('Authorization')],
      resultsCacheTtl: props.authorizerCacheTtl ?? Duration.minutes(5),
    });
    const chatMethod = this.api.root
      .addResource('v1')
      .addResource('chat')
      .addMethod('POST', new LambdaIntegration(props.chatFunction), {
        apiKeyRequired: true,
        authorizer,
        requestValidator: validator,
        requestModels: { 'application/json': this.chatRequestModel() },
        requestParameters: {
          'method.request.header.X-Group-ID': true,
          'method.request.header.X-User-ID': false,
        },
      });
    Validations.of(chatMethod).acknowledge({
      id: 'AwsSolutions-COG4',
      reason:
        "Callers authenticate with the organisation's own JWTs (HS256 secret or JWKS), verified by a Lambda REQUEST authorizer, plus an API key; there is no Cognito user pool.",
    });

    const plan = this.api.addUsagePlan('ChatUsagePlan', {
      description: 'Throttle and quota per API key for /v1/chat',
      throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
      quota: { limit: props.quota.limit, period: Period[props.quota.period] },
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
    this.apiKey = new ApiKey(this, 'DefaultApiKey', { description: 'First API key for /v1/chat callers' });
    plan.addApiKey(this.apiKey);
  }

  /**
   * Gateway-generated errors use the same `{"error":{"code","message"}}` body and the same codes as the functions
   * (functions/core/errors.ts), so callers see one error contract whether API Gateway or a Lambda refused them.
   */
  private jsonErrors(): void {
    const body = (code: string) => `{"error":{"code":"${code}","message":$context.error.messageString}}`;
    const codes: readonly [ResponseType, string][] = [
      [ResponseType.UNAUTHORIZED, 'unauthorized'],
      [ResponseType.ACCESS_DENIED, 'forbidden'],
      [ResponseType.INVALID_API_KEY, 'forbidden'],
      [ResponseType.MISSING_AUTHENTICATION_TOKEN, 'not_found'],
      [ResponseType.QUOTA_EXCEEDED, 'too_many_requests'],
      [ResponseType.THROTTLED, 'too_many_requests'],
      [ResponseType.REQUEST_TOO_LARGE, 'payload_too_large'],
      [ResponseType.BAD_REQUEST_BODY, 'invalid_request'],
      [ResponseType.DEFAULT_4XX, 'invalid_request'],
      [ResponseType.DEFAULT_5XX, 'internal_error'],
    ];
    for (const [type, code] of codes) {
      this.api.addGatewayResponse(`Json${type.responseType}`, { type, templates: { 'application/json': body(code) } });
    }
  }

  private chatRequestModel(): Model {
    return this.api.addModel('ChatRequest', {
      contentType: 'application/json',
      schema: {
        type: JsonSchemaType.OBJECT,
        required: ['query'],
        additionalProperties: false,
        properties: {
          query: { type: JsonSchemaType.STRING, minLength: 1, maxLength: 8000 },
          context: { type: JsonSchemaType.STRING, maxLength: 16000 },
          max_tokens: { type: JsonSchemaType.INTEGER, minimum: 1, maximum: 4096 },
        },
      },
    });
  }
}

/**
 * The parameters a platform sends on every request (its manifest's webhook route), in API Gateway's naming, each
 * marked required so API Gateway rejects junk before a Lambda runs.
 */
function requiredRequestParameters(route: WebhookRouteSpec): Record<string, boolean> {
  return Object.fromEntries([
    ...(route.requiredHeaders ?? []).map((name) => [`method.request.header.${name}`, true]),
    ...(route.requiredQueryParameters ?? []).map((name) => [`method.request.querystring.${name}`, true]),
  ]);
}

/** Allows invocation only from the listed source CIDRs (explicit deny wins over the allow). */
function allowlistPolicy(cidrs: readonly string[]): PolicyDocument {
  return new PolicyDocument({
    statements: [
      new PolicyStatement({
        effect: Effect.ALLOW,
        principals: [new AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: ['execute-api:/*'],
      }),
      new PolicyStatement({
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: ['execute-api:/*'],
        conditions: { NotIpAddress: { 'aws:SourceIp': [...cidrs] } },
      }),
    ],
  });
}

function acknowledgeSignedWebhook(method: Method, platform: PlatformName): void {
  const reason = `Chat platforms cannot send AWS credentials or tokens of ours; the webhook verifies the ${platform} request signature and timestamp window before acting on the body.`;
  Validations.of(method).acknowledge({ id: 'AwsSolutions-APIG4', reason }, { id: 'AwsSolutions-COG4', reason });
}
