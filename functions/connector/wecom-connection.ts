import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ENV } from '#config/env-names';
import { ConfigError } from '#core/errors';
import { loadCredentials } from '#platforms/credentials';
import { wecomCredentials } from '#platforms/wecom/credentials';
import { type AwsJsonClient, awsJsonClientFromEnv, DYNAMODB, SQS } from '#shared/aws-json-client';
import type { ConnectorLogger } from './connector-logger';
import { dynamoLeaseStore } from './lease';
import { leasedConnection } from './leased-connection';
import type { LongConnection } from './long-connection';
import type { OpenSession } from './session';
import { type SupervisorOptions, superviseConnection } from './supervisor';
import { type WecomAibotSocket, wecomAibotSession } from './wecom-aibot';
import { WECOM_AIBOT_DEFAULT_URL } from './wecom-aibot-frames';
import { type RelayConsumerOptions, startRelayConsumer } from './wecom-relay';

type Env = Readonly<Record<string, string | undefined>>;

/** Timings of the WeCom connection's lease and relay; tests shorten them. */
export interface WecomConnectionTuning {
  readonly leaseMs?: number;
  readonly renewEveryMs?: number;
  readonly supersededPauseMs?: number;
  /** Heartbeat interval of the socket. @default 30000 */
  readonly pingIntervalMs?: number;
  /** How long a reply command waits for WeCom's answer. @default 5000 */
  readonly ackTimeoutMs?: number;
  /** Long poll of the relay queue, seconds. @default 20 */
  readonly relayWaitSeconds?: number;
  readonly relayIdleMs?: number;
  /** Sees every relay frame's outcome (tests, the sandbox). */
  readonly onRelayOutcome?: RelayConsumerOptions['onOutcome'];
}

export interface WecomConnectionOptions {
  readonly logger: ConnectorLogger;
  readonly fetchSecret?: (id: string) => Promise<unknown>;
  /** The supervisor's settings (timers, backoff, jitter, open timeout), as for every platform. */
  readonly supervisor: Omit<SupervisorOptions, 'platform' | 'delivery' | 'open' | 'logger'>;
  readonly tuning?: WecomConnectionTuning;
  /** This replica's id in the lease item. @default `<hostname>/<random uuid>` */
  readonly holderId?: string;
}

/**
 * The WeCom AI bot's long connection (issue 18): one socket per bot, so it is leased (`leased-connection.ts`, the
 * lease an item `lease#wecom#<bot id>` of the events table) and only the holding replica connects; and the socket is
 * also the reply path, so the holder runs the relay consumer (`wecom-relay.ts`) while its socket is live. Credentials:
 * the webhook's secret (`WECOM_SECRET_ID`, locally env variables) with `botId` and `botSecret`; read again at every
 * open, so a rotated secret is used by the next reconnect.
 * @throws ConfigError naming a missing bot id or secret, events table or relay queue
 */
export async function createWecomConnection(env: Env, options: WecomConnectionOptions): Promise<LongConnection> {
  const load = async () => {
    const credentials = await loadCredentials(wecomCredentials, env, options.fetchSecret);
    const { botId, botSecret } = credentials;
    if (!botId || !botSecret) {
      throw new ConfigError([
        `WeCom long connection needs botId and botSecret in ${ENV.wecomSecretId} (locally WECOM_BOT_ID, WECOM_BOT_SECRET)`,
      ]);
    }
    return { botId, botSecret };
  };
  const { botId } = await load();
  const tableName = env[ENV.eventsTable];
  const queueUrl = env[ENV.wecomRelayQueueUrl];
  const problems = [
    ...(tableName ? [] : [`${ENV.eventsTable}: not set (the WeCom connection's lease is an item of the events table)`]),
    ...(queueUrl ? [] : [`${ENV.wecomRelayQueueUrl}: not set (the queue of the worker's WeCom replies)`]),
  ];
  if (problems.length > 0 || !tableName || !queueUrl) throw new ConfigError(problems);

  const tuning = options.tuning ?? {};
  const { logger } = options;
  const relayWaitSeconds = tuning.relayWaitSeconds ?? 20;
  const lease = dynamoLeaseStore(awsJsonClientFromEnv(DYNAMODB, env), {
    tableName,
    key: `lease#wecom#${botId}`,
    ...(tuning.leaseMs === undefined ? {} : { durationMs: tuning.leaseMs }),
  });
  // The long poll outlasts the default attempt timeout.
  let relaySqs: AwsJsonClient | undefined;
  const sqs = () => {
    relaySqs ??= awsJsonClientFromEnv(SQS, env, { attemptTimeoutMs: (relayWaitSeconds + 5) * 1000 });
    return relaySqs;
  };
  const url = env[ENV.wecomAibotWsUrl] || WECOM_AIBOT_DEFAULT_URL;

  return leasedConnection({
    platform: 'wecom',
    // WeCom does not say it pushes a callback again [U]; the connector retries a failed enqueue itself.
    delivery: 'fire-and-forget',
    lease,
    holderId: options.holderId ?? `${hostname()}/${randomUUID()}`,
    logger,
    ...(options.supervisor.timers ? { timers: options.supervisor.timers } : {}),
    ...(tuning.leaseMs === undefined ? {} : { leaseMs: tuning.leaseMs }),
    ...(tuning.renewEveryMs === undefined ? {} : { renewEveryMs: tuning.renewEveryMs }),
    ...(tuning.supersededPauseMs === undefined ? {} : { supersededPauseMs: tuning.supersededPauseMs }),
    startTerm: (superseded) => {
      let live: WecomAibotSocket | undefined;
      const open: OpenSession = async (callbacks, signal) => {
        const { botId: id, botSecret } = await load();
        return wecomAibotSession({
          url,
          botId: id,
          secret: botSecret,
          logger,
          ...(options.supervisor.timers ? { timers: options.supervisor.timers } : {}),
          ...(tuning.pingIntervalMs === undefined ? {} : { pingIntervalMs: tuning.pingIntervalMs }),
          ...(tuning.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: tuning.ackTimeoutMs }),
          onSuperseded: superseded,
          onLive: (socket, isLive) => {
            if (isLive) live = socket;
            else if (live === socket) live = undefined;
          },
        })(callbacks, signal);
      };
      const connection = superviseConnection({
        ...options.supervisor,
        platform: 'wecom',
        delivery: 'fire-and-forget',
        open,
        logger,
      });
      const relay = startRelayConsumer({
        sqs: sqs(),
        queueUrl,
        socket: () => live,
        logger,
        waitSeconds: relayWaitSeconds,
        ...(tuning.relayIdleMs === undefined ? {} : { idleMs: tuning.relayIdleMs }),
        ...(tuning.onRelayOutcome ? { onOutcome: tuning.onRelayOutcome } : {}),
      });
      return {
        connection,
        stopExtras: async () => {
          live = undefined;
          await relay.stop();
        },
      };
    },
  });
}
