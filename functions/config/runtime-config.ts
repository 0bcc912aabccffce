import { type ConversationScopeConfig, conversationScopeConfigSchema } from '#core/context-scope';
import { ConfigError } from '#core/errors';
import { type TriggerConfig, triggerConfigSchema, withVoiceGroupChats } from '#core/trigger-rules';
import { PLATFORMS, type PlatformName } from '#platforms/types';
import * as z from '#shared/zod';
import { ENV } from './env-names';

type Env = Readonly<Record<string, string | undefined>>;

/** A comma-separated list of enabled platforms (`ENABLED_PLATFORMS`), at least one. */
export const platformList = z.pipe(
  z.pipe(
    z.string(),
    z.transform((s: string) => splitList(s)),
  ),
  z.array(z.enum(PLATFORMS)).check(z.minLength(1)),
);

/** A variable holding JSON, parsed; chain the schema of its content with `z.pipe(jsonValue, schema)`. */
export const jsonValue = z.pipe(
  z.string(),
  z.transform((s: string, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.issues.push({ code: 'custom', message: 'is not valid JSON', input: s });
      return z.NEVER;
    }
  }),
);

const url = z.url({ protocol: /^https?$/ });

/** `VOICE_GROUP_CHATS`: comma-separated `platform:chatId` groups of the chat platforms (no `api`: it has no voice). */
const groupChatList = z.pipe(
  z.pipe(
    z.string(),
    z.transform((s: string) => splitList(s)),
  ),
  z.array(
    z.string().check(
      z.regex(new RegExp(`^(${PLATFORMS.join('|')}):.+$`), {
        error: `each entry must be platform:chatId (${PLATFORMS.join(', ')})`,
      }),
    ),
  ),
);

const webhookSchema = z.object({
  [ENV.enabledPlatforms]: platformList,
  [ENV.queueUrl]: url,
  [ENV.eventsTable]: z.string().check(z.minLength(3)),
  [ENV.maxBodyBytes]: z._default(z.coerce.number().check(z.int(), z.gte(1024), z.lte(10 * 1024 * 1024)), 128 * 1024),
  [ENV.triggerRules]: z.optional(z.pipe(jsonValue, triggerConfigSchema)),
  [ENV.voiceGroupChats]: z.optional(groupChatList),
  [ENV.contextScopes]: z.optional(z.pipe(jsonValue, conversationScopeConfigSchema)),
  [ENV.replyHandleOrigins]: z.optional(z.string()),
  [ENV.eventRetentionSeconds]: z._default(z.coerce.number().check(z.int(), z.gte(3600)), 86_400),
});

/** Settings of the webhook function, validated once per cold start. */
export interface WebhookConfig {
  readonly enabledPlatforms: readonly PlatformName[];
  readonly queueUrl: string;
  readonly eventsTable: string;
  readonly maxBodyBytes: number;
  readonly triggers: TriggerConfig;
  readonly scopes: ConversationScopeConfig;
  readonly replyHandleOrigins: readonly string[];
  readonly eventRetentionSeconds: number;
  /** Local stand-ins (sandbox): every AWS client is pointed here. */
}

export function loadWebhookConfig(env: Env): WebhookConfig {
  const c = parseEnv(webhookSchema, env);
  return Object.freeze({
    enabledPlatforms: c[ENV.enabledPlatforms],
    queueUrl: c[ENV.queueUrl],
    eventsTable: c[ENV.eventsTable],
    maxBodyBytes: c[ENV.maxBodyBytes],
    triggers: withVoiceGroupChats(c[ENV.triggerRules] ?? {}, c[ENV.voiceGroupChats] ?? []),
    scopes: c[ENV.contextScopes] ?? {},
    replyHandleOrigins: splitList(c[ENV.replyHandleOrigins]),
    eventRetentionSeconds: c[ENV.eventRetentionSeconds],
  });
}

/** Parses with zod and reports every problem at once, each with the variable's name. */
export function parseEnv<T extends z.ZodMiniType>(schema: T, env: Env): z.infer<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
}

export function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
