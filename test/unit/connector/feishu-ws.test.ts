import { EventDispatcher, LoggerLevel, WSClient } from '@larksuiteoapi/node-sdk';
import { WebSocket } from 'ws';
import { admitDelivery, type DeliveryOutcome } from '#connector/admit-delivery';
import type { ConnectorLogger } from '#connector/connector-logger';
import { feishuWsSession } from '#connector/feishu-ws';
import { type FeishuFrame, frameHeader } from '#connector/feishu-ws-frames';
import { FEISHU_WS_ENDPOINT_PATH, payloadJson } from '#connector/feishu-ws-protocol';
import type { LongConnection } from '#connector/long-connection';
import { ConnectionOpenError, type OpenedSession, type SessionCallbacks } from '#connector/session';
import { superviseConnection } from '#connector/supervisor';
import type { IngestDeps } from '#core/ingest';
import { createFeishuPlatform } from '#platforms/feishu/index';
import { SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import { feishuMessageEvent } from '../../../sandbox/platform-emulator/feishu';
import {
  createFeishuWsEmulator,
  type FeishuWsEmulator,
  type FeishuWsEmulatorOptions,
  feishuDataHeaders,
} from '../../../sandbox/platform-emulator/feishu-ws';
import { testEmulatorContext } from '../../helpers/emulated';
import { ManualTimers } from '../../helpers/manual-timers';
import {
  recordingLogger,
  type SocketEmulatorServer,
  startSocketEmulatorServer,
  until,
} from '../../helpers/socket-emulator-server';

/**
 * The hand-rolled Feishu long-connection client against the emulator, both speaking `feishu-ws-frames.ts`, each on its
 * own `ManualTimers` (pings, part timeouts, the platform's ack deadline and re-pushes move only when a test says so);
 * and, last, the official SDK's WSClient against the same emulator.
 */
const { appId, appSecret, encryptKey } = SANDBOX_CREDENTIALS.feishu;
const SERVICE_ID = 33_554_678;
let emulatorTimers: ManualTimers;
let clientTimers: ManualTimers;
let emulator: FeishuWsEmulator;
let server: SocketEmulatorServer | undefined;
const sessions: OpenedSession[] = [];
const connections: LongConnection[] = [];

async function start(options: Partial<FeishuWsEmulatorOptions> = {}): Promise<void> {
  emulatorTimers = new ManualTimers(Date.now());
  clientTimers = new ManualTimers(Date.now());
  emulator = createFeishuWsEmulator({ appId, appSecret, encryptKey, timers: emulatorTimers, ...options });
  server = await startSocketEmulatorServer([emulator]);
}

afterEach(async () => {
  await Promise.all([...sessions.splice(0).map((s) => s.close()), ...connections.splice(0).map((c) => c.stop())]);
  await server?.close();
  server = undefined;
});

function recorder() {
  const seen = {
    deliveries: [] as Parameters<SessionCallbacks['delivery']>[0][],
    bad: [] as string[],
    retiring: [] as string[],
    closed: [] as string[],
  };
  const callbacks: SessionCallbacks = {
    delivery: (d) => seen.deliveries.push(d),
    badFrame: (reason) => seen.bad.push(reason),
    retiring: (reason) => seen.retiring.push(reason),
    closed: (reason) => seen.closed.push(reason),
  };
  return { seen, callbacks };
}

const opener = (overrides: { secret?: string; fetch?: typeof fetch } = {}) =>
  feishuWsSession({
    appId,
    appSecret: overrides.secret ?? appSecret,
    apiBaseUrl: server?.apiBase('feishu') ?? '',
    logger: recordingLogger().logger as ConnectorLogger,
    timers: clientTimers,
    ...(overrides.fetch ? { fetch: overrides.fetch } : {}),
  });

async function open(callbacks: SessionCallbacks, overrides: { fetch?: typeof fetch } = {}): Promise<OpenedSession> {
  const session = await opener(overrides)(callbacks, new AbortController().signal);
  sessions.push(session);
  return session;
}

const openError = (overrides: { secret?: string; fetch?: typeof fetch } = {}) =>
  opener(overrides)(recorder().callbacks, new AbortController().signal).then(
    () => {
      throw new Error('opened');
    },
    (err: unknown) => {
      if (!(err instanceof ConnectionOpenError)) throw err;
      return err;
    },
  );

const event = (eventId: string, text = 'hello') =>
  feishuMessageEvent({ chatId: 'oc_chat1', userId: 'ou_alice', text, eventId }, testEmulatorContext().ctx).event;

/** A frame sent after others arrives after them: its ack proves the client has read everything sent before it. */
async function flush(): Promise<void> {
  const id = `flush-${Math.random()}`;
  emulator.sendFrame({ seqId: 0n, logId: 0n, service: SERVICE_ID, method: 1, headers: feishuDataHeaders('card', id) });
  await until('the client read up to here', () =>
    emulator.ackFrames().some((f) => frameHeader(f, 'message_id') === id),
  );
}

/** The discovery answer for this app, fetched once: its URL (and single-use ticket) for a later, scripted open. */
async function discoveryAnswer(): Promise<string> {
  const res = await fetch(`${server?.apiBase('feishu')}${FEISHU_WS_ENDPOINT_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ AppID: appId, AppSecret: appSecret }),
  });
  return res.text();
}

describe('Feishu long-connection client ↔ emulator: opening', () => {
  it('discovers with AppID/AppSecret and locale zh, then pings at once with the URL’s service_id', async () => {
    await start();
    const requests: { headers: Headers; body: unknown }[] = [];
    const recordingFetch: typeof fetch = async (input, init) => {
      requests.push({ headers: new Headers(init?.headers), body: JSON.parse(String(init?.body)) });
      return fetch(input, init);
    };
    await open(recorder().callbacks, { fetch: recordingFetch });
    expect(requests).toHaveLength(1);
    expect(requests[0]?.body).toEqual({ AppID: appId, AppSecret: appSecret });
    expect(requests[0]?.headers.get('locale')).toBe('zh');
    await until('first ping', () => emulator.pings().length === 1);
    expect(emulator.pings()[0]).toMatchObject({ service: SERVICE_ID });
    expect(emulator.stats()).toMatchObject({ discoveryCalls: 1, socketsOpened: 1, openSockets: 1 });
  });

  it('maps refused discovery codes: auth, forbidden and the connection limit wait 60 s; busy and internal errors do not', async () => {
    await start();
    const wrong = await openError({ secret: 'wrong-secret' });
    expect(wrong).toMatchObject({
      stage: 'discovery',
      message: 'callback/ws/endpoint: code 514 (auth_failed)',
      retryAfterMs: 60_000,
    });
    expect(wrong.message).not.toContain('wrong-secret');
    const classes: Record<string, number | undefined> = {};
    for (const code of [1, 1_000_040_343, 1_000_040_350, 403]) {
      emulator.failDiscovery(code);
      const err = await openError();
      classes[err.message] = err.retryAfterMs;
    }
    expect(classes).toEqual({
      'callback/ws/endpoint: code 1 (system_busy)': undefined,
      'callback/ws/endpoint: code 1000040343 (internal_error)': undefined,
      'callback/ws/endpoint: code 1000040350 (exceed_conn_limit)': 60_000,
      'callback/ws/endpoint: code 403 (forbidden)': 60_000,
    });
  });

  it('backs off by those classes under the supervisor, and connects once discovery answers', async () => {
    await start();
    emulator.failDiscovery(1_000_040_343);
    emulator.failDiscovery(514);
    const { logger } = recordingLogger();
    const connection = superviseConnection({
      platform: 'feishu',
      delivery: 'redelivered',
      open: opener(),
      timers: clientTimers,
      random: () => 0.5,
      logger: logger as ConnectorLogger,
    });
    connections.push(connection);
    const waitAfter = (failures: number) =>
      until(`failure ${failures}`, () => connection.status().consecutiveFailures === failures).then(
        () => (connection.status().nextAttemptAt ?? 0) - clientTimers.now(),
      );
    connection.start();
    // Internal error: the backoff's first window (1 s) at the jitter's midpoint.
    expect(await waitAfter(1)).toBe(500);
    clientTimers.advance(500);
    // Auth failed: the backoff would be 1 s; the refusal asks for 60 s.
    expect(await waitAfter(2)).toBe(60_000);
    clientTimers.advance(60_000);
    await until('connected', () => connection.status().state === 'connected');
    expect(emulator.stats()).toMatchObject({ discoveryCalls: 3, socketsOpened: 1 });
  });

  it('reads a refused upgrade’s handshake headers: a spent URL is retried normally, the connection limit waits', async () => {
    await start({ maxConnections: 1 });
    const spent = await discoveryAnswer();
    await new Promise<void>((resolve, reject) => {
      const url = (JSON.parse(spent) as { data: { URL: string } }).data.URL;
      const ws = new WebSocket(url);
      ws.once('open', () => {
        ws.close();
        resolve();
      });
      ws.once('error', reject);
    });
    await until('first socket closed', () => emulator.stats().openSockets === 0);
    const reuse = await openError({ fetch: async () => new Response(spent) });
    expect(reuse).toMatchObject({ stage: 'connect', status: 401, retryAfterMs: undefined });
    expect(reuse.message).toBe('upgrade refused: HTTP 401, handshake-status 514 (auth_failed)');

    const early = await discoveryAnswer();
    await open(recorder().callbacks);
    const limited = await openError({ fetch: async () => new Response(early) });
    expect(limited).toMatchObject({ stage: 'connect', status: 403, retryAfterMs: 60_000 });
    expect(limited.message).toContain('1000040350 (exceed_conn_limit)');
    // Discovery itself refuses once the app's sockets are all in use.
    expect(await openError()).toMatchObject({ message: 'callback/ws/endpoint: code 1000040350 (exceed_conn_limit)' });
  });
});

describe('Feishu long-connection client ↔ emulator: ping and pong', () => {
  it('takes the pong’s ClientConfig as its ping interval', async () => {
    await start({ clientConfig: { PingInterval: 120 }, pongConfig: { PingInterval: 30 } });
    await open(recorder().callbacks);
    await until('first ping', () => emulator.pings().length === 1);
    await flush();
    expect(clientTimers.pendingDelays()).toContain(30_000);
    expect(clientTimers.pendingDelays()).not.toContain(120_000);
    clientTimers.advance(29_999);
    await flush();
    expect(emulator.pings()).toHaveLength(1);
    clientTimers.advance(1);
    await until('second ping after 30 s', () => emulator.pings().length === 2);
  });

  it('keeps discovery’s interval when pongs carry none, and ends a socket whose ping gets no frame back', async () => {
    await start({ clientConfig: { PingInterval: 45 }, pongConfig: {} });
    const { seen, callbacks } = recorder();
    await open(callbacks);
    await until('first ping', () => emulator.pings().length === 1);
    await flush();
    expect(clientTimers.pendingDelays()).toContain(45_000);
    emulator.answerPings(false);
    clientTimers.advance(45_000);
    await until('second ping', () => emulator.pings().length === 2);
    expect(seen.closed).toEqual([]);
    // Nothing arrived since the second ping: the third tick ends the socket instead of pinging again.
    clientTimers.advance(45_000);
    await until('closed', () => seen.closed.length === 1);
    expect(seen.closed[0]).toContain('no frame within 45000 ms of a ping');
    expect(emulator.pings()).toHaveLength(2);
  });
});

describe('Feishu long-connection client ↔ emulator: events', () => {
  it('delivers an event by its message_id, acked only when the connector acks: the frame echoed with code 200 and biz_rt', async () => {
    await start();
    const { seen, callbacks } = recorder();
    await open(callbacks);
    const body = event('ev-ack');
    const pushed = emulator.deliver(body);
    await until('delivered', () => seen.deliveries.length === 1);
    expect(seen.deliveries[0]).toMatchObject({ deliveryId: pushed.deliveryId, payload: body, attempt: 0 });
    await flush();
    expect(emulator.deliveries()[0]?.acks).toBe(0);
    clientTimers.advance(1_234);
    await seen.deliveries[0]?.ack();
    expect(await emulator.waitForAck(pushed.deliveryId, 5_000)).toBe(true);
    const ack = emulator.ackFrames().find((f) => frameHeader(f, 'message_id') === pushed.deliveryId);
    expect(ack).toMatchObject({ method: 1, service: 33_554_678 });
    expect(ack?.headers.map((h) => [h.key, h.value])).toEqual([
      ['type', 'event'],
      ['message_id', pushed.deliveryId],
      ['sum', '1'],
      ['seq', '0'],
      ['trace_id', expect.any(String)],
      ['timestamp', expect.any(String)],
      ['biz_rt', '1234'],
    ]);
    expect(ack && payloadJson(ack)).toEqual({ ok: true, value: { code: 200 } });
    expect(emulator.stats()).toMatchObject({ acked: 1, unexpectedFrames: 0 });
  });

  it('reassembles an event split into parts sent out of order', async () => {
    await start({ partBytes: 200 });
    const { seen, callbacks } = recorder();
    await open(callbacks);
    const body = event('ev-parts', 'a long question '.repeat(60));
    expect(JSON.stringify(body).length).toBeGreaterThan(1_000);
    const pushed = emulator.deliver(body, { reverseParts: true });
    await until('delivered', () => seen.deliveries.length === 1);
    expect(seen.deliveries[0]).toMatchObject({ deliveryId: pushed.deliveryId, payload: body });
    await seen.deliveries[0]?.ack();
    expect(await emulator.waitForAck(pushed.deliveryId, 5_000)).toBe(true);
    // The ack echoes the part that completed the event: the first, sent last.
    const ack = emulator.ackFrames().find((f) => frameHeader(f, 'message_id') === pushed.deliveryId);
    expect(ack && frameHeader(ack, 'seq')).toBe('0');
  });

  it('drops an incomplete event after its part timeout, unacknowledged, and takes the re-push whole', async () => {
    await start({ partBytes: 200 });
    const { seen, callbacks } = recorder();
    await open(callbacks);
    const body = event('ev-incomplete', 'a long question '.repeat(60));
    const parts = Math.ceil(Buffer.byteLength(JSON.stringify(body)) / 200);
    emulator.deliver(body, { withholdParts: [2] });
    await flush();
    expect(seen.deliveries).toEqual([]);
    clientTimers.advance(10_000);
    expect(seen.bad).toEqual([expect.stringContaining(`incomplete after 10000 ms: ${parts - 1} of ${parts} parts`)]);
    emulatorTimers.advance(15_000);
    await until('re-pushed and reassembled', () => seen.deliveries.length === 1);
    expect(seen.deliveries[0]?.payload).toEqual(body);
    expect(emulator.deliveries()[0]?.pushes.map((p) => p.attempt)).toEqual([0, 1]);
  });

  it('reports parts with impossible sum/seq, unacknowledged, and keeps the socket', async () => {
    await start();
    const { seen, callbacks } = recorder();
    await open(callbacks);
    const part = (id: string, sum: string, seq: string): FeishuFrame => ({
      seqId: 1n,
      logId: 1n,
      service: SERVICE_ID,
      method: 1,
      headers: [
        { key: 'type', value: 'event' },
        { key: 'message_id', value: id },
        { key: 'sum', value: sum },
        { key: 'seq', value: seq },
      ],
      payload: new TextEncoder().encode('{"half":'),
    });
    emulator.sendFrame(part('m1', '0', '0'));
    emulator.sendFrame(part('m2', '65', '0'));
    emulator.sendFrame(part('m3', '2', '2'));
    emulator.sendFrame(part('m4', 'two', '0'));
    emulator.sendFrame(part('m5', '3', '0'));
    emulator.sendFrame(part('m5', '4', '1'));
    await flush();
    expect(seen.bad).toEqual([
      'event m1: part count 0 outside 1..64',
      'event m2: part count 65 outside 1..64',
      'event m3: part index 2 outside 0..1',
      'event m4: part count two outside 1..64',
      "event m5: part count 4 differs from the first part's 3",
    ]);
    const acked = emulator.ackFrames().map((f) => frameHeader(f, 'message_id'));
    expect(acked.filter((id) => id?.startsWith('m'))).toEqual([]);
    emulator.deliver(event('ev-after'));
    await until('still delivering', () => seen.deliveries.length === 1);
    expect(seen.closed).toEqual([]);
  });

  it('acks card frames at once without delivering them; acks and reports other data types', async () => {
    await start();
    const { seen, callbacks } = recorder();
    await open(callbacks);
    const frame = (type: string, id: string): FeishuFrame => ({
      seqId: 5n,
      logId: 6n,
      service: SERVICE_ID,
      method: 1,
      headers: feishuDataHeaders(type, id),
      payload: new TextEncoder().encode('{}'),
    });
    emulator.sendFrame(frame('card', 'card-1'));
    emulator.sendFrame(frame('surprise', 'other-1'));
    await flush();
    const acked = emulator.ackFrames().map((f) => frameHeader(f, 'message_id'));
    expect(acked).toEqual(expect.arrayContaining(['card-1', 'other-1']));
    expect(seen.deliveries).toEqual([]);
    expect(seen.bad).toEqual(['unhandled data frame type "surprise"']);
  });

  it('logs and skips bad frames (text, not protobuf, unknown method, no message_id, not JSON) and keeps the socket', async () => {
    await start();
    const { seen, callbacks } = recorder();
    await open(callbacks);
    const base = { seqId: 1n, logId: 2n, service: SERVICE_ID };
    emulator.sendRaw('{"type":"event"}');
    emulator.sendBytes(Uint8Array.from([0x08, 0x96]));
    emulator.sendFrame({ ...base, method: 7, headers: [] });
    emulator.sendFrame({ ...base, method: 1, headers: [{ key: 'type', value: 'event' }], payload: new Uint8Array(2) });
    emulator.sendFrame({
      ...base,
      method: 1,
      headers: feishuDataHeaders('event', 'not-json'),
      payload: new TextEncoder().encode('{"schema":'),
    });
    await flush();
    expect(seen.bad).toEqual([
      'text frame',
      'not a pbbp2.Frame: truncated varint (at byte 2)',
      'unknown frame method 7',
      'event frame without message_id',
      'event not-json is not JSON',
    ]);
    // Unreadable JSON is acked: a re-push would carry the same bytes.
    expect(emulator.ackFrames().map((f) => frameHeader(f, 'message_id'))).toContain('not-json');
    emulator.deliver(event('ev-still'));
    await until('still delivering', () => seen.deliveries.length === 1);
    expect(seen.closed).toEqual([]);
  });

  it('reports the platform closing the socket (Feishu announces nothing)', async () => {
    await start();
    const { seen, callbacks } = recorder();
    await open(callbacks);
    expect(emulator.requestDisconnect()).toBe(1);
    await until('closed', () => seen.closed.length === 1);
    expect(seen.closed[0]).toContain('1001');
    expect(seen.retiring).toEqual([]);
  });
});

describe('Feishu re-push after a missed 3 s ack deadline, collapsed by the reservation', () => {
  it('admits the re-push as a duplicate and acks it; the late ack of the first push changes nothing', async () => {
    await start();
    const platform = createFeishuPlatform(SANDBOX_CREDENTIALS.feishu, {
      fetch,
      now: Date.now,
      sleep: async () => undefined,
    });
    const reserved = new Set<string>();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let enqueues = 0;
    const ingest: Pick<IngestDeps, 'platform' | 'events' | 'enqueue' | 'triggers' | 'scopes' | 'now'> = {
      platform: async () => platform,
      events: {
        reserve: async (pk) => {
          if (reserved.has(pk)) return 'exists';
          reserved.add(pk);
          return 'reserved';
        },
        release: async (pk) => {
          reserved.delete(pk);
        },
      },
      // The first enqueue is slow: held past the platform's ack deadline.
      enqueue: async () => {
        enqueues += 1;
        if (enqueues === 1) await held;
      },
      triggers: {},
      scopes: {},
      now: clientTimers.now,
    };
    const outcomes: DeliveryOutcome[] = [];
    const { logger } = recordingLogger();
    const { callbacks } = recorder();
    await open({
      ...callbacks,
      delivery: (d) => {
        void admitDelivery({ ...d, platform: 'feishu' }, 'redelivered', {
          ingest,
          logger: logger as ConnectorLogger,
          timers: clientTimers,
        }).then((o) => outcomes.push(o));
      },
    });
    emulator.deliver(event('ev-slow'));
    await until('first admission held', () => enqueues === 1);
    emulatorTimers.advance(15_000);
    await until('re-push admitted and acked', () => outcomes.length === 1);
    expect(outcomes[0]).toMatchObject({ kind: 'admitted', acked: true, outcome: { kind: 'duplicate' } });
    release();
    await until('slow admission acked', () => outcomes.length === 2);
    expect(outcomes[1]).toMatchObject({ kind: 'admitted', acked: true, outcome: { kind: 'enqueued' } });
    // The re-push's ack came in time: no third push, however long the platform waits.
    emulatorTimers.advance(6 * 3_600_000);
    await flush();
    expect(emulator.deliveries()[0]).toMatchObject({ acks: 2, abandoned: false });
    expect(emulator.deliveries()[0]?.pushes.map((p) => p.attempt)).toEqual([0, 1]);
  });

  it('abandons an event never acked in time after the last re-push', async () => {
    await start({ repushDelaysMs: [15_000, 300_000] });
    const { seen, callbacks } = recorder();
    await open(callbacks);
    const pushed = emulator.deliver(event('ev-never'));
    emulatorTimers.advance(15_000);
    await until('second push', () => seen.deliveries.length === 2);
    emulatorTimers.advance(300_000);
    await until('third push', () => seen.deliveries.length === 3);
    emulatorTimers.advance(3_000);
    expect(emulator.deliveries()[0]).toMatchObject({ abandoned: true, acks: 0 });
    expect(await emulator.waitForAck(pushed.deliveryId, 1)).toBe(false);
    expect(new Set(seen.deliveries.map((d) => d.deliveryId))).toEqual(new Set([pushed.deliveryId]));
  });
});

describe('the official SDK’s WSClient against the emulator', () => {
  it('discovers, pings, reassembles a multi-part event and acks it, all in the SDK’s own protobufjs frames', async () => {
    const sdkAppId = 'cli_0123456789abcdef';
    await start({ appId: sdkAppId, partBytes: 256 });
    const received: unknown[] = [];
    const client = new WSClient({
      appId: sdkAppId,
      appSecret,
      domain: server?.apiBase('feishu') ?? '',
      loggerLevel: LoggerLevel.error,
      autoReconnect: false,
    });
    try {
      await client.start({
        eventDispatcher: new EventDispatcher({ loggerLevel: LoggerLevel.error }).register({
          'im.message.receive_v1': async (data: unknown) => {
            received.push(data);
          },
        }),
      });
      await until('SDK ping', () => emulator.pings().length >= 1);
      expect(emulator.pings()[0]?.service).toBe(SERVICE_ID);
      const body = event('ev-sdk', 'split for the SDK '.repeat(40));
      const pushed = emulator.deliver(body, { reverseParts: true });
      expect(await emulator.waitForAck(pushed.deliveryId, 10_000)).toBe(true);
      expect(received).toEqual([expect.objectContaining({ event_id: 'ev-sdk' })]);
      const ack = emulator.ackFrames().find((f) => frameHeader(f, 'message_id') === pushed.deliveryId);
      expect(ack && payloadJson(ack)).toEqual({ ok: true, value: { code: 200 } });
      expect(emulator.stats().unexpectedFrames).toBe(0);
    } finally {
      client.close({ force: true });
    }
  });
});
