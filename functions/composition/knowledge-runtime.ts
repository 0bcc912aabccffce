import type { ExecuteStatementCommand } from '@aws-sdk/client-rds-data';
import type { S3Client } from '@aws-sdk/client-s3';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import {
  type EmbeddingSettings,
  type KnowledgeFunctionConfig,
  loadKnowledgeFunctionConfig,
} from '#config/knowledge-function-config';
import type { Embedder } from '#knowledge/embeddings/embedder';
import { createOpenAiEmbedder } from '#knowledge/embeddings/openai-embedder';
import { createSageMakerEmbedder } from '#knowledge/embeddings/sagemaker-embedder';
import { KnowledgeStore } from '#knowledge/store/knowledge-store';
import { type RdsDataCommand, RdsDataSql } from '#knowledge/store/rds-data-sql';
import { waitingForResume } from '#knowledge/store/resume-wait';
import { logger } from '#shared/powertools';
import { modelApiKey } from './model-api-key';

/**
 * What the knowledge functions share, built once per execution environment on first use: the validated settings,
 * the store over the Aurora Data API, the private embedding model's client, and (ingestion only) an S3 client.
 */
export interface KnowledgeRuntime {
  readonly config: KnowledgeFunctionConfig;
  readonly store: KnowledgeStore;
  readonly embedder: Embedder;
  s3(): Promise<S3Client>;
}

let runtime: KnowledgeRuntime | undefined;

export interface KnowledgeRuntimeOptions {
  /**
   * How long a statement waits for a paused Aurora Serverless v2 instance to resume (`resume-wait.ts`), ms: about a
   * resume's 15 s and more for ingestion, 0 for the skill, whose answer cannot wait. @default 0
   */
  readonly resumeWaitMs?: number;
}

/**
 * @param options read on the first call only: one function (ingestion or the skill) per execution environment.
 * @throws ConfigError on the first call when the settings are wrong (and on every later call: nothing is cached).
 */
export function knowledgeRuntime(
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: KnowledgeRuntimeOptions = {},
): KnowledgeRuntime {
  if (runtime) return runtime;
  const config = loadKnowledgeFunctionConfig(env);
  const rdsData = import('@aws-sdk/client-rds-data').then(({ RDSDataClient }) => new RDSDataClient({}));
  const sql = new RdsDataSql(
    waitingForResume(
      // The client class loads on the first query, not at init: the skill's cold start pays for it only when asked.
      { send: async (command: RdsDataCommand) => (await rdsData).send(command as ExecuteStatementCommand) },
      {
        maxWaitMs: options.resumeWaitMs ?? 0,
        onResuming: (waitedMs) => logger.info('knowledge database is resuming from a pause; waiting', { waitedMs }),
      },
    ),
    config.database,
  );
  let s3: Promise<S3Client> | undefined;
  runtime = {
    config,
    store: new KnowledgeStore(sql, { dimensions: config.embedding.dimensions }),
    embedder: embedderFor(config.embedding, env),
    s3() {
      s3 ??= import('@aws-sdk/client-s3').then(({ S3Client }) => new S3Client({}));
      return s3;
    },
  };
  return runtime;
}

export function embedderFor(
  settings: EmbeddingSettings,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Embedder {
  if (settings.kind === 'sagemaker') {
    return createSageMakerEmbedder({
      endpointName: settings.endpointName,
      model: settings.model,
      dimensions: settings.dimensions,
      client: new SageMakerRuntimeClient({}),
    });
  }
  const key = modelApiKey(settings.apiKeySecretId, { env });
  return createOpenAiEmbedder({
    baseUrl: settings.baseUrl,
    model: settings.model,
    dimensions: settings.dimensions,
    ...(key ? { apiKey: () => key.read() } : {}),
  });
}
