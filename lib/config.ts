import type { Node } from 'constructs';
import * as z from 'zod';
import { systemPromptOverridesSchema } from '#config/pipeline-config';
import { DEFAULT_AUDIT_RETENTION_DAYS, DEFAULT_LEDGER_RETENTION_DAYS, MAX_RETENTION_DAYS } from '#config/retention';
import { ConfigError } from '#core/errors';
import { FEISHU_DEFAULT_API_BASE_URL } from '#platforms/feishu/config';
import { fromManifests } from '#platforms/manifests';
import { PLATFORMS } from '#platforms/types';
import { nearestKey } from './nearest-key';

/** The CDK context key holding the app configuration object; flat flags use `-c groupgate:<key>=<value>`. */
export const CONTEXT_KEY = 'groupgate';

/** CloudWatch Logs accepts only these retention periods (days). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const S3_PREFIX_URI = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/(?:[^\s]+\/)?$/;
const SECRET_COMPLETE_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}$/;
const ACM_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/;
const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** Room left for per-chat prompts in a Lambda environment (4 KB for all variables) after the other settings. */
const MAX_SYSTEM_PROMPT_OVERRIDES_BYTES = 2048;

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const secretArn = z
  .string()
  .regex(SECRET_COMPLETE_ARN, 'must be a complete Secrets Manager ARN (with its 6-character suffix)');
/** One optional secret ARN per platform; any other key is refused as unknown. */
const platformSecretArnsSchema = z.strictObject(fromManifests(() => secretArn.optional()));
/** An API origin: the adapter appends `/open-apis/…`, so a path, query or fragment here would break every call. */
const httpsOrigin = z
  .url({ protocol: /^https$/, hostname: HOSTNAME, error: 'must be an https URL with a DNS host name' })
  .refine((value) => {
    // Refinements run after a failed format check too; an unparsable value is already reported by `url`.
    const url = URL.parse(value);
    return url === null || (url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password);
  }, 'must be an origin only (https://host), without a path, query, fragment or credentials');

/**
 * The app configuration, read from CDK context at synth time. Every key except `modelS3Uri` has a default.
 * The JSDoc `@default` of each key is the value used when it is absent.
 */
const appConfigSchema = z.strictObject({
  /** Chat platforms that get a webhook route and a credentials secret. @default all four */
  enabledPlatforms: z
    .array(
      z.enum(PLATFORMS, {
        error: (issue) => `unknown platform ${JSON.stringify(issue.input)} (expected ${PLATFORMS.join('|')})`,
      }),
    )
    .min(1)
    .refine((list) => new Set(list).size === list.length, 'must not repeat a platform')
    .default([...PLATFORMS]),
  /** Private S3 prefix holding the 8-bit (INT8) checkpoint in Hugging Face layout, ending in `/`. Required. */
  modelS3Uri: z
    .string({ error: (issue) => (issue.input === undefined ? 'is required (s3://bucket/prefix/)' : undefined) })
    .regex(S3_PREFIX_URI, 'must look like s3://bucket/prefix/ (ending in a slash)'),
  /** LMI (DJL Serving + vLLM) container image. @default the LMI image in the stack's region (see model-endpoint.ts) */
  modelImageUri: z.string().min(1).optional(),
  /**
   * vLLM quantization method for checkpoints whose config.json does not declare it. LMI deduces it from a
   * pre-quantized checkpoint and advises not setting it then. @default deduced from the checkpoint
   */
  modelQuantization: z.enum(['gptq', 'compressed-tensors', 'bitsandbytes']).optional(),
  /** Longest prompt + completion in tokens; bounds the KV cache so an INT8 7B model fits a 16 GB T4. @default 4096 */
  maxModelLen: int(256, 131_072).default(4096),
  /** SageMaker instance type (NVIDIA T4 family). @default ml.g4dn.xlarge */
  instanceType: z
    .string()
    .regex(/^ml\.g4dn\.(?:x|2x|4x|8x|12x|16x)large$/, 'must be an ml.g4dn.* instance type')
    .default('ml.g4dn.xlarge'),
  /** @default 1 */
  minInstances: int(1, 100).default(1),
  /** @default 2 */
  maxInstances: int(1, 100).default(2),
  /** Fraction of an instance's capacity the autoscaler aims for. @default 0.7 */
  targetUtilisation: z.number().gt(0).max(1).default(0.7),
  /** Requests one instance serves at once (the vLLM batch size). @default 8 */
  maxConcurrentRequestsPerInstance: int(1, 256).default(8),
  /** Mean seconds one invocation holds its slot; turns concurrency into invocations per minute. @default 1 */
  meanInvocationSeconds: z.number().gt(0).max(600).default(1),
  /** Source CIDRs allowed to call the API (IPv4 or IPv6); empty means no resource policy. @default [] */
  allowedCidrs: z.array(z.union([z.cidrv4(), z.cidrv6()], { error: 'must be a valid IPv4 or IPv6 CIDR' })).default([]),
  /** Custom domain for the API (TLS 1.2 minimum). @default none: the execute-api URL */
  customDomain: z
    .strictObject({
      domainName: z.string().regex(HOSTNAME, 'must be a lower-case DNS name'),
      certificateArn: z.string().regex(ACM_ARN, 'must be an ACM certificate ARN'),
    })
    .optional(),
  /** @default 60 */
  workerTimeoutSeconds: int(10, 900).default(60),
  /** Upper bound on concurrent worker invocations from the queue (SQS event source minimum is 2). @default 10 */
  workerMaxConcurrency: int(2, 1000).default(10),
  /** Receives before a message moves to the DLQ. @default 5 */
  maxReceiveCount: int(1, 1000).default(5),
  /** @default 30 */
  contextTtlMinutes: int(1, 24 * 60).default(30),
  /** @default 60 */
  answerCacheTtlMinutes: int(1, 7 * 24 * 60).default(60),
  /** Days a cost ledger row lives before DynamoDB TTL removes it. @default 400 (`DEFAULT_LEDGER_RETENTION_DAYS`) */
  ledgerRetentionDays: int(1, MAX_RETENTION_DAYS).default(DEFAULT_LEDGER_RETENTION_DAYS),
  /** Days an audit record lives before DynamoDB TTL removes it. @default 365 (`DEFAULT_AUDIT_RETENTION_DAYS`) */
  auditRetentionDays: int(1, MAX_RETENTION_DAYS).default(DEFAULT_AUDIT_RETENTION_DAYS),
  /** CloudWatch Logs retention for functions and API access logs. @default 30 */
  logRetentionDays: z
    .number()
    .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
      error: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
    })
    .default(30),
  /** Powertools log level. @default INFO */
  logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  /** Stage-wide throttle for the whole API. @default {rateLimit: 50, burstLimit: 100} */
  apiThrottle: z
    .strictObject({ rateLimit: z.number().positive().max(10_000), burstLimit: int(1, 5000) })
    .default({ rateLimit: 50, burstLimit: 100 }),
  /** Usage-plan quota per API key for /v1/chat. @default {limit: 10000, period: 'DAY'} */
  apiQuota: z
    .strictObject({ limit: int(1, 100_000_000), period: z.enum(['DAY', 'WEEK', 'MONTH']) })
    .default({ limit: 10_000, period: 'DAY' }),
  /** Existing secrets to import per platform instead of creating one. @default {} (create) */
  platformSecretArns: platformSecretArnsSchema.default({}),
  /** Runs the model container in these subnets / security groups. @default none (network isolation only) */
  vpc: z
    .strictObject({
      subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'must be a subnet id')).min(1),
      securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'must be a security group id')).min(1),
    })
    .optional(),
  /** E-mail subscribed to operational alarms. @default none (alarms without a subscriber) */
  alarmEmail: z.email().optional(),
  /** `iss` every /v1/chat JWT must carry. @default 'groupgate' */
  jwtIssuer: z.string().min(1).default('groupgate'),
  /** `aud` every /v1/chat JWT must carry. @default 'groupgate-api' */
  jwtAudience: z.string().min(1).default('groupgate-api'),
  /** Verify /v1/chat JWTs against this JWKS (RS256/ES256) instead of the generated HS256 secret. @default none */
  jwtJwksUrl: z.url({ protocol: /^https$/ }).optional(),
  /** Reply tokens the model may generate per answer (`max_tokens` ceiling). @default 512 */
  modelMaxTokens: int(16, 8192).default(512),
  /**
   * Per-chat system prompts, `{"<platform>:<chatId>": "prompt"}` (`/v1/chat`: `api:<X-Group-ID>`), handed to the
   * worker and chat-api as `SYSTEM_PROMPT_OVERRIDES`. Bounded so the functions' environment stays within Lambda's
   * 4 KB. @default {} (every chat uses the deployment prompt)
   */
  systemPromptOverrides: systemPromptOverridesSchema
    .refine((overrides) => Buffer.byteLength(JSON.stringify(overrides)) <= MAX_SYSTEM_PROMPT_OVERRIDES_BYTES, {
      error: `must be at most ${MAX_SYSTEM_PROMPT_OVERRIDES_BYTES} bytes as JSON (Lambda environments hold 4 KB)`,
    })
    .default({}),
  /**
   * Streamed replies (the answer grows in the chat while the model writes). `optOutChats` (`platform:chatId`) get one
   * message per reply. @default {enabled: true, optOutChats: []}
   */
  streaming: z
    .strictObject({
      enabled: z.boolean().default(true),
      optOutChats: z
        .array(z.string().regex(/^(feishu|slack|dingtalk|wecom):[^,\s]+$/, 'must be platform:chatId'))
        .default([]),
    })
    .default({ enabled: true, optOutChats: [] }),
  /**
   * DingTalk AI-card template with a streaming text variable (docs/platforms/dingtalk.md); without it DingTalk
   * replies are one message. @default none
   */
  dingtalkCardTemplateId: z.string().min(1).max(128).optional(),
  /** The template's streaming variable. @default msgContent */
  dingtalkCardContentKey: z
    .string()
    .regex(/^\w{1,64}$/, 'must be a template variable name')
    .optional(),
  /**
   * Feishu Open Platform origin the worker and the stream sweeper call (`FEISHU_API_BASE_URL`); Lark (international)
   * tenants use `https://open.larksuite.com`. @default https://open.feishu.cn
   */
  feishuApiBaseUrl: httpsOrigin.default(FEISHU_DEFAULT_API_BASE_URL),
});

/** Every top-level key the configuration accepts, in schema order. */
const CONFIG_KEYS: readonly string[] = Object.keys(appConfigSchema.shape);

export type AppConfig = Readonly<z.output<typeof appConfigSchema>>;
export type AppConfigInput = z.input<typeof appConfigSchema>;

/** Checks that need several keys; each runs only when its keys have the right types, so problems are not doubled. */
function crossKeyProblems(raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const { minInstances, maxInstances, enabledPlatforms, platformSecretArns } = raw;
  if (typeof minInstances === 'number' && typeof maxInstances === 'number' && minInstances > maxInstances) {
    problems.push(`minInstances: ${minInstances} is greater than maxInstances (${maxInstances})`);
  }
  if (Array.isArray(enabledPlatforms) && platformSecretArns && typeof platformSecretArns === 'object') {
    for (const platform of Object.keys(platformSecretArns)) {
      if ((PLATFORMS as readonly string[]).includes(platform) && !enabledPlatforms.includes(platform)) {
        problems.push(`platformSecretArns.${platform}: platform is not in enabledPlatforms`);
      }
    }
  }
  return problems;
}

/** The keys of the object the schema expects at `path` (through defaults and optionals); empty where none is. */
function keysAt(path: readonly PropertyKey[]): readonly string[] {
  let schema: z.ZodType | undefined = appConfigSchema;
  for (const segment of path) {
    schema = typeof segment === 'string' ? objectShape(schema)?.[segment] : undefined;
  }
  return Object.keys(objectShape(schema) ?? {});
}

function objectShape(schema: z.ZodType | undefined): Record<string, z.ZodType> | undefined {
  let inner = schema;
  while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional) inner = inner.unwrap() as z.ZodType;
  return inner instanceof z.ZodObject ? (inner.shape as Record<string, z.ZodType>) : undefined;
}

/** `<prefix><typed>: unknown key`, naming the known key it most likely meant (`<prefix><key>`) when one is close. */
function unknownKeyProblem(prefix: string, typed: string, known: readonly string[]): string {
  const suggestion = nearestKey(typed, known);
  return `${prefix}${typed}: unknown key${suggestion === undefined ? '' : `; did you mean \`${prefix}${suggestion}\`?`}`;
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  const key = issue.path.join('.') || '(root)';
  if (issue.code === 'unrecognized_keys') {
    const known = keysAt(issue.path);
    return issue.keys.map((k) => unknownKeyProblem(issue.path.length ? `${key}.` : '', k, known));
  }
  return [`${key}: ${issue.message}`];
}

/**
 * Validates a raw configuration object. Throws one ConfigError listing every problem, each prefixed with its key.
 * Pure: no CDK dependency, so tests and tools can call it directly.
 */
export function parseAppConfig(raw: unknown): AppConfig {
  return validated(raw, []);
}

/** `parseAppConfig`, with problems found before the object was assembled (unknown flags) listed first. */
function validated(raw: unknown, earlierProblems: readonly string[]): AppConfig {
  const input = raw ?? {};
  const result = appConfigSchema.safeParse(input);
  const problems = [
    ...earlierProblems,
    ...(result.success ? [] : result.error.issues.flatMap(describeIssue)),
    ...(typeof input === 'object' && !Array.isArray(input) ? crossKeyProblems(input as Record<string, unknown>) : []),
  ];
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return Object.freeze(result.data);
}

const LIST_KEYS = new Set(['enabledPlatforms', 'allowedCidrs']);

/** A flat `-c groupgate:key=value` arrives as a string: JSON if it parses, else a comma list for array keys. */
function coerceFlag(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return LIST_KEYS.has(key) ? value.split(',').map((s) => s.trim()) : value;
  }
}

function contextObject(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value === 'string') {
    try {
      return contextObject(JSON.parse(value));
    } catch {
      throw new ConfigError([`${CONTEXT_KEY}: context value is not valid JSON`]);
    }
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError([`${CONTEXT_KEY}: context value must be an object`]);
  }
  return { ...(value as Record<string, unknown>) };
}

/**
 * Every `-c groupgate:<key>` flag whose key the schema does not accept. The rest of the context (CDK feature flags
 * in cdk.json, other apps' keys) is not GroupGate's and is left alone.
 */
function unknownFlagProblems(node: Node): string[] {
  const prefix = `${CONTEXT_KEY}:`;
  const context: Record<string, unknown> = node.getAllContext();
  return Object.keys(context)
    .filter((name) => name.startsWith(prefix) && !CONFIG_KEYS.includes(name.slice(prefix.length)))
    .map((name) => unknownKeyProblem(prefix, name.slice(prefix.length), CONFIG_KEYS));
}

/**
 * Reads the configuration from CDK context: the `groupgate` object (cdk.json "context" or `-c groupgate='{...}'`),
 * overlaid key by key with flat `-c groupgate:<key>=<value>` flags. A flag with an unknown key is a problem like any
 * other: a mistyped flag would otherwise leave its key at the default without a word.
 */
export function readAppConfig(node: Node): AppConfig {
  const base = contextObject(node.tryGetContext(CONTEXT_KEY));
  for (const key of CONFIG_KEYS) {
    const flag = node.tryGetContext(`${CONTEXT_KEY}:${key}`);
    if (flag !== undefined) base[key] = coerceFlag(key, flag);
  }
  return validated(base, unknownFlagProblems(node));
}

/** SageMakerVariantInvocationsPerInstance counts invocations per minute per instance. */
export function invocationsPerInstanceTarget(config: AppConfig): number {
  const capacityPerMinute = (config.maxConcurrentRequestsPerInstance * 60) / config.meanInvocationSeconds;
  return Math.max(1, Math.round(capacityPerMinute * config.targetUtilisation));
}
