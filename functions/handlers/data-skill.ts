import '#shared/install-stack-source-map';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { S3Client } from '@aws-sdk/client-s3';
import { ENV } from '#config/env-names';
import { pipelineEnvShape } from '#config/pipeline-config';
import { parseEnv } from '#config/runtime-config';
import { ConfigError, MalformedEventError } from '#core/errors';
import type { SkillResponse } from '#core/skills/remote-protocol';
import { parseSkillRequest } from '#core/skills/skill-request';
import { DataAnalysisError } from '#data-analysis/data-analysis-error';
import { answerDataRequest } from '#data-analysis/data-skill';
import { DATASET_NAME_PATTERN, type DatasetSpec, formatBytes } from '#data-analysis/dataset';
import type { DataLimits } from '#data-analysis/limits';
import { modelWriteSql } from '#data-analysis/model-write-sql';
import type { WriteSql } from '#data-analysis/write-sql';
import { createSageMakerClient } from '#model/sagemaker-client';
import { withMiddlewares } from '#shared/middy';
import { logger } from '#shared/powertools';
import * as z from '#shared/zod';

/**
 * The data-analysis skill as a Lambda function (issue 17): GroupGate invokes it synchronously with a protocol v1
 * request as the event and reads the response it returns (docs/SKILLS.md §4; `#data-analysis/data-skill`).
 *
 * Settings (environment):
 * - `DATA_DATASETS`: JSON list of `{ "name", "title", "description"?, "s3": { "bucket", "key" } }`, CSV objects read
 *   with GetObject for each question (a replaced object is used at once), capped at the size limit while reading;
 * - the model that writes SQL: the worker's variables `MODEL_ENDPOINT_NAME`, `MODEL_INFERENCE_COMPONENT`,
 *   `MODEL_ENDPOINT_URL`, `MODEL_ID`, `MODEL_INSTANCE_TYPE`, `AWS_REGION`, with the same defaults and checks
 *   (`pipelineEnvShape`), as a SageMaker client. Not the whole pipeline configuration (tables, fallback, OpenAI
 *   API): this function needs one model call per question and no stores.
 * Settings are checked on the first invocation of an execution environment, and the outcome is kept: a bad setting
 * fails every invocation with the same `ConfigError` (a skill failure GroupGate reports) without a crash loop.
 * A request that is not v1 is a `MalformedEventError`.
 */

export const DATA_DATASETS_ENV = 'DATA_DATASETS';

const datasetConfigSchema = z.strictObject({
  name: z.string().check(z.regex(DATASET_NAME_PATTERN, 'must be lower case [a-z][a-z0-9_]*, at most 63 characters')),
  title: z.string().check(z.trim(), z.minLength(1), z.maxLength(200)),
  description: z.optional(z.string().check(z.trim(), z.maxLength(1000))),
  s3: z.strictObject({
    bucket: z.string().check(z.minLength(3), z.maxLength(63)),
    key: z.string().check(z.minLength(1), z.maxLength(1024)),
  }),
});

const datasetsConfigSchema = z.array(datasetConfigSchema).check(
  z.minLength(1),
  z.refine((list) => new Set(list.map((d) => d.name)).size === list.length, { error: 'dataset names must be unique' }),
);

export type DatasetConfig = z.output<typeof datasetConfigSchema>;
export interface S3Location {
  readonly bucket: string;
  readonly key: string;
}

/**
 * `DATA_DATASETS` checked.
 * @throws ConfigError naming every problem under `DATA_DATASETS`
 */
export function parseDatasetsConfig(raw: string | undefined): readonly DatasetConfig[] {
  if (raw === undefined || raw.trim() === '') {
    throw new ConfigError([`${DATA_DATASETS_ENV}: required (a JSON list of datasets)`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError([`${DATA_DATASETS_ENV}: is not valid JSON`]);
  }
  const parsed = datasetsConfigSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => `${[DATA_DATASETS_ENV, ...issue.path.map(String)].join('.')}: ${issue.message}`),
  );
}

/** Reads one object, at most `maxBytes` of it; a larger object is `too_large`. */
export type ObjectLoader = (location: S3Location, maxBytes: number) => Promise<Uint8Array>;

export function datasetsFromConfig(configs: readonly DatasetConfig[], loadObject: ObjectLoader): DatasetSpec[] {
  return configs.map((config) => ({
    name: config.name,
    title: config.title,
    ...(config.description ? { description: config.description } : {}),
    load: (maxBytes: number) => loadObject(config.s3, maxBytes),
  }));
}

/** GetObject through the AWS SDK, loaded on first use (the module is large; a list-only cold start skips it). */
export function s3ObjectLoader(region: string): ObjectLoader {
  let client: S3Client | undefined;
  return async ({ bucket, key }, maxBytes) => {
    const { S3Client, GetObjectCommand } = await import('@aws-sdk/client-s3');
    client ??= new S3Client({ region });
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!isByteStream(out.Body)) throw new Error(`s3://${bucket}/${key}: GetObject returned no readable body`);
    if (out.ContentLength !== undefined && out.ContentLength > maxBytes) {
      // Closing the body's iterator destroys the stream: the object is never downloaded.
      await out.Body[Symbol.asyncIterator]().return?.();
      throw tooLarge(out.ContentLength, maxBytes);
    }
    return readCapped(out.Body, maxBytes);
  };
}

function isByteStream(body: unknown): body is AsyncIterable<Uint8Array> {
  return typeof body === 'object' && body !== null && Symbol.asyncIterator in body;
}

/** The stream's bytes, stopping (and closing it) as soon as they pass `maxBytes`. */
export async function readCapped(stream: AsyncIterable<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.byteLength;
    // Leaving the loop returns the iterator, which destroys a Node stream: the rest is never downloaded.
    if (size > maxBytes) throw tooLarge(undefined, maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tooLarge(size: number | undefined, maxBytes: number): DataAnalysisError {
  const actual = size === undefined ? 'over' : `${formatBytes(size)}, over`;
  return new DataAnalysisError('too_large', `The dataset file is ${actual} the limit of ${formatBytes(maxBytes)}.`);
}

export interface DataSkillHandlerDeps {
  readonly datasets: readonly DatasetSpec[];
  readonly writeSql: WriteSql;
  readonly limits?: Partial<DataLimits>;
}

/** The handler on given datasets and model (tests inject both; `handler` builds them from the environment). */
export function createDataSkillHandler(deps: DataSkillHandlerDeps): (event: unknown) => Promise<SkillResponse> {
  return async (event) => {
    const parsed = parseSkillRequest(event);
    if (!parsed.ok) throw new MalformedEventError(`not a skill protocol v1 request: ${parsed.reason}`);
    const { request } = parsed;
    return answerDataRequest(request, {
      ...deps,
      onInternalError: (error) => logger.error('data skill failed; declining', { requestId: request.requestId, error }),
    });
  };
}

const modelEnvSchema = z.object({
  [ENV.modelEndpointName]: pipelineEnvShape[ENV.modelEndpointName],
  [ENV.modelInferenceComponent]: pipelineEnvShape[ENV.modelInferenceComponent],
  [ENV.modelEndpointUrl]: pipelineEnvShape[ENV.modelEndpointUrl],
  [ENV.modelId]: pipelineEnvShape[ENV.modelId],
  [ENV.modelInstanceType]: pipelineEnvShape[ENV.modelInstanceType],
  AWS_REGION: pipelineEnvShape.AWS_REGION,
});

/**
 * Everything the handler needs, from the environment.
 * @throws ConfigError naming every bad setting
 */
export function dataSkillFromEnv(env: Readonly<Record<string, string | undefined>>): DataSkillHandlerDeps {
  const problems: string[] = [];
  let configs: readonly DatasetConfig[] = [];
  try {
    configs = parseDatasetsConfig(env[DATA_DATASETS_ENV]);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  let writeSql: WriteSql | undefined;
  try {
    writeSql = writeSqlFromEnv(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0 || writeSql === undefined) throw new ConfigError(problems);
  return { datasets: datasetsFromConfig(configs, s3ObjectLoader(env.AWS_REGION ?? 'us-east-1')), writeSql };
}

/**
 * The model that writes SQL: the worker's primary model, from the same settings (the sandbox uses it too, against
 * its local model server). @throws ConfigError naming every bad setting
 */
export function writeSqlFromEnv(env: Readonly<Record<string, string | undefined>>): WriteSql {
  const model = parseEnv(modelEnvSchema, env);
  const inferenceComponentName = model[ENV.modelInferenceComponent];
  const client = createSageMakerClient({
    endpointName: model[ENV.modelEndpointName],
    ...(inferenceComponentName ? { inferenceComponentName } : {}),
    endpointUrl: model[ENV.modelEndpointUrl],
    region: model.AWS_REGION,
    modelId: model[ENV.modelId],
    instanceType: model[ENV.modelInstanceType],
  });
  return modelWriteSql(client);
}

type Built =
  | { readonly ok: true; readonly run: (event: unknown) => Promise<SkillResponse> }
  | { ok: false; error: unknown };
let built: Built | undefined;

export const handler = withMiddlewares(
  async (event: unknown): Promise<SkillResponse> => {
    built ??= build();
    if (!built.ok) throw built.error;
    return built.run(event);
  },
  [injectLambdaContext(logger)],
);

function build(): Built {
  try {
    return { ok: true, run: createDataSkillHandler(dataSkillFromEnv(process.env)) };
  } catch (error) {
    logger.error('data skill settings are invalid', { error });
    return { ok: false, error };
  }
}
