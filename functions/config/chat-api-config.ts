import * as z from 'zod';
import { ConfigError } from '../core/errors';
import { ENV } from './env-names';
import { parseEnv, splitList } from './runtime-config';
import { DEFAULT_SYSTEM_PROMPT } from './worker-config';

/**
 * Settings of `/v1/chat` (ARCHITECTURE §4.3): the chat-api function's pipeline and request limits, and the JWT
 * authorizer's verification rules. Each is validated once per cold start and lists every problem at once.
 *
 * The chat-api function gets the pipeline's tables but not the worker's events table or platforms, so it cannot
 * use `loadWorkerConfig`; the pipeline part below mirrors that schema for the keys both functions share.
 */

/** API Gateway's `ChatRequest` model (lib/constructs/ingress.ts) rejects longer fields before any Lambda runs. */
export const GATEWAY_MAX_QUERY_CHARS = 8000;
export const GATEWAY_MAX_CONTEXT_CHARS = 16_000;
export const GATEWAY_MAX_TOKENS = 4096;
/** API Gateway's integration timeout is 29 s; the model call must end early enough to answer 504 ourselves. */
export const MAX_MODEL_TIMEOUT_MS = 27_000;
/** Largest `/v1/chat` body: room for full-length CJK query and context, escapes included. */
export const DEFAULT_CHAT_MAX_BODY_BYTES = 256 * 1024;

const jsonValue = z.string().transform((s, ctx) => {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
    return z.NEVER;
  }
});

const lexiconSchema = z.array(
  z.strictObject({
    term: z.string().min(1),
    level: z.union([z.literal(1), z.literal(2), z.literal(3)]),
    category: z.string().min(1),
  }),
);

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const chatApiSchema = z.object({
  [ENV.conversationsTable]: z.string().min(3),
  [ENV.answerCacheTable]: z.string().min(3),
  [ENV.ledgerTable]: z.string().min(3),
  [ENV.auditTable]: z.string().min(3),
  [ENV.modelEndpointName]: z.string().min(1).default('groupgate-llm'),
  [ENV.modelEndpointUrl]: z.url({ protocol: /^https?$/ }).optional(),
  [ENV.modelId]: z.string().min(1).default('private-llm-int8'),
  [ENV.modelInstanceType]: z.string().startsWith('ml.').default('ml.g4dn.xlarge'),
  [ENV.modelContextWindow]: z.coerce.number().int().min(256).default(4096),
  [ENV.modelMaxTokens]: int(1, 8192).default(512),
  [ENV.contextTtlMinutes]: int(1, 24 * 60).default(30),
  [ENV.answerCacheTtlMinutes]: int(1, 7 * 24 * 60).default(60),
  [ENV.systemPrompt]: z.string().min(1).optional(),
  [ENV.promptVersion]: z.string().min(1).default('v1'),
  [ENV.contentLexicon]: jsonValue.pipe(lexiconSchema).optional(),
  [ENV.maskModelInput]: z.enum(['true', 'false']).default('true'),
  [ENV.ledgerRetentionDays]: z.coerce.number().int().min(1).default(400),
  [ENV.auditRetentionDays]: z.coerce.number().int().min(1).default(180),
  [ENV.priceOverrides]: jsonValue.optional(),
  [ENV.chatMaxQueryChars]: int(1, GATEWAY_MAX_QUERY_CHARS).default(GATEWAY_MAX_QUERY_CHARS),
  [ENV.chatMaxContextChars]: int(0, GATEWAY_MAX_CONTEXT_CHARS).default(GATEWAY_MAX_CONTEXT_CHARS),
  [ENV.chatMaxTokens]: int(1, GATEWAY_MAX_TOKENS).optional(),
  [ENV.chatMaxBodyBytes]: int(1024, 10 * 1024 * 1024).default(DEFAULT_CHAT_MAX_BODY_BYTES),
  [ENV.chatModelTimeoutMs]: int(1000, MAX_MODEL_TIMEOUT_MS).default(25_000),
  AWS_REGION: z.string().min(1).default('us-east-1'),
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: z.coerce.number().int().min(128).default(1024),
});

/** What answering one question needs; `WorkerConfig` has the same shape for these keys. */
export interface PipelineConfig {
  readonly tables: {
    readonly conversations: string;
    readonly answerCache: string;
    readonly ledger: string;
    readonly audit: string;
  };
  readonly model: {
    readonly endpointName: string;
    readonly endpointUrl?: string;
    readonly modelId: string;
    readonly instanceType: string;
    readonly contextWindow: number;
    readonly maxTokens: number;
  };
  readonly contextTtlSeconds: number;
  readonly answerCacheTtlSeconds: number;
  readonly systemPrompt: string;
  readonly promptVersion: string;
  readonly lexicon: z.infer<typeof lexiconSchema>;
  readonly maskModelInput: boolean;
  readonly ledgerRetentionDays: number;
  readonly auditRetentionDays: number;
  readonly priceOverrides: unknown;
  readonly region: string;
  readonly memoryMb: number;
}

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
  return Object.freeze({
    tables: {
      conversations: c[ENV.conversationsTable],
      answerCache: c[ENV.answerCacheTable],
      ledger: c[ENV.ledgerTable],
      audit: c[ENV.auditTable],
    },
    model: {
      endpointName: c[ENV.modelEndpointName],
      endpointUrl: c[ENV.modelEndpointUrl],
      modelId: c[ENV.modelId],
      instanceType: c[ENV.modelInstanceType],
      contextWindow: c[ENV.modelContextWindow],
      maxTokens: modelMaxTokens,
    },
    contextTtlSeconds: c[ENV.contextTtlMinutes] * 60,
    answerCacheTtlSeconds: c[ENV.answerCacheTtlMinutes] * 60,
    systemPrompt: c[ENV.systemPrompt] ?? DEFAULT_SYSTEM_PROMPT,
    promptVersion: c[ENV.promptVersion],
    lexicon: c[ENV.contentLexicon] ?? [],
    maskModelInput: c[ENV.maskModelInput] === 'true',
    ledgerRetentionDays: c[ENV.ledgerRetentionDays],
    auditRetentionDays: c[ENV.auditRetentionDays],
    priceOverrides: c[ENV.priceOverrides],
    region: c.AWS_REGION,
    memoryMb: c.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
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
}

/** HS256 keys shorter than the hash output (32 bytes) are brute-forceable (RFC 7518 §3.2). */
export const MIN_HMAC_SECRET_BYTES = 32;

const jwtSchema = z.object({
  [ENV.jwtJwksUrl]: z.url({ protocol: /^https?$/ }).optional(),
  [ENV.jwtSecretId]: z.string().min(1).optional(),
  [ENV.jwtSecret]: z
    .string()
    .refine((s) => Buffer.byteLength(s) >= MIN_HMAC_SECRET_BYTES, {
      error: `must be at least ${MIN_HMAC_SECRET_BYTES} bytes`,
    })
    .optional(),
  [ENV.jwtIssuer]: z.string().min(1),
  [ENV.jwtAudience]: z.string().min(1),
  [ENV.jwtAlgorithms]: z.string().optional(),
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
  return Object.freeze({ key, issuer: c[ENV.jwtIssuer], audience: c[ENV.jwtAudience], algorithms });
}
