import * as path from 'node:path';
import { Duration, Size, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, type CfnFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { EnvName } from '#config/env-names';
import { type ShippedModules, shipModulesCommand } from '../shipped-modules';
import { LAMBDA_BUNDLING, LAMBDA_NODE_OPTIONS } from './lambda-bundling';

/** Handler entry files live in functions/handlers/<name>.ts and export `handler`. */
const HANDLERS_DIR = path.join(__dirname, '..', '..', 'functions', 'handlers');

/** The DynamoDB item actions a function may be granted; no wildcards, no table-level admin. */
export type TableAction =
  | 'GetItem'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'Query'
  | 'BatchGetItem'
  | 'BatchWriteItem';

export interface HouseFunctionProps {
  /** File name under functions/handlers without extension, e.g. `webhook`. Also the Powertools service name. */
  readonly handler: string;
  /** @default 10 seconds */
  readonly timeout?: Duration;
  /** @default 512 MiB */
  readonly memorySize?: number;
  readonly logRetention: RetentionDays;
  /** Powertools log level. @default INFO */
  readonly logLevel?: string;
  /** Added to (and overriding) the house environment. Never put secrets here: bind a secret instead. */
  readonly environment?: Readonly<Record<string, string>>;
  readonly description?: string;
  /** Installed packages shipped whole next to the bundle instead of inlined (see lib/shipped-modules.ts). */
  readonly shipModules?: ShippedModules;
  /** Size of /tmp, MiB. @default 512 */
  readonly ephemeralStorageMb?: number;
  /** Reserved concurrency: at most this many environments at once, and never starved by the others. @default none */
  readonly reservedConcurrency?: number;
  /**
   * Runs the function in these subnets (to reach a model server only the VPC can reach). The subnets must still reach
   * the AWS APIs and the chat platforms (a NAT gateway, or VPC endpoints plus a NAT for the platforms). @default none
   */
  readonly vpc?: FunctionVpc;
  /**
   * The instruction set. Only for a function shipping a native binary installed for x86_64 alone (DuckDB, see
   * lib/shipped-modules.ts). @default arm64
   */
  readonly architecture?: Architecture;
}

export interface FunctionVpc {
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
}

/**
 * The house Lambda: arm64 (unless a native binary needs x86_64), nodejs22.x, bundled by the local esbuild (no Docker) with source maps, Powertools
 * environment, its own log group with retention, X-Ray active tracing, and a role that starts with nothing but
 * its own log group. Grants go through the `bind*` helpers, which grant and set the env var in one place.
 */
export class HouseFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: HouseFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ${props.handler} function`,
    });
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    const { shipModules } = props;
    this.fn = new NodejsFunction(this, 'Function', {
      entry: path.join(HANDLERS_DIR, `${props.handler}.ts`),
      handler: 'handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: props.architecture ?? Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      ...(props.ephemeralStorageMb ? { ephemeralStorageSize: Size.mebibytes(props.ephemeralStorageMb) } : {}),
      ...(props.reservedConcurrency ? { reservedConcurrentExecutions: props.reservedConcurrency } : {}),
      tracing: Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      description: props.description,
      bundling: {
        forceDockerBundling: false,
        minify: LAMBDA_BUNDLING.minify,
        sourceMap: LAMBDA_BUNDLING.sourceMap,
        sourcesContent: LAMBDA_BUNDLING.sourcesContent,
        target: LAMBDA_BUNDLING.target,
        format: OutputFormat.CJS,
        externalModules: [...LAMBDA_BUNDLING.externalModules, ...(shipModules?.packages ?? [])],
        ...(shipModules ? { commandHooks: shipModulesHooks(shipModules) } : {}),
      },
      environment: {
        POWERTOOLS_SERVICE_NAME: props.handler,
        POWERTOOLS_METRICS_NAMESPACE: 'GroupGate',
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        ...nodeOptionsEnv(),
        ...props.environment,
      },
    });

    if (props.vpc) this.placeInVpc(props.vpc);
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: props.vpc
        ? 'Resource "*" only for xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) and the network-interface actions Lambda needs to run in the VPC; neither X-Ray nor those EC2 actions support resource-level permissions.'
        : 'Only xray:PutTraceSegments and xray:PutTelemetryRecords use Resource "*" (added by active tracing); X-Ray does not support resource-level permissions for them.',
    });
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x on purpose: the esbuild target (node22) and the tested toolchain match it; moving to a newer runtime is a deliberate upgrade, not a silent one.',
    });
  }

  /**
   * Subnets and security groups by id, set on the function itself: the stack takes ids from the app config and does
   * not look the VPC up at synth (which would need AWS credentials). The actions are those of Lambda's
   * AWSLambdaVPCAccessExecutionRole.
   */
  private placeInVpc(vpc: FunctionVpc): void {
    (this.fn.node.defaultChild as CfnFunction).vpcConfig = {
      subnetIds: [...vpc.subnetIds],
      securityGroupIds: [...vpc.securityGroupIds],
    };
    this.role.addToPolicy(
      new PolicyStatement({
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
  }

  addEnvironment(name: EnvName | string, value: string): void {
    this.fn.addEnvironment(name, value);
  }

  /** Grants exactly `actions` on the table (not its indexes) and sets `envName` to the table name. */
  bindTable(table: ITable, envName: EnvName, actions: readonly TableAction[]): void {
    this.role.addToPolicy(
      new PolicyStatement({ actions: actions.map((a) => `dynamodb:${a}`), resources: [table.tableArn] }),
    );
    this.fn.addEnvironment(envName, table.tableName);
  }

  /** Grants GetSecretValue on this one secret and sets `envName` to its ARN. */
  bindSecret(secret: ISecret, envName: EnvName): void {
    this.role.addToPolicy(
      new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }),
    );
    this.fn.addEnvironment(envName, secret.secretArn);
  }

  /** Grants SendMessage (and the KMS data-key calls SSE-KMS needs) and sets `envName` to the queue URL. */
  bindQueueSender(queue: IQueue, key: IKey, envName: EnvName): void {
    this.role.addToPolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
    this.role.addToPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [key.keyArn],
      }),
    );
    this.fn.addEnvironment(envName, queue.queueUrl);
  }
}

/** Copies the shipped packages into the asset after esbuild has written the bundle; nothing runs before. */
function shipModulesHooks(spec: ShippedModules) {
  return {
    beforeBundling: (): string[] => [],
    beforeInstall: (): string[] => [],
    afterBundling: (_inputDir: string, outputDir: string): string[] => [shipModulesCommand(outputDir, spec)],
  };
}

/** `NODE_OPTIONS` only when there are options to pass (none today: `LAMBDA_NODE_OPTIONS`). */
function nodeOptionsEnv(): Record<string, string> {
  return LAMBDA_NODE_OPTIONS ? { NODE_OPTIONS: LAMBDA_NODE_OPTIONS } : {};
}
