import { randomUUID } from 'node:crypto';
import {
  decodeSlackAck,
  encodeSlackFrame,
  type SlackEnvelopeFrame,
  type SlackHelloFrame,
} from '#connector/slack-socket-frames';
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

export interface SlackSocketEmulatorOptions {
  /** The app-level token `apps.connections.open` accepts (`Authorization: Bearer xapp-…`). */
  readonly appToken: string;
  readonly timers?: Timers;
  /** Picks the socket for each push. @default Math.random */
  readonly random?: () => number;
  /**
   * An envelope not acknowledged within this long is pushed again (`retry_attempt` + 1, `retry_reason: timeout`), up to
   * `maxRetries` times. Slack's Events API allows 3 s and retries 3 times; its Socket Mode timing is unverified.
   * @default 3000
   */
  readonly ackTimeoutMs?: number;
  /** @default 3 */
  readonly maxRetries?: number;
  /** Between a `disconnect` warning and the close; Slack's is about 10 s. @default 10000 */
  readonly disconnectGraceMs?: number;
  /** Lifetime of the `ticket` in the socket URL (Slack's is short and single-use; the value is unverified). @default 30000 */
  readonly ticketTtlMs?: number;
  /** WebSocket pings to the client, as Slack's servers send them (the SDK times out without); 0 = none. @default 10000 */
  readonly pingIntervalMs?: number;
  /** The upgrade path; the URL handed out is `ws://<Host of the discovery call><socketPath>?ticket=…`. */
  readonly socketPath?: string;
}

interface Delivery {
  readonly deliveryId: string;
  readonly eventId: string;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly pushes: SocketPush[];
  ackedAt?: number;
  acks: number;
  queued: boolean;
  abandoned: boolean;
  retryTimer?: ReturnType<Timers['setTimeout']>;
}

export const SLACK_SOCKET_PATH = '/_emulator/slack/socket';

/**
 * Plays Slack's Socket Mode end (docs.slack.dev/apis/events-api/using-socket-mode; frames in
 * `#connector/slack-socket-frames`): `apps.connections.open` with the app token in the Authorization header hands out a
 * single-use `ws://…?ticket=` URL; an accepted socket gets `hello`; each event goes out as an `events_api` envelope on
 * one socket picked at random and is pushed again until acknowledged (`retry_attempt`), on any socket then open;
 * `requestDisconnect` sends `disconnect` and closes the socket after the grace period; `dropAll` cuts sockets as a
 * network failure would.
 */
export function createSlackSocketEmulator(options: SlackSocketEmulatorOptions): LongConnectionEmulator {
  const timers = options.timers ?? systemTimers;
  const random = options.random ?? Math.random;
  const ackTimeoutMs = options.ackTimeoutMs ?? 3_000;
  const maxRetries = options.maxRetries ?? 3;
  const graceMs = options.disconnectGraceMs ?? 10_000;
  const pingIntervalMs = options.pingIntervalMs ?? 10_000;
  const socketPath = options.socketPath ?? SLACK_SOCKET_PATH;
  const tickets = new TicketBook(options.ticketTtlMs ?? 30_000, timers.now);
  const deliveries = new Map<string, Delivery>();
  const waiters = new AckWaiters();
  const pingTimers = new Map<number, ReturnType<Timers['setTimeout']>>();
  let discoveryCalls = 0;
  let unexpectedFrames = 0;
  let closed = false;

  const hub = createSocketHub({
    path: socketPath,
    now: timers.now,
    authorize: (url) =>
      tickets.redeem(url.searchParams.get('ticket'))
        ? { ok: true }
        : { ok: false, status: 401, reason: 'invalid or spent ticket' },
    onOpen: (socket) => {
      const hello: SlackHelloFrame = {
        type: 'hello',
        num_connections: hub.open().length,
        debug_info: { host: 'emulated-slack', build_number: 1, approximate_connection_time: 18_060 },
        connection_info: { app_id: 'A0SANDBOX' },
      };
      sendText(socket, encodeSlackFrame(hello));
      schedulePing(socket);
      for (const delivery of deliveries.values()) if (delivery.queued) push(delivery);
    },
    onText: (_socket, text) => onAck(text),
    onClose: (socket) => {
      const ping = pingTimers.get(socket.id);
      if (ping) timers.clearTimeout(ping);
      pingTimers.delete(socket.id);
    },
  });

  function schedulePing(socket: EmulatedSocket): void {
    if (pingIntervalMs <= 0 || closed) return;
    pingTimers.set(
      socket.id,
      timers.setTimeout(() => {
        if (socket.ws.readyState !== socket.ws.OPEN) return;
        socket.ws.ping();
        schedulePing(socket);
      }, pingIntervalMs),
    );
  }

  function envelope(delivery: Delivery, attempt: number): SlackEnvelopeFrame {
    return {
      envelope_id: delivery.deliveryId,
      type: 'events_api',
      payload: { ...delivery.payload },
      accepts_response_payload: false,
      retry_attempt: attempt,
      retry_reason: attempt === 0 ? '' : 'timeout',
    };
  }

  /** Pushes to one eligible socket (every one with `toAll`), or queues until a socket opens. */
  function push(delivery: Delivery, toAll = false): void {
    if (closed || delivery.ackedAt !== undefined) return;
    const eligible = hub.eligible();
    if (eligible.length === 0) {
      delivery.queued = true;
      return;
    }
    delivery.queued = false;
    const targets = toAll ? eligible : [eligible[Math.floor(random() * eligible.length)] ?? eligible[0]];
    const attempt = delivery.pushes.length === 0 ? 0 : Math.max(...delivery.pushes.map((p) => p.attempt)) + 1;
    for (const target of targets) {
      if (target && sendText(target, encodeSlackFrame(envelope(delivery, attempt)))) {
        delivery.pushes.push({ socketId: target.id, at: timers.now(), attempt });
      }
    }
    if (delivery.retryTimer) timers.clearTimeout(delivery.retryTimer);
    delivery.retryTimer = timers.setTimeout(() => {
      delivery.retryTimer = undefined;
      if (delivery.ackedAt !== undefined || closed) return;
      if (attempt >= maxRetries) {
        delivery.abandoned = true;
        waiters.settle(delivery.deliveryId, false);
        return;
      }
      push(delivery);
    }, ackTimeoutMs);
  }

  function onAck(text: string): void {
    const ack = decodeSlackAck(text);
    const delivery = ack.ok ? deliveries.get(ack.value.envelope_id) : undefined;
    if (!delivery) {
      unexpectedFrames += 1;
      return;
    }
    delivery.acks += 1;
    if (delivery.ackedAt !== undefined) return;
    delivery.ackedAt = timers.now();
    if (delivery.retryTimer) timers.clearTimeout(delivery.retryTimer);
    delivery.retryTimer = undefined;
    waiters.settle(delivery.deliveryId, true);
  }

  return {
    platform: 'slack',
    handleApi(request) {
      if (request.path !== '/api/apps.connections.open') return undefined;
      discoveryCalls += 1;
      if (request.method !== 'POST') return jsonApiResponse(405, { ok: false, error: 'method_not_supported' });
      const auth = Object.entries(request.headers).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
      if (auth === undefined) return jsonApiResponse(200, { ok: false, error: 'not_authed' });
      if (auth !== `Bearer ${options.appToken}`) return jsonApiResponse(200, { ok: false, error: 'invalid_auth' });
      const url = `ws://${hostOf(request.headers)}${socketPath}?ticket=${tickets.issue()}`;
      return jsonApiResponse(200, { ok: true, url });
    },
    handleUpgrade: (req, socket, head) => hub.handleUpgrade(req, socket, head),
    deliver(payload, deliverOptions: DeliverOptions = {}) {
      const delivery: Delivery = {
        deliveryId: randomUUID(),
        eventId: typeof payload.event_id === 'string' ? payload.event_id : '',
        payload,
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
    requestDisconnect(reason = 'warning') {
      const open = hub.open().filter((s) => !s.retiring);
      for (const socket of open) {
        socket.retiring = true;
        sendText(socket, encodeSlackFrame({ type: 'disconnect', reason, debug_info: { host: 'emulated-slack' } }));
        timers.setTimeout(() => socket.ws.close(1001, 'disconnect'), graceMs);
      }
      return open.length;
    },
    dropAll: () => hub.dropAll(),
    sendRaw: (text) => hub.sendRaw(text),
    stats: () => emulatorStats(hub, deliveries.values(), { discoveryCalls, unexpectedFrames }),
    async close() {
      closed = true;
      for (const d of deliveries.values()) if (d.retryTimer) timers.clearTimeout(d.retryTimer);
      for (const t of pingTimers.values()) timers.clearTimeout(t);
      waiters.settleAll(false);
      await hub.close();
    },
  };
}
