import { LogLevel, type Logger as SlackSdkLogger, SocketModeClient } from '@slack/socket-mode';
import * as z from '#shared/zod';
import type { ConnectorLogger } from './connector-logger';
import { ConnectionOpenError, type OpenSession } from './session';
import { decodeSlackServerFrame } from './slack-socket-frames';

export interface SlackSocketModeOptions {
  /** The app-level token (`xapp-…`, scope `connections:write`) `apps.connections.open` is called with. Never logged. */
  readonly appToken: string;
  /** The Web API's origin. @default 'https://slack.com' (sandbox: its emulator, `…/_emulator/slack`) */
  readonly apiBaseUrl?: string;
  readonly logger: ConnectorLogger;
  /** Deadline of the `apps.connections.open` call, ms. @default 10000 */
  readonly discoveryTimeoutMs?: number;
}

/** Our own events on the SDK client (prefixed so they never clash with an envelope type the SDK emits by name). */
const RETIRING = 'groupgate:retiring';
const BAD_FRAME = 'groupgate:bad_frame';

/** What the SDK's `slack_event` listener receives (the SDK's own object; only these fields are read). */
interface SdkSlackEvent {
  readonly ack: (response?: Record<string, unknown>) => Promise<void>;
  readonly envelope_id: string;
  readonly type: string;
  readonly body: unknown;
  readonly retry_num?: number;
}

/**
 * The official client with one change, through its documented extension point (`onWebSocketMessage` is protected):
 * every frame is decoded by `slack-socket-frames.ts` first, so a bad frame is reported (the SDK only logs it at debug
 * level) and a `disconnect` is reported instead of acted on. The SDK closes the socket the moment it reads
 * `disconnect`; Slack keeps it serving for about 10 s after a `warning`, so the supervisor opens the replacement
 * first and closes this socket once the replacement has said `hello`: no gap in which events wait for a retry.
 */
class GroupGateSocketModeClient extends SocketModeClient {
  protected override async onWebSocketMessage(data: string | ArrayBuffer, isBinary: boolean): Promise<void> {
    if (isBinary || typeof data !== 'string') {
      this.emit(BAD_FRAME, 'binary frame', typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);
      return;
    }
    const decoded = decodeSlackServerFrame(data);
    if (!decoded.ok) {
      this.emit(BAD_FRAME, decoded.reason, Buffer.byteLength(data));
      return;
    }
    if (decoded.value.kind === 'disconnect') {
      this.emit(RETIRING, decoded.value.frame.reason);
      return;
    }
    await super.onWebSocketMessage(data, isBinary);
  }
}

/**
 * Opens one Socket Mode socket with `@slack/socket-mode`'s `SocketModeClient`, pointed at the emulator (or Slack)
 * through `clientOptions.slackApiUrl` (`<apiBaseUrl>/api/`). Its own reconnect is off (`autoReconnectEnabled: false`:
 * it waits 5 s × failures, linearly, without jitter) and so are the Web API's retries of `apps.connections.open`
 * (`retryConfig.retries: 0`, `rejectRateLimitedCalls`): the supervisor paces every retry with backoff and jitter.
 * Resolves once Slack said `hello`.
 */
export function slackSocketModeSession(options: SlackSocketModeOptions): OpenSession {
  const apiBaseUrl = (options.apiBaseUrl ?? 'https://slack.com').replace(/\/+$/, '');
  return async (callbacks, signal) => {
    const client = new GroupGateSocketModeClient({
      appToken: options.appToken,
      autoReconnectEnabled: false,
      logger: sdkLogger(options.logger),
      clientOptions: {
        slackApiUrl: `${apiBaseUrl}/api/`,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        timeout: options.discoveryTimeoutMs ?? 10_000,
      },
    });
    let open = false;
    client.on(BAD_FRAME, (reason: string, bytes: number) => callbacks.badFrame(reason, bytes));
    client.on(RETIRING, (reason: string) => callbacks.retiring(reason));
    client.on('slack_event', (event: SdkSlackEvent) => {
      if (event.type !== 'events_api') {
        // Interactivity and slash commands are not GroupGate's: acknowledged so Slack does not retry them.
        void event.ack().catch(() => undefined);
        return;
      }
      callbacks.delivery({
        deliveryId: event.envelope_id,
        payload: event.body,
        attempt: event.retry_num ?? 0,
        receivedAt: Date.now(),
        ack: () => event.ack(),
      });
    });
    client.on('disconnected', () => {
      if (!open) return;
      open = false;
      callbacks.closed('socket closed');
    });
    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= client.disconnect().catch(() => undefined);
      return closing;
    };
    const abort = () => void close();
    signal.addEventListener('abort', abort, { once: true });
    try {
      await client.start();
    } catch (err) {
      void close();
      throw openError(err);
    } finally {
      signal.removeEventListener('abort', abort);
    }
    if (signal.aborted) {
      await close();
      throw new ConnectionOpenError('handshake', 'aborted');
    }
    open = true;
    return { close };
  };
}

const sdkErrorSchema = z.looseObject({
  code: z.optional(z.string()),
  statusCode: z.optional(z.number()),
  retryAfter: z.optional(z.number()),
  data: z.optional(z.looseObject({ error: z.optional(z.string()) })),
});

/** The SDK's errors as ours: the Web API's status or error code only (its `body` and headers are never kept). */
function openError(err: unknown): ConnectionOpenError {
  if (err === undefined) return new ConnectionOpenError('handshake', 'socket closed before hello');
  const known = sdkErrorSchema.safeParse(err);
  const code = known.success ? known.data.code : undefined;
  if (known.success && code === 'slack_webapi_platform_error') {
    return new ConnectionOpenError('discovery', `apps.connections.open: ${known.data.data?.error ?? 'error'}`);
  }
  if (known.success && code === 'slack_webapi_http_error') {
    const status = known.data.statusCode;
    return new ConnectionOpenError('discovery', `apps.connections.open: HTTP ${status ?? '?'}`, status);
  }
  if (known.success && code === 'slack_webapi_rate_limited_error') {
    return new ConnectionOpenError('discovery', 'apps.connections.open: rate limited', 429, {
      retryAfterMs: (known.data.retryAfter ?? 0) * 1000,
    });
  }
  if (known.success && code === 'slack_webapi_request_error') {
    return new ConnectionOpenError('discovery', 'apps.connections.open: request failed', undefined, { cause: err });
  }
  return new ConnectionOpenError('connect', err instanceof Error ? err.message : String(err), undefined, {
    cause: err,
  });
}

/**
 * The SDK's logger interface over ours: warnings and errors pass (the SDK puts no token in them); its debug and info
 * lines (whole frames, message texts included) are dropped.
 */
function sdkLogger(logger: ConnectorLogger): SlackSdkLogger {
  const text = (parts: unknown[]) => parts.map(String).join(' ');
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (...parts: unknown[]) => logger.warn('slack socket mode', { platform: 'slack', detail: text(parts) }),
    error: (...parts: unknown[]) => logger.warn('slack socket mode error', { platform: 'slack', detail: text(parts) }),
    setLevel: () => undefined,
    getLevel: () => LogLevel.WARN,
    setName: () => undefined,
  };
}
