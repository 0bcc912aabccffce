import type { Node } from 'constructs';
import type { $ZodIssue, $ZodType } from 'zod/v4/core';
import { ENV } from '#config/env-names';
import {
  groupEntryAdmits,
  KNOWLEDGE_SKILL_NAME,
  knowledgeConfigSchema,
  withKnowledgeSkill,
} from '#config/knowledge-config';
import {
  DEFAULT_FALLBACK_MEMORY_MB,
  DEFAULT_FALLBACK_MODEL_ID,
  DEFAULT_FALLBACK_TIMEOUT_MS,
  pipelineEnvShape,
  systemPromptOverridesSchema,
} from '#config/pipeline-config';
import {
  DEFAULT_PROFILE_DIRECTORY_RETRY_MINUTES,
  DEFAULT_PROFILE_DIRECTORY_TTL_HOURS,
  DEFAULT_PROFILE_RETENTION_DAYS,
  MAX_PROFILE_DIRECTORY_RETRY_MINUTES,
  profileGroupDefaultsSchema,
} from '#config/profile-config';
import { DEFAULT_AUDIT_RETENTION_DAYS, DEFAULT_LEDGER_RETENTION_DAYS, MAX_RETENTION_DAYS } from '#config/retention';
import {
  enabledSkillsFor,
  MAX_SKILL_TIMEOUT_MS,
  type RemoteSkillConfig,
  type SkillsConfig,
  skillsConfigSchema,
} from '#config/skills-config';
import { DEFAULT_VOICE_MAX_SECONDS, DEFAULT_VOICE_MAX_SPEECH_CHARS, voiceEnvShape } from '#config/voice-config';
import { scaleToZeroSchema } from '#core/cost/closed-hours';
import { ConfigError } from '#core/errors';
import { DATASET_NAME_PATTERN } from '#data-analysis/dataset';
import { FEISHU_DEFAULT_API_BASE_URL } from '#platforms/feishu/config';
import { fromManifests } from '#platforms/manifests';
import { LEDGER_PLATFORMS, PLATFORMS } from '#platforms/types';
import * as z from '#shared/zod';
import { VOICE_LANGUAGES } from '#voice/ports';
import { nearestKey } from './nearest-key';

/** The CDK context key holding the app configuration object; flat flags use `-c groupgate:<key>=<value>`. */
export const CONTEXT_KEY = 'groupgate';

/** CloudWatch Logs accepts only these retention periods (days). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const S3_PREFIX_URI = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/(?:[^\s]+\/)?$/;
const S3_GGUF_URI = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[^\s]*[^\s/]\.gguf$/;
const SECRET_COMPLETE_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}$/;
const ACM_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/;
const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/**
 * Room left in a pipeline function's Lambda environment (4 KB for all variables) after the other settings: the
 * per-chat prompts (`SYSTEM_PROMPT_OVERRIDES`) and the skills (`SKILLS`) share it.
 */
const MAX_SYSTEM_PROMPT_OVERRIDES_BYTES = 2048;

/** The partition of an ARN (`arn:<partition>:…`). */
const partitionOf = (arn: string): string => arn.split(':')[1] ?? '';

/**
 * `SKILLS` as the stack deploys it: the runtime's schema (functions/config/skills-config.ts, so the CDK app and the
 * functions accept exactly the same object), plus what only holds in AWS:
 * - a remote skill is a Lambda function (`functionArn`); `url` is the sandbox's and tests' stand-in and is refused;
 * - every skill is in one partition, the stack's (checked against the stack in `Functions`; cross-partition calls
 *   cannot be granted or made). Region and account may differ: a cross-account skill needs a resource policy.
 */
const deployedSkillsSchema = skillsConfigSchema.check(
  z.superRefine((config, ctx) => {
    const first = config.remote.find((skill) => skill.functionArn !== undefined)?.functionArn;
    config.remote.forEach((skill, i) => {
      if (skill.url !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['remote', i, 'url'],
          message: 'url is for the sandbox; in AWS a skill is a Lambda function (functionArn)',
        });
      }
      if (
        first !== undefined &&
        skill.functionArn !== undefined &&
        partitionOf(skill.functionArn) !== partitionOf(first)
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['remote', i, 'functionArn'],
          message: `is in partition ${partitionOf(skill.functionArn)}, another skill in ${partitionOf(first)}: the stack invokes skills in its own partition only`,
        });
      }
    });
  }),
);

const int = (min: number, max: number) => z.int().check(z.gte(min), z.lte(max));

/**
 * Voice messages (docs/VOICE.md) as the stack deploys them, handed to the worker as `VOICE_*`: AWS recognition only
 * (`local` is the sandbox's). The Whisper endpoint is the operator's, named here; the stack builds none.
 */
const voiceSchema = z
  .strictObject({
    /** Amazon Transcribe streaming, or a Whisper endpoint in the account. @default 'off' */
    asr: z._default(
      z.enum(['off', 'transcribe', 'sagemaker-whisper'], {
        error: 'must be "off", "transcribe" or "sagemaker-whisper" (local recognition is the sandbox\'s)',
      }),
      'off',
    ),
    /** The Whisper endpoint's name; required with `sagemaker-whisper`. */
    asrEndpointName: voiceEnvShape[ENV.voiceAsrEndpointName],
    /** Spoken languages; with one, recognition is told it. @default ['zh-CN', 'en-US'] */
    languages: z._default(z.array(z.enum(VOICE_LANGUAGES)).check(z.minLength(1)), [...VOICE_LANGUAGES]),
    /** Longest voice message transcribed, seconds. @default 60 */
    maxSeconds: z._default(int(1, 300), DEFAULT_VOICE_MAX_SECONDS),
    /** Spoken answers with Amazon Polly, for `replyChats`. @default 'off' */
    tts: z._default(z.enum(['off', 'polly'], { error: 'must be "off" or "polly"' }), 'off'),
    /** Polly's voice engine (`standard` costs a quarter). @default 'neural' */
    pollyEngine: z._default(z.enum(['standard', 'neural']), 'neural'),
    /** Longest answer spoken, characters (Polly takes 3,000). @default 1000 */
    maxSpeechChars: z._default(int(1, 3000), DEFAULT_VOICE_MAX_SPEECH_CHARS),
    /**
     * Chats whose answers are also spoken, on the platforms whose adapters post audio (`sendSpeech`: Feishu, Slack,
     * DingTalk; WeCom's AI bot takes AMR only, which no engine writes). @default []
     */
    replyChats: z._default(
      z
        .array(
          z
            .string()
            .check(
              z.regex(
                /^(feishu|slack|dingtalk):[^,\s]+$/,
                'must be feishu:, slack: or dingtalk:chatId (spoken answers are not posted on WeCom)',
              ),
            ),
        )
        .check(z.maxLength(100)),
      [],
    ),
    /**
     * Groups where a voice message with no @-mention is for the bot (a Feishu voice message cannot carry one), set
     * on the webhook and the connector as `VOICE_GROUP_CHATS`. The platform must deliver such messages (Feishu:
     * `im:message.group_msg`). @default []
     */
    groupChats: z._default(
      z
        .array(
          z
            .string()
            .check(
              z.regex(
                /^(feishu|slack|dingtalk|wecom):[^,\s]+$/,
                'must be platform:chatId (feishu, slack, dingtalk, wecom)',
              ),
            ),
        )
        .check(z.maxLength(100)),
      [],
    ),
  })
  .check(
    z.superRefine((voice, ctx) => {
      const whisper = voice.asr === 'sagemaker-whisper';
      if (whisper !== (voice.asrEndpointName !== undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['asrEndpointName'],
          message: whisper ? 'is required with asr "sagemaker-whisper"' : 'is only used with asr "sagemaker-whisper"',
        });
      }
      // Polly is granted only when some chat is spoken to, and a chat only when Polly speaks.
      if ((voice.tts === 'polly') !== voice.replyChats.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['replyChats'],
          message:
            voice.tts === 'polly' ? 'must name at least one chat with tts "polly"' : 'spoken answers need tts "polly"',
        });
      }
    }),
  );

/** `profileGroupDefaults` as JSON: a small share of the pipeline functions' 4 KB environment. */
const MAX_PROFILE_GROUP_DEFAULTS_BYTES = 1024;
const secretArn = z
  .string()
  .check(z.regex(SECRET_COMPLETE_ARN, 'must be a complete Secrets Manager ARN (with its 6-character suffix)'));
/** One optional secret ARN per platform; any other key is refused as unknown. */
const platformSecretArnsSchema = z.strictObject(fromManifests(() => z.optional(secretArn)));
/** An API origin: the adapter appends `/open-apis/…`, so a path, query or fragment here would break every call. */
const httpsOrigin = z
  .url({ protocol: /^https$/, hostname: HOSTNAME, error: 'must be an https URL with a DNS host name' })
  .check(
    z.refine((value) => {
      // Refinements run after a failed format check too; an unparsable value is already reported by `url`.
      const url = URL.parse(value);
      return url === null || (url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password);
    }, 'must be an origin only (https://host), without a path, query, fragment or credentials'),
  );

const subnetsSchema = z.strictObject({
  subnetIds: z.array(z.string().check(z.regex(/^subnet-[0-9a-f]{8,17}$/, 'must be a subnet id'))).check(z.minLength(1)),
  securityGroupIds: z
    .array(z.string().check(z.regex(/^sg-[0-9a-f]{8,17}$/, 'must be a security group id')))
    .check(z.minLength(1)),
});

/**
 * The primary model's id in ledger and audit rows: the pipeline's `MODEL_ID` default, which a SageMaker primary keeps
 * (the stack sets `MODEL_ID` only for `primaryModel`, whose `modelId` defaults to this).
 */
const PRIMARY_MODEL_ID = pipelineEnvShape[ENV.modelId].parse(undefined);
/** A ledger/audit model id: what the cost report groups by. */
const modelIdSchema = z.string().check(z.regex(/^[\w.:-]{1,64}$/, 'must be 1–64 letters, digits, _ . : or -'));
/** The worker's budget for one fallback call, seconds (`FALLBACK_TIMEOUT_MS`). */
const fallbackCallTimeout = z._default(int(1, 900), DEFAULT_FALLBACK_TIMEOUT_MS / 1000);

/** A backup model built by the stack: a CPU Lambda function running a GGUF with node-llama-cpp. */
const fallbackFunctionSchema = z.strictObject({
  kind: z.literal('function'),
  /** The GGUF the operator put in the private model bucket, `s3://bucket/key.gguf`. Required. */
  weightsS3Uri: z
    .string({ error: (issue) => (issue.input === undefined ? 'is required (s3://bucket/key.gguf)' : undefined) })
    .check(z.regex(S3_GGUF_URI, 'must look like s3://bucket/key.gguf (one GGUF object)')),
  /** Id of its answers in the ledger and audit. @default fallback-cpu */
  modelId: z._default(modelIdSchema, DEFAULT_FALLBACK_MODEL_ID),
  /** Function memory, MiB (one vCPU per 1,769 MiB). @default 3008 */
  memoryMb: z._default(int(1024, 10_240), DEFAULT_FALLBACK_MEMORY_MB),
  /** /tmp, MiB; must hold the weights file. @default 4096 */
  ephemeralStorageMb: z._default(int(512, 10_240), 4096),
  /** Answers at once (reserved concurrency; over it a call is refused and the member gets the apology). @default 4 */
  maxConcurrency: z._default(int(1, 1000), 4),
  /** Tokens the model sees per call (prompt + answer). @default 2048 */
  contextSize: z._default(int(512, 32_768), 2048),
  /** Answer tokens per call, at most. @default 512 */
  maxTokens: z._default(int(16, 4096), 512),
  /** The worker's budget for one fallback call. @default 20 */
  callTimeoutSeconds: fallbackCallTimeout,
  /** Longest one invocation may run, a cold start's download and load included. @default 120 */
  functionTimeoutSeconds: z._default(int(10, 900), 120),
  /** Invoke it every five minutes so one environment keeps the model loaded for the first backup answer. @default true */
  keepWarm: z._default(z.boolean(), true),
});

/** A server the team already runs behind an OpenAI-compatible `/v1/chat/completions` (vLLM, TGI, Ollama…). */
const openAiServerShape = {
  kind: z.literal('openai'),
  /** The server's `/v1` root, e.g. `https://vllm.internal.example.com/v1`. Required. */
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL (the server’s /v1 root)' }),
  /** The `model` the server serves. Required. */
  model: z.string().check(z.minLength(1)),
  /** Secret holding `{"apiKey": "…"}`, sent as the bearer key. @default no key */
  apiKeySecretArn: z.optional(secretArn),
};

/** A bearer key must not cross the network in clear: with `apiKeySecretArn`, the server must be https. */
const keyOnlyOverHttps = (server: { baseUrl: string; apiKeySecretArn?: string | undefined }): boolean =>
  server.apiKeySecretArn === undefined || server.baseUrl.startsWith('https:');
const KEY_OVER_HTTP = {
  path: ['baseUrl'],
  error: 'must be https when apiKeySecretArn is set: the key would otherwise be sent in clear',
};

/** A backup model the team already runs behind an OpenAI-compatible `/v1/chat/completions` (vLLM, TGI, Ollama…). */
const fallbackOpenAiSchema = z
  .strictObject({
    ...openAiServerShape,
    /** Id of its answers in the ledger and audit. @default fallback-openai */
    modelId: z._default(modelIdSchema, 'fallback-openai'),
    /** The worker's budget for one fallback call. @default 20 */
    callTimeoutSeconds: fallbackCallTimeout,
  })
  .check(z.refine(keyOnlyOverHttps, KEY_OVER_HTTP));

/**
 * The primary model on a server the team already runs, instead of the SageMaker endpoint. Its id defaults to the
 * pipeline's `MODEL_ID` default, the id a SageMaker primary's rows carry: moving the primary keeps one series in the
 * ledger, the audit and the cost report, and keeps the answer cache warm. Set another id to tell the two apart.
 */
const primaryOpenAiSchema = z
  .strictObject({
    ...openAiServerShape,
    /** Id of its answers in the ledger and audit. @default private-llm-int8 (the pipeline's `MODEL_ID` default) */
    modelId: z._default(modelIdSchema, PRIMARY_MODEL_ID),
  })
  .check(z.refine(keyOnlyOverHttps, KEY_OVER_HTTP));

/** Keys that only configure the SageMaker endpoint, refused beside `primaryModel` (which builds none). */
const SAGEMAKER_ONLY_KEYS = [
  'modelS3Uri',
  'modelImageUri',
  'modelQuantization',
  'instanceType',
  'minInstances',
  'maxInstances',
  'scaleToZero',
  'targetUtilisation',
  'maxConcurrentRequestsPerInstance',
  'meanInvocationSeconds',
  'vpc',
] as const;

/** Private S3 prefix holding the 8-bit (INT8) checkpoint in Hugging Face layout, ending in `/`. */
const modelS3UriSchema = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required (s3://bucket/prefix/)' : undefined) })
  .check(z.regex(S3_PREFIX_URI, 'must look like s3://bucket/prefix/ (ending in a slash)'));

/** A secret name (not an ARN): the stack grants `secret:<name>-??????`, the six characters Secrets Manager appends. */
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,256}$/;

/**
 * The knowledge bases' private embedding model. The knowledge functions reach the store through the Data API; they
 * run in `pipelineVpc`'s subnets when it is set and the model is a `url` (a server only that network reaches), else
 * outside any VPC. Either way the URL is https only. Lengths are bounded so the functions'
 * environment stays within Lambda's 4 KB beside `KNOWLEDGE_BASES` (`MAX_KNOWLEDGE_ENV_JSON_BYTES`).
 */
const embeddingSchema = z
  .strictObject({
    /** The server's root (`/v1/embeddings` is appended; a root ending in `/v1` is used as is). */
    url: z.optional(
      z.url({ protocol: /^https$/, hostname: HOSTNAME, error: 'must be an https URL with a DNS host name' }).check(
        z.maxLength(256),
        z.refine((value) => {
          const url = URL.parse(value);
          return url === null || (!url.search && !url.hash && !url.username && !url.password);
        }, 'must be the server root, without a query, fragment or credentials'),
      ),
    ),
    /** A SageMaker endpoint in the stack's account and region, invoked with the functions' role. */
    endpointName: z.optional(
      z.string().check(z.regex(/^[A-Za-z0-9](-*[A-Za-z0-9]){0,62}$/, 'must be a SageMaker endpoint name')),
    ),
    model: z.string().check(z.minLength(1), z.maxLength(128)),
    /** Length of the vectors the model returns; the store's column is created with it. */
    // pgvector's HNSW index takes at most 2,000 dimensions (`MAX_DIMENSIONS` in the store).
    dimensions: int(8, 2000),
    /** Secrets Manager secret `{"apiKey": "…"}` sent as the bearer key to `url`. @default no key */
    apiKeySecretName: z.optional(
      z.string().check(z.regex(SECRET_NAME, 'must be a Secrets Manager secret name (letters, digits, /_+=.@-)')),
    ),
    /** Cosine similarity from which a passage counts as relevant on its vector alone (per model). @default 0.55 */
    minSimilarity: z.optional(z.number().check(z.gte(-1), z.lte(1))),
  })
  .check(
    z.refine(
      (e) => (e.url === undefined) !== (e.endpointName === undefined),
      'needs exactly one of url and endpointName',
    ),
    z.refine((e) => e.apiKeySecretName === undefined || e.url !== undefined, {
      path: ['apiKeySecretName'],
      error: 'is the key of a url; an endpointName is invoked with the function role, without a key',
    }),
  );

/** Aurora Serverless v2 capacity, in ACUs (steps of 0.5). */
const acu = (min: number, max: number) => z.number().check(z.gte(min), z.lte(max), z.multipleOf(0.5));

/**
 * Capacity of the knowledge store. `minCapacity: 0` lets Aurora pause the instance after `autoPauseSeconds` without
 * a connection: storage only is billed while paused, and the first question after a pause waits about 15 s for it to
 * resume (past the knowledge skill's 5 s budget: that answer comes from the model without passages). `minCapacity: 0.5` or more never
 * pauses: no wait, at least 0.5 ACU billed every hour.
 */
const knowledgeDatabaseSchema = z.strictObject({
  /** @default 0 (pause when idle) */
  minCapacity: z._default(acu(0, 256), 0),
  /** Ceiling while ingesting or answering. @default 4 */
  maxCapacity: z._default(acu(1, 256), 4),
  /** Idle time before a pause (only with `minCapacity: 0`). @default 300 (Aurora's minimum) */
  autoPauseSeconds: z._default(int(300, 86_400), 300),
});
const DEFAULT_KNOWLEDGE_DATABASE = { minCapacity: 0, maxCapacity: 4, autoPauseSeconds: 300 } as const;

/** Where the data skill's datasets are kept in the knowledge bucket; no knowledge base may nest with it. */
export const DATASETS_PREFIX = 'datasets/';
const MAX_DATA_DATASETS = 32;
const dataDatasetSchema = z.strictObject({
  /** The SQL table name members and the model write (functions/data-analysis/dataset.ts). */
  name: z.string().check(z.regex(DATASET_NAME_PATTERN, 'must be a lower-case SQL name: a letter, then a-z, 0-9 or _')),
  title: z.string().check(z.trim(), z.minLength(1), z.maxLength(120)),
  description: z.optional(z.string().check(z.trim(), z.minLength(1), z.maxLength(300))),
  /** The object's key below `datasets/`, e.g. `sales/2024.csv`. */
  key: z.string().check(
    // No `*`: the key is also an IAM resource, where it would be a wildcard.
    z.regex(
      /^[A-Za-z0-9][A-Za-z0-9!_.'()/-]{0,200}$/,
      "must be an S3 key below datasets/ (letters, digits and !_.'()-/)",
    ),
    z.refine(
      (key) => !key.endsWith('/') && !key.split('/').includes('..'),
      'must name one object (no trailing /, no ..)',
    ),
  ),
});

/** A `groups` entry: `*`, `platform:*` or `platform:chatId`, as in `skills.groups` and the knowledge bases. */
const groupEntrySchema = z
  .string()
  .check(
    z.regex(
      new RegExp(`^(\\*|(${LEDGER_PLATFORMS.join('|')}):[^\\s,]+)$`),
      `must be * or platform:chatId (${LEDGER_PLATFORMS.join(', ')})`,
    ),
  );

/**
 * The platforms the connector can hold a long connection for, as the CDK app knows them: the connector's own list
 * (`LONG_CONNECTION_PLATFORMS` in functions/connector/platform-connections.ts, not imported here so the CDK app loads no
 * WebSocket client; test/cdk/connector.test.ts keeps the two equal).
 */
export const LONG_CONNECTION_PLATFORMS = ['feishu', 'slack', 'dingtalk', 'wecom'] as const;
export type LongConnectionPlatform = (typeof LONG_CONNECTION_PLATFORMS)[number];

export function isDeployableLongConnection(platform: string): platform is LongConnectionPlatform {
  return (LONG_CONNECTION_PLATFORMS as readonly string[]).includes(platform);
}

/** Long-connection mode (issue 18); only the shape here, the platforms are checked in `longConnectionProblems`. */
const longConnectionSchema = z.strictObject({
  /** Platforms that reach GroupGate over the connector's outbound WebSocket instead of their webhook. Required. */
  platforms: z
    .array(
      z.enum(PLATFORMS, {
        error: (issue) => `unknown platform ${JSON.stringify(issue.input)} (expected ${PLATFORMS.join('|')})`,
      }),
    )
    .check(
      z.minLength(1),
      z.refine((list) => new Set(list).size === list.length, 'must not repeat a platform'),
    ),
  /**
   * Connector tasks. Feishu, DingTalk and Slack deliver each event to one of the open connections, so two tasks in two
   * zones keep the platforms connected through a task replacement or a zone outage. WeCom allows one connection per
   * bot: whatever the count, only the task holding the bot's lease (an item of the events table) connects to WeCom
   * and relays its replies; the other waits in standby and takes over within about 40 s of the holder's death (at once
   * after an orderly stop). @default 2
   */
  desiredCount: z._default(int(1, 10), 2),
});

/**
 * The app configuration, read from CDK context at synth time. Every key except `modelS3Uri` has a default;
 * `modelS3Uri` is required unless `primaryModel` is set (then it is refused, with the other SageMaker-only keys).
 * The JSDoc `@default` of each key is the value used when it is absent.
 */
const appConfigSchema = z.strictObject({
  /** Chat platforms that get a webhook route and a credentials secret. @default all four */
  enabledPlatforms: z._default(
    z
      .array(
        z.enum(PLATFORMS, {
          error: (issue) => `unknown platform ${JSON.stringify(issue.input)} (expected ${PLATFORMS.join('|')})`,
        }),
      )
      .check(
        z.minLength(1),
        z.refine((list) => new Set(list).size === list.length, 'must not repeat a platform'),
      ),
    [...PLATFORMS],
  ),
  /**
   * Private S3 prefix holding the 8-bit (INT8) checkpoint in Hugging Face layout, ending in `/`. Required without
   * `primaryModel` (`sageMakerConfigSchema`).
   */
  modelS3Uri: z.optional(modelS3UriSchema),
  /** LMI (DJL Serving + vLLM) container image. @default the LMI image in the stack's region (see model-endpoint.ts) */
  modelImageUri: z.optional(z.string().check(z.minLength(1))),
  /**
   * vLLM quantization method for checkpoints whose config.json does not declare it. LMI deduces it from a
   * pre-quantized checkpoint and advises not setting it then. @default deduced from the checkpoint
   */
  modelQuantization: z.optional(z.enum(['gptq', 'compressed-tensors', 'bitsandbytes'])),
  /**
   * Longest prompt + completion in tokens; bounds the KV cache so an INT8 7B model fits a 16 GB T4. With
   * `primaryModel` it only sets the prompt budget (`MODEL_CONTEXT_WINDOW`): match the server's own limit. @default 4096
   */
  maxModelLen: z._default(int(256, 131_072), 4096),
  /** SageMaker instance type (NVIDIA T4 family). @default ml.g4dn.xlarge */
  instanceType: z._default(
    z.string().check(z.regex(/^ml\.g4dn\.(?:x|2x|4x|8x|12x|16x)large$/, 'must be an ml.g4dn.* instance type')),
    'ml.g4dn.xlarge',
  ),
  /** @default 1 */
  minInstances: z._default(int(1, 100), 1),
  /** @default 2 */
  maxInstances: z._default(int(1, 100), 2),
  /**
   * Business hours outside which the endpoint may scale to zero instances (issue 16): `{timeZone, openDays, opensAt,
   * closesAt, idleMinutes}`, e.g. `{"timeZone": "Asia/Shanghai", "openDays": "MON-FRI", "opensAt": "08:30",
   * "closesAt": "19:00"}`. Builds the endpoint on an inference component (docs/MODEL.md, "Scale to zero"); closed-hours
   * questions are answered by the fallback model while the endpoint wakes. @default none (always on)
   */
  scaleToZero: z.optional(scaleToZeroSchema),
  /** Fraction of an instance's capacity the autoscaler aims for. @default 0.7 */
  targetUtilisation: z._default(z.number().check(z.gt(0), z.lte(1)), 0.7),
  /** Requests one instance serves at once (the vLLM batch size). @default 8 */
  maxConcurrentRequestsPerInstance: z._default(int(1, 256), 8),
  /** Mean seconds one invocation holds its slot; turns concurrency into invocations per minute. @default 1 */
  meanInvocationSeconds: z._default(z.number().check(z.gt(0), z.lte(600)), 1),
  /** Source CIDRs allowed to call the API (IPv4 or IPv6); empty means no resource policy. @default [] */
  allowedCidrs: z._default(
    z.array(z.union([z.cidrv4(), z.cidrv6()], { error: 'must be a valid IPv4 or IPv6 CIDR' })),
    [],
  ),
  /** Custom domain for the API (TLS 1.2 minimum). @default none: the execute-api URL */
  customDomain: z.optional(
    z.strictObject({
      domainName: z.string().check(z.regex(HOSTNAME, 'must be a lower-case DNS name')),
      certificateArn: z.string().check(z.regex(ACM_ARN, 'must be an ACM certificate ARN')),
    }),
  ),
  /** @default 60 */
  workerTimeoutSeconds: z._default(int(10, 900), 60),
  /** Upper bound on concurrent worker invocations from the queue (SQS event source minimum is 2). @default 10 */
  workerMaxConcurrency: z._default(int(2, 1000), 10),
  /** Receives before a message moves to the DLQ. @default 5 */
  maxReceiveCount: z._default(int(1, 1000), 5),
  /** @default 30 */
  contextTtlMinutes: z._default(int(1, 24 * 60), 30),
  /** @default 60 */
  answerCacheTtlMinutes: z._default(int(1, 7 * 24 * 60), 60),
  /** Days a cost ledger row lives before DynamoDB TTL removes it. @default 400 (`DEFAULT_LEDGER_RETENTION_DAYS`) */
  ledgerRetentionDays: z._default(int(1, MAX_RETENTION_DAYS), DEFAULT_LEDGER_RETENTION_DAYS),
  /** Days an audit record lives before DynamoDB TTL removes it. @default 365 (`DEFAULT_AUDIT_RETENTION_DAYS`) */
  auditRetentionDays: z._default(int(1, MAX_RETENTION_DAYS), DEFAULT_AUDIT_RETENTION_DAYS),
  /** Days a member profile lives after its last change before DynamoDB TTL deletes it (docs/PROFILES.md). @default 365 */
  profileRetentionDays: z._default(int(1, MAX_RETENTION_DAYS), DEFAULT_PROFILE_RETENTION_DAYS),
  /**
   * Each group's default profile values, `{"*" | "<platform>:*" | "<platform>:<chatId>": {"language": "zh", …}}`
   * (docs/PROFILES.md); the most specific entry applies. Handed to the pipeline functions as `PROFILE_GROUP_DEFAULTS`.
   * @default {} (no defaults)
   */
  profileGroupDefaults: z._default(
    z.pipe(
      z.record(z.string(), z.record(z.string(), z.string())).check(
        z.refine((defaults) => Buffer.byteLength(JSON.stringify(defaults)) <= MAX_PROFILE_GROUP_DEFAULTS_BYTES, {
          error: `must be at most ${MAX_PROFILE_GROUP_DEFAULTS_BYTES} bytes as JSON (Lambda environments hold 4 KB)`,
        }),
      ),
      profileGroupDefaultsSchema,
    ),
    {},
  ),
  /**
   * Platforms whose member directory (job title, department) fills profiles; the app needs the directory scope
   * (docs/PROFILES.md). @default [] (none)
   */
  profileDirectory: z._default(z.array(z.enum(PLATFORMS)), []),
  /** Hours a directory answer is kept in a profile before it is asked again. @default 24 */
  profileDirectoryTtlHours: z._default(int(1, 24 * 90), DEFAULT_PROFILE_DIRECTORY_TTL_HOURS),
  /** Minutes a member's directory is not asked again after a failed lookup. @default 15 */
  profileDirectoryRetryMinutes: z._default(
    int(1, MAX_PROFILE_DIRECTORY_RETRY_MINUTES),
    DEFAULT_PROFILE_DIRECTORY_RETRY_MINUTES,
  ),
  /** CloudWatch Logs retention for functions and API access logs. @default 30 */
  logRetentionDays: z._default(
    z.number().check(
      z.refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
        error: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
      }),
    ),
    30,
  ),
  /** Powertools log level. @default INFO */
  logLevel: z._default(z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']), 'INFO'),
  /** Stage-wide throttle for the whole API. @default {rateLimit: 50, burstLimit: 100} */
  apiThrottle: z._default(
    z.strictObject({ rateLimit: z.number().check(z.positive(), z.lte(10_000)), burstLimit: int(1, 5000) }),
    { rateLimit: 50, burstLimit: 100 },
  ),
  /** Usage-plan quota per API key for /v1/chat. @default {limit: 10000, period: 'DAY'} */
  apiQuota: z._default(z.strictObject({ limit: int(1, 100_000_000), period: z.enum(['DAY', 'WEEK', 'MONTH']) }), {
    limit: 10_000,
    period: 'DAY',
  }),
  /** Existing secrets to import per platform instead of creating one. @default {} (create) */
  platformSecretArns: z._default(platformSecretArnsSchema, {}),
  /** Runs the model container in these subnets / security groups. @default none (network isolation only) */
  vpc: z.optional(subnetsSchema),
  /**
   * Runs the worker and the chat API in these subnets, to reach a model server only the VPC can reach (an
   * OpenAI-compatible `primaryModel` or `fallbackModel`). The subnets must reach the AWS APIs and the chat platforms' APIs (a NAT
   * gateway). @default none (the functions run outside any VPC)
   */
  pipelineVpc: z.optional(subnetsSchema),
  /** E-mail subscribed to operational alarms. @default none (alarms without a subscriber) */
  alarmEmail: z.optional(z.email()),
  /** `iss` every /v1/chat JWT must carry. @default 'groupgate' */
  jwtIssuer: z._default(z.string().check(z.minLength(1)), 'groupgate'),
  /** `aud` every /v1/chat JWT must carry. @default 'groupgate-api' */
  jwtAudience: z._default(z.string().check(z.minLength(1)), 'groupgate-api'),
  /** Verify /v1/chat JWTs against this JWKS (RS256/ES256) instead of the generated HS256 secret. @default none */
  jwtJwksUrl: z.optional(z.url({ protocol: /^https$/ })),
  /**
   * The primary model on an OpenAI-compatible server the team runs (vLLM, TGI, Ollama, llama.cpp server), instead of
   * the SageMaker endpoint: `{"kind": "openai", "baseUrl": "…/v1", "model": "…", "apiKeySecretArn"?, "modelId"?}`.
   * No endpoint is built, so `modelS3Uri` and the other endpoint keys are refused beside it; its answers add no model
   * cost to the ledger (the server is billed to whatever runs it). @default none: the SageMaker endpoint
   */
  primaryModel: z.optional(primaryOpenAiSchema),
  /**
   * The backup model answering when the primary model cannot (failing, timing out, circuit open, scaled to zero):
   * `{"kind": "function", "weightsS3Uri": "s3://…/model.gguf"}` builds a CPU Lambda function for it;
   * `{"kind": "openai", "baseUrl": "…/v1", "model": "…"}` uses a server the team runs. Its answers say they came from
   * the backup model and are never cached. @default none: members get the apology while the endpoint cannot answer
   */
  fallbackModel: z.optional(
    z.discriminatedUnion('kind', [fallbackFunctionSchema, fallbackOpenAiSchema], {
      error: (issue) => (issue.code === 'invalid_union' ? 'kind must be "function" or "openai"' : undefined),
    }),
  ),
  /** Reply tokens the model may generate per answer (`max_tokens` ceiling). @default 512 */
  modelMaxTokens: z._default(int(16, 8192), 512),
  /**
   * Per-chat system prompts, `{"<platform>:<chatId>": "prompt"}` (`/v1/chat`: `api:<X-Group-ID>`), handed to the
   * worker and chat-api as `SYSTEM_PROMPT_OVERRIDES`. Bounded so the functions' environment stays within Lambda's
   * 4 KB. @default {} (every chat uses the deployment prompt)
   */
  systemPromptOverrides: z._default(
    systemPromptOverridesSchema.check(
      z.refine((overrides) => Buffer.byteLength(JSON.stringify(overrides)) <= MAX_SYSTEM_PROMPT_OVERRIDES_BYTES, {
        error: `must be at most ${MAX_SYSTEM_PROMPT_OVERRIDES_BYTES} bytes as JSON (Lambda environments hold 4 KB)`,
      }),
    ),
    {},
  ),
  /**
   * Streamed replies (the answer grows in the chat while the model writes). `optOutChats` (`platform:chatId`) get one
   * message per reply. @default {enabled: true, optOutChats: []}
   */
  streaming: z._default(
    z.strictObject({
      enabled: z._default(z.boolean(), true),
      optOutChats: z._default(
        z.array(z.string().check(z.regex(/^(feishu|slack|dingtalk|wecom):[^,\s]+$/, 'must be platform:chatId'))),
        [],
      ),
    }),
    { enabled: true, optOutChats: [] },
  ),
  /**
   * DingTalk AI-card template with a streaming text variable (docs/platforms/dingtalk.md); without it DingTalk
   * replies are one message. @default none
   */
  dingtalkCardTemplateId: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  /** The template's streaming variable. @default msgContent */
  dingtalkCardContentKey: z.optional(z.string().check(z.regex(/^\w{1,64}$/, 'must be a template variable name'))),
  /**
   * Feishu Open Platform origin the worker and the stream sweeper call (`FEISHU_API_BASE_URL`); Lark (international)
   * tenants use `https://open.larksuite.com`. @default https://open.feishu.cn
   */
  feishuApiBaseUrl: z._default(httpsOrigin, FEISHU_DEFAULT_API_BASE_URL),
  /**
   * Third-party skills and which skills each group may use (docs/SKILLS.md), handed to the worker and chat-api as
   * `SKILLS`: `{"remote": [{"name", "description", "functionArn", "commands"?, "pattern"?, "timeoutMs"?}], "groups"?:
   * {"*" | "platform:chatId": ["cost", "<skill>"]}}`. Each skill's function is granted `lambda:InvokeFunction` on
   * exactly its ARN. @default none: the built-in commands only
   */
  skills: z.optional(deployedSkillsSchema),
  /**
   * Knowledge bases (docs/KNOWLEDGE.md): `{"bases": [{"id", "title", "prefix", "urlBase"?, "groups"}]}`, validated by
   * the functions' own schema (functions/config/knowledge-config.ts). With at least one base the stack builds the
   * documents bucket, the Aurora Serverless v2 PostgreSQL (pgvector) store, the ingestion function and the `knowledge`
   * skill, enabled for the bases' groups; `embedding` is then required. @default none: nothing of it is built
   */
  knowledgeBases: z.optional(knowledgeConfigSchema),
  /**
   * The private embedding model of the knowledge bases: `{"url": "https://…", "model", "dimensions",
   * "apiKeySecretName"?}` (an OpenAI-compatible server's root: `/v1/embeddings` is appended) or `{"endpointName":
   * "…", "model", "dimensions"}` (a SageMaker endpoint). Required with `knowledgeBases`. @default none
   */
  embedding: z.optional(embeddingSchema),
  /** Capacity of the knowledge store (Aurora Serverless v2). @default {minCapacity: 0, maxCapacity: 4, autoPauseSeconds: 300} */
  knowledgeDatabase: z._default(knowledgeDatabaseSchema, DEFAULT_KNOWLEDGE_DATABASE),
  /**
   * Datasets of the data skill (`/data`, `/sql`): `[{"name", "title", "description"?, "key"}]`, CSV objects at
   * `datasets/<key>` in the knowledge bucket; builds the data skill's function (DuckDB), enabled for `dataGroups`.
   * @default none: no data skill
   */
  dataDatasets: z.optional(
    z.array(dataDatasetSchema).check(
      z.minLength(1),
      z.maxLength(MAX_DATA_DATASETS),
      z.refine((list) => new Set(list.map((d) => d.name)).size === list.length, 'must not repeat a dataset name'),
    ),
  ),
  /** Who may use the data skill: `*`, `platform:*` or `platform:chatId` entries. Required with `dataDatasets`. */
  dataGroups: z.optional(z.array(groupEntrySchema).check(z.minLength(1), z.maxLength(200))),
  /**
   * Long-connection mode (issue 18, docs/OPERATIONS.md "Long-connection mode"): `{"platforms": ["slack", "dingtalk"],
   * "desiredCount": 2}` builds the connector, an ECS Fargate service (arm64, 0.25 vCPU, 0.5 GB per task) holding an
   * outbound WebSocket per platform and feeding the same ingest path as the webhook. Each platform must be in
   * `enabledPlatforms`. WeCom's socket also carries the replies: the stack adds the relay queue the worker writes them
   * to. @default none: every platform by its webhook
   */
  longConnection: z.optional(longConnectionSchema),
  /**
   * Voice messages (issue 20, docs/VOICE.md): `{"asr": "transcribe" | "sagemaker-whisper" | "off", "asrEndpointName"?,
   * "languages"?, "maxSeconds"?, "tts"?: "polly", "pollyEngine"?, "maxSpeechChars"?, "replyChats"?}`. The worker
   * transcribes voice messages (Feishu `audio`, Slack audio files, DingTalk audio without DingTalk's own transcript)
   * and answers the words; it is granted
   * `transcribe:StartStreamTranscriptionWebSocket`, or `sagemaker:InvokeEndpoint` on exactly the Whisper endpoint; with
   * `tts: "polly"` the answers in `replyChats` (Feishu, Slack or DingTalk chats) are also spoken
   * (`polly:SynthesizeSpeech`).
   * @default none: voice messages are answered with a note that voice is not enabled
   */
  voice: z.optional(voiceSchema),
});

/** Without `primaryModel` the stack builds the SageMaker endpoint, whose weights are then required. */
const sageMakerConfigSchema = z.extend(appConfigSchema, { modelS3Uri: modelS3UriSchema });

/** Every top-level key the configuration accepts, in schema order. */
const CONFIG_KEYS: readonly string[] = Object.keys(appConfigSchema.shape);

export type AppConfig = Readonly<z.output<typeof appConfigSchema>>;
export type AppConfigInput = z.input<typeof appConfigSchema>;

/** Checks that need several keys; each runs only when its keys have the right types, so problems are not doubled. */
function crossKeyProblems(raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const { minInstances, maxInstances, enabledPlatforms, platformSecretArns, primaryModel, fallbackModel } = raw;
  if (typeof minInstances === 'number' && typeof maxInstances === 'number' && minInstances > maxInstances) {
    problems.push(`minInstances: ${minInstances} is greater than maxInstances (${maxInstances})`);
  }
  if (Array.isArray(enabledPlatforms) && platformSecretArns && typeof platformSecretArns === 'object') {
    for (const platform of Object.keys(platformSecretArns)) {
      if ((PLATFORMS as readonly string[]).includes(platform) && !enabledPlatforms.includes(platform)) {
        problems.push(`platformSecretArns.${platform}: platform is not in enabledPlatforms`);
      }
    }
  }
  const primaryId = (primaryModel as { modelId?: unknown } | undefined)?.modelId ?? PRIMARY_MODEL_ID;
  const fallbackId = (fallbackModel as { modelId?: unknown } | undefined)?.modelId;
  if (fallbackId === primaryId) {
    problems.push(
      `fallbackModel.modelId: "${fallbackId}" is the primary model's id; the backup's answers would be cached and billed as the primary's`,
    );
  }
  if (primaryModel !== undefined) problems.push(...sageMakerOnlyProblems(raw));
  problems.push(...longConnectionProblems(raw));
  return problems;
}

/**
 * Each long-connection platform must be enabled (its secret and adapter exist only then) and have a connector client.
 * Read from the raw input like the other cross-key checks, so these are listed beside every other problem.
 */
function longConnectionProblems(raw: Record<string, unknown>): string[] {
  const platforms = isRecord(raw.longConnection) ? raw.longConnection.platforms : undefined;
  if (!Array.isArray(platforms)) return [];
  const enabled: readonly unknown[] = Array.isArray(raw.enabledPlatforms) ? raw.enabledPlatforms : PLATFORMS;
  const problems: string[] = [];
  for (const platform of new Set(platforms)) {
    if (typeof platform !== 'string' || !(PLATFORMS as readonly string[]).includes(platform)) continue;
    if (!isDeployableLongConnection(platform)) {
      problems.push(`longConnection.platforms: ${platform} has no long-connection client`);
    }
    if (!enabled.includes(platform)) {
      problems.push(`longConnection.platforms: ${platform} is not in enabledPlatforms`);
    }
  }
  return problems;
}

/**
 * The JSON the stack puts in the pipeline functions' environment beside the other settings: `SKILLS` as deployed (the
 * configured skills plus the knowledge and data skills the stack builds, with the longest ARN their functions can
 * have: `HOUSE_SKILL_PLACEHOLDER_ARN`) and `systemPromptOverrides` share what Lambda's 4 KB leaves. Also the JSON of
 * the knowledge and data functions' own environments. Checked on the parsed values, so each is measured as deployed.
 */
function environmentProblems(config: z.output<typeof appConfigSchema>): string[] {
  // Without its groups the data skill cannot be composed; `featureProblems` names the missing key.
  if (config.dataDatasets !== undefined && config.dataGroups === undefined) return [];
  let skills: SkillsConfig | undefined;
  try {
    skills = deployedSkills(config, placeholderArns(config));
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  const problems = [...houseSkillProblems(config, skills), ...functionEnvProblems(config)];
  if (skills === undefined || problems.length > 0) return problems;
  const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));
  const skillBytes = bytes(skills);
  const overrides = Object.keys(config.systemPromptOverrides).length > 0 ? bytes(config.systemPromptOverrides) : 0;
  if (skillBytes + overrides <= MAX_SYSTEM_PROMPT_OVERRIDES_BYTES) return [];
  const added =
    skills === config.skills ? '' : ` (with the ${houseSkillNames(config).join(' and ')} skill the stack adds)`;
  return [
    `skills: ${skillBytes} bytes as JSON${added}${overrides > 0 ? ` plus ${overrides} of systemPromptOverrides` : ''}; ` +
      `at most ${MAX_SYSTEM_PROMPT_OVERRIDES_BYTES} fit beside the other settings (Lambda environments hold 4 KB): ` +
      'shorten descriptions, drop skills, or name fewer groups (platform:* or *)',
  ];
}

/**
 * The composed `SKILLS` checked with the deployed schema: a configured skill named like a house skill, or one of its
 * commands, is a clash the functions would refuse at their first cold start; here it fails the synth instead.
 */
function houseSkillProblems(config: z.output<typeof appConfigSchema>, skills: SkillsConfig | undefined): string[] {
  if (skills === undefined || skills === config.skills) return [];
  const result = deployedSkillsSchema.safeParse(skills);
  if (result.success) return [];
  const names = houseSkillNames(config).join(' and ');
  return result.error.issues.map(
    (issue) => `skills (with the ${names} skill the stack adds): ${issue.path.join('.')}: ${issue.message}`,
  );
}

/**
 * `KNOWLEDGE_BASES` and `DATA_DATASETS` each get half of Lambda's 4 KB: the rest of those functions' environment
 * (database and secret ARNs, the embedding model's url, model and key name, Powertools) is bounded by the schemas to
 * well under 1.5 KB.
 */
export const MAX_KNOWLEDGE_ENV_JSON_BYTES = 2048;

function functionEnvProblems(config: z.output<typeof appConfigSchema>): string[] {
  const problems: string[] = [];
  const limit = MAX_KNOWLEDGE_ENV_JSON_BYTES;
  if (config.knowledgeBases !== undefined) {
    const bytes = Buffer.byteLength(JSON.stringify(config.knowledgeBases));
    if (bytes > limit) {
      problems.push(
        `knowledgeBases: ${bytes} bytes as JSON; at most ${limit} fit in the knowledge functions' environment ` +
          '(Lambda environments hold 4 KB): name fewer groups (platform:* or *) or shorten titles',
      );
    }
  }
  if (config.dataDatasets !== undefined) {
    // Measured as deployed: with `datasets/` before each key and the longest bucket name there is.
    const bytes = Buffer.byteLength(JSON.stringify(dataDatasetsEnv(config.dataDatasets, 'b'.repeat(63))));
    if (bytes > limit) {
      problems.push(
        `dataDatasets: ${bytes} bytes as deployed; at most ${limit} fit in the data skill's environment (Lambda ` +
          'environments hold 4 KB): shorten descriptions or register fewer datasets',
      );
    }
  }
  return problems;
}

export type DataDatasetConfig = NonNullable<AppConfig['dataDatasets']>[number];

/** `DATA_DATASETS` of the data skill's function: each dataset with its object in the knowledge bucket. */
export function dataDatasetsEnv(
  datasets: readonly DataDatasetConfig[],
  bucket: string,
): { name: string; title: string; description?: string; s3: { bucket: string; key: string } }[] {
  return datasets.map((d) => ({
    name: d.name,
    title: d.title,
    ...(d.description === undefined ? {} : { description: d.description }),
    s3: { bucket, key: `${DATASETS_PREFIX}${d.key}` },
  }));
}

/** The remote skills the stack builds itself, besides the configured ones. */
export const KNOWLEDGE_SKILL = {
  description: 'Answers from the company knowledge bases, with cited sources',
  /** Retrieval is one embedding call and one SQL query; an Aurora resuming from a pause takes longer and is skipped. */
  timeoutMs: 5000,
} as const;
export const DATA_SKILL = {
  name: 'data',
  description: 'Answers questions about registered datasets with SQL: /data lists them, /sql runs your own SELECT',
  /** functions/data-analysis/data-skill.ts: `/数据` is `/data` (not imported: that module loads DuckDB). */
  commands: ['/data', '/数据', '/sql'],
  /** The most a skill may take: the model writes the SQL (once more if it fails), then DuckDB runs it. */
  timeoutMs: MAX_SKILL_TIMEOUT_MS,
  /** A CSV/XLSX shared with `/data` or `/sql` is the table asked about (issue 17; docs/SKILLS.md). */
  acceptsFiles: true,
} as const;

/** The ARNs of the skill functions the stack built (deploy-time tokens in the stack). */
export interface HouseSkillArns {
  readonly knowledge?: string;
  readonly data?: string;
}

/**
 * The longest ARN a function of the stack can have, in the configured skills' partition (the stack's, or the
 * deployment is refused): Lambda names are at most 64 characters, and the region is padded past every real one and
 * the longest partition name, so the size check errs on the safe side.
 */
function placeholderArns(config: z.output<typeof appConfigSchema>): HouseSkillArns {
  const first = config.skills?.remote.find((s) => s.functionArn !== undefined)?.functionArn;
  const arn = `arn:${first === undefined ? 'aws' : partitionOf(first)}:lambda:xx-placeholder-region-1:123456789012:function:${'f'.repeat(64)}`;
  return { knowledge: arn, data: arn };
}

function houseSkillNames(config: Pick<AppConfig, 'knowledgeBases' | 'dataDatasets'>): string[] {
  return [
    ...(hasKnowledgeBases(config) ? [KNOWLEDGE_SKILL_NAME] : []),
    ...(config.dataDatasets === undefined ? [] : [DATA_SKILL.name]),
  ];
}

/** Whether the stack builds the knowledge bases (an empty `bases` list builds nothing). */
export function hasKnowledgeBases(config: Pick<AppConfig, 'knowledgeBases'>): boolean {
  return (config.knowledgeBases?.bases.length ?? 0) > 0;
}

/**
 * `SKILLS` as the pipeline functions get it: the configured skills, plus the knowledge skill for the groups of the
 * knowledge bases (`withKnowledgeSkill`) and the data skill for `dataGroups`, each invoked by its function's ARN.
 * Undefined when there is nothing beyond the default.
 * @throws Error when the configuration asks for a skill whose ARN is not given (the stack did not build it).
 */
export function deployedSkills(
  config: Pick<AppConfig, 'skills' | 'knowledgeBases' | 'dataDatasets' | 'dataGroups'>,
  arns: HouseSkillArns,
): SkillsConfig | undefined {
  let skills = config.skills;
  if (hasKnowledgeBases(config) && config.knowledgeBases !== undefined) {
    if (arns.knowledge === undefined) throw new Error('knowledgeBases are configured but no knowledge skill was built');
    skills = withKnowledgeSkill(skills ?? { remote: [] }, config.knowledgeBases, {
      name: KNOWLEDGE_SKILL_NAME,
      ...KNOWLEDGE_SKILL,
      functionArn: arns.knowledge,
    });
  }
  if (config.dataDatasets !== undefined) {
    if (arns.data === undefined || config.dataGroups === undefined) {
      throw new Error('dataDatasets are configured but no data skill was built, or dataGroups is missing');
    }
    const { name, description, commands, timeoutMs, acceptsFiles } = DATA_SKILL;
    skills = withSkillForGroups(skills ?? { remote: [] }, config.dataGroups, {
      name,
      description,
      commands: [...commands],
      timeoutMs,
      acceptsFiles,
      functionArn: arns.data,
    });
  }
  return skills;
}

/**
 * `skills` with `skill` appended and enabled exactly where an entry of `entries` admits the group, keeping each
 * group's other skills: the rule `withKnowledgeSkill` applies to the knowledge bases' groups (see there).
 */
function withSkillForGroups(skills: SkillsConfig, entries: readonly string[], skill: RemoteSkillConfig): SkillsConfig {
  const covered = (key: string) => entries.some((entry) => groupEntryCovers(entry, key));
  const before = skills.groups ?? { '*': [...enabledSkillsFor(skills, '*')] };
  const groups: Record<string, string[]> = {};
  for (const [key, names] of Object.entries(before)) {
    groups[key] = covered(key) && !names.includes(skill.name) ? [...names, skill.name] : [...names];
  }
  for (const entry of new Set(entries)) {
    if (groups[entry] !== undefined) continue;
    const inherited = [...enabledSkillsFor({ ...skills, groups: before }, entry)];
    groups[entry] = [...inherited.filter((name) => name !== skill.name), skill.name];
  }
  return { ...skills, remote: [...skills.remote, skill], groups };
}

/** Whether every group the `key` entry stands for is admitted by `entry`. */
function groupEntryCovers(entry: string, key: string): boolean {
  if (entry === '*') return true;
  if (key === '*') return false;
  if (key.endsWith(':*')) return entry === key;
  return groupEntryAdmits(entry, key);
}

/**
 * The knowledge bases' and the data skill's keys that need one another, or would do nothing. Read from the raw input
 * like `crossKeyProblems`, so they are listed with every other problem.
 */
function featureProblems(raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const basesValue = isRecord(raw.knowledgeBases) ? raw.knowledgeBases.bases : undefined;
  const bases: readonly unknown[] = Array.isArray(basesValue) ? basesValue : [];
  if (bases.length > 0 && raw.embedding === undefined) {
    problems.push(
      'embedding: is required with knowledgeBases (the private embedding model: {"url" or "endpointName", "model", ' +
        '"dimensions"})',
    );
  }
  if (bases.length === 0) {
    for (const key of ['embedding', 'knowledgeDatabase'] as const) {
      if (raw[key] !== undefined) problems.push(`${key}: configures the knowledge bases, but knowledgeBases has none`);
    }
  }
  bases.forEach((base, i) => {
    const prefix = isRecord(base) ? base.prefix : undefined;
    if (typeof prefix === 'string' && prefix.includes('*')) {
      problems.push(
        `knowledgeBases.bases.${i}.prefix: ${prefix} contains *, a wildcard in the IAM grant of the base's documents: ` +
          'ingestion could read other prefixes',
      );
    }
    if (typeof prefix === 'string' && (prefix.startsWith(DATASETS_PREFIX) || DATASETS_PREFIX.startsWith(prefix))) {
      problems.push(
        `knowledgeBases.bases.${i}.prefix: ${prefix} overlaps ${DATASETS_PREFIX}, where the data skill's datasets are kept`,
      );
    }
  });
  const database = isRecord(raw.knowledgeDatabase) ? raw.knowledgeDatabase : {};
  const min = database.minCapacity ?? DEFAULT_KNOWLEDGE_DATABASE.minCapacity;
  const max = database.maxCapacity ?? DEFAULT_KNOWLEDGE_DATABASE.maxCapacity;
  if (typeof min === 'number' && typeof max === 'number' && min > max) {
    problems.push(`knowledgeDatabase.minCapacity: ${min} is greater than maxCapacity (${max})`);
  }
  if (typeof min === 'number' && min > 0 && database.autoPauseSeconds !== undefined) {
    problems.push('knowledgeDatabase.autoPauseSeconds: Aurora pauses only with minCapacity 0');
  }
  if (raw.dataDatasets !== undefined && raw.dataGroups === undefined) {
    problems.push(
      'dataGroups: is required with dataDatasets (who may use /data and /sql: *, platform:* or platform:chatId)',
    );
  }
  if (raw.dataDatasets !== undefined && raw.primaryModel !== undefined) {
    problems.push(
      'dataDatasets: the data skill has the SageMaker endpoint write its SQL; with primaryModel (an OpenAI-compatible ' +
        'server) the stack builds no endpoint for it',
    );
  }
  if (raw.dataGroups !== undefined && raw.dataDatasets === undefined) {
    problems.push('dataGroups: names who may use the data skill, but dataDatasets registers no dataset');
  }
  return problems;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The SageMaker-only keys set beside `primaryModel`: no endpoint is built, so each would do nothing. Read from the
 * raw input: after parsing, a key the operator set cannot be told from one left at its default.
 */
function sageMakerOnlyProblems(raw: Record<string, unknown>): string[] {
  return SAGEMAKER_ONLY_KEYS.filter((key) => raw[key] !== undefined).map(
    (key) =>
      `${key}: configures the SageMaker endpoint, which primaryModel replaces (none is built); remove it from the ` +
      `${CONTEXT_KEY} object in cdk.json, or unset it for one command with -c ${CONTEXT_KEY}:${key}=''`,
  );
}

/** The keys of the object the schema expects at `path` (through defaults and optionals); empty where none is. */
function keysAt(path: readonly PropertyKey[]): readonly string[] {
  let schema: $ZodType | undefined = appConfigSchema;
  for (const segment of path) {
    if (typeof segment === 'string') schema = objectShape(schema)?.[segment];
    else {
      // An array index (`skills.remote.0`): the element schema.
      const inner = unwrapped(schema);
      schema = inner instanceof z.ZodMiniArray ? inner._zod.def.element : undefined;
    }
  }
  return Object.keys(objectShape(schema) ?? {});
}

function objectShape(schema: $ZodType | undefined): Record<string, $ZodType> | undefined {
  const inner = unwrapped(schema);
  return inner instanceof z.ZodMiniObject ? inner.shape : undefined;
}

/** The schema under its defaults and optionals. */
function unwrapped(schema: $ZodType | undefined): $ZodType | undefined {
  let inner = schema;
  while (inner instanceof z.ZodMiniDefault || inner instanceof z.ZodMiniOptional) inner = inner._zod.def.innerType;
  return inner;
}

/** `<prefix><typed>: unknown key`, naming the known key it most likely meant (`<prefix><key>`) when one is close. */
function unknownKeyProblem(prefix: string, typed: string, known: readonly string[]): string {
  const suggestion = nearestKey(typed, known);
  return `${prefix}${typed}: unknown key${suggestion === undefined ? '' : `; did you mean \`${prefix}${suggestion}\`?`}`;
}

function describeIssue(issue: $ZodIssue): string[] {
  const key = issue.path.join('.') || '(root)';
  if (issue.code === 'unrecognized_keys') {
    const known = keysAt(issue.path);
    return issue.keys.map((k) => unknownKeyProblem(issue.path.length ? `${key}.` : '', k, known));
  }
  return [`${key}: ${issue.message}`];
}

/**
 * Validates a raw configuration object. Throws one ConfigError listing every problem, each prefixed with its key.
 * Pure: no CDK dependency, so tests and tools can call it directly.
 */
export function parseAppConfig(raw: unknown): AppConfig {
  return validated(raw, []);
}

/** `parseAppConfig`, with problems found before the object was assembled (unknown flags) listed first. */
function validated(raw: unknown, earlierProblems: readonly string[]): AppConfig {
  const input = raw ?? {};
  const withPrimaryModel =
    typeof input === 'object' && (input as { primaryModel?: unknown }).primaryModel !== undefined;
  const result = (withPrimaryModel ? appConfigSchema : sageMakerConfigSchema).safeParse(input);
  const problems = [
    ...earlierProblems,
    ...(result.success ? environmentProblems(result.data) : result.error.issues.flatMap(describeIssue)),
    ...(typeof input === 'object' && !Array.isArray(input) ? crossKeyProblems(input as Record<string, unknown>) : []),
    ...(typeof input === 'object' && !Array.isArray(input) ? featureProblems(input as Record<string, unknown>) : []),
  ];
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return Object.freeze(result.data);
}

const LIST_KEYS = new Set(['enabledPlatforms', 'allowedCidrs']);

/** A flat `-c groupgate:key=value` arrives as a string: JSON if it parses, else a comma list for array keys. */
function coerceFlag(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return LIST_KEYS.has(key) ? value.split(',').map((s) => s.trim()) : value;
  }
}

function contextObject(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value === 'string') {
    try {
      return contextObject(JSON.parse(value));
    } catch {
      throw new ConfigError([`${CONTEXT_KEY}: context value is not valid JSON`]);
    }
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError([`${CONTEXT_KEY}: context value must be an object`]);
  }
  return { ...(value as Record<string, unknown>) };
}

/**
 * Every `-c groupgate:<key>` flag whose key the schema does not accept. The rest of the context (CDK feature flags
 * in cdk.json, other apps' keys) is not GroupGate's and is left alone.
 */
function unknownFlagProblems(node: Node): string[] {
  const prefix = `${CONTEXT_KEY}:`;
  const context: Record<string, unknown> = node.getAllContext();
  return Object.keys(context)
    .filter((name) => name.startsWith(prefix) && !CONFIG_KEYS.includes(name.slice(prefix.length)))
    .map((name) => unknownKeyProblem(prefix, name.slice(prefix.length), CONFIG_KEYS));
}

/**
 * Reads the configuration from CDK context: the `groupgate` object (cdk.json "context" or `-c groupgate='{...}'`),
 * overlaid key by key with flat `-c groupgate:<key>=<value>` flags. An empty flag (`-c groupgate:<key>=''`) removes
 * the key, as if the object did not set it: no key accepts an empty value, and this is how a command unsets a key
 * cdk.json sets (the SageMaker keys beside `primaryModel`). A flag with an unknown key is a problem like any other: a
 * mistyped flag would otherwise leave its key at the default without a word.
 */
export function readAppConfig(node: Node): AppConfig {
  const base = contextObject(node.tryGetContext(CONTEXT_KEY));
  for (const key of CONFIG_KEYS) {
    const flag = node.tryGetContext(`${CONTEXT_KEY}:${key}`);
    if (flag === '') delete base[key];
    else if (flag !== undefined) base[key] = coerceFlag(key, flag);
  }
  return validated(base, unknownFlagProblems(node));
}

/** SageMakerVariantInvocationsPerInstance counts invocations per minute per instance. */
export function invocationsPerInstanceTarget(config: AppConfig): number {
  const capacityPerMinute = (config.maxConcurrentRequestsPerInstance * 60) / config.meanInvocationSeconds;
  return Math.max(1, Math.round(capacityPerMinute * config.targetUtilisation));
}
