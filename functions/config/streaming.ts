import { ConfigError } from '#core/errors';
import * as z from '#shared/zod';
import { ENV } from './env-names';
import { chatRefList } from './pipeline-config';

/**
 * Whether replies are streamed, per chat. Read by the worker (which opens streaming sessions) and by the webhook
 * (WeCom's answer to a message callback starts a `stream` only where the worker will fill it), so both read the
 * same two variables through this one parser.
 */
export interface StreamingConfig {
  readonly enabled: boolean;
  /** `platform:chatId` entries that get one message per reply. */
  readonly optOutChats: readonly string[];
}

/** The two variables, for config schemas that parse the whole environment at once (the worker's). */
export const streamingEnvShape = {
  [ENV.streaming]: z._default(z.enum(['true', 'false']), 'true'),
  [ENV.streamingOptOut]: z.optional(chatRefList),
};
const streamingEnvSchema = z.object(streamingEnvShape);

/** The config from the parsed variables. */
export function toStreamingConfig(parsed: z.output<typeof streamingEnvSchema>): StreamingConfig {
  return { enabled: parsed[ENV.streaming] === 'true', optOutChats: parsed[ENV.streamingOptOut] ?? [] };
}

/** Throws `ConfigError` naming the variable when either is malformed. */
export function streamingConfigFrom(env: Readonly<Record<string, string | undefined>>): StreamingConfig {
  const parsed = streamingEnvSchema.safeParse({
    [ENV.streaming]: env[ENV.streaming],
    [ENV.streamingOptOut]: env[ENV.streamingOptOut],
  });
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  return toStreamingConfig(parsed.data);
}

/** Whether replies in this chat are streamed (the platform must also support it). */
export function streamsTo(config: StreamingConfig, platform: string, chatId: string): boolean {
  return config.enabled && !config.optOutChats.includes(`${platform}:${chatId}`);
}
