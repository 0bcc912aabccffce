import { randomUUID } from 'node:crypto';
import {
  connectionsOpenRequestSchema,
  DINGTALK_OPEN_PATH,
  DINGTALK_ROBOT_TOPIC,
  DINGTALK_SPEC_VERSION,
  DINGTALK_SYSTEM_TOPICS,
  type DownstreamFrame,
  decodeAckFrame,
  encodeFrame,
} from '#connector/dingtalk-stream-frames';
import { systemTimers, type Timers } from '#connector/timers';
import { createSocketHub, type EmulatedSocket, hostOf, sendText, TicketBook } from './emulated-sockets';
import {
  AckWaiters,
  type DeliverOptions,
  deliveryView,
  emulatorStats,
  jsonApiResponse,
  type LongConnectionEmulator,
  type SocketPush,
} from './long-connection-emulator';

export interface DingTalkStreamEmulatorOptions {
  /** The app's Client ID and Secret the discovery call must carry. */
  readonly clientId: string;
  readonly clientSecret: string;
  readonly timers?: Timers;
  /** Picks the socket for each push ("通过随机策略选取一个Stream通道推送"). @default Math.random */
  readonly random?: () => number;
  /** A ticket is usable once, within 90 s (§3.1). @default 90000 */
  readonly ticketTtlMs?: number;
  /** Between SYSTEM `disconnect` and the close: about 10 s (§3.1). @default 10000 */
  readonly disconnectGraceMs?: number;
  /** SYSTEM pings to every socket at this interval; 0 = only `ping()`. @default 0 */
  readonly pingIntervalMs?: number;
  /** The upgrade path; the endpoint handed out is `ws://<Host of the discovery call><socketPath>`. */
  readonly socketPath?: string;
}

/** One SYSTEM ping and whether its `opaque` came back. */
export interface EmulatedPing {
  readonly opaque: string;
  readonly socketId: number;
  readonly sentAt: number;
  echoedAt?: number;
}

export interface DingTalkStreamEmulator extends LongConnectionEmulator {
  /** Sends a SYSTEM ping with a fresh `opaque` on every open socket. */
  ping(): readonly EmulatedPing[];
  pings(): readonly EmulatedPing[];
  /** The subscriptions each discovery call asked for, in order. */
  subscriptions(): readonly (readonly { readonly type: string; readonly topic: string }[])[];
}

interface Delivery {
  readonly deliveryId: string;
  readonly eventId: string;
  readonly data: string;
  readonly pushes: SocketPush[];
  ackedAt?: number;
  acks: number;
  queued: boolean;
  abandoned: boolean;
}

export const DINGTALK_STREAM_PATH = '/_emulator/dingtalk/connect';

/**
 * Plays DingTalk's Stream mode end (frames in `#connector/dingtalk-stream-frames`): `POST /v1.0/gateway/connections/open`
 * with the app's clientId/clientSecret (401 `InvalidAuthentication` otherwise) hands out `{endpoint, ticket}` (single-use,
 * 90 s); the socket opens at `endpoint?ticket=…` with no greeting; robot messages go out as CALLBACK frames on one
 * socket picked at random and are never pushed again ("fire-forgot": a message whose socket closes before its ack is
 * marked abandoned). With no socket open, a message waits for the next one (an emulator convenience, so the page's
 * messages are not lost while the connector reconnects; what DingTalk does then is unverified). SYSTEM `ping` expects
 * its `opaque` back; `requestDisconnect` sends SYSTEM `disconnect` and closes 10 s later.
 */
export function createDingTalkStreamEmulator(options: DingTalkStreamEmulatorOptions): DingTalkStreamEmulator {
  const timers = options.timers ?? systemTimers;
  const random = options.random ?? Math.random;
  const graceMs = options.disconnectGraceMs ?? 10_000;
  const socketPath = options.socketPath ?? DINGTALK_STREAM_PATH;
  const tickets = new TicketBook(options.ticketTtlMs ?? 90_000, timers.now);
  const deliveries = new Map<string, Delivery>();
  const waiters = new AckWaiters();
  const pings: EmulatedPing[] = [];
  const subscriptions: { type: string; topic: string }[][] = [];
  let discoveryCalls = 0;
  let unexpectedFrames = 0;
  let closed = false;
  let pingTimer: ReturnType<Timers['setTimeout']> | undefined;

  const hub = createSocketHub({
    path: socketPath,
    now: timers.now,
    authorize: (url) =>
      tickets.redeem(url.searchParams.get('ticket'))
        ? { ok: true }
        : { ok: false, status: 401, reason: 'invalid, expired or spent ticket' },
    onOpen: () => {
      for (const delivery of deliveries.values()) if (delivery.queued) push(delivery);
    },
    onText: (socket, text) => onClientFrame(socket, text),
    onClose: (socket) => {
      // Fire-and-forget: what this socket did not acknowledge is not pushed again.
      for (const delivery of deliveries.values()) {
        const last = delivery.pushes.at(-1);
        if (delivery.ackedAt === undefined && last?.socketId === socket.id) {
          delivery.abandoned = true;
          waiters.settle(delivery.deliveryId, false);
        }
      }
    },
  });

  function frame(type: DownstreamFrame['type'], topic: string, data: string): DownstreamFrame {
    return {
      specVersion: DINGTALK_SPEC_VERSION,
      type,
      headers: {
        appId: 'emulated-dingtalk-app',
        connectionId: 'emulated',
        contentType: 'application/json',
        messageId: randomUUID(),
        time: String(timers.now()),
        topic,
      },
      data,
    };
  }

  function push(delivery: Delivery, toAll = false): void {
    if (closed) return;
    const eligible = hub.eligible();
    if (eligible.length === 0) {
      delivery.queued = true;
      return;
    }
    delivery.queued = false;
    const targets = toAll ? eligible : [eligible[Math.floor(random() * eligible.length)] ?? eligible[0]];
    for (const target of targets) {
      const callback = frame('CALLBACK', DINGTALK_ROBOT_TOPIC, delivery.data);
      const sent = target
        ? sendText(
            target,
            encodeFrame({ ...callback, headers: { ...callback.headers, messageId: delivery.deliveryId } }),
          )
        : false;
      if (sent && target) delivery.pushes.push({ socketId: target.id, at: timers.now(), attempt: 0 });
    }
  }

  function onClientFrame(socket: EmulatedSocket, text: string): void {
    const ack = decodeAckFrame(text);
    if (!ack.ok) {
      unexpectedFrames += 1;
      return;
    }
    const ping = pings.find(
      (p) => p.socketId === socket.id && p.echoedAt === undefined && pingOpaque(ack.value.data) === p.opaque,
    );
    if (ping) {
      ping.echoedAt = timers.now();
      return;
    }
    const delivery = deliveries.get(ack.value.headers.messageId);
    if (!delivery) {
      unexpectedFrames += 1;
      return;
    }
    delivery.acks += 1;
    if (delivery.ackedAt !== undefined) return;
    delivery.ackedAt = timers.now();
    waiters.settle(delivery.deliveryId, true);
  }

  function sendPings(): EmulatedPing[] {
    const sent: EmulatedPing[] = [];
    for (const socket of hub.open()) {
      const opaque = randomUUID();
      if (sendText(socket, encodeFrame(frame('SYSTEM', DINGTALK_SYSTEM_TOPICS.ping, JSON.stringify({ opaque }))))) {
        const ping: EmulatedPing = { opaque, socketId: socket.id, sentAt: timers.now() };
        pings.push(ping);
        sent.push(ping);
      }
    }
    return sent;
  }

  function schedulePings(): void {
    const interval = options.pingIntervalMs ?? 0;
    if (interval <= 0 || closed) return;
    pingTimer = timers.setTimeout(() => {
      sendPings();
      schedulePings();
    }, interval);
  }
  schedulePings();

  return {
    platform: 'dingtalk',
    handleApi(request) {
      if (request.path !== DINGTALK_OPEN_PATH) return undefined;
      discoveryCalls += 1;
      if (request.method !== 'POST') return jsonApiResponse(405, { code: 'MethodNotAllowed', message: 'POST only' });
      let body: unknown;
      try {
        body = JSON.parse(request.body.toString('utf8'));
      } catch {
        return jsonApiResponse(400, { code: 'InvalidParameter', message: 'body is not JSON' });
      }
      const parsed = connectionsOpenRequestSchema.safeParse(body);
      if (!parsed.success)
        return jsonApiResponse(400, { code: 'InvalidParameter', message: 'clientId, clientSecret, subscriptions' });
      if (parsed.data.clientId !== options.clientId || parsed.data.clientSecret !== options.clientSecret) {
        return jsonApiResponse(401, { code: 'InvalidAuthentication', message: 'clientId or clientSecret is wrong' });
      }
      subscriptions.push(parsed.data.subscriptions.map((s) => ({ type: s.type, topic: s.topic })));
      return jsonApiResponse(200, {
        endpoint: `ws://${hostOf(request.headers)}${socketPath}`,
        ticket: tickets.issue(),
      });
    },
    handleUpgrade: (req, socket, head) => hub.handleUpgrade(req, socket, head),
    deliver(payload, deliverOptions: DeliverOptions = {}) {
      const delivery: Delivery = {
        deliveryId: randomUUID(),
        eventId: typeof payload.msgId === 'string' ? payload.msgId : '',
        data: JSON.stringify(payload),
        pushes: [],
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
    requestDisconnect(reason = 'persistent connection is timeout') {
      const open = hub.open().filter((s) => !s.retiring);
      for (const socket of open) {
        socket.retiring = true;
        sendText(socket, encodeFrame(frame('SYSTEM', DINGTALK_SYSTEM_TOPICS.disconnect, JSON.stringify({ reason }))));
        timers.setTimeout(() => socket.ws.close(1000, 'disconnect'), graceMs);
      }
      return open.length;
    },
    dropAll: () => hub.dropAll(),
    sendRaw: (text) => hub.sendRaw(text),
    ping: () => sendPings(),
    pings: () => pings.map((p) => ({ ...p })),
    subscriptions: () => subscriptions.map((list) => [...list]),
    stats: () => emulatorStats(hub, deliveries.values(), { discoveryCalls, unexpectedFrames }),
    async close() {
      closed = true;
      if (pingTimer) timers.clearTimeout(pingTimer);
      waiters.settleAll(false);
      await hub.close();
    },
  };
}

/** The `opaque` an echoed ping carries in its `data`. */
function pingOpaque(data: string): string | undefined {
  try {
    const value: unknown = JSON.parse(data);
    const opaque = typeof value === 'object' && value !== null ? (value as { opaque?: unknown }).opaque : undefined;
    return typeof opaque === 'string' ? opaque : undefined;
  } catch {
    return undefined;
  }
}
