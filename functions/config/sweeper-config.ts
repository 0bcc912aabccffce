import * as z from 'zod';
import type { ReplyLimits } from '#platforms/shared/reply-text';
import { PLATFORMS, type PlatformName } from '#platforms/types';
import { ENV } from './env-names';
import { parseEnv, splitList } from './runtime-config';

/**
 * Settings of the stream sweeper (`handlers/stream-sweeper.ts`), validated once per cold start. It reuses the
 * worker's variable names: it reaches the same platforms, with the same credentials, reply limits and origins.
 */
const schema = z.object({
  [ENV.enabledPlatforms]: z
    .string()
    .transform((s) => splitList(s))
    .pipe(z.array(z.enum(PLATFORMS)).min(1)),
  [ENV.eventsTable]: z.string().min(3),
  [ENV.replyHandleOrigins]: z.string().optional(),
  // The sweeper's lease on one event: longer than its own Lambda timeout (a live sweeper cannot outlast it), short
  // enough that a surface it failed on is due again at the next run or the one after.
  [ENV.claimLeaseSeconds]: z.coerce.number().int().min(10).max(900).default(55),
  [ENV.maxReplyChars]: z.coerce.number().int().min(100).max(100_000).default(8_000),
  [ENV.maxReplyMessages]: z.coerce.number().int().min(1).max(20).default(4),
  AWS_REGION: z.string().min(1).default('us-east-1'),
});

export interface SweeperConfig {
  readonly enabledPlatforms: readonly PlatformName[];
  readonly eventsTable: string;
  readonly replyHandleOrigins: readonly string[];
  readonly leaseMs: number;
  readonly replyLimits: ReplyLimits;
  readonly region: string;
}

/** @throws ConfigError naming every bad variable. */
export function loadSweeperConfig(env: Readonly<Record<string, string | undefined>>): SweeperConfig {
  const c = parseEnv(schema, env);
  return Object.freeze({
    enabledPlatforms: c[ENV.enabledPlatforms],
    eventsTable: c[ENV.eventsTable],
    replyHandleOrigins: splitList(c[ENV.replyHandleOrigins]),
    leaseMs: c[ENV.claimLeaseSeconds] * 1000,
    replyLimits: { maxChars: c[ENV.maxReplyChars], maxMessages: c[ENV.maxReplyMessages] },
    region: c.AWS_REGION,
  });
}
