import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import { createRemoteJWKSet, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { type JwtConfig, loadJwtConfig, MIN_HMAC_SECRET_BYTES } from '../config/chat-api-config';
import { ConfigError } from '../core/errors';
import { logger } from '../shared/powertools';
import { tracer } from '../shared/tracer';

/**
 * The `/v1/chat` REQUEST authorizer (identity sources: Authorization, X-Group-ID, X-User-ID — lib/constructs/ingress.ts).
 * Verifies a `Bearer` JWT with jose: signature (HS256 shared secret, or the issuer's JWKS), `exp`, `nbf`, `iss`,
 * `aud`, and an algorithm allow-list that never contains `none`. On success it allows the whole stage, because API
 * Gateway reuses a cached decision for every route called with the same identity; the `sub` goes to the handler in
 * the context. Any verification failure throws `Error('Unauthorized')`, the one message API Gateway maps to 401;
 * configuration faults throw other errors, which API Gateway answers with 500 so they are not mistaken for bad tokens.
 */

export type VerifyToken = (token: string) => Promise<JWTPayload>;

/** Tokens are three base64url parts; anything else is refused before jose sees it. */
const BEARER = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)\s*$/i;
/** Leeway for clocks of the issuer and of Lambda drifting apart. */
const CLOCK_TOLERANCE_SECONDS = 30;

type VerificationKey = Uint8Array | ReturnType<typeof createRemoteJWKSet>;

/** Builds the verifier once per cold start; `loadSecret` reads `{"secret": ...}` from Secrets Manager. */
export async function createVerifier(
  config: JwtConfig,
  options: { readonly loadSecret?: (secretId: string) => Promise<string>; readonly now?: () => number } = {},
): Promise<VerifyToken> {
  const key = await resolveKey(config, options.loadSecret ?? loadSecretFromSecretsManager);
  const now = options.now ?? Date.now;
  return async (token) => {
    const options = {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: [...config.algorithms],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: new Date(now()),
      requiredClaims: ['exp', 'sub'],
    };
    const { payload } =
      typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
    return payload;
  };
}

async function resolveKey(
  config: JwtConfig,
  loadSecret: (secretId: string) => Promise<string>,
): Promise<VerificationKey> {
  switch (config.key.kind) {
    case 'jwks':
      return createRemoteJWKSet(new URL(config.key.url));
    case 'secret-id':
      return hmacKey(await loadSecret(config.key.secretId));
    case 'secret':
      return hmacKey(config.key.secret);
  }
}

function hmacKey(secret: string): Uint8Array {
  const bytes = new TextEncoder().encode(secret);
  if (bytes.length < MIN_HMAC_SECRET_BYTES) {
    throw new ConfigError([`the JWT secret must be at least ${MIN_HMAC_SECRET_BYTES} bytes`]);
  }
  return bytes;
}

async function loadSecretFromSecretsManager(secretId: string): Promise<string> {
  const value: unknown = await getSecret(secretId, { transform: 'json', maxAge: 300 });
  const secret = (value as { secret?: unknown } | undefined)?.secret;
  if (typeof secret !== 'string') throw new ConfigError([`secret ${secretId} must be JSON {"secret": "..."}`]);
  return secret;
}

/** `arn:aws:execute-api:region:account:api/stage/METHOD/path` → the same ARN for every method and path of the stage. */
export function stageWildcardArn(methodArn: string): string {
  const [api, stage] = methodArn.split('/');
  if (!api?.startsWith('arn:') || !stage) throw new Error(`Unexpected methodArn: ${methodArn}`);
  return `${api}/${stage}/*`;
}

function headerOf(event: APIGatewayRequestAuthorizerEvent, name: string): string | undefined {
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === name && value !== undefined) return value;
  }
  return undefined;
}

/** The message API Gateway turns into a 401 response. */
const UNAUTHORIZED = 'Unauthorized';

export function createAuthorizerHandler(resolveVerifier: () => Promise<VerifyToken>) {
  return async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    const match = BEARER.exec(headerOf(event, 'authorization') ?? '');
    if (!match?.[1]) {
      logger.warn('authorizer: no bearer token', { path: event.path });
      throw new Error(UNAUTHORIZED);
    }
    const verify = await resolveVerifier();
    let payload: JWTPayload;
    try {
      payload = await verify(match[1]);
    } catch (err) {
      if (!(err instanceof joseErrors.JOSEError)) throw err;
      logger.warn('authorizer: token refused', { code: err.code, reason: err.message });
      throw new Error(UNAUTHORIZED);
    }
    const sub = payload.sub;
    if (typeof sub !== 'string' || sub.length === 0) {
      logger.warn('authorizer: token without a subject');
      throw new Error(UNAUTHORIZED);
    }
    return {
      principalId: sub,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: stageWildcardArn(event.methodArn) }],
      },
      context: { sub },
    };
  };
}

let verifier: Promise<VerifyToken> | undefined;
const defaultVerifier = (): Promise<VerifyToken> => {
  verifier ??= Promise.resolve()
    .then(() => createVerifier(loadJwtConfig(process.env)))
    .catch((err: unknown) => {
      verifier = undefined;
      throw err;
    });
  return verifier;
};

// The policy names the caller's subject; it stays out of the trace (`captureResponse: false`).
const tracedHandler = middy(createAuthorizerHandler(defaultVerifier)).use(
  captureLambdaHandler(tracer, { captureResponse: false }),
);

/** Lambda's entry point. `context` is optional because the sandbox calls the authorizer with the event alone. */
export const handler = (
  event: APIGatewayRequestAuthorizerEvent,
  context?: Context,
): Promise<APIGatewayAuthorizerResult> => tracedHandler(event, context as Context); // middy defaults it to {}
