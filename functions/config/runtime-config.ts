import * as z from 'zod';
import { type ConversationScopeConfig, conversationScopeConfigSchema } from '#core/context-scope';
import { ConfigError } from '#core/errors';
import { type TriggerConfig, triggerConfigSchema } from '#core/trigger-rules';
import { PLATFORMS, type PlatformName } from '#platforms/types';
import { ENV } from './env-names';

type Env = Readonly<Record<string, string | undefined>>;

const platformList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(PLATFORMS)).min(1));

const jsonOf = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

const url = z.url({ protocol: /^https?$/ });

const webhookSchema = z.object({
  [ENV.enabledPlatforms]: platformList,
  [ENV.queueUrl]: url,
  [ENV.eventsTable]: z.string().min(3),
  [ENV.maxBodyBytes]: z.coerce
    .number()
    .int()
    .min(1024)
    .max(10 * 1024 * 1024)
    .default(128 * 1024),
  [ENV.triggerRules]: jsonOf(triggerConfigSchema).optional(),
  [ENV.contextScopes]: jsonOf(conversationScopeConfigSchema).optional(),
  [ENV.replyHandleOrigins]: z.string().optional(),
  [ENV.eventRetentionSeconds]: z.coerce.number().int().min(3600).default(86_400),
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
    triggers: c[ENV.triggerRules] ?? {},
    scopes: c[ENV.contextScopes] ?? {},
    replyHandleOrigins: splitList(c[ENV.replyHandleOrigins]),
    eventRetentionSeconds: c[ENV.eventRetentionSeconds],
  });
}

/** Parses with zod and reports every problem at once, each with the variable's name. */
export function parseEnv<T extends z.ZodType>(schema: T, env: Env): z.infer<T> {
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
