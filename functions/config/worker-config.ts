import * as z from 'zod';
import { type ConversationScopeConfig, conversationScopeConfigSchema } from '#core/context-scope';
import type { ReplyLimits } from '#platforms/shared/reply-text';
import { PLATFORMS, type PlatformName } from '#platforms/types';
import { ENV } from './env-names';
import { jsonValue, type PipelineConfig, pipelineEnvShape, toPipelineConfig } from './pipeline-config';
import { parseEnv, splitList } from './runtime-config';
import { type StreamingConfig, streamingEnvShape, toStreamingConfig } from './streaming';

export { DEFAULT_SYSTEM_PROMPT } from './pipeline-config';

const schema = z.object({
  ...pipelineEnvShape,
  [ENV.enabledPlatforms]: z
    .string()
    .transform((s) => splitList(s))
    .pipe(z.array(z.enum(PLATFORMS)).min(1)),
  [ENV.eventsTable]: z.string().min(3),
  [ENV.contextScopes]: jsonValue.pipe(conversationScopeConfigSchema).optional(),
  [ENV.replyHandleOrigins]: z.string().optional(),
  // A claim outlives its holder only until the Lambda timeout has surely passed (a live worker cannot run longer),
  // and must end before SQS redelivers (visibility = 6 × timeout), so a redelivery after a crash finds it expired.
  [ENV.claimLeaseSeconds]: z.coerce.number().int().min(10).default(90),
  // A model answer is cut to this many characters (with a visible note) before the platform split; the floor leaves
  // room for the note, the ceiling keeps even a Slack reply within a handful of messages.
  [ENV.maxReplyChars]: z.coerce.number().int().min(100).max(100_000).default(8_000),
  // However long each platform's messages may be, one answer never becomes more than this many.
  [ENV.maxReplyMessages]: z.coerce.number().int().min(1).max(20).default(4),
  ...streamingEnvShape,
  [ENV.streamSweepAfterSeconds]: z.coerce.number().int().min(60).max(86_400).default(1_800),
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
  });
}
