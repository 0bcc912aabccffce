import { ConfigError } from '#core/errors';
import * as z from '#shared/zod';
import { FALLBACK_ENDPOINT_NAME } from './pipeline-config';

/**
 * Settings of the fallback model function (`handlers/fallback-model.ts`, issue 16), validated once per execution
 * environment. The CDK construct sets them from these names; the weights come from S3 unless a local file is named.
 */
export const FALLBACK_FUNCTION_ENV = {
  /** `s3://bucket/key.gguf`: the GGUF the operator put in the private model bucket. Required unless `weightsPath`. */
  weightsS3Uri: 'FALLBACK_WEIGHTS_S3_URI',
  /** A GGUF already on disk (tests, local runs); replaces the download. */
  weightsPath: 'FALLBACK_WEIGHTS_PATH',
  /** Where the downloaded GGUF is written: Lambda's ephemeral storage. @default /tmp */
  weightsDir: 'FALLBACK_WEIGHTS_DIR',
  /** Tokens of one conversation the model sees (prompt + answer). @default 2048 */
  contextSize: 'FALLBACK_CONTEXT_SIZE',
  /** Answer tokens per call: requests asking for more are clamped. @default 512 */
  maxTokens: 'FALLBACK_MAX_TOKENS',
  /** The name in the invocation paths (`/endpoints/<name>/invocations`); others are answered 400. */
  endpointName: 'FALLBACK_ENDPOINT_NAME',
} as const;

export type FallbackWeights =
  | { readonly kind: 's3'; readonly uri: string; readonly bucket: string; readonly key: string }
  | { readonly kind: 'file'; readonly path: string };

export interface FallbackFunctionConfig {
  readonly weights: FallbackWeights;
  readonly weightsDir: string;
  readonly contextSize: number;
  readonly maxTokens: number;
  readonly endpointName: string;
}

/** `s3://<bucket>/<key>.gguf`, the bucket named as S3 allows (3–63 of a-z 0-9 . -). */
const S3_GGUF_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+\.[Gg][Gg][Uu][Ff])$/;

const E = FALLBACK_FUNCTION_ENV;
const envInt = (min: number, max: number) => z.coerce.number().check(z.int(), z.gte(min), z.lte(max));
const schema = z.object({
  [E.weightsS3Uri]: z.optional(z.string().check(z.regex(S3_GGUF_URI, { error: 'must be s3://<bucket>/<key>.gguf' }))),
  [E.weightsPath]: z.optional(z.string().check(z.minLength(1))),
  [E.weightsDir]: z._default(z.string().check(z.startsWith('/', { error: 'must be an absolute path' })), '/tmp'),
  [E.contextSize]: z._default(envInt(256, 131_072), 2048),
  [E.maxTokens]: z._default(envInt(1, 8192), 512),
  [E.endpointName]: z._default(
    z.string().check(z.regex(/^[A-Za-z0-9-]{1,63}$/, { error: 'must be a SageMaker-style endpoint name' })),
    FALLBACK_ENDPOINT_NAME,
  ),
});

/** @throws ConfigError naming every bad variable at once. */
export function loadFallbackFunctionConfig(env: Readonly<Record<string, string | undefined>>): FallbackFunctionConfig {
  // An empty variable is an unset one (a template left blank), not a value to validate.
  const given = Object.fromEntries(Object.values(E).map((name) => [name, env[name]?.trim() || undefined]));
  const parsed = schema.safeParse(given);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  const uri = given[E.weightsS3Uri];
  const path = given[E.weightsPath];
  if (uri === undefined && path === undefined) {
    problems.push(`${E.weightsS3Uri}: required (s3://<bucket>/<key>.gguf) unless ${E.weightsPath} names a local file`);
  }
  if (uri !== undefined && path !== undefined) {
    problems.push(
      `${E.weightsPath}: set together with ${E.weightsS3Uri}; set only one, so it is clear which model runs`,
    );
  }
  if (parsed.success && parsed.data[E.maxTokens] >= parsed.data[E.contextSize]) {
    problems.push(
      `${E.maxTokens}: ${parsed.data[E.maxTokens]} leaves no room for the prompt in ${E.contextSize}=${parsed.data[E.contextSize]}`,
    );
  }
  const weights = weightsOf(uri, path);
  if (!parsed.success || weights === undefined || problems.length > 0) throw new ConfigError(problems);
  const c = parsed.data;
  return Object.freeze({
    weights,
    weightsDir: c[E.weightsDir],
    contextSize: c[E.contextSize],
    maxTokens: c[E.maxTokens],
    endpointName: c[E.endpointName],
  });
}

/** The weights the variables name; undefined when they name none (reported by the caller). */
function weightsOf(uri: string | undefined, path: string | undefined): FallbackWeights | undefined {
  if (uri !== undefined) {
    const match = S3_GGUF_URI.exec(uri);
    return match?.[1] && match[2] ? { kind: 's3', uri, bucket: match[1], key: match[2] } : undefined;
  }
  return path === undefined ? undefined : { kind: 'file', path };
}
