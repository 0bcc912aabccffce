import { randomBytes, randomUUID } from 'node:crypto';
import {
  decodeFeishuFrame,
  encodeFeishuFrame,
  type FeishuFrame,
  type FeishuFrameHeader,
  frameHeader,
} from '#connector/feishu-ws-frames';
import {
  ackPayloadSchema,
  endpointRequestSchema,
  FEISHU_DEVICE_ID_PARAM,
  FEISHU_FRAME_METHOD,
  FEISHU_HANDSHAKE_HEADER,
  FEISHU_HEADER,
  FEISHU_MESSAGE_TYPE,
  FEISHU_SERVICE_ID_PARAM,
  FEISHU_WS_CODE,
  FEISHU_WS_ENDPOINT_PATH,
  type FeishuClientConfig,
  frameType,
  payloadJson,
  pongFrame,
} from '#connector/feishu-ws-protocol';
import { systemTimers, type TimerHandle, type Timers } from '#connector/timers';
import { decryptFeishu } from '#platforms/feishu/crypto';
import { createSocketHub, type EmulatedSocket, hostOf, TicketBook } from './emulated-sockets';
import {
  AckWaiters,
  type DeliverOptions,
  deliveryView,
  emulatorStats,
  jsonApiResponse,
  type LongConnectionEmulator,
  type SocketDeliveryView,
  type SocketPush,
} from './long-connection-emulator';

export interface FeishuWsEmulatorOptions {
  /** The App ID and App Secret discovery must carry (else code 514). */
  readonly appId: string;
  readonly appSecret: string;
  /**
   * The app's Encrypt Key: `deliver` opens an `{encrypt}` body with it (the sandbox page builds the webhook's encrypted
   * body), since the long connection carries events in plaintext.
   */
  readonly encryptKey?: string;
  readonly timers?: Timers;
  /** Picks the socket for each push ("只有其中随机一个客户端会收到消息"). @default Math.random */
  readonly random?: () => number;
  /** The ClientConfig discovery hands out (seconds). @default the SDK's defaults: ping 120 s, reconnect 120 s / 30 s */
  readonly clientConfig?: FeishuClientConfig;
  /** The ClientConfig each pong carries, overriding discovery's. @default `clientConfig` */
  readonly pongConfig?: FeishuClientConfig;
  /** An ack later than this after a push does not stop the re-push ("3 秒内处理完成…否则会触发超时重推"). @default 3000 */
  readonly ackDeadlineMs?: number;
  /**
   * Waits from one push to the next while no timely ack came, then the event is abandoned. Observed: 15 s, 5 min,
   * 1 h, 6 h (botmux#328); QwenPaw#886 saw ~20 s. @default [15000, 300000, 3600000, 21600000]
   */
  readonly repushDelaysMs?: readonly number[];
  /** Events larger than this go out in parts (`sum`/`seq`); Feishu's own part size is unverified. @default 32 KiB */
  readonly partBytes?: number;
  /** Sockets per app ("每个应用最多建立 50 个连接"); beyond it discovery says 1000040350. @default 50 */
  readonly maxConnections?: number;
  /** Lifetime of the socket URL's ticket (unverified). @default 300000 */
  readonly ticketTtlMs?: number;
  /** The URL's `service_id`, which pings must carry. @default 33554678 */
  readonly serviceId?: number;
  /** The upgrade path; the URL handed out is `ws://<Host of the discovery call><socketPath>?…`. */
  readonly socketPath?: string;
}

/** Feishu's `deliver` options: how the parts of a split event go out on the first push (tests). */
export interface FeishuDeliverOptions extends DeliverOptions {
  /** Split at this many bytes. @default the emulator's `partBytes` */
  readonly partBytes?: number;
  /** Send the parts last first. */
  readonly reverseParts?: boolean;
  /** Part indexes left out of the first push, so it stays incomplete; re-pushes send every part. */
  readonly withholdParts?: readonly number[];
}

/** One ping the client sent, and the `service` it carried. */
export interface EmulatedFeishuPing {
  readonly socketId: number;
  readonly at: number;
  readonly service: number;
}

export interface FeishuWsEmulator extends LongConnectionEmulator {
  deliver(payload: Readonly<Record<string, unknown>>, options?: FeishuDeliverOptions): SocketDeliveryView;
  /** The next `times` discovery calls answer `code` (1 system busy, 1000040343 internal error, …). */
  failDiscovery(code: number, times?: number): void;
  pings(): readonly EmulatedFeishuPing[];
  /** Every ack frame the clients sent, decoded, in arrival order. */
  ackFrames(): readonly FeishuFrame[];
  /** Whether pings get a pong (off: a server that went silent). @default true */
  answerPings(on: boolean): void;
  /** Encodes a frame and sends it on every open socket (`card` callbacks and the like). */
  sendFrame(frame: FeishuFrame): void;
  /** Sends bytes as a binary message on every open socket: frames that are not `pbbp2.Frame`s. */
  sendBytes(bytes: Uint8Array): void;
}

interface Delivery {
  readonly deliveryId: string;
  readonly eventId: string;
  readonly bytes: Uint8Array;
  readonly options: FeishuDeliverOptions;
  readonly pushes: SocketPush[];
  ackedAt?: number;
  /** An ack came within `ackDeadlineMs` of the latest push: no more re-pushes. */
  settled: boolean;
  acks: number;
  queued: boolean;
  abandoned: boolean;
  timer?: TimerHandle;
}

export const FEISHU_WS_PATH = '/_emulator/feishu/ws/v2';
const DEFAULT_CLIENT_CONFIG: FeishuClientConfig = {
  PingInterval: 120,
  ReconnectCount: -1,
  ReconnectInterval: 120,
  ReconnectNonce: 30,
};
export const FEISHU_REPUSH_DELAYS_MS = [15_000, 300_000, 3_600_000, 21_600_000] as const;

/**
 * Plays Feishu/Lark's long-connection end (frames in `#connector/feishu-ws-frames`, protocol in
 * `#connector/feishu-ws-protocol`): `POST /callback/ws/endpoint` with the app's AppID/AppSecret hands out a socket URL
 * (`device_id`, `service_id`, a ticket) and a ClientConfig; pings get a pong carrying the pong ClientConfig; each
 * event goes out as `event` data frames (split into `sum`/`seq` parts when large) on one socket picked at random, and
 * is pushed again, whole, on the re-push schedule until an ack comes within 3 s of a push; `requestDisconnect` closes
 * the sockets (Feishu announces nothing), `dropAll` cuts them. With no socket open an event waits for the next one.
 */
export function createFeishuWsEmulator(options: FeishuWsEmulatorOptions): FeishuWsEmulator {
  const timers = options.timers ?? systemTimers;
  const random = options.random ?? Math.random;
  const clientConfig = options.clientConfig ?? DEFAULT_CLIENT_CONFIG;
  const pongConfig = options.pongConfig ?? clientConfig;
  const ackDeadlineMs = options.ackDeadlineMs ?? 3_000;
  const repushDelays = options.repushDelaysMs ?? FEISHU_REPUSH_DELAYS_MS;
  const maxConnections = options.maxConnections ?? 50;
  const serviceId = options.serviceId ?? 33_554_678;
  const socketPath = options.socketPath ?? FEISHU_WS_PATH;
  const tickets = new TicketBook(options.ticketTtlMs ?? 300_000, timers.now);
  const deliveries = new Map<string, Delivery>();
  const waiters = new AckWaiters();
  const pings: EmulatedFeishuPing[] = [];
  const acks: FeishuFrame[] = [];
  /** message_ids of frames a test sent with `sendFrame`: their acks are expected, though no delivery has them. */
  const rawIds = new Set<string>();
  const discoveryFaults: number[] = [];
  let answering = true;
  let discoveryCalls = 0;
  let unexpectedFrames = 0;
  let nextSeqId = 1n;
  let closed = false;

  const hub = createSocketHub({
    path: socketPath,
    now: timers.now,
    // The refusals' HTTP statuses are unverified; the handshake headers are what the SDKs read.
    authorize: (url) => {
      const headers: Record<string, string> = { [FEISHU_HANDSHAKE_HEADER.status]: String(FEISHU_WS_CODE.authFailed) };
      if (!tickets.redeem(url.searchParams.get('ticket'))) {
        return { ok: false, status: 401, reason: 'invalid, expired or spent ticket', headers };
      }
      if (hub.open().length >= maxConnections) {
        headers[FEISHU_HANDSHAKE_HEADER.authErrorCode] = String(FEISHU_WS_CODE.exceedConnLimit);
        return { ok: false, status: 403, reason: 'exceed connection limit', headers };
      }
      return { ok: true };
    },
    onOpen: () => {
      for (const delivery of deliveries.values()) if (delivery.queued) push(delivery);
    },
    onText: () => {
      // Feishu's clients speak binary frames only.
      unexpectedFrames += 1;
    },
    onBinary: (socket, bytes) => onClientFrame(socket, bytes),
    onClose: () => undefined,
  });

  function eventFrames(delivery: Delivery, first: boolean): FeishuFrame[] {
    const size = Math.max(1, delivery.options.partBytes ?? options.partBytes ?? 32 * 1024);
    const parts: Uint8Array[] = [];
    for (let at = 0; at < delivery.bytes.length || parts.length === 0; at += size) {
      parts.push(delivery.bytes.subarray(at, at + size));
    }
    const traceId = randomUUID();
    const frames = parts.map(
      (payload, seq): FeishuFrame => ({
        seqId: nextSeqId++,
        logId: BigInt(`0x${randomBytes(7).toString('hex')}`),
        service: serviceId,
        method: FEISHU_FRAME_METHOD.data,
        headers: [
          { key: FEISHU_HEADER.type, value: FEISHU_MESSAGE_TYPE.event },
          { key: FEISHU_HEADER.messageId, value: delivery.deliveryId },
          { key: FEISHU_HEADER.sum, value: String(parts.length) },
          { key: FEISHU_HEADER.seq, value: String(seq) },
          { key: FEISHU_HEADER.traceId, value: traceId },
          { key: FEISHU_HEADER.timestamp, value: String(timers.now()) },
        ],
        payload,
      }),
    );
    if (!first) return frames;
    const withheld = new Set(delivery.options.withholdParts ?? []);
    const sent = frames.filter((_, seq) => !withheld.has(seq));
    return delivery.options.reverseParts ? sent.reverse() : sent;
  }

  /** Pushes the event on one eligible socket (every one with `toAll`), or queues it until a socket opens. */
  function push(delivery: Delivery, toAll = false): void {
    if (closed || delivery.settled || delivery.abandoned) return;
    const eligible = hub.eligible();
    if (eligible.length === 0) {
      delivery.queued = true;
      return;
    }
    delivery.queued = false;
    const attempt = delivery.pushes.length === 0 ? 0 : Math.max(...delivery.pushes.map((p) => p.attempt)) + 1;
    const targets = toAll ? eligible : [eligible[Math.floor(random() * eligible.length)] ?? eligible[0]];
    for (const target of targets) {
      if (!target) continue;
      const frames = eventFrames(delivery, attempt === 0);
      if (frames.every((frame) => sendFrameTo(target, frame))) {
        delivery.pushes.push({ socketId: target.id, at: timers.now(), attempt });
      }
    }
    if (delivery.timer) timers.clearTimeout(delivery.timer);
    // After the last re-push, the deadline decides: a timely ack settles it, else it is abandoned.
    const wait = repushDelays[attempt] ?? ackDeadlineMs;
    delivery.timer = timers.setTimeout(() => {
      delivery.timer = undefined;
      if (delivery.settled || closed) return;
      if (attempt >= repushDelays.length) {
        delivery.abandoned = true;
        waiters.settle(delivery.deliveryId, false);
        return;
      }
      push(delivery);
    }, wait);
  }

  function onClientFrame(socket: EmulatedSocket, bytes: Buffer): void {
    const decoded = decodeFeishuFrame(bytes);
    if (!decoded.ok) {
      unexpectedFrames += 1;
      return;
    }
    const frame = decoded.value;
    if (frame.method === FEISHU_FRAME_METHOD.control && frameType(frame) === FEISHU_MESSAGE_TYPE.ping) {
      pings.push({ socketId: socket.id, at: timers.now(), service: frame.service });
      if (answering) sendFrameTo(socket, pongFrame(serviceId, pongConfig));
      return;
    }
    if (frame.method !== FEISHU_FRAME_METHOD.data) {
      unexpectedFrames += 1;
      return;
    }
    onAck(frame);
  }

  /**
   * An ack: the data frame echoed with `{"code":200}` and a `biz_rt` header of whole ms. Its sign is not checked: the
   * Node SDK sends start − end (≤ 0), and Feishu takes it.
   */
  function onAck(frame: FeishuFrame): void {
    const messageId = frameHeader(frame, FEISHU_HEADER.messageId) ?? '';
    const payload = payloadJson(frame);
    const ack = payload.ok ? ackPayloadSchema.safeParse(payload.value) : undefined;
    const bizRt = frameHeader(frame, FEISHU_HEADER.bizRt);
    const delivery = deliveries.get(messageId);
    if (!ack?.success || ack.data.code !== 200 || bizRt === undefined || !/^-?\d+$/.test(bizRt)) {
      unexpectedFrames += 1;
      return;
    }
    acks.push(frame);
    if (!delivery) {
      if (!rawIds.has(messageId)) unexpectedFrames += 1;
      return;
    }
    delivery.acks += 1;
    const latest = delivery.pushes.at(-1);
    if (!delivery.settled && latest && timers.now() - latest.at <= ackDeadlineMs) {
      delivery.settled = true;
      if (delivery.timer) timers.clearTimeout(delivery.timer);
      delivery.timer = undefined;
    }
    if (delivery.ackedAt !== undefined) return;
    delivery.ackedAt = timers.now();
    waiters.settle(delivery.deliveryId, true);
  }

  function sendFrameTo(socket: EmulatedSocket, frame: FeishuFrame): boolean {
    if (socket.ws.readyState !== socket.ws.OPEN) return false;
    socket.ws.send(encodeFeishuFrame(frame));
    return true;
  }

  /** The plaintext event: the body as given, or the one inside an `{encrypt}` envelope (the webhook's form). */
  function plainEvent(payload: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
    if (typeof payload.encrypt !== 'string') return payload;
    if (!options.encryptKey) throw new Error('feishu-ws emulator: an encrypted body needs the encryptKey option');
    return JSON.parse(decryptFeishu(payload.encrypt, options.encryptKey).toString('utf8')) as Record<string, unknown>;
  }

  const sendAll = (bytes: Uint8Array): void => {
    for (const socket of hub.open()) socket.ws.send(bytes);
  };

  return {
    platform: 'feishu',
    handleApi(request) {
      if (request.path !== FEISHU_WS_ENDPOINT_PATH) return undefined;
      discoveryCalls += 1;
      if (request.method !== 'POST') return jsonApiResponse(405, { code: 405, msg: 'POST only' });
      const fault = discoveryFaults.shift();
      if (fault !== undefined) return jsonApiResponse(200, { code: fault, msg: 'emulated failure', data: {} });
      let body: unknown;
      try {
        body = JSON.parse(request.body.toString('utf8'));
      } catch {
        return jsonApiResponse(400, { code: 400, msg: 'body is not JSON' });
      }
      const parsed = endpointRequestSchema.safeParse(body);
      if (!parsed.success || parsed.data.AppID !== options.appId || parsed.data.AppSecret !== options.appSecret) {
        return jsonApiResponse(200, { code: FEISHU_WS_CODE.authFailed, msg: 'auth failed', data: {} });
      }
      if (hub.open().length >= maxConnections) {
        return jsonApiResponse(200, { code: FEISHU_WS_CODE.exceedConnLimit, msg: 'exceed connection limit', data: {} });
      }
      const query = new URLSearchParams({
        [FEISHU_DEVICE_ID_PARAM]: randomBytes(8).toString('hex'),
        [FEISHU_SERVICE_ID_PARAM]: String(serviceId),
        ticket: tickets.issue(),
      });
      return jsonApiResponse(200, {
        code: FEISHU_WS_CODE.ok,
        msg: 'ok',
        data: { URL: `ws://${hostOf(request.headers)}${socketPath}?${query}`, ClientConfig: clientConfig },
      });
    },
    handleUpgrade: (req, socket, head) => hub.handleUpgrade(req, socket, head),
    deliver(payload, deliverOptions: FeishuDeliverOptions = {}) {
      const event = plainEvent(payload);
      const delivery: Delivery = {
        deliveryId: randomUUID(),
        eventId: eventIdOf(event),
        bytes: new TextEncoder().encode(JSON.stringify(event)),
        options: deliverOptions,
        pushes: [],
        settled: false,
        acks: 0,
        queued: false,
        abandoned: false,
      };
      deliveries.set(delivery.deliveryId, delivery);
      push(delivery, deliverOptions.toAll === true);
      return deliveryView(delivery);
    },
    waitForAck(deliveryId, timeoutMs) {
      return waiters.wait(deliveries.get(deliveryId), timeoutMs);
    },
    deliveries: () => [...deliveries.values()].map(deliveryView),
    requestDisconnect(reason = 'server closing') {
      const open = hub.open();
      for (const socket of open) socket.ws.close(1001, reason);
      return open.length;
    },
    dropAll: () => hub.dropAll(),
    sendRaw: (text) => hub.sendRaw(text),
    sendBytes: (bytes) => sendAll(bytes),
    sendFrame(frame) {
      const messageId = frameHeader(frame, FEISHU_HEADER.messageId);
      if (messageId) rawIds.add(messageId);
      sendAll(encodeFeishuFrame(frame));
    },
    failDiscovery(code, times = 1) {
      for (let i = 0; i < times; i++) discoveryFaults.push(code);
    },
    pings: () => [...pings],
    ackFrames: () => [...acks],
    answerPings(on) {
      answering = on;
    },
    stats: () => emulatorStats(hub, deliveries.values(), { discoveryCalls, unexpectedFrames }),
    async close() {
      closed = true;
      for (const d of deliveries.values()) if (d.timer) timers.clearTimeout(d.timer);
      waiters.settleAll(false);
      await hub.close();
    },
  };
}

/** Headers of a data frame as the emulator sends them, for tests that build frames by hand. */
export function feishuDataHeaders(type: string, messageId: string, sum = 1, seq = 0): FeishuFrameHeader[] {
  return [
    { key: FEISHU_HEADER.type, value: type },
    { key: FEISHU_HEADER.messageId, value: messageId },
    { key: FEISHU_HEADER.sum, value: String(sum) },
    { key: FEISHU_HEADER.seq, value: String(seq) },
  ];
}

/** `header.event_id` of a schema 2.0 event, or `''`. */
function eventIdOf(event: Readonly<Record<string, unknown>>): string {
  const header = event.header;
  if (typeof header !== 'object' || header === null || !('event_id' in header)) return '';
  return typeof header.event_id === 'string' ? header.event_id : '';
}
