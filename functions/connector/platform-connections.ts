import { ENV } from '#config/env-names';
import { ConfigError } from '#core/errors';
import { loadCredentials } from '#platforms/credentials';
import { dingtalkCredentials } from '#platforms/dingtalk/credentials';
import { feishuCredentials } from '#platforms/feishu/credentials';
import { slackCredentials } from '#platforms/slack/credentials';
import type { PlatformName } from '#platforms/types';
import type { BackoffPolicy } from './backoff';
import type { ConnectorLogger } from './connector-logger';
import { dingtalkStreamSession } from './dingtalk-stream';
import { feishuWsSession } from './feishu-ws';
import type { DeliverySemantics, LongConnection } from './long-connection';
import type { OpenSession } from './session';
import { slackSocketModeSession } from './slack-socket-mode';
import { superviseConnection } from './supervisor';
import type { Timers } from './timers';
import { createWecomConnection, type WecomConnectionTuning } from './wecom-connection';

/** The platforms with a long-connection client (issue 18). */
export const LONG_CONNECTION_PLATFORMS = [
  'feishu',
  'slack',
  'dingtalk',
  'wecom',
] as const satisfies readonly PlatformName[];
export type LongConnectionPlatform = (typeof LONG_CONNECTION_PLATFORMS)[number];

export function isLongConnectionPlatform(name: string): name is LongConnectionPlatform {
  return (LONG_CONNECTION_PLATFORMS as readonly string[]).includes(name);
}

type Env = Readonly<Record<string, string | undefined>>;

export interface LongConnectionBuildOptions {
  readonly logger: ConnectorLogger;
  readonly timers?: Timers;
  readonly random?: () => number;
  readonly backoff?: BackoffPolicy;
  readonly openTimeoutMs?: number;
  /** Reads a Secrets Manager secret as JSON (`loadCredentials`); Powertools Parameters unless given. */
  readonly fetchSecret?: (id: string) => Promise<unknown>;
  /** DingTalk's and Feishu's discovery calls (tests). @default fetch */
  readonly fetch?: typeof fetch;
  /** WebSocket keep-alive ping interval of the hand-rolled clients, ms (0: off). */
  readonly keepAliveMs?: number;
  /** WeCom's lease and relay timings (tests, the sandbox). */
  readonly wecom?: WecomConnectionTuning;
}

/** A platform whose connection is the supervisor over its session opener. */
interface PlatformClient {
  readonly delivery: DeliverySemantics;
  open(env: Env, options: LongConnectionBuildOptions): Promise<OpenSession>;
}

/** A platform whose connection is built whole: WeCom's, leased and carrying the reply relay. */
interface LeasedPlatformClient {
  connect(env: Env, options: LongConnectionBuildOptions): Promise<LongConnection>;
}

/**
 * Each platform's client and what it does with unacknowledged deliveries. Credentials are the webhook's secret (same
 * `<PLATFORM>_SECRET_ID`, or env variables locally); API origins follow `<PLATFORM>_API_BASE_URL` as the adapters do.
 */
const CLIENTS: { readonly [P in LongConnectionPlatform]: PlatformClient | LeasedPlatformClient } = {
  feishu: {
    // Feishu pushes an event again when its ack did not come within 3 s (15 s, 5 min, 1 h, 6 h later; §3.1).
    delivery: 'redelivered',
    open: async (env, options) => {
      // The webhook's secret: App ID and App Secret buy the socket URL; the other keys serve the adapter.
      const load = () => loadCredentials(feishuCredentials, env, options.fetchSecret);
      await load();
      return async (callbacks, signal) => {
        const { appId, appSecret } = await load();
        return feishuWsSession({
          appId,
          appSecret,
          ...(env[ENV.feishuApiBaseUrl] ? { apiBaseUrl: env[ENV.feishuApiBaseUrl] } : {}),
          logger: options.logger,
          ...(options.timers ? { timers: options.timers } : {}),
          ...(options.fetch ? { fetch: options.fetch } : {}),
        })(callbacks, signal);
      };
    },
  },
  slack: {
    // Slack retries an envelope that was not acknowledged (`retry_attempt`, `retry_reason`).
    delivery: 'redelivered',
    open: async (env, options) => {
      const appToken = async () => {
        const { appToken } = await loadCredentials(slackCredentials, env, options.fetchSecret);
        if (!appToken) {
          throw new ConfigError([
            `Slack Socket Mode needs the app-level token: appToken in ${ENV.slackSecretId} (locally SLACK_APP_TOKEN)`,
          ]);
        }
        return appToken;
      };
      await appToken();
      return async (callbacks, signal) =>
        slackSocketModeSession({
          appToken: await appToken(),
          ...(env[ENV.slackApiBaseUrl] ? { apiBaseUrl: env[ENV.slackApiBaseUrl] } : {}),
          logger: options.logger,
        })(callbacks, signal);
    },
  },
  dingtalk: {
    // Robot messages are "fire-forgot": never pushed again, acknowledged or not (§3.1).
    delivery: 'fire-and-forget',
    open: async (env, options) => {
      const load = () => loadCredentials(dingtalkCredentials, env, options.fetchSecret);
      await load();
      return async (callbacks, signal) => {
        const credentials = await load();
        return dingtalkStreamSession({
          clientId: credentials.appKey,
          clientSecret: credentials.appSecret,
          ...(env[ENV.dingtalkApiBaseUrl] ? { apiBaseUrl: env[ENV.dingtalkApiBaseUrl] } : {}),
          logger: options.logger,
          ...(options.timers ? { timers: options.timers } : {}),
          ...(options.fetch ? { fetch: options.fetch } : {}),
          ...(options.keepAliveMs === undefined ? {} : { keepAliveMs: options.keepAliveMs }),
        })(callbacks, signal);
      };
    },
  },
  wecom: {
    connect: (env, options) =>
      createWecomConnection(env, {
        logger: options.logger,
        ...(options.fetchSecret ? { fetchSecret: options.fetchSecret } : {}),
        supervisor: supervisorSettings(options),
        ...(options.wecom ? { tuning: options.wecom } : {}),
      }),
  },
};

function supervisorSettings(options: LongConnectionBuildOptions) {
  return {
    ...(options.timers ? { timers: options.timers } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.backoff ? { backoff: options.backoff } : {}),
    ...(options.openTimeoutMs === undefined ? {} : { openTimeoutMs: options.openTimeoutMs }),
  };
}

/**
 * One supervised long connection per platform, credentials loaded and checked first: a missing app token fails here,
 * at start, naming the setting. Every open reads them again (Powertools caches a secret for 5 minutes), so credentials
 * rotated in Secrets Manager are used by the next reconnect without a restart.
 * @throws ConfigError
 */
export async function createLongConnections(
  platforms: readonly LongConnectionPlatform[],
  env: Env,
  options: LongConnectionBuildOptions,
): Promise<LongConnection[]> {
  return Promise.all(
    platforms.map(async (platform) => {
      const client = CLIENTS[platform];
      if ('connect' in client) return client.connect(env, options);
      return superviseConnection({
        platform,
        delivery: client.delivery,
        open: await client.open(env, options),
        logger: options.logger,
        ...supervisorSettings(options),
      });
    }),
  );
}
