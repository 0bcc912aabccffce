import { Duration } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Architecture } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ENV } from '#config/env-names';
import { DATA_SKILL, type DataDatasetConfig, dataDatasetsEnv } from '../config';
import { DUCKDB_ON_LAMBDA_X64 } from '../shipped-modules';
import type { PrimaryWiring } from './functions';
import { HouseFunction } from './house-function';

/**
 * The datasets variable of functions/handlers/data-skill.ts (`DATA_DATASETS_ENV` there; not imported, because that
 * module loads DuckDB's native binary, which the CDK app has no use for).
 */
export const DATA_DATASETS_ENV = 'DATA_DATASETS';

export interface DataSkillProps {
  /** Registered datasets: CSV objects at `datasets/<key>` in `bucket`. */
  readonly datasets: readonly DataDatasetConfig[];
  /** The knowledge bucket (`KnowledgeBucket`). */
  readonly bucket: IBucket;
  /** The primary model, which writes the SQL: the SageMaker endpoint (lib/config.ts refuses an OpenAI primary). */
  readonly primary: Extract<PrimaryWiring, { kind: 'sagemaker' }>;
  readonly logRetention: RetentionDays;
  readonly logLevel: string;
}

/**
 * The data-analysis skill (`functions/handlers/data-skill.ts`, issue 17): the model writes one SELECT, DuckDB runs it
 * on a private in-memory copy of one dataset, the reply is the engine's result. The worker invokes it for `/data`,
 * `/数据` and `/sql` in the configured groups (lib/config.ts `deployedSkills`).
 * - DuckDB is a native addon: `@duckdb/node-api`, `@duckdb/node-bindings` and its linux-x64 binary (about 70 MB
 *   unzipped, glibc 2.25 at most) are copied into the asset (`DUCKDB_ON_LAMBDA_X64`), so the function runs on
 *   x86_64: only that binary is installed here. Moving it to arm64 needs `@duckdb/node-bindings-linux-arm64`
 *   installed at synth and `Architecture.ARM_64` below.
 * - Its role reads exactly the registered objects and invokes the primary model's endpoint (as the worker does),
 *   nothing else: no tables, no other prefix of the bucket.
 */
export class DataSkill extends Construct {
  readonly function: HouseFunction;

  constructor(scope: Construct, id: string, props: DataSkillProps) {
    super(scope, id);
    const { primary } = props;
    this.function = new HouseFunction(this, 'Function', {
      handler: 'data-skill',
      description: 'Data skill: answers /data and /sql with DuckDB on registered CSV datasets',
      architecture: Architecture.X86_64,
      shipModules: DUCKDB_ON_LAMBDA_X64,
      // A dataset of up to 50 MiB is held as bytes, then as a DuckDB table (memory_limit 256 MB) beside Node.
      memorySize: 1024,
      // The worker waits `DATA_SKILL.timeoutMs`; the function stops itself before the request's deadline, and this
      // margin lets it return its "took too long" answer instead of being cut off.
      timeout: Duration.millis(DATA_SKILL.timeoutMs + 2000),
      logRetention: props.logRetention,
      logLevel: props.logLevel,
      environment: {
        [DATA_DATASETS_ENV]: JSON.stringify(dataDatasetsEnv(props.datasets, props.bucket.bucketName)),
        [ENV.modelEndpointName]: primary.endpointName,
        ...(primary.inferenceComponent ? { [ENV.modelInferenceComponent]: primary.inferenceComponent.name } : {}),
        [ENV.modelInstanceType]: primary.instanceType,
      },
    });
    this.function.role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: dataDatasetsEnv(props.datasets, props.bucket.bucketName).map((d) =>
          props.bucket.arnForObjects(d.s3.key),
        ),
      }),
    );
    this.function.role.addToPolicy(
      new PolicyStatement({
        // One non-streaming call per attempt (functions/data-analysis/model-write-sql.ts).
        actions: ['sagemaker:InvokeEndpoint'],
        resources: [primary.endpointArn, ...(primary.inferenceComponent ? [primary.inferenceComponent.arn] : [])],
      }),
    );
  }
}
