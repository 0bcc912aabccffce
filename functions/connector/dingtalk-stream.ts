import { networkInterfaces } from 'node:os';
import { type RawData, WebSocket } from 'ws';
import type { ConnectorLogger } from './connector-logger';
import {
  type AckFrame,
  type ConnectionsOpenRequest,
  type ConnectionsOpenResponse,
  callbackAck,
  connectionsOpenResponseSchema,
  DINGTALK_OPEN_PATH,
  DINGTALK_ROBOT_TOPIC,
  DINGTALK_SYSTEM_TOPICS,
  type DownstreamFrame,
  decodeDownstreamFrame,
  encodeFrame,
  eventAck,
  pingAck,
  systemData,
} from './dingtalk-stream-frames';
import { parseJsonText } from './frame-decoding';
import { ConnectionOpenError, type OpenSession, type SessionCallbacks } from './session';
import { systemTimers, type TimerHandle, type Timers } from './timers';
import { closeOnce, rawBytes, upgraded } from './websocket-upgrade';

export interface DingTalkStreamOptions {
  /** The app's Client ID (AppKey). */
  readonly clientId: string;
  /** The app's Client Secret (AppSecret). Sent only in the discovery call's body; never logged. */
  readonly clientSecret: string;
  /** @default 'https://api.dingtalk.com' (sandbox: its emulator, `…/_emulator/dingtalk`) */
  readonly apiBaseUrl?: string;
  readonly fetch?: typeof fetch;
  readonly timers?: Timers;
  readonly logger: ConnectorLogger;
  /**
   * Interval of WebSocket pings; a ping still unanswered at the next one ends the socket, so a connection a NAT or load
   * balancer silently dropped is noticed within two intervals. 0 turns them off. @default 10000
   */
  readonly keepAliveMs?: number;
  /** Largest frame accepted; a larger one closes the socket (ws `maxPayload`). @default 1 MiB */
  readonly maxFrameBytes?: number;
  /** Deadline of the discovery call, ms. @default 10000 */
  readonly discoveryTimeoutMs?: number;
  /** @default this host's first non-internal IPv4 address */
  readonly localIp?: string;
}

/** Sent as `ua` in the discovery call, as the official SDKs send theirs. */
export const DINGTALK_STREAM_UA = 'groupgate-connector/1';

/**
 * Opens one DingTalk Stream socket, hand-rolled over `ws` (the protocol is four JSON frame shapes; the official Node
 * SDK brings axios and reconnects on its own, with a fixed 1 s delay): `POST {apiBase}/v1.0/gateway/connections/open`
 * with the app's clientId/clientSecret and the robot-message subscription buys a single-use ticket (90 s); the socket
 * opens at `endpoint?ticket=…` and is ready once upgraded. On it: SYSTEM `ping` is echoed; SYSTEM `disconnect` asks
 * for a replacement (no reply; the server closes about 10 s later, and frames it still sends are handled: a robot
 * message is never pushed twice, so dropping one would lose it); CALLBACK robot messages become deliveries whose ack
 * is the §3.1 frame; EVENT frames (not subscribed) are acknowledged `SUCCESS` so they are not pushed again.
 */
export function dingtalkStreamSession(options: DingTalkStreamOptions): OpenSession {
  const timers = options.timers ?? systemTimers;
  const keepAliveMs = options.keepAliveMs ?? 10_000;
  return async (callbacks, signal) => {
    const { endpoint, ticket } = await discover(options, signal);
    const url = new URL(endpoint);
    url.searchParams.set('ticket', ticket);
    const ws = new WebSocket(url, { maxPayload: options.maxFrameBytes ?? 1024 * 1024 });
    let lastSocketError: string | undefined;
    let alive = true;
    let keepAlive: TimerHandle | undefined;
    const send = (frame: AckFrame) =>
      new Promise<void>((resolve, reject) => {
        if (ws.readyState !== WebSocket.OPEN) return reject(new Error('socket closed'));
        ws.send(encodeFrame(frame), (err) => (err ? reject(err) : resolve()));
      });
    // Listening before the upgrade completes: frames that arrive in the same packet as the 101 answer are
    // dispatched as the socket opens, before any code awaiting the open could attach a listener.
    ws.on('message', (data, isBinary) => {
      alive = true;
      onFrame(data, isBinary, { callbacks, send, now: timers.now, logger: options.logger });
    });
    ws.on('pong', () => {
      alive = true;
    });
    await upgraded(ws, signal);

    const tick = () => {
      if (!alive) {
        lastSocketError = `no pong within ${keepAliveMs} ms`;
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
      keepAlive = timers.setTimeout(tick, keepAliveMs);
    };
    if (keepAliveMs > 0) keepAlive = timers.setTimeout(tick, keepAliveMs);
    ws.on('error', (err) => {
      lastSocketError = err.message;
    });
    ws.on('close', (code, reason) => {
      if (keepAlive) timers.clearTimeout(keepAlive);
      const why = reason.toString('utf8') || lastSocketError;
      callbacks.closed(`closed ${code}${why ? `: ${why}` : ''}`);
    });

    return { close: closeOnce(ws, timers) };
  };
}

interface FrameContext {
  readonly callbacks: SessionCallbacks;
  readonly send: (frame: AckFrame) => Promise<void>;
  readonly now: () => number;
  readonly logger: ConnectorLogger;
}

function onFrame(data: RawData, isBinary: boolean, context: FrameContext): void {
  const bytes = rawBytes(data);
  if (isBinary) {
    context.callbacks.badFrame('binary frame', bytes.length);
    return;
  }
  const decoded = decodeDownstreamFrame(bytes.toString('utf8'));
  if (!decoded.ok) {
    context.callbacks.badFrame(decoded.reason, bytes.length);
    return;
  }
  const frame = decoded.value;
  const ackQuietly = (ack: AckFrame): void => {
    context.send(ack).catch((err: unknown) => {
      context.logger.warn('dingtalk ack not sent', { platform: 'dingtalk', error: (err as Error).message });
    });
  };
  if (frame.type === 'SYSTEM') onSystem(frame, context, ackQuietly);
  else if (frame.type === 'EVENT') ackQuietly(eventAck(frame.headers.messageId, 'SUCCESS'));
  else onCallback(frame, bytes.length, context, ackQuietly);
}

function onCallback(frame: DownstreamFrame, bytes: number, context: FrameContext, ack: (f: AckFrame) => void): void {
  const messageId = frame.headers.messageId;
  if (frame.headers.topic !== DINGTALK_ROBOT_TOPIC) {
    // Not subscribed to; acknowledged so it is not retried, and skipped.
    ack(callbackAck(messageId));
    context.callbacks.badFrame(`unhandled callback topic ${frame.headers.topic}`, bytes);
    return;
  }
  const payload = parseJsonText(frame.data);
  if (!payload.ok) {
    ack(callbackAck(messageId));
    context.callbacks.badFrame(`callback data is ${payload.reason}`, bytes);
    return;
  }
  context.callbacks.delivery({
    deliveryId: messageId,
    payload: payload.value,
    attempt: 0,
    receivedAt: context.now(),
    ack: () => context.send(callbackAck(messageId)),
  });
}

function onSystem(frame: DownstreamFrame, context: FrameContext, ack: (frame: AckFrame) => void): void {
  if (frame.headers.topic === DINGTALK_SYSTEM_TOPICS.ping) {
    ack(pingAck(frame));
  } else if (frame.headers.topic === DINGTALK_SYSTEM_TOPICS.disconnect) {
    const reason = systemData(frame).reason;
    context.callbacks.retiring(typeof reason === 'string' ? reason : 'disconnect');
  } else {
    // CONNECTED, REGISTERED, KEEPALIVE: informational.
    context.logger.debug('dingtalk system frame', { platform: 'dingtalk', topic: frame.headers.topic });
  }
}

async function discover(options: DingTalkStreamOptions, signal: AbortSignal): Promise<ConnectionsOpenResponse> {
  const apiBaseUrl = (options.apiBaseUrl ?? 'https://api.dingtalk.com').replace(/\/+$/, '');
  const localIp = options.localIp ?? firstLocalIpv4();
  const request: ConnectionsOpenRequest = {
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    subscriptions: [{ type: 'CALLBACK', topic: DINGTALK_ROBOT_TOPIC }],
    ua: DINGTALK_STREAM_UA,
    ...(localIp ? { localIp } : {}),
  };
  const fetchFn = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await fetchFn(`${apiBaseUrl}${DINGTALK_OPEN_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(request),
      signal: AbortSignal.any([signal, AbortSignal.timeout(options.discoveryTimeoutMs ?? 10_000)]),
    });
  } catch (err) {
    throw new ConnectionOpenError('discovery', 'gateway/connections/open: request failed', undefined, { cause: err });
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    // DingTalk's error body is `{code, message}`: the code is kept, the message (which may echo input) is not.
    const code = typeof body === 'object' && body !== null ? (body as { code?: unknown }).code : undefined;
    const retryAfter = Number(response.headers.get('retry-after'));
    throw new ConnectionOpenError(
      'discovery',
      `gateway/connections/open: HTTP ${response.status}${typeof code === 'string' ? ` ${code}` : ''}`,
      response.status,
      Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : undefined,
    );
  }
  const parsed = connectionsOpenResponseSchema.safeParse(body);
  if (!parsed.success) {
    throw new ConnectionOpenError('discovery', 'gateway/connections/open: no endpoint and ticket in the answer');
  }
  return parsed.data;
}

function firstLocalIpv4(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    const found = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (found) return found.address;
  }
  return undefined;
}
