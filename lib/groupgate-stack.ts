import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { ENV } from '#config/env-names';
import { connectorCostArgs } from '#core/cost/connector-cost';
import {
  type AppConfig,
  deployedSkills,
  hasKnowledgeBases,
  invocationsPerInstanceTarget,
  isDeployableLongConnection,
} from './config';
import { Connector, LONG_CONNECTION_SECRET_FIELDS } from './constructs/connector';
import { DataSkill } from './constructs/data-skill';
import { FallbackModel } from './constructs/fallback-model';
import { type FallbackWiring, Functions, type PrimaryWiring } from './constructs/functions';
import { Ingress } from './constructs/ingress';
import { KnowledgeBases, KnowledgeBucket } from './constructs/knowledge';
import { ModelEndpoint, warnScaleToZeroWithoutFallback } from './constructs/model-endpoint';
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
  /** The SageMaker endpoint; absent with `primaryModel` (an OpenAI-compatible server the team runs). */
  readonly model?: ModelEndpoint;
  readonly functions: Functions;
  readonly ingress: Ingress;
  readonly streamSweeper: StreamSweeper;
  /** The backup model's function, when `fallbackModel.kind` is `function`. */
  readonly fallbackModel?: FallbackModel;
  /** The documents and datasets bucket, with `knowledgeBases` or `dataDatasets`. */
  readonly knowledgeBucket?: KnowledgeBucket;
  /** The knowledge store, ingestion and skill, with at least one knowledge base. */
  readonly knowledge?: KnowledgeBases;
  /** The data-analysis skill, with `dataDatasets`. */
  readonly dataSkill?: DataSkill;
  /** The long-connection connector (ECS Fargate), with `longConnection`. */
  readonly connector?: Connector;

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
      ...(config.longConnection
        ? {
            extraFields: Object.fromEntries(
              config.longConnection.platforms.map((p) => [p, LONG_CONNECTION_SECRET_FIELDS[p] ?? []]),
            ),
          }
        : {}),
    });
    if (!config.primaryModel) {
      this.model = this.modelEndpoint(config);
      if (config.scaleToZero) warnScaleToZeroWithoutFallback(this.model, config.fallbackModel !== undefined);
    }
    const backup = config.fallbackModel;
    if (backup?.kind === 'function') {
      this.fallbackModel = new FallbackModel(this, 'FallbackModel', {
        weightsS3Uri: backup.weightsS3Uri,
        memoryMb: backup.memoryMb,
        ephemeralStorageMb: backup.ephemeralStorageMb,
        maxConcurrency: backup.maxConcurrency,
        contextSize: backup.contextSize,
        maxTokens: backup.maxTokens,
        timeout: Duration.seconds(backup.functionTimeoutSeconds),
        keepWarm: backup.keepWarm,
        logRetention,
        logLevel: config.logLevel,
      });
    }
    const fallback = this.fallbackWiring(config);
    const primary = this.primaryWiring(config);
    const house = this.houseSkills(config, primary, logRetention);
    this.knowledgeBucket = house.bucket;
    this.knowledge = house.knowledge;
    this.dataSkill = house.dataSkill;
    const skills = deployedSkills(config, {
      ...(this.knowledge ? { knowledge: this.knowledge.skill.fn.functionArn } : {}),
      ...(this.dataSkill ? { data: this.dataSkill.function.fn.functionArn } : {}),
    });
    this.functions = new Functions(this, 'Functions', {
      platforms: config.enabledPlatforms,
      tables: this.state.tables,
      queue: this.chatQueue.queue,
      queueKey: this.chatQueue.key,
      platformSecrets: secrets.platformSecrets,
      jwtSecret: secrets.jwtSecret,
      primary,
      // With an OpenAI-compatible primary, `maxModelLen` configures no server: it is only this prompt budget.
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
      profiles: {
        retentionDays: config.profileRetentionDays,
        groupDefaults: config.profileGroupDefaults,
        directory: config.profileDirectory,
        directoryTtlHours: config.profileDirectoryTtlHours,
        directoryRetryMinutes: config.profileDirectoryRetryMinutes,
      },
      systemPromptOverrides: config.systemPromptOverrides,
      streaming: config.streaming,
      ...(config.voice ? { voice: config.voice } : {}),
      ...(config.dingtalkCardTemplateId ? { dingtalkCardTemplateId: config.dingtalkCardTemplateId } : {}),
      ...(config.dingtalkCardContentKey ? { dingtalkCardContentKey: config.dingtalkCardContentKey } : {}),
      maxReceiveCount: config.maxReceiveCount,
      feishuApiBaseUrl: config.feishuApiBaseUrl,
      logRetention,
      logLevel: config.logLevel,
      ...(fallback ? { fallback } : {}),
      ...(config.pipelineVpc ? { pipelineVpc: config.pipelineVpc } : {}),
      ...(skills ? { skills } : {}),
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
    const observability = new Observability(this, 'Observability', {
      functions: this.functions,
      queues: this.chatQueue,
      tables: this.state.tables,
      ...(this.model ? { modelEndpointName: this.model.endpointName } : {}),
      ...(this.model?.inferenceComponentName ? { modelInferenceComponentName: this.model.inferenceComponentName } : {}),
      ...(this.model?.wakeBudget ? { modelWakeBudget: this.model.wakeBudget } : {}),
      alarmEmail: config.alarmEmail,
    });
    if (config.longConnection) {
      this.connector = new Connector(this, 'Connector', {
        platforms: config.longConnection.platforms.filter(isDeployableLongConnection),
        desiredCount: config.longConnection.desiredCount,
        eventsTable: this.state.tables.events,
        queue: this.chatQueue.queue,
        queueKey: this.chatQueue.key,
        platformSecrets: secrets.platformSecrets,
        feishuApiBaseUrl: config.feishuApiBaseUrl,
        ...(config.pipelineVpc ? { vpc: config.pipelineVpc } : {}),
        logRetention,
        logLevel: config.logLevel,
        voiceGroupChats: config.voice?.groupChats ?? [],
      });
      const relay = this.connector.wecomRelay;
      if (relay) {
        // WeCom in long-connection mode: the worker writes its replies to the relay queue (SSE-KMS: a producer
        // needs a data key), never to WeCom itself.
        const worker = this.functions.worker;
        worker.role.addToPolicy(
          new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [relay.queue.queueArn] }),
        );
        worker.role.addToPolicy(
          new PolicyStatement({
            actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
            resources: [this.chatQueue.key.keyArn],
          }),
        );
        worker.fn.addEnvironment(ENV.wecomRelayQueueUrl, relay.queue.queueUrl);
      }
    }
    const action = new SnsAction(observability.alarms.topic);
    for (const alarm of [
      ...Object.values(this.fallbackModel?.alarms ?? {}),
      ...Object.values(this.connector?.alarms ?? {}),
    ]) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }

    this.outputs(config);
  }

  /**
   * The skills the stack builds itself: the knowledge bases (`knowledgeBases`) and the data skill (`dataDatasets`),
   * sharing one bucket. Without those keys nothing is built and the template is unchanged.
   */
  private houseSkills(
    config: AppConfig,
    primary: PrimaryWiring,
    logRetention: RetentionDays,
  ): { bucket?: KnowledgeBucket; knowledge?: KnowledgeBases; dataSkill?: DataSkill } {
    const withKnowledge = hasKnowledgeBases(config);
    if (!withKnowledge && config.dataDatasets === undefined) return {};
    const bucket = new KnowledgeBucket(this, 'KnowledgeBucket', {
      accessLogRetention: Duration.days(config.auditRetentionDays),
    });
    let knowledge: KnowledgeBases | undefined;
    let dataSkill: DataSkill | undefined;
    if (withKnowledge && config.knowledgeBases && config.embedding) {
      knowledge = new KnowledgeBases(this, 'Knowledge', {
        knowledge: config.knowledgeBases,
        embedding: config.embedding,
        database: config.knowledgeDatabase,
        bucket: bucket.bucket,
        logRetention,
        logLevel: config.logLevel,
        // A url embedding server is reached where the pipeline reaches its private model; an endpoint needs no VPC.
        ...(config.pipelineVpc && config.embedding.url !== undefined ? { vpc: config.pipelineVpc } : {}),
      });
    }
    if (config.dataDatasets) {
      // lib/config.ts refuses dataDatasets beside primaryModel: the data skill calls the SageMaker endpoint.
      if (primary.kind !== 'sagemaker') throw new Error('dataDatasets with an OpenAI-compatible primary model');
      dataSkill = new DataSkill(this, 'DataSkill', {
        datasets: config.dataDatasets,
        bucket: bucket.bucket,
        primary,
        logRetention,
        logLevel: config.logLevel,
      });
    }
    return { bucket, knowledge, dataSkill };
  }

  /** The SageMaker endpoint serving the primary model (the default, without `primaryModel`). */
  private modelEndpoint(config: AppConfig): ModelEndpoint {
    // parseAppConfig requires modelS3Uri without primaryModel.
    if (!config.modelS3Uri) throw new Error('no primaryModel and no modelS3Uri: the configuration was not validated');
    return new ModelEndpoint(this, 'Model', {
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
      ...(config.scaleToZero ? { scaleToZero: config.scaleToZero } : {}),
    });
  }

  /** How the pipeline functions reach the primary model: the endpoint built above, or the team's server. */
  private primaryWiring(config: AppConfig): PrimaryWiring {
    const primary = config.primaryModel;
    if (primary) {
      return {
        kind: 'openai',
        baseUrl: primary.baseUrl,
        model: primary.model,
        modelId: primary.modelId,
        ...(primary.apiKeySecretArn
          ? { apiKeySecret: Secret.fromSecretCompleteArn(this, 'PrimaryApiKey', primary.apiKeySecretArn) }
          : {}),
      };
    }
    const { model } = this;
    if (!model) throw new Error('no primaryModel but no ModelEndpoint was built');
    return {
      kind: 'sagemaker',
      endpointName: model.endpointName,
      endpointArn: model.endpointArn,
      ...(model.inferenceComponentName && model.inferenceComponentArn
        ? { inferenceComponent: { name: model.inferenceComponentName, arn: model.inferenceComponentArn } }
        : {}),
      instanceType: config.instanceType,
    };
  }

  /** How the pipeline functions reach the backup model, if there is one. */
  private fallbackWiring(config: AppConfig): FallbackWiring | undefined {
    const backup = config.fallbackModel;
    if (!backup) return undefined;
    if (backup.kind === 'openai') {
      return {
        kind: 'openai',
        baseUrl: backup.baseUrl,
        model: backup.model,
        modelId: backup.modelId,
        callTimeoutSeconds: backup.callTimeoutSeconds,
        ...(backup.apiKeySecretArn
          ? { apiKeySecret: Secret.fromSecretCompleteArn(this, 'FallbackApiKey', backup.apiKeySecretArn) }
          : {}),
      };
    }
    const { fallbackModel } = this;
    if (!fallbackModel) throw new Error('fallbackModel.kind is function but no FallbackModel was built');
    return {
      kind: 'function',
      url: fallbackModel.url.url,
      modelId: backup.modelId,
      memoryMb: backup.memoryMb,
      callTimeoutSeconds: backup.callTimeoutSeconds,
      grantInvokeUrl: (grantee) => fallbackModel.grantInvokeUrl(grantee),
    };
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
    if (this.model) new CfnOutput(this, 'ModelEndpointName', { value: this.model.endpointName });
    if (config.scaleToZero) {
      new CfnOutput(this, 'ScaleToZeroSchedule', {
        description: "Business hours of the model endpoint: pass as the cost report's --scale-to-zero",
        value: JSON.stringify(config.scaleToZero),
      });
    }
    if (this.knowledgeBucket) {
      new CfnOutput(this, 'KnowledgeBucketName', {
        description: 'Bucket of the knowledge bases (one prefix each) and of the data skill (datasets/)',
        value: this.knowledgeBucket.bucket.bucketName,
      });
    }
    if (this.knowledge) {
      new CfnOutput(this, 'KnowledgeClusterArn', { value: this.knowledge.cluster.clusterArn });
    }
    if (this.connector && config.longConnection) {
      new CfnOutput(this, 'ConnectorServiceName', {
        description: `The long-connection connector's ECS service (${config.longConnection.platforms.join(', ')})`,
        value: this.connector.serviceName,
      });
      new CfnOutput(this, 'ConnectorClusterName', { value: this.connector.cluster.ref });
      new CfnOutput(this, 'ConnectorCostReportArgs', {
        description: "The connector's fixed cost in the cost report: pass these flags to npm run cost-report",
        value: connectorCostArgs(config.longConnection.desiredCount, this.connector.publicIpv4),
      });
    }
    for (const [key, table] of Object.entries(this.state.tables)) {
      new CfnOutput(this, `Table${key}`, { value: table.tableName });
    }
  }
}
