import { ConfigError } from '#core/errors';
import * as z from '#shared/zod';
import { type KnowledgeConfig, parseKnowledgeConfig } from './knowledge-config';

/**
 * Settings of the knowledge functions (the skill, `handlers/knowledge-skill.ts`, and ingestion,
 * `handlers/knowledge-ingest.ts`), validated once per execution environment. The CDK construct sets them from these
 * names (lib/constructs/knowledge.ts).
 */
export const KNOWLEDGE_FUNCTION_ENV = {
  /** The knowledge bases and their groups, JSON (functions/config/knowledge-config.ts). */
  bases: 'KNOWLEDGE_BASES',
  /** The bucket the bases' prefixes are in. Ingestion only. */
  bucket: 'KNOWLEDGE_BUCKET',
  /** Aurora PostgreSQL cluster ARN, its Data API credentials secret (ARN) and the database name. */
  clusterArn: 'KNOWLEDGE_DB_CLUSTER_ARN',
  secretArn: 'KNOWLEDGE_DB_SECRET_ARN',
  database: 'KNOWLEDGE_DB_NAME',
  /**
   * The private embedding model: `EMBEDDING_URL` (an OpenAI-compatible root serving `/v1/embeddings`) or
   * `EMBEDDING_ENDPOINT_NAME` (a SageMaker endpoint, request `{"inputs": [...]}`), exactly one.
   */
  embeddingUrl: 'EMBEDDING_URL',
  embeddingEndpointName: 'EMBEDDING_ENDPOINT_NAME',
  /** The model's name (sent as `model` to an OpenAI-compatible server; recorded in any case). */
  embeddingModel: 'EMBEDDING_MODEL',
  /** Vector length the model returns; the store's column is created with it. */
  embeddingDimensions: 'EMBEDDING_DIMENSIONS',
  /** Optional Secrets Manager secret `{"apiKey": "…"}` for `EMBEDDING_URL`. */
  embeddingApiKeySecretId: 'EMBEDDING_API_KEY_SECRET_ID',
  /** Cosine similarity from which a passage counts as relevant on its vector alone (per model). @default 0.55 */
  minSimilarity: 'KNOWLEDGE_MIN_SIMILARITY',
} as const;

export type EmbeddingSettings =
  | {
      readonly kind: 'openai';
      readonly baseUrl: string;
      readonly model: string;
      readonly dimensions: number;
      readonly apiKeySecretId?: string;
    }
  | { readonly kind: 'sagemaker'; readonly endpointName: string; readonly model: string; readonly dimensions: number };

export interface KnowledgeFunctionConfig {
  readonly knowledge: KnowledgeConfig;
  readonly bucket?: string;
  readonly database: { readonly resourceArn: string; readonly secretArn: string; readonly database: string };
  readonly embedding: EmbeddingSettings;
  readonly minSimilarity: number;
}

const E = KNOWLEDGE_FUNCTION_ENV;
const ARN = (service: string) =>
  z
    .string()
    .check(
      z.regex(new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]+:\\d{12}:.+$`), { error: `must be a ${service} ARN` }),
    );
const schema = z.object({
  [E.bases]: z.string().check(z.minLength(1)),
  [E.bucket]: z.optional(
    z.string().check(z.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: 'must be a bucket name' })),
  ),
  [E.clusterArn]: ARN('rds'),
  [E.secretArn]: ARN('secretsmanager'),
  [E.database]: z.string().check(z.regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: 'must be a PostgreSQL database name' })),
  [E.embeddingUrl]: z.optional(z.url({ protocol: /^https?$/ })),
  [E.embeddingEndpointName]: z.optional(
    z.string().check(z.regex(/^[A-Za-z0-9-]{1,63}$/, { error: 'must be a SageMaker endpoint name' })),
  ),
  [E.embeddingModel]: z.string().check(z.minLength(1), z.maxLength(200)),
  // pgvector's HNSW index takes at most 2,000 dimensions (`MAX_DIMENSIONS` in the store).
  [E.embeddingDimensions]: z.coerce.number().check(z.int(), z.gte(8), z.lte(2000)),
  [E.embeddingApiKeySecretId]: z.optional(z.string().check(z.minLength(1))),
  [E.minSimilarity]: z._default(z.coerce.number().check(z.gte(-1), z.lte(1)), 0.55),
});

/** @throws ConfigError naming every bad variable at once. */
export function loadKnowledgeFunctionConfig(
  env: Readonly<Record<string, string | undefined>>,
): KnowledgeFunctionConfig {
  // An empty variable is an unset one (a template left blank), not a value to validate.
  const given = Object.fromEntries(Object.values(E).map((name) => [name, env[name]?.trim() || undefined]));
  const parsed = schema.safeParse(given);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  if ((given[E.embeddingUrl] === undefined) === (given[E.embeddingEndpointName] === undefined)) {
    problems.push(`${E.embeddingUrl} / ${E.embeddingEndpointName}: set exactly one (the private embedding model)`);
  }
  let knowledge: KnowledgeConfig | undefined;
  try {
    knowledge = parseKnowledgeConfig(given[E.bases], E.bases);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (!parsed.success || problems.length > 0 || knowledge === undefined) throw new ConfigError(problems);
  const v = parsed.data;
  const url = v[E.embeddingUrl];
  const embedding: EmbeddingSettings = url
    ? {
        kind: 'openai',
        baseUrl: url,
        model: v[E.embeddingModel],
        dimensions: v[E.embeddingDimensions],
        ...(v[E.embeddingApiKeySecretId] ? { apiKeySecretId: v[E.embeddingApiKeySecretId] } : {}),
      }
    : {
        kind: 'sagemaker',
        endpointName: v[E.embeddingEndpointName] ?? '',
        model: v[E.embeddingModel],
        dimensions: v[E.embeddingDimensions],
      };
  return {
    knowledge,
    ...(v[E.bucket] ? { bucket: v[E.bucket] } : {}),
    database: { resourceArn: v[E.clusterArn], secretArn: v[E.secretArn], database: v[E.database] },
    embedding,
    minSimilarity: v[E.minSimilarity],
  };
}
