/**
 * Environment variable names shared by the CDK app (`lib/`), the Lambda runtime (`functions/`) and the sandbox.
 * One list, so infrastructure and code cannot drift. Values are validated once per cold start by the runtime config.
 */
export const ENV = {
  /** Comma-separated enabled platforms, e.g. `feishu,slack`. */
  enabledPlatforms: 'ENABLED_PLATFORMS',
  queueUrl: 'QUEUE_URL',
  eventsTable: 'EVENTS_TABLE',
  conversationsTable: 'CONVERSATIONS_TABLE',
  answerCacheTable: 'ANSWER_CACHE_TABLE',
  ledgerTable: 'LEDGER_TABLE',
  auditTable: 'AUDIT_TABLE',
  /** ARN or name of the Secrets Manager secret holding a platform's credentials (JSON). */
  feishuSecretId: 'FEISHU_SECRET_ID',
  slackSecretId: 'SLACK_SECRET_ID',
  dingtalkSecretId: 'DINGTALK_SECRET_ID',
  wecomSecretId: 'WECOM_SECRET_ID',
  jwtSecretId: 'JWT_SECRET_ID',
  modelEndpointName: 'MODEL_ENDPOINT_NAME',
  modelEndpointUrl: 'MODEL_ENDPOINT_URL',
  modelId: 'MODEL_ID',
  contextTtlMinutes: 'CONTEXT_TTL_MINUTES',
  answerCacheTtlMinutes: 'ANSWER_CACHE_TTL_MINUTES',
  maxBodyBytes: 'MAX_BODY_BYTES',
  awsEndpointUrl: 'AWS_ENDPOINT_URL',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];
