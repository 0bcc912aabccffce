import { Aws, CfnRule, Duration, Fn, Stack, Token, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '#config/env-names';
import type { SkillsConfig } from '#config/skills-config';
import { ConfigError } from '#core/errors';
import { PLATFORM_MANIFESTS } from '#platforms/manifests';
import type { PlatformName } from '#platforms/types';
import type { TableKey } from '#shared/table-specs';
import { type FunctionVpc, HouseFunction } from './house-function';

export interface FunctionsProps {
  readonly platforms: readonly PlatformName[];
  readonly tables: Readonly<Record<TableKey, ITable>>;
  readonly queue: IQueue;
  readonly queueKey: IKey;
  readonly platformSecrets: Readonly<Partial<Record<PlatformName, ISecret>>>;
  readonly jwtSecret: ISecret;
  /** The model the pipeline functions ask first. */
  readonly primary: PrimaryWiring;
  /** Prompt + answer tokens the primary takes (`MODEL_CONTEXT_WINDOW`): the prompt budget. */
  readonly modelContextWindow: number;
  readonly modelMaxTokens: number;
  readonly jwtIssuer: string;
  readonly jwtAudience: string;
  readonly jwtJwksUrl?: string;
  readonly workerTimeout: Duration;
  readonly workerMaxConcurrency: number;
  readonly contextTtlMinutes: number;
  readonly answerCacheTtlMinutes: number;
  readonly ledgerRetentionDays: number;
  readonly auditRetentionDays: number;
  /** Member profiles (docs/PROFILES.md): retention, group defaults, directory platforms and cache hours. */
  readonly profiles: {
    readonly retentionDays: number;
    readonly groupDefaults: Readonly<Record<string, Readonly<Record<string, string>>>>;
    readonly directory: readonly string[];
    readonly directoryTtlHours: number;
    readonly directoryRetryMinutes: number;
  };
  /** `platform:chatId` → system prompt; set on the pipeline functions only when non-empty. */
  readonly systemPromptOverrides: Readonly<Record<string, string>>;
  readonly streaming: { readonly enabled: boolean; readonly optOutChats: readonly string[] };
  readonly dingtalkCardTemplateId?: string;
  readonly dingtalkCardContentKey?: string;
  /** Feishu/Lark Open Platform origin the replies go to (`https://open.larksuite.com` for Lark tenants). */
  readonly feishuApiBaseUrl: string;
  /** The queue's receives before the DLQ: how long redeliveries can go on, so when the sweeper may step in. */
  readonly maxReceiveCount: number;
  readonly logRetention: RetentionDays;
  readonly logLevel: string;
  /** Subnets the worker and the chat API run in, to reach a model server inside a VPC. @default none */
  readonly pipelineVpc?: FunctionVpc;
  /** The backup model the pipeline functions fall back to. @default none */
  readonly fallback?: FallbackWiring;
  /**
   * Third-party skills and per-group enablement (validated by lib/config.ts: every remote skill has a `functionArn`,
   * all in one partition), with the stack's own skills added (`deployedSkills`: their ARNs are tokens), handed to the
   * pipeline functions as `SKILLS`. @default none: the built-in commands only
   */
  readonly skills?: SkillsConfig;
  /** Voice messages (docs/VOICE.md): the worker's recognition engine and limits. @default none: voice is off */
  readonly voice?: VoiceWiring;
}

/** How the worker turns voice messages into text (`groupgate:voice`, validated by lib/config.ts). */
export interface VoiceWiring {
  readonly asr: 'off' | 'transcribe' | 'sagemaker-whisper';
  /** The operator's Whisper endpoint, with `sagemaker-whisper`. */
  readonly asrEndpointName?: string;
  readonly languages: readonly string[];
  readonly maxSeconds: number;
  /** Spoken answers in `replyChats`, with Polly. */
  readonly tts: 'off' | 'polly';
  readonly pollyEngine: 'standard' | 'neural';
  readonly maxSpeechChars: number;
  readonly replyChats: readonly string[];
  /** Groups whose voice messages need no @-mention: the webhook's and the connector's `VOICE_GROUP_CHATS`. */
  readonly groupChats: readonly string[];
}

/** `VOICE_GROUP_CHATS` for the ingest path (webhook, connector); empty when no group is listed. */
export function voiceGroupChatsEnv(voice: Pick<VoiceWiring, 'groupChats'> | undefined): Record<string, string> {
  return voice && voice.groupChats.length > 0 ? { [ENV.voiceGroupChats]: voice.groupChats.join(',') } : {};
}

/** `VOICE_*` for the worker, read by `voiceConfigFrom` (functions/config/voice-config.ts). */
export function voiceEnv(voice: VoiceWiring | undefined): Record<string, string> {
  if (voice === undefined) return {};
  return {
    [ENV.voiceAsr]: voice.asr,
    ...(voice.asrEndpointName === undefined ? {} : { [ENV.voiceAsrEndpointName]: voice.asrEndpointName }),
    [ENV.voiceLanguages]: voice.languages.join(','),
    [ENV.voiceMaxSeconds]: String(voice.maxSeconds),
    ...(voice.tts === 'polly'
      ? {
          [ENV.voiceTts]: 'polly',
          [ENV.voicePollyEngine]: voice.pollyEngine,
          [ENV.voiceMaxSpeechChars]: String(voice.maxSpeechChars),
          [ENV.voiceReplyChats]: voice.replyChats.join(','),
        }
      : {}),
  };
}

/** Where the pipeline functions reach the primary model, and how its answers are billed. */
export type PrimaryWiring =
  | {
      readonly kind: 'sagemaker';
      readonly endpointName: string;
      readonly endpointArn: string;
      /** The endpoint's inference component (`scaleToZero`): named in every invocation, granted with the endpoint. */
      readonly inferenceComponent?: { readonly name: string; readonly arn: string };
      /** Priced in the cost ledger. */
      readonly instanceType: string;
    }
  | OpenAiWiring;

/** A model server speaking the OpenAI-compatible API, primary or backup. */
export interface OpenAiWiring {
  readonly kind: 'openai';
  /** The server's `/v1` root. */
  readonly baseUrl: string;
  readonly model: string;
  readonly apiKeySecret?: ISecret;
  /** Id of its answers in the ledger and audit (the client bills them `free`: no model cost). */
  readonly modelId: string;
}

/** Where the pipeline functions reach the backup model, and how its answers are billed. */
export type FallbackWiring =
  | {
      readonly kind: 'function';
      /** The fallback function's URL (it speaks the SageMaker runtime contract). */
      readonly url: string;
      readonly modelId: string;
      /** Prices its answers as GB-seconds. */
      readonly memoryMb: number;
      readonly callTimeoutSeconds: number;
      readonly grantInvokeUrl: (grantee: IGrantable) => void;
    }
  | (OpenAiWiring & { readonly callTimeoutSeconds: number });

/**
 * The configured platform API origins (Feishu/Lark's; the other platforms have one each) for the functions that call
 * the platforms back: the worker and the stream sweeper. Set only for enabled platforms; the webhook only answers.
 */
export function platformApiEnv(props: {
  readonly platforms: readonly PlatformName[];
  readonly feishuApiBaseUrl: string;
}): Record<string, string> {
  return props.platforms.includes('feishu') ? { [ENV.feishuApiBaseUrl]: props.feishuApiBaseUrl } : {};
}

/** `SKILLS` for the pipeline functions; none when the configuration says nothing beyond the default. */
function skillsEnv(skills: SkillsConfig | undefined): Record<string, string> {
  if (skills === undefined || (skills.remote.length === 0 && skills.groups === undefined)) return {};
  return { [ENV.skills]: JSON.stringify(skills) };
}

/** Each remote skill's function ARN, once (two skills may share a function). */
function skillFunctionArns(skills: SkillsConfig | undefined): string[] {
  const arns = (skills?.remote ?? []).flatMap((skill) => (skill.functionArn === undefined ? [] : [skill.functionArn]));
  return [...new Set(arns)];
}

/**
 * How the pipeline functions address the primary. An OpenAI-compatible server gets no `MODEL_ENDPOINT_NAME` or
 * `MODEL_INSTANCE_TYPE`: its client names no endpoint and prices no instance (the runtime's defaults stay unused), so
 * setting them would only mislead whoever reads the function's configuration.
 */
function primaryModelEnv(primary: PrimaryWiring): Record<string, string> {
  if (primary.kind === 'openai') {
    return {
      [ENV.modelApi]: 'openai',
      [ENV.modelEndpointUrl]: primary.baseUrl,
      [ENV.modelOpenAiModel]: primary.model,
      [ENV.modelId]: primary.modelId,
    };
  }
  return {
    [ENV.modelEndpointName]: primary.endpointName,
    ...(primary.inferenceComponent ? { [ENV.modelInferenceComponent]: primary.inferenceComponent.name } : {}),
    [ENV.modelInstanceType]: primary.instanceType,
  };
}

/**
 * The four Lambda functions and exactly the permissions each needs:
 * - webhook: verify + enqueue; dedup record in `events`; reads the enabled platforms' secrets.
 * - worker: the pipeline; claims events, reads/writes context and cache, appends ledger + audit, invokes the model,
 *   reads platform secrets to reply. Consumes the queue with partial batch failures.
 * - chat-api: the same pipeline synchronously for /v1/chat (no platform secrets, no queue).
 * - both pipeline functions: with `skills`, `SKILLS` and the right to invoke exactly the configured skill functions.
 * - jwt-authorizer: reads only the JWT secret.
 */
export class Functions extends Construct {
  readonly webhook: HouseFunction;
  readonly worker: HouseFunction;
  readonly chatApi: HouseFunction;
  readonly jwtAuthorizer: HouseFunction;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const common = { logRetention: props.logRetention, logLevel: props.logLevel };
    const enabled = { [ENV.enabledPlatforms]: props.platforms.join(',') };
    const { tables } = props;
    // Read by the worker (streamed sessions) and the webhook (WeCom's answer to a message starts a stream).
    const streamingEnv = {
      [ENV.streaming]: String(props.streaming.enabled),
      ...(props.streaming.optOutChats.length > 0
        ? { [ENV.streamingOptOut]: props.streaming.optOutChats.join(',') }
        : {}),
    };

    this.webhook = new HouseFunction(this, 'Webhook', {
      ...common,
      handler: 'webhook',
      description: 'Verifies platform events, answers handshakes, dedups and enqueues',
      timeout: Duration.seconds(10),
      environment: { ...enabled, ...streamingEnv, ...voiceGroupChatsEnv(props.voice) },
    });
    // The reservation and its release (PutItem, DeleteItem); WeCom stream refreshes read snapshots (GetItem, PutItem).
    this.webhook.bindTable(tables.events, ENV.eventsTable, ['GetItem', 'PutItem', 'DeleteItem']);
    this.webhook.bindQueueSender(props.queue, props.queueKey, ENV.queueUrl);
    this.bindPlatformSecrets(this.webhook, props);

    const pipelineEnv = {
      ...enabled,
      ...primaryModelEnv(props.primary),
      [ENV.modelContextWindow]: String(props.modelContextWindow),
      [ENV.modelMaxTokens]: String(props.modelMaxTokens),
      [ENV.contextTtlMinutes]: String(props.contextTtlMinutes),
      [ENV.answerCacheTtlMinutes]: String(props.answerCacheTtlMinutes),
      [ENV.ledgerRetentionDays]: String(props.ledgerRetentionDays),
      [ENV.auditRetentionDays]: String(props.auditRetentionDays),
      [ENV.profileRetentionDays]: String(props.profiles.retentionDays),
      [ENV.profileDirectoryTtlHours]: String(props.profiles.directoryTtlHours),
      [ENV.profileDirectoryRetryMinutes]: String(props.profiles.directoryRetryMinutes),
      ...(Object.keys(props.profiles.groupDefaults).length > 0
        ? { [ENV.profileGroupDefaults]: JSON.stringify(props.profiles.groupDefaults) }
        : {}),
      ...(props.profiles.directory.length > 0 ? { [ENV.profileDirectory]: props.profiles.directory.join(',') } : {}),
      ...(Object.keys(props.systemPromptOverrides).length > 0
        ? { [ENV.systemPromptOverrides]: JSON.stringify(props.systemPromptOverrides) }
        : {}),
      ...skillsEnv(props.skills),
    };
    // The stack's own skill functions (knowledge, data) are in its partition by construction; their ARNs are tokens.
    const configuredSkillArns = skillFunctionArns(props.skills).filter((arn) => !Token.isUnresolved(arn));
    if (configuredSkillArns.length > 0) this.requireStackPartition(configuredSkillArns);

    this.worker = new HouseFunction(this, 'Worker', {
      ...common,
      handler: 'worker',
      description: 'Answers queued chat events with the private model',
      timeout: props.workerTimeout,
      memorySize: 1024,
      ...(props.pipelineVpc ? { vpc: props.pipelineVpc } : {}),
      // The claim lease: the Lambda timeout plus a margin, well inside the queue's visibility timeout (6 ×).
      environment: {
        ...pipelineEnv,
        ...streamingEnv,
        [ENV.claimLeaseSeconds]: String(props.workerTimeout.toSeconds() + 30),
        // Every redelivery the queue can make (receives × visibility, which is 6 × the timeout), plus a minute; at
        // most a day (a later redelivery finds the swept reply and does not answer twice).
        [ENV.streamSweepAfterSeconds]: String(
          Math.min(86_400, props.maxReceiveCount * props.workerTimeout.toSeconds() * 6 + 60),
        ),
        ...(props.dingtalkCardTemplateId ? { [ENV.dingtalkCardTemplateId]: props.dingtalkCardTemplateId } : {}),
        ...(props.dingtalkCardContentKey ? { [ENV.dingtalkCardContentKey]: props.dingtalkCardContentKey } : {}),
        ...platformApiEnv(props),
        ...voiceEnv(props.voice),
      },
    });
    this.bindPipeline(this.worker, props);
    if (props.voice) this.bindVoice(this.worker, props.voice);
    // PutItem: the durable once-a-day active-user marker (functions/stores/active-users.ts).
    this.worker.bindTable(tables.events, ENV.eventsTable, ['GetItem', 'UpdateItem', 'PutItem']);
    // The turn's prefetch (functions/composition/turn-prefetch.ts): context, profile, FAQ entry and active-user
    // marker in one BatchGetItem, an IAM action of its own (GetItem does not grant it).
    this.worker.role.addToPolicy(
      new PolicyStatement({
        actions: ['dynamodb:BatchGetItem'],
        resources: [tables.conversations.tableArn, tables.answerCache.tableArn, tables.events.tableArn],
      }),
    );
    this.bindPlatformSecrets(this.worker, props);
    this.worker.fn.addEventSource(
      new SqsEventSource(props.queue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: props.workerMaxConcurrency,
      }),
    );

    this.chatApi = new HouseFunction(this, 'ChatApi', {
      ...common,
      handler: 'chat-api',
      description: 'Unified REST API /v1/chat',
      timeout: Duration.seconds(29),
      memorySize: 1024,
      ...(props.pipelineVpc ? { vpc: props.pipelineVpc } : {}),
      environment: pipelineEnv,
    });
    this.bindPipeline(this.chatApi, props);

    this.jwtAuthorizer = new HouseFunction(this, 'JwtAuthorizer', {
      ...common,
      handler: 'jwt-authorizer',
      description: 'Verifies caller JWTs for /v1/chat',
      timeout: Duration.seconds(5),
      environment: {
        [ENV.jwtIssuer]: props.jwtIssuer,
        [ENV.jwtAudience]: props.jwtAudience,
        ...(props.jwtJwksUrl ? { [ENV.jwtJwksUrl]: props.jwtJwksUrl } : {}),
      },
    });
    this.jwtAuthorizer.bindSecret(props.jwtSecret, ENV.jwtSecretId);
  }

  /** Context, cache, ledger, audit and the model: what answering one question needs. */
  private bindPipeline(fn: HouseFunction, props: FunctionsProps): void {
    const { tables } = props;
    // DeleteItem: `/forget` deletes the member's profile item (functions/stores/profile-store.ts).
    fn.bindTable(tables.conversations, ENV.conversationsTable, ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem']);
    // UpdateItem: an answer is stored beside the other profile variants of its question (functions/stores/answer-cache.ts).
    fn.bindTable(tables.answerCache, ENV.answerCacheTable, ['GetItem', 'UpdateItem']);
    // Query: the `/cost` chat command sums the member's and group's rows of this month.
    fn.bindTable(tables.ledger, ENV.ledgerTable, ['PutItem', 'BatchWriteItem', 'Query']);
    fn.bindTable(tables.audit, ENV.auditTable, ['PutItem', 'BatchWriteItem']);
    this.bindPrimary(fn, props.primary);
    if (props.fallback) this.bindFallback(fn, props.fallback);
    this.bindSkills(fn, skillFunctionArns(props.skills));
  }

  /**
   * The right to invoke each skill's function, on exactly the configured ARNs: an unqualified ARN allows invoking
   * the function unqualified ($LATEST) only, a qualified one that version or alias only; no `:*`, so a version or
   * alias the skill's owner publishes later is not callable until it is configured. A skill in another account also
   * needs a resource policy on its function naming this role (docs/OPERATIONS.md, "Third-party skills").
   */
  private bindSkills(fn: HouseFunction, arns: readonly string[]): void {
    if (arns.length === 0) return;
    fn.role.addToPolicy(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [...arns] }));
  }

  /**
   * Skills are invoked in the stack's partition: known at synth for a stack with a region, checked here; for an
   * environment-agnostic stack (bin/app.ts) a template rule refuses the deployment before any resource changes.
   * lib/config.ts has already made every skill's partition the same.
   */
  private requireStackPartition(arns: readonly string[]): void {
    const partition = arns[0]?.split(':')[1] ?? '';
    const stackPartition = Stack.of(this).partition;
    if (!Token.isUnresolved(stackPartition)) {
      if (stackPartition !== partition) {
        throw new ConfigError([
          `skills.remote: the skills' functions are in partition ${partition}, the stack in ${stackPartition}; a function can only invoke functions in its own partition`,
        ]);
      }
      return;
    }
    new CfnRule(this, 'SkillsPartition', {
      assertions: [
        {
          assert: Fn.conditionEquals(Aws.PARTITION, partition),
          assertDescription: `groupgate:skills names Lambda functions in partition ${partition}; deploy the stack there (a function can only invoke functions in its own partition)`,
        },
      ],
    });
  }

  /**
   * The right to call the primary: invoking the SageMaker endpoint, or reading an OpenAI-compatible server's key
   * (its URL, model and id are in `primaryModelEnv`; the server is reached over the network, not through IAM).
   */
  private bindPrimary(fn: HouseFunction, primary: PrimaryWiring): void {
    if (primary.kind === 'openai') {
      if (primary.apiKeySecret) fn.bindSecret(primary.apiKeySecret, ENV.modelApiKeySecretId);
      return;
    }
    fn.role.addToPolicy(
      new PolicyStatement({
        actions: ['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream'],
        // An invocation naming an inference component is authorised against the endpoint and the component.
        resources: [primary.endpointArn, ...(primary.inferenceComponent ? [primary.inferenceComponent.arn] : [])],
      }),
    );
  }

  /** The backup model's URL, id and budget (`FALLBACK_*`), and the right to call it. */
  private bindFallback(fn: HouseFunction, fallback: FallbackWiring): void {
    fn.addEnvironment(ENV.fallbackModelId, fallback.modelId);
    fn.addEnvironment(ENV.fallbackTimeoutMs, String(fallback.callTimeoutSeconds * 1000));
    if (fallback.kind === 'function') {
      fn.addEnvironment(ENV.fallbackModelEndpointUrl, fallback.url);
      fn.addEnvironment(ENV.fallbackModelMemoryMb, String(fallback.memoryMb));
      fallback.grantInvokeUrl(fn.role);
      return;
    }
    fn.addEnvironment(ENV.fallbackModelEndpointUrl, fallback.baseUrl);
    fn.addEnvironment(ENV.fallbackModelApi, 'openai');
    fn.addEnvironment(ENV.fallbackModelOpenAiModel, fallback.model);
    if (fallback.apiKeySecret) fn.bindSecret(fallback.apiKeySecret, ENV.fallbackModelApiKeySecretId);
  }

  /**
   * The worker's right to recognise speech with the configured engine and to speak answers, and nothing else:
   * Transcribe streaming and Polly's `SynthesizeSpeech` (neither has a resource type, so their resource is "*"), or
   * `InvokeEndpoint` on exactly the operator's Whisper endpoint (no response stream: the Whisper client makes one
   * plain call).
   */
  private bindVoice(fn: HouseFunction, voice: VoiceWiring): void {
    const anyResource = [
      ...(voice.asr === 'transcribe' ? ['transcribe:StartStreamTranscriptionWebSocket'] : []),
      ...(voice.tts === 'polly' ? ['polly:SynthesizeSpeech'] : []),
    ];
    if (anyResource.length > 0) {
      fn.role.addToPolicy(new PolicyStatement({ actions: anyResource, resources: ['*'] }));
      Validations.of(fn.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Resource "*" only for X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords), the network-interface actions Lambda needs in a VPC, and voice (transcribe:StartStreamTranscriptionWebSocket, polly:SynthesizeSpeech): none of them supports resource-level permissions.',
      });
    }
    if (voice.asr === 'sagemaker-whisper' && voice.asrEndpointName !== undefined) {
      fn.role.addToPolicy(
        new PolicyStatement({
          actions: ['sagemaker:InvokeEndpoint'],
          resources: [
            Stack.of(this).formatArn({
              service: 'sagemaker',
              resource: 'endpoint',
              resourceName: voice.asrEndpointName.toLowerCase(),
            }),
          ],
        }),
      );
    }
  }

  /** Each enabled platform's secret, under the env name its credential spec reads the secret id from. */
  private bindPlatformSecrets(fn: HouseFunction, props: FunctionsProps): void {
    for (const platform of props.platforms) {
      const secret = props.platformSecrets[platform];
      if (secret) fn.bindSecret(secret, PLATFORM_MANIFESTS[platform].credentials.secretIdEnv);
    }
  }
}
