import { ENV, PLATFORM_CREDENTIAL_ENV } from '#config/env-names';
import { PLATFORMS } from '#platforms/types';
import { credentialEnv, type sandboxCredentials } from './defaults';
import { FALLBACK_MODEL_ENV } from './fallback-model';
import type { LocalAws } from './local-aws/index';
import { DINGTALK_EMULATED_BOT_NAME, DINGTALK_EMULATED_CARD_TEMPLATE } from './platform-emulator/dingtalk';
import { WECOM_EMULATED_BOT_NAME } from './platform-emulator/wecom';

/** Names the AWS SDK and Powertools read themselves (not ours, so not in `ENV`); set here for the local run. */
const LIBRARY_ENV = {
  awsRegion: 'AWS_REGION',
  awsAccessKeyId: 'AWS_ACCESS_KEY_ID',
  awsSecretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  awsEndpointDynamoDb: 'AWS_ENDPOINT_URL_DYNAMODB',
  awsEndpointSqs: 'AWS_ENDPOINT_URL_SQS',
  powertoolsServiceName: 'POWERTOOLS_SERVICE_NAME',
  powertoolsLogLevel: 'POWERTOOLS_LOG_LEVEL',
  powertoolsMetricsDisabled: 'POWERTOOLS_METRICS_DISABLED',
} as const;

/** The backup model the worker falls back to (issue 16): the same SageMaker runtime contract as the primary. */
interface FallbackEndpoint {
  readonly url: string;
  /** Names the backup's answers in ledger and audit rows. */
  readonly modelId: string;
}

/**
 * The environment the real handlers read, pointing every AWS client and platform API at local stand-ins.
 * `outer` is the sandbox's own environment: log level, metrics and the endpoint name may be set there. Without a
 * `fallback` the fallback variables are absent (never empty), so the worker composes no fallback client.
 */
export function handlerEnv(
  aws: LocalAws,
  baseUrl: string,
  modelUrl: string,
  credentials: ReturnType<typeof sandboxCredentials>,
  outer: Readonly<Record<string, string | undefined>> = process.env,
  fallback?: FallbackEndpoint,
): Record<string, string> {
  const L = LIBRARY_ENV;
  return {
    [L.awsRegion]: aws.region,
    [L.awsAccessKeyId]: 'sandbox',
    [L.awsSecretAccessKey]: 'sandbox',
    [L.awsEndpointDynamoDb]: aws.endpoints.dynamo,
    [L.awsEndpointSqs]: aws.endpoints.sqs,
    [L.powertoolsServiceName]: 'groupgate-sandbox',
    [L.powertoolsLogLevel]: outer[L.powertoolsLogLevel] ?? 'WARN',
    // EMF metrics go to stdout in Lambda, where CloudWatch parses them; locally they would only bury the log.
    [L.powertoolsMetricsDisabled]: outer[L.powertoolsMetricsDisabled] ?? 'true',
    [ENV.enabledPlatforms]: PLATFORMS.join(','),
    [ENV.queueUrl]: aws.queues.queueUrl,
    [ENV.eventsTable]: aws.tables.events,
    [ENV.conversationsTable]: aws.tables.conversations,
    [ENV.answerCacheTable]: aws.tables.answerCache,
    [ENV.ledgerTable]: aws.tables.ledger,
    [ENV.auditTable]: aws.tables.audit,
    [ENV.modelEndpointUrl]: modelUrl,
    [ENV.modelEndpointName]: outer[ENV.modelEndpointName] ?? 'groupgate-llm',
    ...(fallback
      ? { [FALLBACK_MODEL_ENV.endpointUrl]: fallback.url, [FALLBACK_MODEL_ENV.modelId]: fallback.modelId }
      : {}),
    [ENV.replyHandleOrigins]: baseUrl,
    [ENV.feishuApiBaseUrl]: `${baseUrl}/_emulator/feishu`,
    [ENV.slackApiBaseUrl]: `${baseUrl}/_emulator/slack`,
    [ENV.dingtalkApiBaseUrl]: `${baseUrl}/_emulator/dingtalk`,
    [ENV.wecomApiBaseUrl]: `${baseUrl}/_emulator/wecom`,
    [PLATFORM_CREDENTIAL_ENV.dingtalk.botName]: DINGTALK_EMULATED_BOT_NAME,
    // The emulator's AI-card template, so the sandbox streams DingTalk replies unless told otherwise.
    [ENV.dingtalkCardTemplateId]: outer[ENV.dingtalkCardTemplateId] ?? DINGTALK_EMULATED_CARD_TEMPLATE.id,
    [PLATFORM_CREDENTIAL_ENV.wecom.botName]: WECOM_EMULATED_BOT_NAME,
    // Voice messages are transcribed on this machine (pocketsphinx) unless the operator chose otherwise; without the
    // packages the member is told what to install (docs/VOICE.md).
    [ENV.voiceAsr]: outer[ENV.voiceAsr] ?? 'local',
    // Spoken answers (espeak-ng) for the chats `VOICE_REPLY_CHATS` names; none unless it is set.
    [ENV.voiceTts]: outer[ENV.voiceTts] ?? 'local',
    ...credentialEnv(credentials),
  };
}
