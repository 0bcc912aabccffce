import type { IncomingMessage } from 'node:http';
import { type RawData, WebSocket } from 'ws';
import type { ConnectorLogger } from './connector-logger';
import { decodeFeishuFrame, encodeFeishuFrame, type FeishuFrame, frameHeader } from './feishu-ws-frames';
import {
  ackFrame,
  clientConfigSchema,
  describeFeishuCode,
  type EndpointRequest,
  endpointResponseSchema,
  FEISHU_DEFAULT_PING_INTERVAL_MS,
  FEISHU_FRAME_METHOD,
  FEISHU_HANDSHAKE_HEADER,
  FEISHU_HEADER,
  FEISHU_MESSAGE_TYPE,
  FEISHU_SERVICE_ID_PARAM,
  FEISHU_WS_CODE,
  FEISHU_WS_ENDPOINT_PATH,
  type FeishuClientConfig,
  feishuCodeClass,
  frameType,
  payloadJson,
  pingFrame,
  pingIntervalMs,
} from './feishu-ws-protocol';
import { createReassembler, DEFAULT_REASSEMBLY_LIMITS, type ReassemblyLimits } from './feishu-ws-reassembly';
import { parseJsonText } from './frame-decoding';
import { ConnectionOpenError, type OpenSession, type SessionCallbacks } from './session';
import { systemTimers, type TimerHandle, type Timers } from './timers';
import { closeOnce, rawBytes, upgraded } from './websocket-upgrade';

export interface FeishuWsOptions {
  /** The app's App ID (`cli_…`). */
  readonly appId: string;
  /** The app's App Secret. Sent only in the discovery call's body; never logged. */
  readonly appSecret: string;
  /** @default 'https://open.feishu.cn' (Lark: 'https://open.larksuite.com'; sandbox: `…/_emulator/feishu`) */
  readonly apiBaseUrl?: string;
  readonly fetch?: typeof fetch;
  readonly timers?: Timers;
  readonly logger: ConnectorLogger;
  /** Largest WebSocket message accepted; a larger one closes the socket (ws `maxPayload`). @default 2 MiB */
  readonly maxFrameBytes?: number;
  /** Bounds on multi-part events (`feishu-ws-reassembly.ts`). */
  readonly reassembly?: Partial<ReassemblyLimits>;
  /** Deadline of the discovery call, ms. @default 10000 */
  readonly discoveryTimeoutMs?: number;
  /**
   * The least wait before the next attempt after a refusal that will not clear by itself within seconds (auth failed,
   * forbidden, connection limit; `feishuCodeClass`). @default 60000 (the supervisor's backoff cap)
   */
  readonly refusedRetryMs?: number;
}

/** Sent as `User-Agent` on the discovery call, as the SDKs send theirs. */
export const FEISHU_WS_USER_AGENT = 'groupgate-connector/1';
export const DEFAULT_REFUSED_RETRY_MS = 60_000;
/** No ping interval shorter than this, whatever a pong says: a bad config cannot turn pings into a busy loop. */
const MIN_PING_INTERVAL_MS = 1_000;

interface Endpoint {
  readonly url: URL;
  readonly service: number;
  readonly config: FeishuClientConfig | undefined;
}

/**
 * Opens one Feishu/Lark long-connection socket, hand-rolled over `ws` (the official SDK is 30 MB, §3.2): `POST
 * {apiBase}/callback/ws/endpoint` with `{AppID, AppSecret}` returns the socket URL (its `service_id` goes into every
 * ping) and a ClientConfig; the socket is ready once upgraded (Feishu sends no greeting). On it:
 * - a `ping` control frame goes out at once and then every `PingInterval`; each `pong` carries a ClientConfig whose
 *   `PingInterval` replaces the current one. A ping with no frame at all back by the next one ends the socket.
 *   Reconnect pacing stays with the supervisor (jittered backoff from 1 s): the ClientConfig's `ReconnectInterval`
 *   (120 s between attempts) would leave events waiting for re-pushes that long.
 * - `event` data frames are reassembled by `message_id` (`sum`/`seq`), JSON-decoded and delivered; the delivery's ack
 *   echoes the frame with `{"code":200}` and `biz_rt` (`ackFrame`), sent by the connector once the event is durably
 *   admitted. Feishu wants the ack within 3 s, else it pushes the event again (15 s, 5 min, 1 h, 6 h later, to any of
 *   the app's sockets): an admission slower than that is still acked, and the re-push is admitted as a duplicate (the
 *   reservation on `event_id` collapses it) and acked too, so it costs one extra delivery, never a second answer.
 * - `card` data frames (card callbacks, not used) are acknowledged and ignored; other data types likewise, reported.
 * - a frame that is not a protobuf `pbbp2.Frame`, a text frame, or an event part with bad `sum`/`seq` is reported
 *   and skipped without an ack, keeping the socket; an event that reassembles to something other than JSON is acked
 *   (a re-push would carry the same bytes) and reported.
 */
export function feishuWsSession(options: FeishuWsOptions): OpenSession {
  const timers = options.timers ?? systemTimers;
  const limits: ReassemblyLimits = { ...DEFAULT_REASSEMBLY_LIMITS, ...options.reassembly };
  return async (callbacks, signal) => {
    const endpoint = await discover(options, signal);
    const ws = new WebSocket(endpoint.url, { maxPayload: options.maxFrameBytes ?? 2 * 1024 * 1024 });
    let lastSocketError: string | undefined;
    let interval = clampInterval(pingIntervalMs(endpoint.config) ?? FEISHU_DEFAULT_PING_INTERVAL_MS);
    let pingTimer: TimerHandle | undefined;
    let heardSincePing = true;
    const reassembler = createReassembler(limits, timers, (messageId, reason) => {
      // Not acknowledged: Feishu pushes the event again, whole.
      callbacks.badFrame(`event ${messageId} dropped: ${reason}`, 0);
    });
    const send = (frame: FeishuFrame) =>
      new Promise<void>((resolve, reject) => {
        if (ws.readyState !== WebSocket.OPEN) return reject(new Error('socket closed'));
        ws.send(encodeFeishuFrame(frame), (err) => (err ? reject(err) : resolve()));
      });
    const context: FrameContext = {
      callbacks,
      send,
      now: timers.now,
      logger: options.logger,
      reassembler,
      onPong: (config) => {
        const next = pingIntervalMs(config);
        if (next === undefined || clampInterval(next) === interval) return;
        interval = clampInterval(next);
        options.logger.debug('feishu ping interval from pong', { platform: 'feishu', pingIntervalMs: interval });
        schedulePing();
      },
    };
    // Listening before the upgrade completes: frames that arrive with the 101 answer are not missed.
    ws.on('message', (data, isBinary) => {
      heardSincePing = true;
      onMessage(data, isBinary, context);
    });
    const refusedRetryMs = options.refusedRetryMs ?? DEFAULT_REFUSED_RETRY_MS;
    await upgraded(ws, signal, (res) => handshakeRefusal(res, refusedRetryMs));

    function schedulePing(): void {
      if (pingTimer) timers.clearTimeout(pingTimer);
      pingTimer = timers.setTimeout(ping, interval);
    }
    function ping(): void {
      pingTimer = undefined;
      if (ws.readyState !== WebSocket.OPEN) return;
      if (!heardSincePing) {
        lastSocketError = `no frame within ${interval} ms of a ping`;
        ws.terminate();
        return;
      }
      heardSincePing = false;
      send(pingFrame(endpoint.service)).catch(() => undefined);
      schedulePing();
    }
    ping();

    ws.on('error', (err) => {
      lastSocketError = err.message;
    });
    ws.on('close', (code, reason) => {
      if (pingTimer) timers.clearTimeout(pingTimer);
      reassembler.clear();
      const why = reason.toString('utf8') || lastSocketError;
      callbacks.closed(`closed ${code}${why ? `: ${why}` : ''}`);
    });

    return { close: closeOnce(ws, timers) };
  };
}

function clampInterval(ms: number): number {
  return Math.max(MIN_PING_INTERVAL_MS, ms);
}

interface FrameContext {
  readonly callbacks: SessionCallbacks;
  readonly send: (frame: FeishuFrame) => Promise<void>;
  readonly now: () => number;
  readonly logger: ConnectorLogger;
  readonly reassembler: ReturnType<typeof createReassembler>;
  readonly onPong: (config: FeishuClientConfig) => void;
}

function onMessage(data: RawData, isBinary: boolean, context: FrameContext): void {
  const bytes = rawBytes(data);
  if (!isBinary) {
    context.callbacks.badFrame('text frame', bytes.length);
    return;
  }
  const decoded = decodeFeishuFrame(bytes);
  if (!decoded.ok) {
    context.callbacks.badFrame(decoded.reason, bytes.length);
    return;
  }
  const frame = decoded.value;
  if (frame.method === FEISHU_FRAME_METHOD.control) onControl(frame, bytes.length, context);
  else if (frame.method === FEISHU_FRAME_METHOD.data) onData(frame, bytes.length, context);
  else context.callbacks.badFrame(`unknown frame method ${frame.method}`, bytes.length);
}

function onControl(frame: FeishuFrame, bytes: number, context: FrameContext): void {
  const type = frameType(frame);
  if (type !== FEISHU_MESSAGE_TYPE.pong) {
    // A server `ping` needs no answer (the SDKs send none); anything else is informational.
    context.logger.debug('feishu control frame', { platform: 'feishu', type });
    return;
  }
  if (frame.payload === undefined || frame.payload.length === 0) return;
  const json = payloadJson(frame);
  const config = json.ok ? clientConfigSchema.safeParse(json.value) : undefined;
  if (!config?.success) {
    context.callbacks.badFrame(`pong payload is not a ClientConfig${json.ok ? '' : ` (${json.reason})`}`, bytes);
    return;
  }
  context.onPong(config.data);
}

function onData(frame: FeishuFrame, bytes: number, context: FrameContext): void {
  const type = frameType(frame);
  const ackNow = (): void => {
    context.send(ackFrame(frame, 0)).catch((err: unknown) => {
      context.logger.warn('feishu ack not sent', { platform: 'feishu', error: (err as Error).message });
    });
  };
  if (type === FEISHU_MESSAGE_TYPE.card) {
    // Card callbacks are not GroupGate's: acknowledged so they are not pushed again.
    ackNow();
    return;
  }
  if (type !== FEISHU_MESSAGE_TYPE.event) {
    ackNow();
    context.callbacks.badFrame(`unhandled data frame type ${JSON.stringify(type)}`, bytes);
    return;
  }
  const messageId = frameHeader(frame, FEISHU_HEADER.messageId);
  if (!messageId) {
    context.callbacks.badFrame('event frame without message_id', bytes);
    return;
  }
  const part = context.reassembler.add(
    messageId,
    frameHeader(frame, FEISHU_HEADER.sum),
    frameHeader(frame, FEISHU_HEADER.seq),
    frame.payload ?? new Uint8Array(),
  );
  if (part.kind === 'rejected') {
    context.callbacks.badFrame(`event ${messageId}: ${part.reason}`, bytes);
    return;
  }
  if (part.kind === 'pending') return;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(part.bytes);
  } catch {
    text = '';
  }
  const payload = parseJsonText(text);
  if (!payload.ok) {
    ackNow();
    context.callbacks.badFrame(`event ${messageId} is not JSON`, part.bytes.length);
    return;
  }
  const receivedAt = context.now();
  context.callbacks.delivery({
    deliveryId: messageId,
    payload: payload.value,
    // Feishu's frames carry no retry counter: a re-push looks like a first push.
    attempt: 0,
    receivedAt,
    ack: () => context.send(ackFrame(frame, context.now() - receivedAt)),
  });
}

async function discover(options: FeishuWsOptions, signal: AbortSignal): Promise<Endpoint> {
  const apiBaseUrl = (options.apiBaseUrl ?? 'https://open.feishu.cn').replace(/\/+$/, '');
  const request: EndpointRequest = { AppID: options.appId, AppSecret: options.appSecret };
  const fetchFn = options.fetch ?? fetch;
  const where = FEISHU_WS_ENDPOINT_PATH.slice(1);
  let response: Response;
  try {
    response = await fetchFn(`${apiBaseUrl}${FEISHU_WS_ENDPOINT_PATH}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        locale: 'zh',
        'user-agent': FEISHU_WS_USER_AGENT,
      },
      body: JSON.stringify(request),
      signal: AbortSignal.any([signal, AbortSignal.timeout(options.discoveryTimeoutMs ?? 10_000)]),
    });
  } catch (err) {
    throw new ConnectionOpenError('discovery', `${where}: request failed`, undefined, { cause: err });
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const retryAfter = Number(response.headers.get('retry-after'));
    throw new ConnectionOpenError(
      'discovery',
      `${where}: HTTP ${response.status}`,
      response.status,
      Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : undefined,
    );
  }
  const parsed = endpointResponseSchema.safeParse(body);
  if (!parsed.success) throw new ConnectionOpenError('discovery', `${where}: not a {code, data} answer`);
  const { code, data } = parsed.data;
  if (code !== FEISHU_WS_CODE.ok) {
    // `msg` is left out: it is the platform's text; the code says what happened.
    const refused = feishuCodeClass(code) === 'refused';
    throw new ConnectionOpenError(
      'discovery',
      `${where}: code ${describeFeishuCode(code)}`,
      response.status,
      refused ? { retryAfterMs: options.refusedRetryMs ?? DEFAULT_REFUSED_RETRY_MS } : undefined,
    );
  }
  const url = socketUrl(data?.URL);
  const service = Number(url?.searchParams.get(FEISHU_SERVICE_ID_PARAM) ?? Number.NaN);
  if (!url || !Number.isInteger(service) || service < -0x8000_0000 || service > 0x7fff_ffff) {
    throw new ConnectionOpenError('discovery', `${where}: no ws(s) URL with an int32 service_id in the answer`);
  }
  return { url, service, config: data?.ClientConfig ?? undefined };
}

function socketUrl(raw: string | undefined): URL | undefined {
  if (!raw) return undefined;
  try {
    const url = new URL(raw);
    return url.protocol === 'wss:' || url.protocol === 'ws:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A refused upgrade's `handshake-status` / `handshake-autherrcode` headers say why: 403, or 514 with 1000040350 (the
 * app's connection limit) wait at least `refusedRetryMs`; other refusals (a stale URL) are retried on the normal
 * backoff with a fresh discovery.
 */
function handshakeRefusal(res: IncomingMessage, refusedRetryMs: number): ConnectionOpenError {
  const header = (name: string): number | undefined => {
    const value = res.headers[name];
    const n = Number(Array.isArray(value) ? value[0] : value);
    return Number.isInteger(n) && n !== 0 ? n : undefined;
  };
  const status = res.statusCode ?? 0;
  const code = header(FEISHU_HANDSHAKE_HEADER.status) ?? status;
  const authCode = header(FEISHU_HANDSHAKE_HEADER.authErrorCode);
  const refused =
    code === FEISHU_WS_CODE.forbidden ||
    (code === FEISHU_WS_CODE.authFailed && authCode === FEISHU_WS_CODE.exceedConnLimit);
  const detail = `${describeFeishuCode(code)}${authCode === undefined ? '' : `, ${describeFeishuCode(authCode)}`}`;
  return new ConnectionOpenError(
    'connect',
    `upgrade refused: HTTP ${status}, handshake-status ${detail}`,
    status,
    refused ? { retryAfterMs: refusedRetryMs } : undefined,
  );
}
