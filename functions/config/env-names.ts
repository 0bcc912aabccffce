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
  /**
   * The inference component every invocation names (`InferenceComponentName`), set when the endpoint is built to
   * scale to zero (`scaleToZero`). Unset: an instance-based endpoint, invoked by its name alone.
   */
  modelInferenceComponent: 'MODEL_INFERENCE_COMPONENT',
  modelEndpointUrl: 'MODEL_ENDPOINT_URL',
  modelId: 'MODEL_ID',
  /**
   * Which API `MODEL_ENDPOINT_URL` speaks: `sagemaker` (the runtime contract; the default) or `openai` (an
   * OpenAI-compatible `/v1` root such as vLLM, TGI, Ollama or llama.cpp server: `…/chat/completions` is appended).
   */
  modelApi: 'MODEL_API',
  /** With `MODEL_API=openai`: the model name the server serves (its `model` field). @default MODEL_ID */
  modelOpenAiModel: 'MODEL_OPENAI_MODEL',
  /** With `MODEL_API=openai`: a Secrets Manager secret `{"apiKey": "…"}` sent as the bearer key. @default no key */
  modelApiKeySecretId: 'MODEL_API_KEY_SECRET_ID',
  /**
   * How long a model's circuit stays open before one probe call is let through, ms (both the primary's and the
   * fallback's breakers). Shorter: a recovered primary is used again sooner; longer: a flapping one is asked less.
   * @default 30000
   */
  modelBreakerCoolDownMs: 'MODEL_BREAKER_COOL_DOWN_MS',
  /**
   * The fallback model: a second server speaking the SageMaker runtime contract that answers when the primary fails,
   * times out or has its circuit open (the sandbox's second engine; in AWS a Lambda function URL). Unset: none.
   */
  fallbackModelEndpointUrl: 'FALLBACK_MODEL_ENDPOINT_URL',
  /** Its logical model id (ledger rows, metrics); must differ from `MODEL_ID`. */
  fallbackModelId: 'FALLBACK_MODEL_ID',
  /** Memory of the fallback's Lambda function, MB: its answers are billed as GB-seconds of it. */
  fallbackModelMemoryMb: 'FALLBACK_MODEL_MEMORY_MB',
  /** The fallback's budget per call, ms, kept back from the primary's deadline. */
  fallbackTimeoutMs: 'FALLBACK_TIMEOUT_MS',
  /** As `MODEL_API`, `MODEL_OPENAI_MODEL` and `MODEL_API_KEY_SECRET_ID`, for `FALLBACK_MODEL_ENDPOINT_URL`. */
  fallbackModelApi: 'FALLBACK_MODEL_API',
  fallbackModelOpenAiModel: 'FALLBACK_MODEL_OPENAI_MODEL',
  fallbackModelApiKeySecretId: 'FALLBACK_MODEL_API_KEY_SECRET_ID',
  /**
   * The skills configuration (JSON, `skills-config.ts`): third-party skills (Lambda functions by ARN; in the sandbox a
   * local URL) and which skills each group may use. Unset: the built-in commands only.
   */
  skills: 'SKILLS',
  /**
   * Override of the Lambda API endpoint remote skills are invoked through: the sandbox's and tests' local stand-in
   * (`sandbox/local-aws/lambda-invoke.ts`). Unset: the SDK's regional endpoint.
   */
  lambdaEndpointUrl: 'LAMBDA_ENDPOINT_URL',
  contextTtlMinutes: 'CONTEXT_TTL_MINUTES',
  answerCacheTtlMinutes: 'ANSWER_CACHE_TTL_MINUTES',
  maxBodyBytes: 'MAX_BODY_BYTES',
  /** JSON `TriggerConfig` (functions/core/trigger-rules.ts); @-mention and DMs when unset. */
  triggerRules: 'TRIGGER_RULES',
  /** JSON `ConversationScopeConfig` (functions/core/context-scope.ts); per member when unset. */
  contextScopes: 'CONTEXT_SCOPES',
  /** Longest model answer sent to a chat, in characters (worker); longer ones are cut with a visible note. */
  maxReplyChars: 'MAX_REPLY_CHARS',
  /** Most platform messages one answer may become (worker), whatever the platform's per-message limit. */
  maxReplyMessages: 'MAX_REPLY_MESSAGES',
  /** Comma-separated extra origins reply handles may point at (the sandbox's emulator). */
  replyHandleOrigins: 'REPLY_HANDLE_ORIGINS',
  /** Per-platform API base URL overrides (the sandbox points them at its emulator). */
  feishuApiBaseUrl: 'FEISHU_API_BASE_URL',
  slackApiBaseUrl: 'SLACK_API_BASE_URL',
  dingtalkApiBaseUrl: 'DINGTALK_API_BASE_URL',
  wecomApiBaseUrl: 'WECOM_API_BASE_URL',
  modelInstanceType: 'MODEL_INSTANCE_TYPE',
  modelContextWindow: 'MODEL_CONTEXT_WINDOW',
  modelMaxTokens: 'MODEL_MAX_TOKENS',
  systemPrompt: 'SYSTEM_PROMPT',
  /**
   * JSON object `{"<platform>:<chatId>": "prompt"}`: chats whose system prompt replaces `SYSTEM_PROMPT` (REST:
   * `api:<X-Group-ID>`). Their answers are cached apart from the default prompt's.
   */
  systemPromptOverrides: 'SYSTEM_PROMPT_OVERRIDES',
  /** Bump to invalidate cached answers produced by an older prompt. */
  promptVersion: 'PROMPT_VERSION',
  /** JSON `[{term, level: 1|2|3, category}]` for the content-safety filter. */
  contentLexicon: 'CONTENT_LEXICON',
  /** `false` sends unmasked questions to the (private) model; logs and audit are always masked. */
  maskModelInput: 'MASK_MODEL_INPUT',
  /** `false` posts the model's answers without PII masking; context and audit always hold the masked answer. */
  maskModelOutput: 'MASK_MODEL_OUTPUT',
  /**
   * Comma-separated chats that opted out of answer PII masking: `platform:chatId` (as in `CONTEXT_SCOPES`), or
   * `api:<X-Group-ID>` for `/v1/chat`.
   */
  maskModelOutputOptOut: 'MASK_MODEL_OUTPUT_OPT_OUT',
  /** `false` turns streamed replies off for the deployment: every reply is one message once the answer is complete. */
  streaming: 'STREAMING',
  /**
   * Comma-separated chats (`platform:chatId`) that get one message per reply instead of a streamed one (groups that
   * prefer it; free Feishu tenants with API-call quotas).
   */
  streamingOptOut: 'STREAMING_OPT_OUT',
  /**
   * Seconds after a streamed reply's surface opened when the sweeper may finish it if no delivery did: past every
   * redelivery the queue can make (maxReceiveCount × visibility timeout). @default 1800
   */
  streamSweepAfterSeconds: 'STREAM_SWEEP_AFTER_SECONDS',
  /** DingTalk AI-card template with a streaming text variable; unset, DingTalk replies are not streamed. */
  dingtalkCardTemplateId: 'DINGTALK_CARD_TEMPLATE_ID',
  /** The template's streaming variable. @default msgContent */
  dingtalkCardContentKey: 'DINGTALK_CARD_CONTENT_KEY',
  /** Days a member profile lives after its last change before DynamoDB TTL deletes it (docs/PROFILES.md). */
  profileRetentionDays: 'PROFILE_RETENTION_DAYS',
  /** JSON `{"*" | "platform:*" | "platform:chatId": {field: value}}`: each group's default profile values. */
  profileGroupDefaults: 'PROFILE_GROUP_DEFAULTS',
  /** Comma-separated platforms whose member directory (job title, department) fills profiles. Unset: none. */
  profileDirectory: 'PROFILE_DIRECTORY',
  /** Hours a directory answer is kept in the profile before the directory is asked again. @default 24 */
  profileDirectoryTtlHours: 'PROFILE_DIRECTORY_TTL_HOURS',
  /** Minutes a member's directory is not asked again after a failed lookup. @default 15 */
  profileDirectoryRetryMinutes: 'PROFILE_DIRECTORY_RETRY_MINUTES',
  ledgerRetentionDays: 'LEDGER_RETENTION_DAYS',
  auditRetentionDays: 'AUDIT_RETENTION_DAYS',
  /** JSON price overrides merged over the built-in price table (functions/core/cost/prices.ts). */
  priceOverrides: 'PRICE_OVERRIDES',
  /** How long event dedup records live, seconds. */
  eventRetentionSeconds: 'EVENT_RETENTION_SECONDS',
  /** Seconds a worker's claim on an event lasts before another delivery may take over. */
  claimLeaseSeconds: 'CLAIM_LEASE_SECONDS',
  /**
   * The connector (issue 18): comma-separated platforms it holds a long connection for, each also in
   * `ENABLED_PLATFORMS` (`functions/connector/connector-config.ts`).
   */
  longConnectionPlatforms: 'LONG_CONNECTION_PLATFORMS',
  /** The connector's `GET /healthz` port (the ECS container health check). @default 8080 */
  healthPort: 'HEALTH_PORT',
  /**
   * WeCom long-connection mode: the relay FIFO queue the worker writes reply frames to and the connector holding the
   * bot's lease sends on the socket (`functions/platforms/wecom/relay.ts`). Set on the worker and the connector only
   * when WeCom is in `LONG_CONNECTION_PLATFORMS`.
   */
  wecomRelayQueueUrl: 'WECOM_RELAY_QUEUE_URL',
  /** The WeCom AI-bot socket's URL (private deployments, the sandbox's emulator). @default wss://openws.work.weixin.qq.com */
  wecomAibotWsUrl: 'WECOM_AIBOT_WS_URL',
  /**
   * Voice (docs/VOICE.md). Which engine turns members' voice messages into text: `off` (the default: the member is
   * told voice is not enabled), `local` (pocketsphinx, English; the sandbox), `transcribe` (Amazon Transcribe
   * streaming) or `sagemaker-whisper` (a private Whisper endpoint, `VOICE_ASR_ENDPOINT_NAME`).
   */
  voiceAsr: 'VOICE_ASR',
  /** The SageMaker endpoint serving Whisper, with `VOICE_ASR=sagemaker-whisper`. */
  voiceAsrEndpointName: 'VOICE_ASR_ENDPOINT_NAME',
  /** Which engine speaks answers for chats in `VOICE_REPLY_CHATS`: `off` (default), `local` (espeak-ng) or `polly`. */
  voiceTts: 'VOICE_TTS',
  /** With `VOICE_TTS=polly`: `neural` (default) or `standard` (a quarter of the price). */
  voicePollyEngine: 'VOICE_POLLY_ENGINE',
  /** Comma-separated languages recognised and spoken, of `zh-CN` and `en-US`. @default zh-CN,en-US */
  voiceLanguages: 'VOICE_LANGUAGES',
  /** Longest voice message transcribed, seconds (1–300): longer ones get a reply saying so. @default 60 */
  voiceMaxSeconds: 'VOICE_MAX_SECONDS',
  /** Longest answer spoken, characters (1–3000, Polly's limit): longer answers go out as text only. @default 1000 */
  voiceMaxSpeechChars: 'VOICE_MAX_SPEECH_CHARS',
  /** Comma-separated chats (`platform:chatId`) that opted in to spoken answers; the text is always sent too. */
  voiceReplyChats: 'VOICE_REPLY_CHATS',
  /**
   * Comma-separated groups (`platform:chatId`) where a voice message without an @-mention is for the bot (a Feishu
   * voice message cannot carry one). Read by the webhook and the connector, with the trigger rules.
   */
  voiceGroupChats: 'VOICE_GROUP_CHATS',
  /** HS256 key of the REST API's JWTs, for local runs; in AWS the key is in the `JWT_SECRET_ID` secret. */
  jwtSecret: 'JWT_SECRET',
  /** JWKS URL of the token issuer; used instead of an HS256 key when set. */
  jwtJwksUrl: 'JWT_JWKS_URL',
  jwtIssuer: 'JWT_ISSUER',
  jwtAudience: 'JWT_AUDIENCE',
  /** Comma-separated JWS algorithms accepted (never `none`). */
  jwtAlgorithms: 'JWT_ALGORITHMS',
  /** Longest JWT lifetime accepted (`exp - iat`), seconds; 24 h when unset. */
  jwtMaxTokenLifetimeSeconds: 'JWT_MAX_TOKEN_LIFETIME_SECONDS',
  /** Clock skew tolerated on `exp`, `nbf` and `iat` (a token issued in the future), seconds; 30 when unset. */
  jwtClockSkewSeconds: 'JWT_CLOCK_SKEW_SECONDS',
  /** `/v1/chat` limits: longest `query` and `context` (characters), largest `max_tokens`, body bytes. */
  chatMaxQueryChars: 'CHAT_MAX_QUERY_CHARS',
  chatMaxContextChars: 'CHAT_MAX_CONTEXT_CHARS',
  chatMaxTokens: 'CHAT_MAX_TOKENS',
  chatMaxBodyBytes: 'CHAT_MAX_BODY_BYTES',
  /** Deadline of one `/v1/chat` model call, ms; below API Gateway's 29 s integration timeout. */
  chatModelTimeoutMs: 'CHAT_MODEL_TIMEOUT_MS',
} as const;

/**
 * Platform credentials read from the environment when no Secrets Manager secret id is configured (the sandbox and
 * local runs). In AWS the CDK sets `<PLATFORM>_SECRET_ID` and these are never present.
 */
export const PLATFORM_CREDENTIAL_ENV = {
  feishu: {
    appId: 'FEISHU_APP_ID',
    appSecret: 'FEISHU_APP_SECRET',
    verificationToken: 'FEISHU_VERIFICATION_TOKEN',
    encryptKey: 'FEISHU_ENCRYPT_KEY',
    botOpenId: 'FEISHU_BOT_OPEN_ID',
  },
  slack: {
    signingSecret: 'SLACK_SIGNING_SECRET',
    botToken: 'SLACK_BOT_TOKEN',
    botUserId: 'SLACK_BOT_USER_ID',
    /** Socket Mode only (the connector): the app-level `xapp-` token. */
    appToken: 'SLACK_APP_TOKEN',
  },
  dingtalk: {
    appKey: 'DINGTALK_APP_KEY',
    appSecret: 'DINGTALK_APP_SECRET',
    robotCode: 'DINGTALK_ROBOT_CODE',
    botName: 'DINGTALK_BOT_NAME',
  },
  wecom: {
    token: 'WECOM_TOKEN',
    encodingAesKey: 'WECOM_ENCODING_AES_KEY',
    botId: 'WECOM_BOT_ID',
    botName: 'WECOM_BOT_NAME',
    /** Long-connection mode only (the connector): the bot's secret for `aibot_subscribe`. */
    botSecret: 'WECOM_BOT_SECRET',
    /** Member directory only (profiles): a self-built app's corp id and secret with contact read permission. */
    directoryCorpId: 'WECOM_DIRECTORY_CORP_ID',
    directoryCorpSecret: 'WECOM_DIRECTORY_CORP_SECRET',
  },
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];
