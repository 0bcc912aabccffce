import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
} from 'aws-lambda';
import { DEFAULT_CHAT_MAX_BODY_BYTES } from '#config/chat-api-config';
import { ENV } from '#config/env-names';
import { splitList } from '#config/runtime-config';
import {
  ForbiddenError,
  PayloadTooLargeError,
  TooManyRequestsError,
  toHttpError,
  UnauthorizedError,
} from '#core/errors';
import { refusalOf } from '#core/token-refusal';
import { lambdaContext, type ProxyHandler, toProxyEvent } from './api-gateway';

/**
 * What API Gateway does for `POST /v1/chat` (lib/constructs/ingress.ts), played by the sandbox in front of the real
 * handlers: body size limit (413) → API key in the usage plan (403) → the plan's per-key token bucket and daily
 * quota (429) → the real JWT REQUEST authorizer (401 on `Error('Unauthorized')`, 403 on a Deny policy) → the real
 * chat-api handler with the authorizer's context in `requestContext.authorizer`. Authorizer results are not
 * cached here, so every request is verified afresh. One deliberate difference: a 401 says why (`unauthorizedMessage`).
 */

/** Sandbox-only settings: the usage plan that API Gateway holds in AWS. */
export const SANDBOX_API_ENV = {
  apiKeys: 'API_KEYS',
  /** Steady requests per second per key. */
  rateLimit: 'API_RATE_LIMIT',
  burstLimit: 'API_BURST_LIMIT',
  /** Requests per key per UTC day. */
  quotaLimit: 'API_QUOTA_LIMIT',
} as const;

/** Public, made-up sandbox credentials, printed at start-up; lib/config.ts defaults for the plan. */
export const SANDBOX_API_DEFAULTS = {
  apiKeys: 'sandbox-api-key',
  jwtSecret: 'sandbox-jwt-secret-change-me-0123456789',
  jwtIssuer: 'groupgate-sandbox',
  jwtAudience: 'groupgate',
  rateLimit: 50,
  burstLimit: 100,
  quotaLimit: 10_000,
} as const;

const STAGE = 'prod';
const METHOD_ARN = `arn:aws:execute-api:us-east-1:000000000000:sandbox/${STAGE}/POST/v1/chat`;
const CHAT_TIMEOUT_MS = 29_000;

export interface UsagePlan {
  readonly rateLimit: number;
  readonly burstLimit: number;
  readonly quotaPerDay: number;
}

export type Admission = 'ok' | 'throttled' | 'quota_exceeded';

/** Per-key token bucket (refills `rateLimit`/s up to `burstLimit`) and a per-key quota reset at 00:00 UTC. */
export function createUsagePlanLimiter(plan: UsagePlan, now: () => number) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const quotas = new Map<string, { day: string; used: number }>();
  return (apiKey: string): Admission => {
    const t = now();
    const day = new Date(t).toISOString().slice(0, 10);
    const quota = quotas.get(apiKey);
    const used = quota?.day === day ? quota.used : 0;
    if (used >= plan.quotaPerDay) return 'quota_exceeded';
    const bucket = buckets.get(apiKey) ?? { tokens: plan.burstLimit, at: t };
    const tokens = Math.min(plan.burstLimit, bucket.tokens + ((t - bucket.at) / 1000) * plan.rateLimit);
    if (tokens < 1) {
      buckets.set(apiKey, { tokens, at: t });
      return 'throttled';
    }
    buckets.set(apiKey, { tokens: tokens - 1, at: t });
    quotas.set(apiKey, { day, used: used + 1 });
    return 'ok';
  };
}

/** The env the real handlers read for `/v1/chat`, with the sandbox defaults where the caller set nothing. */
export function restApiHandlerEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {
    [ENV.jwtIssuer]: env[ENV.jwtIssuer] || SANDBOX_API_DEFAULTS.jwtIssuer,
    [ENV.jwtAudience]: env[ENV.jwtAudience] || SANDBOX_API_DEFAULTS.jwtAudience,
  };
  const jwks = env[ENV.jwtJwksUrl];
  if (jwks) out[ENV.jwtJwksUrl] = jwks;
  else out[ENV.jwtSecret] = env[ENV.jwtSecret] || SANDBOX_API_DEFAULTS.jwtSecret;
  return out;
}

function positiveNumber(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got '${raw}'`);
  return value;
}

type AuthorizerHandler = (event: APIGatewayRequestAuthorizerEvent) => Promise<APIGatewayAuthorizerResult>;

export interface RestApi {
  readonly apiKeys: readonly string[];
  handle(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void>;
}

export interface RestApiOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: (line: string) => void;
  readonly now?: () => number;
}

/**
 * Sets the handlers' JWT settings in `process.env` (they read it once, at their cold start), then imports the real
 * authorizer and chat-api handlers. Call after the pipeline's environment (tables, model) is in place.
 */
export async function createRestApi(options: RestApiOptions): Promise<RestApi> {
  const { env } = options;
  const now = options.now ?? Date.now;
  const apiKeys = splitList(env[SANDBOX_API_ENV.apiKeys] || SANDBOX_API_DEFAULTS.apiKeys);
  const admit = createUsagePlanLimiter(
    {
      rateLimit: positiveNumber(env, SANDBOX_API_ENV.rateLimit, SANDBOX_API_DEFAULTS.rateLimit),
      burstLimit: positiveNumber(env, SANDBOX_API_ENV.burstLimit, SANDBOX_API_DEFAULTS.burstLimit),
      quotaPerDay: positiveNumber(env, SANDBOX_API_ENV.quotaLimit, SANDBOX_API_DEFAULTS.quotaLimit),
    },
    now,
  );
  const maxBodyBytes = positiveNumber(env, ENV.chatMaxBodyBytes, DEFAULT_CHAT_MAX_BODY_BYTES);
  const handlerEnv = restApiHandlerEnv(env);
  Object.assign(process.env, handlerEnv);
  const authorizer = (await import('#handlers/jwt-authorizer')).handler as AuthorizerHandler;
  const chat = (await import('#handlers/chat-api')).handler as unknown as ProxyHandler;

  // Only the public default secret is printed; one the caller set stays out of the log.
  const secret = handlerEnv[ENV.jwtSecret];
  const keySource = handlerEnv[ENV.jwtJwksUrl]
    ? `JWKS ${handlerEnv[ENV.jwtJwksUrl]}`
    : `HS256 JWT_SECRET=${secret === SANDBOX_API_DEFAULTS.jwtSecret ? secret : '(as set)'}`;
  options.log(
    `sandbox: REST API POST /v1/chat — x-api-key one of API_KEYS=${apiKeys.join(',')}; ` +
      `Authorization: Bearer <JWT> (iss=${handlerEnv[ENV.jwtIssuer]}, aud=${handlerEnv[ENV.jwtAudience]}, ${keySource}); ` +
      'mint one with: npx tsx sandbox/mint-token.ts --sub alice --tenant acme (--help for act-as tokens); ' +
      'a 401 body says why the token was refused (the deployed API says only "Unauthorized")',
  );

  async function authorize(event: APIGatewayProxyEvent): Promise<Record<string, unknown>> {
    let result: APIGatewayAuthorizerResult;
    try {
      result = await authorizer(authorizerEvent(event));
    } catch (err) {
      // API Gateway answers 401 only for this exact message; any other failure is its 500.
      if (err instanceof Error && err.message === 'Unauthorized') throw new UnauthorizedError(unauthorizedMessage(err));
      throw err;
    }
    if (!allows(result, METHOD_ARN)) throw new ForbiddenError('User is not authorized to access this resource');
    return { ...(result.context ?? {}), principalId: result.principalId };
  }

  return {
    apiKeys,
    async handle(req, body, res) {
      try {
        if (body.length > maxBodyBytes) throw new PayloadTooLargeError(`Request body is over ${maxBodyBytes} bytes`);
        const apiKey = headerValue(req, 'x-api-key');
        if (!apiKey || !apiKeys.includes(apiKey)) throw new ForbiddenError('Forbidden: missing or invalid API key');
        const admission = admit(apiKey);
        if (admission === 'quota_exceeded')
          throw new TooManyRequestsError('Limit Exceeded: daily quota of this API key');
        if (admission === 'throttled') throw new TooManyRequestsError('Too Many Requests: throttled');
        const event = toProxyEvent(req, body, { resource: '/v1/chat', stage: STAGE });
        event.requestContext.identity.apiKey = apiKey;
        event.requestContext.authorizer = await authorize(event);
        const result = await chat(event, lambdaContext('groupgate-chat-api', CHAT_TIMEOUT_MS));
        return send(res, result);
      } catch (err) {
        const { statusCode, body: errorBody } = toHttpError(err);
        if (statusCode >= 500) options.log(`sandbox: /v1/chat failed: ${(err as Error).stack ?? String(err)}`);
        return send(res, {
          statusCode,
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify(errorBody),
        });
      }
    },
  };
}

/**
 * Sandbox only: the 401 body's message names the authorizer's reason (`TokenRefusal`, e.g. "Unauthorized: the token
 * expired 3 min 20 s ago (exp …)"), so a developer sees why at once. The deployed API says just "Unauthorized":
 * API Gateway keeps only the authorizer's error message, and the reason is in the authorizer's log under the
 * request id.
 */
function unauthorizedMessage(err: Error): string {
  const refusal = refusalOf(err);
  return refusal ? `Unauthorized: ${refusal.hint}` : 'Unauthorized';
}

function send(res: ServerResponse, result: APIGatewayProxyResult): void {
  res.writeHead(result.statusCode, result.headers as Record<string, string>);
  res.end(result.body);
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The REQUEST authorizer input API Gateway builds from the method request (no body). */
function authorizerEvent(event: APIGatewayProxyEvent): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: METHOD_ARN,
    resource: event.resource,
    path: event.path,
    httpMethod: event.httpMethod,
    headers: event.headers,
    multiValueHeaders: event.multiValueHeaders,
    pathParameters: event.pathParameters,
    queryStringParameters: event.queryStringParameters,
    multiValueQueryStringParameters: event.multiValueQueryStringParameters,
    stageVariables: event.stageVariables,
    requestContext: { ...event.requestContext, authorizer: undefined },
  };
}

/** IAM evaluation for one ARN: an explicit Deny wins, otherwise some Allow must match (`*` is a wildcard). */
function allows(result: APIGatewayAuthorizerResult, arn: string): boolean {
  const matches = (resource: string | string[] | undefined) =>
    (Array.isArray(resource) ? resource : resource === undefined ? [] : [resource]).some((pattern) =>
      new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`).test(arn),
    );
  const statements = result.policyDocument.Statement.filter((s) => 'Resource' in s && matches(s.Resource));
  if (statements.some((s) => s.Effect === 'Deny')) return false;
  return statements.some((s) => s.Effect === 'Allow');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
