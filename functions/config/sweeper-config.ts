import type { ReplyLimits } from '#platforms/shared/reply-text';
import type { PlatformName } from '#platforms/types';
import * as z from '#shared/zod';
import { ENV } from './env-names';
import { parseEnv, platformList, splitList } from './runtime-config';

/**
 * Settings of the stream sweeper (`handlers/stream-sweeper.ts`), validated once per cold start. It reuses the
 * worker's variable names: it reaches the same platforms, with the same credentials, reply limits and origins.
 */
const schema = z.object({
  [ENV.enabledPlatforms]: platformList,
  [ENV.eventsTable]: z.string().check(z.minLength(3)),
  [ENV.replyHandleOrigins]: z.optional(z.string()),
  // The sweeper's lease on one event: longer than its own Lambda timeout (a live sweeper cannot outlast it), short
  // enough that a surface it failed on is due again at the next run or the one after.
  [ENV.claimLeaseSeconds]: z._default(z.coerce.number().check(z.int(), z.gte(10), z.lte(900)), 55),
  [ENV.maxReplyChars]: z._default(z.coerce.number().check(z.int(), z.gte(100), z.lte(100_000)), 8_000),
  [ENV.maxReplyMessages]: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(20)), 4),
  AWS_REGION: z._default(z.string().check(z.minLength(1)), 'us-east-1'),
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
