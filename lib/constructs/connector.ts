import { Aws, Duration, Size, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import {
  FlowLogDestination,
  FlowLogTrafficType,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import {
  AwsLogDriverMode,
  CfnCluster,
  CfnService,
  ContainerImage,
  CpuArchitecture,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
} from 'aws-cdk-lib/aws-ecs';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { FilterPattern, LogGroup, MetricFilter, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { type IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct, type IDependable } from 'constructs';
import { ENV } from '#config/env-names';
import { CONNECTOR_TASK } from '#core/cost/connector-cost';
import { PLATFORM_MANIFESTS } from '#platforms/manifests';
import type { PlatformName } from '#platforms/types';
import { METRICS_NAMESPACE } from '#shared/metrics';
import type { LongConnectionPlatform } from '../config';
import { connectorImageAsset } from './connector-image';
import { platformApiEnv, voiceGroupChatsEnv } from './functions';
import type { FunctionVpc } from './house-function';

/** The port of `GET /healthz` (`HEALTH_PORT`), probed from inside the container. */
export const CONNECTOR_HEALTH_PORT = 8080;
/** The connector's log level is the pipeline's (`logLevel`); its logs name this service. */
export const CONNECTOR_SERVICE = 'groupgate-connector';

/**
 * Secret fields a platform's credentials need only in long-connection mode, created as placeholders beside the
 * webhook's: Slack Socket Mode opens with the app-level token (`xapp-…`, scope `connections:write`). Feishu and
 * DingTalk open theirs with the app id and secret the webhook secret already holds.
 */
export const LONG_CONNECTION_SECRET_FIELDS: Readonly<Partial<Record<PlatformName, readonly string[]>>> = {
  slack: ['appToken'],
  // The AI bot's long-connection credentials (`aibot_subscribe`): its id and secret from the bot's API settings.
  wecom: ['botId', 'botSecret'],
};

/** The WeCom connection's lease items in the events table (`functions/connector/wecom-connection.ts`). */
const WECOM_LEASE_KEYS = 'lease#wecom#*';

/** The in-task health check: Node's fetch, since node:22-slim has no curl. Exit 0 only on a 2xx. */
const HEALTH_CHECK_SCRIPT = `fetch('http://127.0.0.1:${CONNECTOR_HEALTH_PORT}/healthz').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))`;

export interface ConnectorProps {
  /** The platforms to hold a long connection for (validated by lib/config.ts: enabled, with a client). */
  readonly platforms: readonly LongConnectionPlatform[];
  /** Tasks; 2 keeps every platform connected through a task replacement or a zone outage. */
  readonly desiredCount: number;
  /** The ingest path's reservations (PutItem, DeleteItem). */
  readonly eventsTable: ITable;
  readonly queue: IQueue;
  /** The customer managed key the queue is encrypted with. */
  readonly queueKey: IKey;
  readonly platformSecrets: Readonly<Partial<Record<PlatformName, ISecret>>>;
  /** Feishu/Lark Open Platform origin, for the Feishu client's endpoint discovery. */
  readonly feishuApiBaseUrl: string;
  /**
   * Run in these subnets with these security groups (`pipelineVpc`): they reach the internet through the operator's
   * NAT, so the tasks get no public IP. @default a VPC of its own with public subnets and a public IPv4 per task
   */
  readonly vpc?: FunctionVpc;
  readonly logRetention: RetentionDays;
  readonly logLevel: string;
  /** Groups whose voice messages need no @-mention (`groupgate:voice` `groupChats`), as the webhook has them. */
  readonly voiceGroupChats?: readonly string[];
}

/**
 * The long-connection connector (issue 18) on ECS Fargate: `desiredCount` tasks (arm64, 0.25 vCPU, 0.5 GB) spread
 * across two zones, each holding one outbound WebSocket per platform and admitting every event through the webhook's
 * ingest path (reservation in the events table, FIFO queue); two tasks that both receive an event enqueue it once.
 * - Image: functions/connector/main.ts bundled by the local esbuild at synth into a node:22-slim image
 *   (`connector-image.ts`); Docker is needed by `cdk deploy` only, to build and push it.
 * - Network: outbound only. A security group with no ingress rule and one egress rule, TCP 443 (the platforms'
 *   WebSocket and API endpoints, the AWS APIs, ECR); in a VPC of its own with public subnets and a public IPv4 per
 *   task instead of a NAT gateway ($3.65 a month per task against $32.9 for a NAT), or in `pipelineVpc`'s subnets
 *   and security groups when configured.
 * - IAM: the task role may send to the queue (and use its key), put and delete items in the events table (the
 *   reservation and its release: all ingest writes), and read the long-connection platforms' secrets; with WeCom also
 *   update and read the `lease#wecom#…` items only, and receive, delete and release messages of the relay queue.
 * - WeCom: one connection per bot, so a lease (`leased-connection.ts`) lets only one task connect; its socket also
 *   carries the replies, through the relay queue built here (the worker sends, the lease holder receives).
 * - Operations: Container Insights, logs with the stack's retention, a container health check on `/healthz`, the
 *   deployment circuit breaker with rollback, and alarms for tasks below the desired count and for ERROR log lines
 *   (a lost or crashed admission), wired to the alarm topic by the stack.
 */
export class Connector extends Construct {
  readonly cluster: CfnCluster;
  readonly service: CfnService;
  readonly taskDefinition: FargateTaskDefinition;
  readonly taskRole: Role;
  readonly logGroup: LogGroup;
  /** Whether each task has a public IPv4 (its own VPC), which is billed per hour. */
  readonly publicIpv4: boolean;
  readonly alarms: {
    readonly tasksBelowDesired: Alarm;
    readonly errors: Alarm;
    /** With WeCom: a reply frame the lease holder could not send in five receives (a member's answer not shown). */
    readonly relayDeadLetters?: Alarm;
  };
  /**
   * WeCom in long-connection mode: the FIFO queue the worker writes reply frames to and the task holding the bot's
   * lease sends on its socket (`functions/platforms/wecom/relay.ts`). The stack lets the worker send to it.
   */
  readonly wecomRelay?: { readonly queue: Queue; readonly deadLetterQueue: Queue };

  constructor(scope: Construct, id: string, props: ConnectorProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention });
    if (props.platforms.includes('wecom')) this.wecomRelay = this.buildRelay(props);
    this.taskRole = this.buildTaskRole(props);
    this.taskDefinition = this.buildTaskDefinition(props);

    this.cluster = new CfnCluster(this, 'Cluster', {
      clusterSettings: [{ name: 'containerInsights', value: 'enabled' }],
    });
    const network = this.network(props);
    this.publicIpv4 = network.assignPublicIp;
    this.service = new CfnService(this, 'Service', {
      cluster: this.cluster.ref,
      taskDefinition: this.taskDefinition.taskDefinitionArn,
      launchType: 'FARGATE',
      platformVersion: 'LATEST',
      desiredCount: props.desiredCount,
      // Fargate places a service's tasks across the subnets' zones; rebalancing restores the spread after a zone
      // outage ends.
      availabilityZoneRebalancing: 'ENABLED',
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: network.subnetIds,
          securityGroups: network.securityGroupIds,
          assignPublicIp: network.assignPublicIp ? 'ENABLED' : 'DISABLED',
        },
      },
      // New tasks start before old ones stop (both hold connections meanwhile: each event still goes to one). A
      // release whose tasks never become healthy is rolled back.
      deploymentConfiguration: {
        minimumHealthyPercent: 100,
        maximumPercent: 200,
        deploymentCircuitBreaker: { enable: true, rollback: true },
      },
      propagateTags: 'SERVICE',
      enableEcsManagedTags: true,
    });
    // Tasks start only once their role can do its work and (own VPC) the subnets route to the internet gateway.
    this.service.node.addDependency(this.taskRole, ...network.ready);
    this.alarms = this.buildAlarms(props.desiredCount);
  }

  /** The service's name (the stack's `ConnectorServiceName` output). */
  get serviceName(): string {
    return this.service.attrName;
  }

  private buildTaskRole(props: ConnectorProps): Role {
    const role = new Role(this, 'TaskRole', {
      assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Task role of the GroupGate long-connection connector',
    });
    // Exactly what ingest does: `EventReservations.reserve` (PutItem) and `release` (DeleteItem).
    role.addToPolicy(
      new PolicyStatement({
        actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
        resources: [props.eventsTable.tableArn],
      }),
    );
    role.addToPolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [props.queue.queueArn] }));
    // SSE-KMS with a customer managed key: a sender needs a data key (the table uses the AWS managed key: no grant).
    role.addToPolicy(
      new PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [props.queueKey.keyArn] }),
    );
    if (this.wecomRelay) {
      // The WeCom lease: conditional UpdateItem (acquire, renew, release) and a GetItem naming the holder, on the
      // lease items only.
      role.addToPolicy(
        new PolicyStatement({
          actions: ['dynamodb:UpdateItem', 'dynamodb:GetItem'],
          resources: [props.eventsTable.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [WECOM_LEASE_KEYS] } },
        }),
      );
      // The relay's consumer: receive, delete when sent, release (visibility 0) when the socket was lost.
      role.addToPolicy(
        new PolicyStatement({
          actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
          resources: [this.wecomRelay.queue.queueArn],
        }),
      );
    }
    const secrets = props.platforms.flatMap((p) => {
      const secret = props.platformSecrets[p];
      return secret ? [secret.secretArn] : [];
    });
    if (secrets.length > 0) {
      role.addToPolicy(new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secrets }));
    }
    return role;
  }

  private buildTaskDefinition(props: ConnectorProps): FargateTaskDefinition {
    const taskDefinition = new FargateTaskDefinition(this, 'TaskDefinition', {
      // The smallest Fargate size, plenty for a few WebSockets and JSON frames; priced by the cost report from the
      // same constant.
      cpu: CONNECTOR_TASK.cpuUnits,
      memoryLimitMiB: CONNECTOR_TASK.memoryMiB,
      runtimePlatform: { cpuArchitecture: CpuArchitecture.ARM64, operatingSystemFamily: OperatingSystemFamily.LINUX },
      taskRole: this.taskRole,
    });
    const secretIds = Object.fromEntries(
      props.platforms.flatMap((p) => {
        const secret = props.platformSecrets[p];
        return secret ? [[PLATFORM_MANIFESTS[p].credentials.secretIdEnv, secret.secretArn]] : [];
      }),
    );
    taskDefinition.addContainer('connector', {
      image: ContainerImage.fromDockerImageAsset(connectorImageAsset(this, 'Image')),
      essential: true,
      readonlyRootFilesystem: true,
      // SIGTERM, then SIGKILL after this: the connector drains for 20 s (functions/connector/connector-config.ts).
      stopTimeout: Duration.seconds(30),
      logging: LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: 'connector',
        // A CloudWatch Logs hiccup must not block the event loop holding the sockets; lines past the buffer drop.
        mode: AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(8),
      }),
      healthCheck: {
        command: ['CMD', 'node', '-e', HEALTH_CHECK_SCRIPT],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        // Credentials are read and every socket opened within it; a socket still retrying on schedule is healthy.
        startPeriod: Duration.seconds(60),
      },
      environment: {
        [ENV.longConnectionPlatforms]: props.platforms.join(','),
        // The ingest path's adapters: exactly the long-connection platforms, so only their secrets are read.
        [ENV.enabledPlatforms]: props.platforms.join(','),
        [ENV.queueUrl]: props.queue.queueUrl,
        [ENV.eventsTable]: props.eventsTable.tableName,
        [ENV.healthPort]: String(CONNECTOR_HEALTH_PORT),
        ...(this.wecomRelay ? { [ENV.wecomRelayQueueUrl]: this.wecomRelay.queue.queueUrl } : {}),
        ...secretIds,
        ...platformApiEnv(props),
        ...voiceGroupChatsEnv({ groupChats: props.voiceGroupChats ?? [] }),
        AWS_REGION: Aws.REGION,
        POWERTOOLS_SERVICE_NAME: CONNECTOR_SERVICE,
        POWERTOOLS_LOG_LEVEL: props.logLevel,
      },
    });
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds names, URLs and secret ARNs, never a secret value: the connector reads the platform credentials from Secrets Manager itself at every reconnect, so a rotated secret is used without a new task, which ECS secrets injection would need.',
    });
    const executionRole = taskDefinition.obtainExecutionRole();
    Validations.of(executionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only ecr:GetAuthorizationToken uses Resource "*" (ECS pulling the image): it does not support resource-level permissions. The image pull itself is limited to the asset repository and logging to this log group.',
    });
    return taskDefinition;
  }

  /**
   * The relay queue: FIFO (one reply's frames in order, the next only after the previous one was handled; the final
   * frame deduplicated by id), encrypted with the chat queue's customer managed key, TLS only. A frame outlives any
   * use after a day (WeCom's `req_id` expires within minutes; the final text then goes by `aibot_send_msg`). Five
   * receives without being handled (the socket lost each time) move it to the dead-letter queue.
   */
  private buildRelay(props: ConnectorProps): NonNullable<Connector['wecomRelay']> {
    const deadLetterQueue = new Queue(this, 'WecomRelayDeadLetterQueue', {
      fifo: true,
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: props.queueKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const queue = new Queue(this, 'WecomRelayQueue', {
      fifo: true,
      contentBasedDeduplication: false,
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: props.queueKey,
      dataKeyReuse: Duration.minutes(5),
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(30),
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: 5 },
    });
    return { queue, deadLetterQueue };
  }

  /** `pipelineVpc` when configured, else a VPC of its own: public subnets in two zones, no NAT, no ingress. */
  private network(props: ConnectorProps): {
    subnetIds: string[];
    securityGroupIds: string[];
    assignPublicIp: boolean;
    ready: IDependable[];
  } {
    if (props.vpc) {
      return {
        subnetIds: [...props.vpc.subnetIds],
        securityGroupIds: [...props.vpc.securityGroupIds],
        assignPublicIp: false,
        ready: [],
      };
    }
    const flowLogs = new LogGroup(this, 'VpcFlowLogs', { retention: props.logRetention });
    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      // Public IPs are assigned per task (`assignPublicIp`), not by the subnet to anything launched in it.
      subnetConfiguration: [
        { name: 'Public', subnetType: SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
      ],
      restrictDefaultSecurityGroup: false,
      flowLogs: {
        All: { destination: FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: FlowLogTrafficType.ALL },
      },
    });
    const securityGroup = new SecurityGroup(this, 'TaskSecurityGroup', {
      vpc,
      description: 'GroupGate connector: no ingress; HTTPS/WSS out to the chat platforms and AWS',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'WebSocket and API calls over TLS');
    return {
      subnetIds: vpc.publicSubnets.map((s) => s.subnetId),
      securityGroupIds: [securityGroup.securityGroupId],
      assignPublicIp: true,
      ready: vpc.publicSubnets.map((s) => s.internetConnectivityEstablished),
    };
  }

  private buildAlarms(desiredCount: number): Connector['alarms'] {
    const running = new Metric({
      namespace: 'ECS/ContainerInsights',
      metricName: 'RunningTaskCount',
      dimensionsMap: { ClusterName: this.cluster.ref, ServiceName: this.service.attrName },
      statistic: Stats.MINIMUM,
      period: Duration.minutes(1),
    });
    // A replaced task (failed health check, crash) is back within a minute or two; five minutes short is an outage
    // of part of the connector. No data at all means no task reports: treated as below.
    const tasksBelowDesired = new Alarm(this, 'TasksBelowDesired', {
      alarmDescription: `Fewer than ${desiredCount} connector tasks running for five minutes: tasks fail their health check or do not start (see the connector's log group)`,
      metric: running,
      threshold: desiredCount,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
      treatMissingData: TreatMissingData.BREACHING,
    });
    // An ERROR line is an event lost (a fire-and-forget delivery that could not be enqueued), an admission that
    // crashed, or a task that could not start (bad configuration or credentials).
    const errors = new MetricFilter(this, 'ErrorLines', {
      logGroup: this.logGroup,
      filterPattern: FilterPattern.stringValue('$.level', '=', 'ERROR'),
      metricNamespace: METRICS_NAMESPACE,
      metricName: 'ConnectorErrors',
      metricValue: '1',
    });
    const errorsAlarm = new Alarm(this, 'Errors', {
      alarmDescription:
        'The connector logged an ERROR: an event was lost or crashed, or a task could not start (see its log group)',
      metric: errors.metric({ statistic: Stats.SUM, period: Duration.minutes(5) }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const relayDeadLetters = this.wecomRelay
      ? new Alarm(this, 'WecomRelayDeadLetters', {
          alarmDescription:
            "A WeCom reply frame reached the relay's dead-letter queue: the lease holder could not send it in five receives, so a member's answer (or part of it) was not shown. Inspect the message, then redrive it or let it expire",
          metric: this.wecomRelay.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            statistic: Stats.MAXIMUM,
            period: Duration.minutes(1),
          }),
          threshold: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        })
      : undefined;
    return { tasksBelowDesired, errors: errorsAlarm, ...(relayDeadLetters ? { relayDeadLetters } : {}) };
  }
}
