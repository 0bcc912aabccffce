import { type ConversationScopeConfig, conversationScopeConfigSchema } from '#core/context-scope';
import type { ReplyLimits } from '#platforms/shared/reply-text';
import type { PlatformName } from '#platforms/types';
import * as z from '#shared/zod';
import { ENV } from './env-names';
import { type PipelineConfig, pipelineEnvShape, toPipelineConfig } from './pipeline-config';
import { jsonValue, parseEnv, platformList, splitList } from './runtime-config';
import { type StreamingConfig, streamingEnvShape, toStreamingConfig } from './streaming';
import { toVoiceConfig, type VoiceConfig, voiceEnvShape } from './voice-config';

export { DEFAULT_SYSTEM_PROMPT } from './pipeline-config';

const schema = z.object({
  ...pipelineEnvShape,
  [ENV.enabledPlatforms]: platformList,
  [ENV.eventsTable]: z.string().check(z.minLength(3)),
  [ENV.contextScopes]: z.optional(z.pipe(jsonValue, conversationScopeConfigSchema)),
  [ENV.replyHandleOrigins]: z.optional(z.string()),
  // A claim outlives its holder only until the Lambda timeout has surely passed (a live worker cannot run longer),
  // and must end before SQS redelivers (visibility = 6 × timeout), so a redelivery after a crash finds it expired.
  [ENV.claimLeaseSeconds]: z._default(z.coerce.number().check(z.int(), z.gte(10)), 90),
  // A model answer is cut to this many characters (with a visible note) before the platform split; the floor leaves
  // room for the note, the ceiling keeps even a Slack reply within a handful of messages.
  [ENV.maxReplyChars]: z._default(z.coerce.number().check(z.int(), z.gte(100), z.lte(100_000)), 8_000),
  // However long each platform's messages may be, one answer never becomes more than this many.
  [ENV.maxReplyMessages]: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(20)), 4),
  ...streamingEnvShape,
  [ENV.streamSweepAfterSeconds]: z._default(z.coerce.number().check(z.int(), z.gte(60), z.lte(86_400)), 1_800),
  ...voiceEnvShape,
});

/** Settings of the worker, validated once per cold start: the pipeline's plus the queue-side ones. */
export interface WorkerConfig extends PipelineConfig {
  readonly enabledPlatforms: readonly PlatformName[];
  readonly tables: PipelineConfig['tables'] & { readonly events: string };
  readonly scopes: ConversationScopeConfig;
  readonly replyHandleOrigins: readonly string[];
  readonly claimLeaseMs: number;
  /** Passed to `createEnabledPlatforms({ replyLimits })`. */
  readonly replyLimits: ReplyLimits;
  readonly streaming: StreamingConfig;
  readonly streamSweepAfterMs: number;
  /** Voice messages and spoken answers (docs/VOICE.md). */
  readonly voice: VoiceConfig;
}

export function loadWorkerConfig(env: Readonly<Record<string, string | undefined>>): WorkerConfig {
  const c = parseEnv(schema, env);
  const pipeline = toPipelineConfig(c);
  return Object.freeze({
    ...pipeline,
    enabledPlatforms: c[ENV.enabledPlatforms],
    tables: { ...pipeline.tables, events: c[ENV.eventsTable] },
    scopes: c[ENV.contextScopes] ?? {},
    replyHandleOrigins: splitList(c[ENV.replyHandleOrigins]),
    claimLeaseMs: c[ENV.claimLeaseSeconds] * 1000,
    replyLimits: { maxChars: c[ENV.maxReplyChars], maxMessages: c[ENV.maxReplyMessages] },
    streaming: toStreamingConfig(c),
    streamSweepAfterMs: c[ENV.streamSweepAfterSeconds] * 1000,
    voice: toVoiceConfig(c),
  });
}
