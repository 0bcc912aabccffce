import { ConfigError } from '#core/errors';
import * as z from '#shared/zod';
import { ENV } from './env-names';
import { envInt, type PipelineConfig, pipelineEnvShape, toPipelineConfig } from './pipeline-config';
import { parseEnv, splitList } from './runtime-config';

/**
 * Settings of `/v1/chat` (ARCHITECTURE §4.3): the chat-api function's pipeline and request limits, and the JWT
 * authorizer's verification rules. Each is validated once per cold start and lists every problem at once.
 * The pipeline keys come from `pipeline-config.ts`, shared with the worker.
 */

/** API Gateway's `ChatRequest` model (lib/constructs/ingress.ts) rejects longer fields before any Lambda runs. */
export const GATEWAY_MAX_QUERY_CHARS = 8000;
export const GATEWAY_MAX_CONTEXT_CHARS = 16_000;
export const GATEWAY_MAX_TOKENS = 4096;
/** API Gateway's integration timeout is 29 s; the model call must end early enough to answer 504 ourselves. */
export const MAX_MODEL_TIMEOUT_MS = 27_000;
/** Largest `/v1/chat` body: room for full-length CJK query and context, escapes included. */
export const DEFAULT_CHAT_MAX_BODY_BYTES = 256 * 1024;

const chatApiSchema = z.object({
  ...pipelineEnvShape,
  [ENV.chatMaxQueryChars]: z._default(envInt(1, GATEWAY_MAX_QUERY_CHARS), GATEWAY_MAX_QUERY_CHARS),
  [ENV.chatMaxContextChars]: z._default(envInt(0, GATEWAY_MAX_CONTEXT_CHARS), GATEWAY_MAX_CONTEXT_CHARS),
  [ENV.chatMaxTokens]: z.optional(envInt(1, GATEWAY_MAX_TOKENS)),
  [ENV.chatMaxBodyBytes]: z._default(envInt(1024, 10 * 1024 * 1024), DEFAULT_CHAT_MAX_BODY_BYTES),
  [ENV.chatModelTimeoutMs]: z._default(envInt(1000, MAX_MODEL_TIMEOUT_MS), 25_000),
});

export type { PipelineConfig } from './pipeline-config';

/** Request limits of `/v1/chat`; lengths are in Unicode code points, as API Gateway's JSON Schema counts them. */
export interface ChatLimits {
  readonly maxQueryChars: number;
  readonly maxContextChars: number;
  /** Largest `max_tokens` a caller may ask for; also the default. Bounded so an answer fits the 29 s budget. */
  readonly maxTokens: number;
  readonly maxBodyBytes: number;
}

export interface ChatApiConfig extends PipelineConfig {
  readonly limits: ChatLimits;
  /** Deadline of the model call, ms from the start of the request. */
  readonly modelTimeoutMs: number;
}

export function loadChatApiConfig(env: Readonly<Record<string, string | undefined>>): ChatApiConfig {
  const c = parseEnv(chatApiSchema, env);
  const modelMaxTokens = c[ENV.modelMaxTokens];
  const maxTokens = c[ENV.chatMaxTokens] ?? Math.min(modelMaxTokens, GATEWAY_MAX_TOKENS);
  if (maxTokens > modelMaxTokens) {
    throw new ConfigError([
      `${ENV.chatMaxTokens}: ${maxTokens} is more than ${ENV.modelMaxTokens} (${modelMaxTokens}); the model would cut answers short`,
    ]);
  }
  const pipeline = toPipelineConfig(c);
  return Object.freeze({
    ...pipeline,
    limits: {
      maxQueryChars: c[ENV.chatMaxQueryChars],
      maxContextChars: c[ENV.chatMaxContextChars],
      maxTokens,
      maxBodyBytes: c[ENV.chatMaxBodyBytes],
    },
    modelTimeoutMs: c[ENV.chatModelTimeoutMs],
  });
}

/** Symmetric algorithms verify with the shared secret; asymmetric ones with the issuer's JWKS. `none` is never listed. */
const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
const JWKS_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

/** Where the verification key comes from. */
export type JwtKeySource =
  | { readonly kind: 'jwks'; readonly url: string }
  /** Secrets Manager secret whose JSON is `{"secret": "..."}` (AWS). */
  | { readonly kind: 'secret-id'; readonly secretId: string }
  /** The key itself in the environment (sandbox and local runs only). */
  | { readonly kind: 'secret'; readonly secret: string };

export interface JwtConfig {
  readonly key: JwtKeySource;
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: readonly string[];
  /**
   * Longest lifetime (`exp - iat`) of an accepted token, seconds. Tokens must carry both `iat` and `exp`, so a
   * leaked token is useful for at most this long and an issuer minting long-lived tokens is refused outright.
   * @default 86_400 (24 h)
   */
  readonly maxTokenLifetimeSeconds?: number;
  /** Leeway for the issuer's clock and Lambda's drifting apart: on `exp`, `nbf` and `iat` in the future. @default 30 */
  readonly clockSkewSeconds?: number;
}

export const DEFAULT_JWT_MAX_TOKEN_LIFETIME_SECONDS = 86_400;
export const DEFAULT_JWT_CLOCK_SKEW_SECONDS = 30;

/** HS256 keys shorter than the hash output (32 bytes) are brute-forceable (RFC 7518 §3.2). */
export const MIN_HMAC_SECRET_BYTES = 32;

const jwtSchema = z.object({
  [ENV.jwtJwksUrl]: z.optional(z.url({ protocol: /^https?$/ })),
  [ENV.jwtSecretId]: z.optional(z.string().check(z.minLength(1))),
  [ENV.jwtSecret]: z.optional(
    z.string().check(
      z.refine((s) => Buffer.byteLength(s) >= MIN_HMAC_SECRET_BYTES, {
        error: `must be at least ${MIN_HMAC_SECRET_BYTES} bytes`,
      }),
    ),
  ),
  [ENV.jwtIssuer]: z.string().check(z.minLength(1)),
  [ENV.jwtAudience]: z.string().check(z.minLength(1)),
  [ENV.jwtAlgorithms]: z.optional(z.string()),
  // From one minute to 30 days; 0 would refuse every token.
  [ENV.jwtMaxTokenLifetimeSeconds]: z._default(envInt(60, 30 * 86_400), DEFAULT_JWT_MAX_TOKEN_LIFETIME_SECONDS),
  // A "small" skew: at most 5 minutes, the usual upper bound for NTP-synchronised hosts.
  [ENV.jwtClockSkewSeconds]: z._default(envInt(0, 300), DEFAULT_JWT_CLOCK_SKEW_SECONDS),
});

export function loadJwtConfig(env: Readonly<Record<string, string | undefined>>): JwtConfig {
  const c = parseEnv(jwtSchema, env);
  const jwksUrl = c[ENV.jwtJwksUrl];
  const secretId = c[ENV.jwtSecretId];
  const secret = c[ENV.jwtSecret];
  const key: JwtKeySource | undefined = jwksUrl
    ? { kind: 'jwks', url: jwksUrl }
    : secretId
      ? { kind: 'secret-id', secretId }
      : secret
        ? { kind: 'secret', secret }
        : undefined;
  if (!key) {
    throw new ConfigError([`set one of ${ENV.jwtJwksUrl}, ${ENV.jwtSecretId} or ${ENV.jwtSecret}`]);
  }
  const allowed: readonly string[] = key.kind === 'jwks' ? JWKS_ALGORITHMS : HMAC_ALGORITHMS;
  const requested = splitList(c[ENV.jwtAlgorithms]);
  const algorithms = requested.length > 0 ? requested : key.kind === 'jwks' ? ['RS256', 'ES256'] : ['HS256'];
  const wrong = algorithms.filter((a) => !allowed.includes(a));
  if (wrong.length > 0) {
    throw new ConfigError([
      `${ENV.jwtAlgorithms}: ${wrong.join(', ')} not allowed with a ${key.kind === 'jwks' ? 'JWKS' : 'shared secret'}; use ${allowed.join(', ')}`,
    ]);
  }
  return Object.freeze({
    key,
    issuer: c[ENV.jwtIssuer],
    audience: c[ENV.jwtAudience],
    algorithms,
    maxTokenLifetimeSeconds: c[ENV.jwtMaxTokenLifetimeSeconds],
    clockSkewSeconds: c[ENV.jwtClockSkewSeconds],
  });
}
