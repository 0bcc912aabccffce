import '#shared/install-stack-source-map';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import { createRemoteJWKSet, decodeProtectedHeader, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import {
  DEFAULT_JWT_CLOCK_SKEW_SECONDS,
  DEFAULT_JWT_MAX_TOKEN_LIFETIME_SECONDS,
  type JwtConfig,
  loadJwtConfig,
  MIN_HMAC_SECRET_BYTES,
} from '#config/chat-api-config';
import { ENV } from '#config/env-names';
import { principalContext, principalFromClaims, type VerifiedToken } from '#core/api-identity';
import { ConfigError } from '#core/errors';
import { explainJoseFailure, type TokenExpectations, type TokenRefusal, TokenRefusedError } from '#core/token-refusal';
import { withMiddlewares } from '#shared/middy';
import { logger } from '#shared/powertools';
import { handlerTracing } from '#shared/tracer';

/**
 * The `/v1/chat` REQUEST authorizer (identity source: the Authorization header — lib/constructs/ingress.ts).
 * Verifies a `Bearer` JWT with jose: signature (HS256 shared secret, or the issuer's JWKS), `exp`, `nbf`, `iss`,
 * `aud`, and an algorithm allow-list that never contains `none`. It also requires `iat` and bounds the token's life:
 * `iat` no further in the future than the clock skew, `exp - iat` at most the configured lifetime (24 h). Then the
 * identity claims (`#core/api-identity`): `sub` (the caller) and `tenant`, each 1–255 characters without control
 * characters, because they become the principal, header-sized context values and parts of DynamoDB keys — a
 * 3,000-character subject must be a 401, not a 500 deeper in — and an optional space-delimited `scope`.
 *
 * On success it allows the whole stage, because API Gateway reuses a cached decision for every route called with the
 * same token, and hands the claims on in the context (`principalContext`): the decision and the context depend on
 * the token alone, so caching them by the token is exact; whom the call answers for (`X-User-ID`) is decided by the
 * chat-api on every call. Any refusal throws `Error('Unauthorized')`, the one message API Gateway maps to 401, with
 * the reason (`TokenRefusal`) as its `cause` and in the log next to the request id the caller got back; configuration
 * faults throw other errors, which API Gateway answers with 500 so they are not mistaken for bad tokens.
 */

/** Verifies a token: resolves with its claims, throws `TokenRefusedError` for a token to refuse, else a fault. */
export type VerifyToken = (token: string) => Promise<VerifiedToken>;

/** `Bearer <credential>`, the scheme matched case-insensitively (RFC 7235 §2.1). */
const BEARER = /^Bearer\s+(\S*)\s*$/i;
/** A compact JWS is three base64url parts; anything else is refused before jose sees it. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

type VerificationKey = Uint8Array | ReturnType<typeof createRemoteJWKSet>;

/** Builds the verifier once per cold start; `loadSecret` reads `{"secret": ...}` from Secrets Manager. */
export async function createVerifier(
  config: JwtConfig,
  options: { readonly loadSecret?: (secretId: string) => Promise<string>; readonly now?: () => number } = {},
): Promise<VerifyToken> {
  const key = await resolveKey(config, options.loadSecret ?? loadSecretFromSecretsManager);
  const now = options.now ?? Date.now;
  const maxLifetime = config.maxTokenLifetimeSeconds ?? DEFAULT_JWT_MAX_TOKEN_LIFETIME_SECONDS;
  const skew = config.clockSkewSeconds ?? DEFAULT_JWT_CLOCK_SKEW_SECONDS;
  const expected: TokenExpectations = {
    issuer: config.issuer,
    audience: config.audience,
    algorithms: config.algorithms,
    keySource: describeKeySource(config),
  };
  return async (token) => {
    const nowMs = now();
    const options = {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: [...config.algorithms],
      clockTolerance: skew,
      currentDate: new Date(nowMs),
      requiredClaims: ['exp', 'iat', 'sub'],
      // jose refuses an `iat` more than `clockTolerance` in the future, or older than this (a token cannot be
      // older than its lifetime and still unexpired); the lifetime itself is checked below.
      maxTokenAge: maxLifetime,
    };
    let payload: JWTPayload;
    try {
      ({ payload } =
        typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options));
    } catch (err) {
      if (!(err instanceof joseErrors.JOSEError)) throw err;
      throw new TokenRefusedError(explainJoseFailure(err, { expected, nowMs, alg: algorithmOf(token) }));
    }
    checkLifetime(payload, maxLifetime);
    // jose has required `exp` and checked it is a number.
    return { claims: payload, acceptedUntil: (payload.exp ?? 0) + skew };
  };
}

/** `exp - iat` within the maximum lifetime; jose has validated both as numeric dates (and required them). */
function checkLifetime(payload: JWTPayload, maxLifetime: number): void {
  const lifetime = (payload.exp ?? 0) - (payload.iat ?? 0);
  if (lifetime > maxLifetime) {
    throw new TokenRefusedError({
      kind: 'lifetime_too_long',
      hint: `token lifetime exp - iat = ${lifetime} s exceeds the maximum of ${maxLifetime} s`,
    });
  }
}

function describeKeySource(config: JwtConfig): string {
  switch (config.key.kind) {
    case 'jwks':
      return `the issuer's JWKS (${config.key.url})`;
    case 'secret-id':
      return `the shared secret in Secrets Manager (${ENV.jwtSecretId})`;
    case 'secret':
      return `the shared secret ${ENV.jwtSecret}`;
  }
}

/** The token's `alg` header, for explaining a refused algorithm; undefined when the header does not decode. */
function algorithmOf(token: string): string | undefined {
  try {
    return decodeProtectedHeader(token).alg;
  } catch {
    return undefined;
  }
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

/** The JWT of an `Authorization: Bearer <JWT>` header, or why there is none. */
function bearerToken(header: string | undefined): { readonly jwt: string } | { readonly refusal: TokenRefusal } {
  if (!header?.trim()) {
    return { refusal: { kind: 'no_token', hint: 'no bearer token: send "Authorization: Bearer <JWT>"' } };
  }
  const jwt = BEARER.exec(header)?.[1];
  if (jwt === undefined) {
    return { refusal: { kind: 'malformed_token', hint: 'the Authorization header is not "Bearer <JWT>"' } };
  }
  if (!JWT_SHAPE.test(jwt)) {
    return {
      refusal: {
        kind: 'malformed_token',
        hint: 'malformed token: a JWT is three base64url parts separated by dots',
      },
    };
  }
  return { jwt };
}

export function createAuthorizerHandler(resolveVerifier: () => Promise<VerifyToken>) {
  return async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    // The caller gets this id back (x-amzn-RequestId); logged with the reason, it finds a deployed 401's cause.
    const requestId: unknown = event.requestContext?.requestId;
    const refuse = (refusal: TokenRefusal): never => {
      logger.warn('authorizer: token refused', { code: refusal.kind, reason: refusal.hint, requestId });
      throw new Error(UNAUTHORIZED, { cause: refusal });
    };
    const bearer = bearerToken(headerOf(event, 'authorization'));
    if ('refusal' in bearer) return refuse(bearer.refusal);
    const verify = await resolveVerifier();
    let verified: VerifiedToken;
    try {
      verified = await verify(bearer.jwt);
    } catch (err) {
      if (err instanceof TokenRefusedError) return refuse(err.refusal);
      throw err;
    }
    // Checked here rather than in the verifier, so it holds whichever verifier is plugged in.
    const checked = principalFromClaims(verified);
    if ('refusal' in checked) return refuse(checked.refusal);
    return {
      principalId: checked.principal.subject,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: stageWildcardArn(event.methodArn) }],
      },
      context: principalContext(checked.principal),
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

// The policy and context name the caller; they stay out of the trace (`captureResponse: false`).
const tracedHandler = withMiddlewares(createAuthorizerHandler(defaultVerifier), [...handlerTracing()]);

/** Lambda's entry point. `context` is optional because the sandbox calls the authorizer with the event alone. */
export const handler = (
  event: APIGatewayRequestAuthorizerEvent,
  context?: Context,
): Promise<APIGatewayAuthorizerResult> => tracedHandler(event, context as Context); // middy defaults it to {}
