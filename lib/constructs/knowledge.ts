import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  FlowLogDestination,
  FlowLogTrafficType,
  SecurityGroup,
  type SubnetSelection,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  AuroraPostgresEngineVersion,
  ClusterInstance,
  Credentials,
  DatabaseCluster,
  DatabaseClusterEngine,
} from 'aws-cdk-lib/aws-rds';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  EventType,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY } from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import type { KnowledgeConfig } from '#config/knowledge-config';
import { KNOWLEDGE_FUNCTION_ENV } from '#config/knowledge-function-config';
import type { AppConfig } from '../config';
import { type FunctionVpc, HouseFunction } from './house-function';

export type EmbeddingConfig = NonNullable<AppConfig['embedding']>;
export type KnowledgeDatabaseConfig = AppConfig['knowledgeDatabase'];

/** The database the store's tables are created in (`KNOWLEDGE_DB_NAME`). */
export const KNOWLEDGE_DATABASE_NAME = 'knowledge';

/** The Data API calls the store makes (functions/knowledge/store/rds-data-sql.ts): statements and transactions. */
export const DATA_API_ACTIONS = [
  'rds-data:ExecuteStatement',
  'rds-data:BatchExecuteStatement',
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:RollbackTransaction',
] as const;

/** How long a replaced or deleted document's old version stays recoverable. */
const NONCURRENT_VERSION_DAYS = 90;

export interface KnowledgeBucketProps {
  /** How long the bucket's server access logs are kept (the audit trail's retention). */
  readonly accessLogRetention: Duration;
}

/**
 * The bucket of the knowledge bases' documents (one prefix per base) and of the data skill's datasets (`datasets/`):
 * private (public access blocked, ACLs disabled), TLS only, S3-managed encryption (the stack has no key of its own to
 * share; SSE-S3 needs no KMS grants on the readers), versioned so an overwritten or deleted document can be recovered
 * for 90 days, and retained when the stack is deleted. Every request is logged to a second bucket (server access
 * logs), kept as long as the audit trail.
 */
export class KnowledgeBucket extends Construct {
  readonly bucket: Bucket;
  readonly accessLogs: Bucket;

  constructor(scope: Construct, id: string, props: KnowledgeBucketProps) {
    super(scope, id);
    // Log delivery is granted by a bucket policy (logging.s3.amazonaws.com, this bucket as source), not by the
    // legacy LogDeliveryWrite ACL, which would need ACLs enabled on the log bucket. Scoped to this construct.
    this.node.setContext(S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    this.accessLogs = new Bucket(this, 'AccessLogs', {
      // Server access logs can only be delivered to an SSE-S3 bucket.
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      lifecycleRules: [{ expiration: props.accessLogRetention }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.bucket = new Bucket(this, 'Documents', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'documents/',
      lifecycleRules: [
        {
          noncurrentVersionExpiration: Duration.days(NONCURRENT_VERSION_DAYS),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}

export interface KnowledgeBasesProps {
  readonly knowledge: KnowledgeConfig;
  readonly embedding: EmbeddingConfig;
  readonly database: KnowledgeDatabaseConfig;
  /** The documents bucket (`KnowledgeBucket`). */
  readonly bucket: Bucket;
  readonly logRetention: RetentionDays;
  readonly logLevel: string;
  /**
   * Subnets for both functions (`pipelineVpc`), so they reach an embedding server (`embedding.url`) that only that
   * network can reach, as the worker reaches a private model. The subnets must still reach the Data API, Secrets
   * Manager and S3 (a NAT gateway or VPC endpoints). @default outside any VPC
   */
  readonly vpc?: FunctionVpc;
}

/** When the daily reconciliation runs, UTC: outside office hours in most time zones. */
const RECONCILE_AT = { hour: '3', minute: '17' } as const;

/**
 * The knowledge bases (issue 17): the pgvector store, ingestion and the `knowledge` skill.
 * - Store: Aurora Serverless v2 PostgreSQL 16 (pgvector 0.8) with the Data API, in a VPC of its own with isolated
 *   subnets only: no NAT gateway, no route out, no ingress rule. Nothing connects to it over the network: the
 *   functions send SQL through the Data API (HTTPS, IAM-authorised), so they need no network path to it and no
 *   connection pool, and cost nothing idle. They run outside any VPC unless `vpc` places them where a private
 *   embedding server is.
 * - Ingestion (`functions/handlers/knowledge-ingest.ts`): invoked by S3 for every object created or removed under a
 *   base's prefix, and once a day to reconcile every base (deletions missed, a run that failed). One run at a time
 *   (reserved concurrency 1), so two runs never race on one document; events arriving meanwhile are throttled and
 *   retried by Lambda's asynchronous queue (up to 6 hours), and whatever they miss the next reconciliation finds.
 * - Skill (`functions/handlers/knowledge-skill.ts`): invoked by the worker (protocol v1) for the bases' groups.
 * Both roles may use the Data API on this cluster and read its secret and the embedding model; ingestion also lists
 * and reads the bases' prefixes, nothing else in the bucket.
 */
export class KnowledgeBases extends Construct {
  readonly vpc: Vpc;
  readonly cluster: DatabaseCluster;
  readonly secret: ISecret;
  readonly skill: HouseFunction;
  readonly ingest: HouseFunction;
  readonly reconcileSchedule: Rule;

  constructor(scope: Construct, id: string, props: KnowledgeBasesProps) {
    super(scope, id);
    this.vpc = this.isolatedVpc(props.logRetention);
    this.cluster = this.databaseCluster(props.database);
    const { secret } = this.cluster;
    if (!secret) throw new Error('the knowledge database was built without a generated secret');
    this.secret = secret;

    const environment = this.functionEnvironment(props);
    const common = {
      logRetention: props.logRetention,
      logLevel: props.logLevel,
      ...(props.vpc ? { vpc: props.vpc } : {}),
    };
    this.skill = new HouseFunction(this, 'Skill', {
      ...common,
      handler: 'knowledge-skill',
      description: 'Knowledge skill: retrieves cited passages from the knowledge bases of the asking group',
      timeout: Duration.seconds(10),
      memorySize: 512,
      environment,
    });
    this.ingest = new HouseFunction(this, 'Ingest', {
      ...common,
      handler: 'knowledge-ingest',
      description: 'Indexes the knowledge bases: extracts, chunks and embeds documents into the store',
      timeout: Duration.minutes(15),
      // PDF and DOCX extraction hold a whole document and its text; CPU scales with memory (1,769 MiB = 1 vCPU).
      memorySize: 1536,
      reservedConcurrency: 1,
      environment: { ...environment, [KNOWLEDGE_FUNCTION_ENV.bucket]: props.bucket.bucketName },
    });
    for (const fn of [this.skill, this.ingest]) this.grantStoreAndModel(fn, props.embedding);
    this.grantReadBases(props.bucket, props.knowledge);

    const destination = new LambdaDestination(this.ingest.fn);
    for (const base of props.knowledge.bases) {
      // Prefixes never nest (knowledge-config.ts), as S3 requires of notifications for one event type.
      props.bucket.addEventNotification(EventType.OBJECT_CREATED, destination, { prefix: base.prefix });
      props.bucket.addEventNotification(EventType.OBJECT_REMOVED, destination, { prefix: base.prefix });
    }
    acknowledgeBucketNotificationsHandler(Stack.of(this));
    this.reconcileSchedule = new Rule(this, 'Reconcile', {
      description: 'Reconciles every knowledge base with its documents once a day',
      schedule: Schedule.cron(RECONCILE_AT),
      targets: [new LambdaFunction(this.ingest.fn, { retryAttempts: 2 })],
    });
  }

  /**
   * Two isolated subnets (Aurora needs two zones) and nothing else: no NAT, no internet gateway. The flow log keeps a
   * record of any traffic that ever reaches it. The default security group is left as EC2 creates it: nothing is
   * placed in it, and restricting it would take a custom-resource function.
   */
  private isolatedVpc(logRetention: RetentionDays): Vpc {
    const flowLogs = new LogGroup(this, 'VpcFlowLogs', { retention: logRetention });
    return new Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'Database', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      restrictDefaultSecurityGroup: false,
      flowLogs: {
        All: { destination: FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: FlowLogTrafficType.ALL },
      },
    });
  }

  /**
   * Cost: Aurora Serverless v2 bills ACU-hours plus storage and I/O. With `minCapacity` 0 the instance pauses after
   * `autoPauseSeconds` idle and only storage is billed (cents a month for a few thousand documents), at the price of
   * about 15 s to resume on the first question after a pause (the skill's 5 s budget runs out, so that one answer
   * comes without passages). A `minCapacity` of 0.5 never pauses and costs about 0.5 ACU × 730 h a month.
   * One writer, no reader: the store is rebuilt from the bucket if ever lost, and a failed instance is replaced.
   */
  private databaseCluster(config: KnowledgeDatabaseConfig): DatabaseCluster {
    const subnets: SubnetSelection = { subnetType: SubnetType.PRIVATE_ISOLATED };
    const securityGroup = new SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc: this.vpc,
      description: 'Knowledge store: no ingress, no egress; the functions use the Data API',
      allowAllOutbound: false,
    });
    const cluster = new DatabaseCluster(this, 'Database', {
      // 16.6: pgvector 0.8 (HNSW, iterative index scans) and Serverless v2 auto-pause (16.3 and later).
      engine: DatabaseClusterEngine.auroraPostgres({ version: AuroraPostgresEngineVersion.VER_16_6 }),
      writer: ClusterInstance.serverlessV2('Writer', { autoMinorVersionUpgrade: true }),
      serverlessV2MinCapacity: config.minCapacity,
      serverlessV2MaxCapacity: config.maxCapacity,
      ...(config.minCapacity === 0 ? { serverlessV2AutoPauseDuration: Duration.seconds(config.autoPauseSeconds) } : {}),
      enableDataApi: true,
      credentials: Credentials.fromGeneratedSecret('groupgate'),
      defaultDatabaseName: KNOWLEDGE_DATABASE_NAME,
      storageEncrypted: true,
      deletionProtection: true,
      // As cdk-nag asks (AwsSolutions-RDS6). Nothing is granted rds-db:connect, and no network path reaches the
      // cluster: should one ever be added, logins could be IAM-only rather than the secret's password.
      iamAuthentication: true,
      vpc: this.vpc,
      vpcSubnets: subnets,
      securityGroups: [securityGroup],
      backup: { retention: Duration.days(7) },
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
    // The generated secret itself (`cluster.secret` is its attachment to the cluster).
    const generatedSecret = cluster.node.tryFindChild('Secret');
    if (generatedSecret) {
      Validations.of(generatedSecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The Data API credentials of the knowledge store: rotating them needs a rotation function inside this VPC plus a Secrets Manager interface endpoint (the subnets have no route out), a standing cost above the store itself; only the two knowledge functions may read the secret, and the database accepts no network connection.',
      });
    }
    return cluster;
  }

  /** `KNOWLEDGE_FUNCTION_ENV` for both functions (the bucket is the ingestion's only). */
  private functionEnvironment(props: KnowledgeBasesProps): Record<string, string> {
    const env = KNOWLEDGE_FUNCTION_ENV;
    const { embedding } = props;
    return {
      [env.bases]: JSON.stringify(props.knowledge),
      [env.clusterArn]: this.cluster.clusterArn,
      [env.secretArn]: this.secret.secretArn,
      [env.database]: KNOWLEDGE_DATABASE_NAME,
      ...(embedding.url !== undefined ? { [env.embeddingUrl]: embedding.url } : {}),
      ...(embedding.endpointName !== undefined ? { [env.embeddingEndpointName]: embedding.endpointName } : {}),
      [env.embeddingModel]: embedding.model,
      [env.embeddingDimensions]: String(embedding.dimensions),
      ...(embedding.apiKeySecretName !== undefined
        ? { [env.embeddingApiKeySecretId]: embedding.apiKeySecretName }
        : {}),
      ...(embedding.minSimilarity !== undefined ? { [env.minSimilarity]: String(embedding.minSimilarity) } : {}),
    };
  }

  /** The Data API on this cluster, its secret, and the embedding model (its endpoint, or its key). */
  private grantStoreAndModel(fn: HouseFunction, embedding: EmbeddingConfig): void {
    const stack = Stack.of(this);
    fn.role.addToPolicy(new PolicyStatement({ actions: [...DATA_API_ACTIONS], resources: [this.cluster.clusterArn] }));
    fn.role.addToPolicy(
      new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [this.secret.secretArn] }),
    );
    if (embedding.apiKeySecretName !== undefined) {
      fn.role.addToPolicy(
        new PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          // Secrets Manager appends six random characters to a secret's name in its ARN; `?` matches one each.
          resources: [
            stack.formatArn({
              service: 'secretsmanager',
              resource: 'secret',
              resourceName: `${embedding.apiKeySecretName}-??????`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ],
        }),
      );
    }
    if (embedding.endpointName !== undefined) {
      fn.role.addToPolicy(
        new PolicyStatement({
          actions: ['sagemaker:InvokeEndpoint'],
          // SageMaker ARNs carry the endpoint name in lower case.
          resources: [
            stack.formatArn({
              service: 'sagemaker',
              resource: 'endpoint',
              resourceName: embedding.endpointName.toLowerCase(),
            }),
          ],
        }),
      );
    }
  }

  /** Ingestion lists and reads each base's prefix, and nothing else of the bucket (not `datasets/`). */
  private grantReadBases(bucket: Bucket, knowledge: KnowledgeConfig): void {
    const prefixes = knowledge.bases.map((base) => base.prefix);
    this.ingest.role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': prefixes.map((prefix) => `${prefix}*`) } },
      }),
    );
    this.ingest.role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: prefixes.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
      }),
    );
    const bucketId = Stack.of(this).getLogicalId(bucket.node.defaultChild as CfnBucket);
    Validations.of(this.ingest.role).acknowledge(
      ...prefixes.map((prefix) => ({
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
        reason: `s3:GetObject on ${prefix}*: ingestion reads every document of this knowledge base, whose keys are not known at deploy time (s3:ListBucket is limited to the same prefixes by an s3:prefix condition).`,
      })),
    );
  }
}

/** The id CDK gives the singleton function that writes a bucket's notification configuration at deploy time. */
const BUCKET_NOTIFICATIONS_HANDLER_ID = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

/**
 * CDK writes S3 notification configurations with a custom resource (a Lambda function of its own, run at deploy
 * time only) whose role has the basic execution managed policy; its `s3:PutBucketNotification` names the bucket.
 */
function acknowledgeBucketNotificationsHandler(stack: Stack): void {
  const handler = stack.node.tryFindChild(BUCKET_NOTIFICATIONS_HANDLER_ID);
  if (!handler) return;
  Validations.of(handler).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason:
      "CDK's bucket-notifications custom resource (run only during deployments, to write the knowledge bucket's notification configuration) logs through AWSLambdaBasicExecutionRole; CDK builds that role, it is not configurable.",
  });
}
