import { type RunningConnector, startConnector } from '#connector/connector';
import { defaultConnectorLogger } from '#connector/connector-logger';
import {
  createLongConnections,
  isLongConnectionPlatform,
  LONG_CONNECTION_PLATFORMS,
  type LongConnectionPlatform,
} from '#connector/platform-connections';
import type { IngestDeps } from '#core/ingest';
import { createDingTalkStreamEmulator } from './platform-emulator/dingtalk-stream';
import { createFeishuWsEmulator, FEISHU_REPUSH_DELAYS_MS } from './platform-emulator/feishu-ws';
import type { LongConnectionEmulator } from './platform-emulator/long-connection-emulator';
import { createSlackSocketEmulator } from './platform-emulator/slack-socket';
import type { EmulatorContext, EmulatorCredentials } from './platform-emulator/types';
import { createWecomAibotEmulator, wecomReplyLogger } from './platform-emulator/wecom-aibot';

/**
 * `SANDBOX_LONG_CONNECTION=feishu,slack,dingtalk,wecom` (or `all`): those platforms reach the sandbox over their long
 * connection (issue 18) instead of the webhook. The sandbox then runs the connector in-process against the emulated
 * sockets, and `POST /_sandbox/events` pushes the page's messages over them; WeCom's replies come back over its socket
 * too (the worker writes them to the relay queue, the connector sends them). Unset, empty or `none`: webhook mode for
 * every platform.
 */
export const SANDBOX_LONG_CONNECTION_ENV = 'SANDBOX_LONG_CONNECTION';

/** @throws Error naming the value, for a platform that is unknown (every platform has a long-connection client). */
export function longConnectionPlatformsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): readonly LongConnectionPlatform[] {
  const raw = (env[SANDBOX_LONG_CONNECTION_ENV] ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'none') return [];
  if (raw === 'all') return LONG_CONNECTION_PLATFORMS;
  const names = [...new Set(raw.split(',').map((name) => name.trim()))].filter(Boolean);
  for (const name of names) {
    if (!isLongConnectionPlatform(name)) {
      throw new Error(
        `${SANDBOX_LONG_CONNECTION_ENV}: unknown platform '${name}' (use ${LONG_CONNECTION_PLATFORMS.join(', ')} or all)`,
      );
    }
  }
  return names.filter(isLongConnectionPlatform);
}

/** The emulated sockets of the platforms in long-connection mode, with the sandbox's credentials. */
export function createSocketEmulators(
  platforms: readonly LongConnectionPlatform[],
  credentials: EmulatorCredentials,
  clockScale: number,
  /** Where the WeCom emulator shows the replies that came over its socket (the sandbox's delivery log). */
  replies?: () => Pick<EmulatorContext, 'record' | 'update'>,
): Partial<Record<LongConnectionPlatform, LongConnectionEmulator>> {
  const emulators: Partial<Record<LongConnectionPlatform, LongConnectionEmulator>> = {};
  for (const platform of platforms) {
    if (platform === 'feishu') {
      emulators.feishu = createFeishuWsEmulator({
        appId: credentials.feishu.appId,
        appSecret: credentials.feishu.appSecret,
        // The page builds the webhook's encrypted body; the socket carries the event in plaintext.
        encryptKey: credentials.feishu.encryptKey,
        ackDeadlineMs: 3_000 / clockScale,
        repushDelaysMs: FEISHU_REPUSH_DELAYS_MS.map((ms) => ms / clockScale),
      });
    } else if (platform === 'slack') {
      emulators.slack = createSlackSocketEmulator({
        appToken: credentials.slack.appToken ?? '',
        ackTimeoutMs: 3_000 / clockScale,
        disconnectGraceMs: 10_000 / clockScale,
      });
    } else if (platform === 'wecom') {
      emulators.wecom = createWecomAibotEmulator({
        botId: credentials.wecom.botId,
        secret: credentials.wecom.botSecret ?? '',
        encodingAesKey: credentials.wecom.encodingAesKey,
        reqIdTtlMs: 300_000 / clockScale,
        streamIdleMs: 360_000 / clockScale,
        ...(replies ? { onReply: wecomReplyLogger(replies) } : {}),
      });
    } else {
      emulators.dingtalk = createDingTalkStreamEmulator({
        clientId: credentials.dingtalk.appKey,
        clientSecret: credentials.dingtalk.appSecret,
        disconnectGraceMs: 10_000 / clockScale,
        pingIntervalMs: 30_000,
      });
    }
  }
  return emulators;
}

/**
 * The connector, in this process, against the emulated sockets: the handlers' environment (credentials, emulator
 * origins, AWS stand-ins) must be set first. Its health check listens on a free local port.
 */
export async function startSandboxConnector(
  platforms: readonly LongConnectionPlatform[],
  env: Readonly<Record<string, string | undefined>>,
  ingest: IngestDeps,
): Promise<RunningConnector> {
  const logger = defaultConnectorLogger;
  // A short long poll, so the sandbox stops promptly; the rest as in AWS.
  const connections = await createLongConnections(platforms, env, { logger, wecom: { relayWaitSeconds: 1 } });
  return startConnector({ connections, ingest, logger, health: { port: 0, host: '127.0.0.1' } });
}
