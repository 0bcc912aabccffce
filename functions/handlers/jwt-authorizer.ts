import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import { createRemoteJWKSet, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import {
  DEFAULT_JWT_CLOCK_SKEW_SECONDS,
  DEFAULT_JWT_MAX_TOKEN_LIFETIME_SECONDS,
  type JwtConfig,
  loadJwtConfig,
  MIN_HMAC_SECRET_BYTES,
} from '#config/chat-api-config';
import { ConfigError } from '#core/errors';
import { withMiddlewares } from '#shared/middy';
import { logger } from '#shared/powertools';
import { tracer } from '#shared/tracer';

/**
 * The `/v1/chat` REQUEST authorizer (identity sources: Authorization, X-Group-ID, X-User-ID — lib/constructs/ingress.ts).
 * Verifies a `Bearer` JWT with jose: signature (HS256 shared secret, or the issuer's JWKS), `exp`, `nbf`, `iss`,
 * `aud`, and an algorithm allow-list that never contains `none`. It also requires `iat` and bounds the token's life:
 * `iat` no further in the future than the clock skew, `exp - iat` at most the configured lifetime (24 h), and a
 * `sub` of at most 255 characters without control characters (OpenID Connect Core §2's limit), because the subject
 * becomes the principal, a header-sized context value and a part of DynamoDB keys: a 3,000-character subject must be
 * a 401, not a 500 deeper in. On success it allows the whole stage, because API
 * Gateway reuses a cached decision for every route called with the same identity; the `sub` goes to the handler in
 * the context. Any verification failure throws `Error('Unauthorized')`, the one message API Gateway maps to 401;
 * configuration faults throw other errors, which API Gateway answers with 500 so they are not mistaken for bad tokens.
 */

export type VerifyToken = (token: string) => Promise<JWTPayload>;

/** Tokens are three base64url parts; anything else is refused before jose sees it. */
const BEARER = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)\s*$/i;
/** OpenID Connect Core §2: `sub` "MUST NOT exceed 255 ASCII characters in length". */
export const MAX_SUBJECT_CHARS = 255;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

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
  return async (token) => {
    const options = {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: [...config.algorithms],
      clockTolerance: skew,
      currentDate: new Date(now()),
      requiredClaims: ['exp', 'iat', 'sub'],
      // jose refuses an `iat` more than `clockTolerance` in the future, or older than this (a token cannot be
      // older than its lifetime and still unexpired); the lifetime itself is checked below.
      maxTokenAge: maxLifetime,
    };
    const { payload } =
      typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
    checkLifetime(payload, maxLifetime);
    return payload;
  };
}

/** `exp - iat` within the maximum lifetime; jose has validated both as numeric dates (and required them). */
function checkLifetime(payload: JWTPayload, maxLifetime: number): void {
  const lifetime = (payload.exp ?? 0) - (payload.iat ?? 0);
  if (lifetime > maxLifetime) {
    throw new joseErrors.JWTClaimValidationFailed(
      `token lifetime exp - iat = ${lifetime} s exceeds the maximum of ${maxLifetime} s`,
      payload,
      'exp',
      'check_failed',
    );
  }
}

/**
 * Why a subject is refused, or undefined when it is usable: it becomes the principal, a context value and a key
 * part, so it must be a string of 1–255 characters (code points) without control characters.
 */
export function subjectProblem(sub: unknown): string | undefined {
  if (typeof sub !== 'string' || sub.length === 0) return '"sub" claim is missing or empty';
  if ([...sub].length > MAX_SUBJECT_CHARS) return `"sub" claim is longer than ${MAX_SUBJECT_CHARS} characters`;
  if (CONTROL.test(sub)) return '"sub" claim contains control characters';
  return undefined;
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
    // Checked here rather than in the verifier, so it holds whichever verifier is plugged in.
    const sub = payload.sub;
    const problem = subjectProblem(sub);
    if (typeof sub !== 'string' || problem !== undefined) {
      logger.warn('authorizer: token refused', { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', reason: problem });
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
const tracedHandler = withMiddlewares(createAuthorizerHandler(defaultVerifier), [
  captureLambdaHandler(tracer, { captureResponse: false }),
]);

/** Lambda's entry point. `context` is optional because the sandbox calls the authorizer with the event alone. */
export const handler = (
  event: APIGatewayRequestAuthorizerEvent,
  context?: Context,
): Promise<APIGatewayAuthorizerResult> => tracedHandler(event, context as Context); // middy defaults it to {}
