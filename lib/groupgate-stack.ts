import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { type AppConfig, invocationsPerInstanceTarget } from './config';
import { Functions } from './constructs/functions';
import { Ingress } from './constructs/ingress';
import { ModelEndpoint } from './constructs/model-endpoint';
import { Observability } from './constructs/observability';
import { ChatQueue } from './constructs/queue';
import { PlatformSecrets } from './constructs/secrets';
import { State } from './constructs/state';
import { StreamSweeper } from './constructs/stream-sweeper';

export interface GroupGateStackProps extends StackProps {
  /** Validated app configuration (see lib/config.ts). */
  readonly config: AppConfig;
}

/** Composes the GroupGate concerns; each lives in its own construct under lib/constructs. */
export class GroupGateStack extends Stack {
  readonly state: State;
  readonly chatQueue: ChatQueue;
  readonly model: ModelEndpoint;
  readonly functions: Functions;
  readonly ingress: Ingress;
  readonly streamSweeper: StreamSweeper;

  constructor(scope: Construct, id: string, props: GroupGateStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetention = config.logRetentionDays as RetentionDays;
    const workerTimeout = Duration.seconds(config.workerTimeoutSeconds);

    this.state = new State(this, 'State');
    this.chatQueue = new ChatQueue(this, 'ChatQueue', { workerTimeout, maxReceiveCount: config.maxReceiveCount });
    const secrets = new PlatformSecrets(this, 'Secrets', {
      platforms: config.enabledPlatforms,
      importArns: config.platformSecretArns,
    });
    this.model = new ModelEndpoint(this, 'Model', {
      modelS3Uri: config.modelS3Uri,
      imageUri: config.modelImageUri,
      quantization: config.modelQuantization,
      maxModelLen: config.maxModelLen,
      instanceType: config.instanceType,
      minInstances: config.minInstances,
      maxInstances: config.maxInstances,
      maxConcurrentRequestsPerInstance: config.maxConcurrentRequestsPerInstance,
      invocationsPerInstanceTarget: invocationsPerInstanceTarget(config),
      vpc: config.vpc,
    });
    this.functions = new Functions(this, 'Functions', {
      platforms: config.enabledPlatforms,
      tables: this.state.tables,
      queue: this.chatQueue.queue,
      queueKey: this.chatQueue.key,
      platformSecrets: secrets.platformSecrets,
      jwtSecret: secrets.jwtSecret,
      modelEndpointName: this.model.endpointName,
      modelEndpointArn: this.model.endpointArn,
      modelInstanceType: config.instanceType,
      modelContextWindow: config.maxModelLen,
      modelMaxTokens: config.modelMaxTokens,
      jwtIssuer: config.jwtIssuer,
      jwtAudience: config.jwtAudience,
      ...(config.jwtJwksUrl ? { jwtJwksUrl: config.jwtJwksUrl } : {}),
      workerTimeout,
      workerMaxConcurrency: config.workerMaxConcurrency,
      contextTtlMinutes: config.contextTtlMinutes,
      answerCacheTtlMinutes: config.answerCacheTtlMinutes,
      ledgerRetentionDays: config.ledgerRetentionDays,
      auditRetentionDays: config.auditRetentionDays,
      systemPromptOverrides: config.systemPromptOverrides,
      streaming: config.streaming,
      ...(config.dingtalkCardTemplateId ? { dingtalkCardTemplateId: config.dingtalkCardTemplateId } : {}),
      ...(config.dingtalkCardContentKey ? { dingtalkCardContentKey: config.dingtalkCardContentKey } : {}),
      maxReceiveCount: config.maxReceiveCount,
      feishuApiBaseUrl: config.feishuApiBaseUrl,
      logRetention,
      logLevel: config.logLevel,
    });
    this.streamSweeper = new StreamSweeper(this, 'StreamSweeper', {
      platforms: config.enabledPlatforms,
      eventsTable: this.state.tables.events,
      platformSecrets: secrets.platformSecrets,
      feishuApiBaseUrl: config.feishuApiBaseUrl,
      ...(config.dingtalkCardTemplateId ? { dingtalkCardTemplateId: config.dingtalkCardTemplateId } : {}),
      ...(config.dingtalkCardContentKey ? { dingtalkCardContentKey: config.dingtalkCardContentKey } : {}),
      logRetention,
      logLevel: config.logLevel,
    });
    this.ingress = new Ingress(this, 'Ingress', {
      platforms: config.enabledPlatforms,
      webhookFunction: this.functions.webhook.fn,
      chatFunction: this.functions.chatApi.fn,
      authorizerFunction: this.functions.jwtAuthorizer.fn,
      allowedCidrs: config.allowedCidrs,
      customDomain: config.customDomain,
      throttle: config.apiThrottle,
      quota: config.apiQuota,
      logRetention,
    });
    new Observability(this, 'Observability', {
      functions: this.functions,
      queues: this.chatQueue,
      tables: this.state.tables,
      modelEndpointName: this.model.endpointName,
      alarmEmail: config.alarmEmail,
    });

    this.outputs(config);
  }

  private outputs(config: AppConfig): void {
    const { api } = this.ingress;
    const base = config.customDomain ? `https://${config.customDomain.domainName}` : api.url.replace(/\/$/, '');
    for (const [platform, path] of Object.entries(this.ingress.webhookPaths)) {
      new CfnOutput(this, `WebhookUrl${platform}`, { description: `${platform} webhook URL`, value: `${base}${path}` });
    }
    new CfnOutput(this, 'ChatApiUrl', { value: `${base}${this.ingress.chatPath}` });
    new CfnOutput(this, 'ApiKeyId', { value: this.ingress.apiKey.keyId });
    new CfnOutput(this, 'QueueUrl', { value: this.chatQueue.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.chatQueue.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'ModelEndpointName', { value: this.model.endpointName });
    for (const [key, table] of Object.entries(this.state.tables)) {
      new CfnOutput(this, `Table${key}`, { value: table.tableName });
    }
  }
}
