import type { DeliveryOutcome } from '#connector/admit-delivery';
import { type RunningConnector, startConnector } from '#connector/connector';
import type { ConnectorLogger } from '#connector/connector-logger';
import { dynamoLeaseStore, isGrant } from '#connector/lease';
import { leasedConnection } from '#connector/leased-connection';
import type { LongConnection } from '#connector/long-connection';
import { createLongConnections } from '#connector/platform-connections';
import type { RelayOutcome } from '#connector/wecom-relay';
import type { RelayFrame } from '#platforms/wecom/relay';
import { DYNAMODB } from '#shared/aws-json-client';
import { credentialEnv, SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import { patchDelivery } from '../../../sandbox/platform-emulator/delivery-log';
import {
  createWecomAibotEmulator,
  WECOM_AIBOT_PATH,
  type WecomAibotEmulator,
  wecomReplyLogger,
} from '../../../sandbox/platform-emulator/wecom-aibot';
import { localAwsEnv, localJsonClient } from '../../helpers/local-aws-json';
import {
  recordingLogger,
  type SocketEmulatorServer,
  startSocketEmulatorServer,
  until,
} from '../../helpers/socket-emulator-server';
import { type Rig, startRig, uniqueChat } from '../worker/harness';

/**
 * WeCom's AI-bot long connection end to end: the emulated socket (real WebSocket), connectors leasing the bot's one
 * connection in dynalite, admitting through the webhook's real ingest dependencies into fauxqs, the real worker
 * streaming its replies into the relay FIFO queue, and the lease holder sending them back on the socket. "Answered" is
 * what the emulator showed in the chat.
 */
let rig: Rig;
let wecom: WecomAibotEmulator;
let server: SocketEmulatorServer;
const running: RunningConnector[] = [];
const outcomes: { eventId: string; outcome: DeliveryOutcome }[] = [];
const relayed: { frame: RelayFrame; outcome: RelayOutcome }[] = [];
const { lines, logger } = recordingLogger();

beforeAll(async () => {
  rig = await startRig({ wecomRelay: true, streaming: true });
  wecom = createWecomAibotEmulator({
    botId: SANDBOX_CREDENTIALS.wecom.botId,
    secret: SANDBOX_CREDENTIALS.wecom.botSecret ?? '',
    encodingAesKey: SANDBOX_CREDENTIALS.wecom.encodingAesKey,
    onReply: wecomReplyLogger(() => ({
      record: (d) => rig.deliveries.push({ ...d, at: new Date().toISOString() }),
      update: (p, id, patch) => patchDelivery(rig.deliveries, p, id, patch) !== undefined,
    })),
  });
  server = await startSocketEmulatorServer([wecom]);
}, 60_000);

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});

afterAll(async () => {
  await server?.close();
  await rig?.stop();
});

function replicaEnv(): Record<string, string> {
  return {
    ...credentialEnv(SANDBOX_CREDENTIALS),
    ...localAwsEnv(rig.aws),
    EVENTS_TABLE: rig.aws.tables.events,
    WECOM_RELAY_QUEUE_URL: rig.wecomRelayQueueUrl ?? '',
    WECOM_AIBOT_WS_URL: `${server.url.replace(/^http/, 'ws')}${WECOM_AIBOT_PATH}`,
  };
}

/** One connector replica, as an ECS task runs it, with short lease, backoff and relay timings. */
async function startReplica(): Promise<RunningConnector> {
  const connections = await createLongConnections(['wecom'], replicaEnv(), {
    logger: logger as ConnectorLogger,
    backoff: { baseMs: 50, capMs: 200, stableMs: 60_000 },
    wecom: {
      leaseMs: 1_500,
      renewEveryMs: 150,
      relayWaitSeconds: 1,
      relayIdleMs: 50,
      onRelayOutcome: (frame, outcome) => relayed.push({ frame, outcome }),
    },
  });
  const connector = await startConnector({
    connections,
    ingest: rig.ingest,
    logger: logger as ConnectorLogger,
    onOutcome: (_delivery, outcome) => {
      const eventId = outcome.kind === 'admitted' ? ((outcome.outcome as { eventId?: string }).eventId ?? '') : '';
      outcomes.push({ eventId, outcome });
    },
  });
  running.push(connector);
  return connector;
}

const connected = (c: RunningConnector) => c.health().connections.every((s) => s.state === 'connected');

interface Sent {
  readonly chatId: string;
  readonly eventId: string;
}

/**
 * Pushes one member's message over the socket, each in a chat of its own so replies count per event; `copies` pushes
 * the same message again (a re-push with a new req_id).
 */
function say(label: string, text: string, copies = 1): Sent {
  const chatId = uniqueChat(`wecom-${label}`);
  const request = rig.messageEvent('wecom', { chatId, userId: 'alice', text });
  for (let i = 0; i < copies; i++) wecom.deliver(JSON.parse(request.body.toString('utf8')) as Record<string, unknown>);
  return { chatId, eventId: request.eventId };
}

/** Waits for every event's reply to finish, lets any duplicate surface, and returns the replies per event. */
async function repliesPerEvent(sent: readonly Sent[]): Promise<number[]> {
  await until(
    'every reply finished',
    () =>
      sent.every((s) =>
        rig.deliveries.some((d) => d.chatId === s.chatId && (d.stream === 'finished' || d.stream === undefined)),
      ),
    30_000,
  );
  await rig.aws.poller?.idle({ timeoutMs: 15_000 });
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  return sent.map((s) => rig.deliveries.filter((d) => d.chatId === s.chatId).length);
}

describe('WeCom AI-bot long connection', () => {
  it('answers messages over the socket exactly once, streaming the reply in order, skipping bad frames', async () => {
    const replica = await startReplica();
    await until('connected', () => connected(replica));
    wecom.sendRaw('not json');
    wecom.sendRaw('{"cmd":"surprise","headers":{"req_id":"x"}}');
    const sent = [1, 2, 3].map((i) => ({ ...say(`plain${i}`, `VPN address? #${i}`), text: `VPN address? #${i}` }));
    expect(await repliesPerEvent(sent)).toEqual(sent.map(() => 1));
    for (const s of sent) {
      const reply = rig.deliveries.find((d) => d.chatId === s.chatId);
      expect(reply).toMatchObject({ platform: 'wecom', replyTo: s.eventId, stream: 'finished' });
      expect(reply?.text).toContain(s.text);
      // The stream's frames reached the socket in the order written: each shows at least the text of the one
      // before, every one was accepted, and only the last finishes the stream.
      const streamId = reply?.messageId.replace(/^stream-/, '');
      const frames = wecom.commands().filter((c) => c.cmd === 'aibot_respond_msg' && c.streamId === streamId);
      expect(frames.length).toBeGreaterThanOrEqual(1);
      expect(frames.map((f) => f.finish)).toEqual([...frames.slice(1).map(() => false), true]);
      expect(frames.map((f) => f.errcode)).toEqual(frames.map(() => 0));
      for (const [i, f] of frames.entries()) {
        if (i > 0) expect(f.content?.startsWith(frames[i - 1]?.content ?? '')).toBe(true);
      }
    }
    expect(lines.filter((l) => l.message === 'bad frame skipped').length).toBe(2);
    expect(wecom.subscriptions().accepted).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('falls back to aibot_send_msg when WeCom no longer accepts the req_id (846605), once', async () => {
    const replica = await startReplica();
    await until('connected', () => connected(replica));
    // The req_id expires right after the push, before the worker's first frame reaches the socket.
    const sent = say('expired', 'printer on floor 3?');
    wecom.expireReqIds();
    expect(await repliesPerEvent([sent])).toEqual([1]);
    const reply = rig.deliveries.find((d) => d.chatId === sent.chatId);
    expect(reply?.stream).toBeUndefined();
    expect(reply?.text).toContain('printer on floor 3?');
    const sendMsgs = wecom.commands().filter((c) => c.cmd === 'aibot_send_msg' && c.chatId === sent.chatId);
    expect(sendMsgs.map((c) => c.errcode)).toEqual([0]);
    expect(relayed.some((r) => r.frame.chatId === sent.chatId && r.outcome === 'fallback')).toBe(true);
  }, 60_000);

  it('answers every event exactly once when the socket is cut mid-traffic and the server closes it', async () => {
    const replica = await startReplica();
    await until('connected', () => connected(replica));
    const before = wecom.stats().socketsOpened;
    const first = [1, 2].map((i) => say(`before-cut${i}`, `deploy window ${i}`));
    expect(wecom.dropAll()).toBe(1);
    // Sent while no socket is subscribed: the emulator holds them for the next one.
    const during = [1, 2].map((i) => say(`during-cut${i}`, `while down ${i}`));
    await until('reconnected', () => connected(replica) && wecom.stats().socketsOpened === before + 1);
    expect(wecom.requestDisconnect()).toBe(1);
    const after = [1, 2].map((i) => say(`after-close${i}`, `after close ${i}`));
    const all = [...first, ...during, ...after];
    const replies = await repliesPerEvent(all);
    expect(all.map((s, i) => `${s.chatId}: ${replies[i]}`)).toEqual(all.map((s) => `${s.chatId}: 1`));
    expect(wecom.stats().socketsOpened).toBeGreaterThanOrEqual(before + 2);
    expect(replica.health().connections[0]?.reconnects).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it('runs one connection across two replicas, answers each event once, and hands over when the holder stops', async () => {
    const kickedBefore = wecom.subscriptions().kicked;
    const [a, b] = await Promise.all([startReplica(), startReplica()]);
    if (!a || !b) throw new Error('replicas');
    await until('one replica connected', () => connected(a) || connected(b));
    // The other stays in standby (healthy), and no socket was kicked.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const holder = connected(a) ? a : b;
    const standby = holder === a ? b : a;
    expect(standby.health()).toMatchObject({ healthy: true, connections: [{ state: 'standby' }] });
    expect(wecom.stats().openSockets).toBe(1);
    const sent = [1, 2, 3].map((i) => say(`pair${i}`, `q${i}`));
    // The same message pushed twice: admitted once, answered once.
    const twice = say('pair-dup', 'twice', 2);
    expect(await repliesPerEvent([...sent, twice])).toEqual([1, 1, 1, 1]);
    const kinds = outcomes
      .filter((o) => o.eventId === twice.eventId && o.outcome.kind === 'admitted')
      .map((o) => (o.outcome.kind === 'admitted' ? o.outcome.outcome.kind : ''))
      .sort();
    expect(kinds).toEqual(['duplicate', 'enqueued']);
    // Orderly stop releases the lease: the standby takes over at its next beat and answers the next events.
    await holder.stop();
    running.splice(running.indexOf(holder), 1);
    await until('standby took over', () => connected(standby), 10_000);
    const later = [1, 2].map((i) => say(`handover${i}`, `after handover ${i}`));
    expect(await repliesPerEvent(later)).toEqual([1, 1]);
    expect(wecom.subscriptions().kicked).toBe(kickedBefore);
    expect(wecom.stats().openSockets).toBe(1);
  }, 90_000);

  it('stops and does not reconnect when another client of the bot takes the connection (disconnected_event)', async () => {
    const replica = await startReplica();
    await until('connected', () => connected(replica));
    const opened = wecom.stats().socketsOpened;
    // A third-party client with the bot's secret subscribes: WeCom kicks ours.
    const { WebSocket } = await import('ws');
    const intruder = new WebSocket(`${server.url.replace(/^http/, 'ws')}${WECOM_AIBOT_PATH}`);
    await new Promise((resolve) => intruder.once('open', resolve));
    intruder.send(
      JSON.stringify({
        cmd: 'aibot_subscribe',
        headers: { req_id: 'aibot_subscribe_intruder' },
        body: { bot_id: SANDBOX_CREDENTIALS.wecom.botId, secret: SANDBOX_CREDENTIALS.wecom.botSecret },
      }),
    );
    await until('ours stood down', () => replica.health().connections[0]?.state === 'standby');
    await new Promise((resolve) => setTimeout(resolve, 800));
    // No fight: our replica opened no new socket while paused, and the intruder's stays subscribed.
    expect(wecom.stats().socketsOpened).toBe(opened + 1);
    expect(intruder.readyState).toBe(WebSocket.OPEN);
    expect(replica.health().healthy).toBe(true);
    expect(lines.some((l) => l.level === 'error' && l.message.includes('superseded'))).toBe(true);
    intruder.terminate();
  }, 30_000);
});

describe('WeCom connection lease (dynalite)', () => {
  const store = (key: string, durationMs = 400) =>
    dynamoLeaseStore(localJsonClient(DYNAMODB, rig.aws.endpoints.dynamo), {
      tableName: rig.aws.tables.events,
      key,
      durationMs,
    });

  it('grants one holder at a time, fences renewals, and lets another take it after expiry', async () => {
    const key = `lease#wecom#test-${Date.now()}`;
    const lease = store(key);
    const now = Date.now();
    const a = await lease.acquire('a', now);
    const b = await lease.acquire('b', now + 10);
    expect(isGrant(a)).toBe(true);
    expect(b).toEqual({ holder: 'a', until: now + 400 });
    if (!isGrant(a)) throw new Error('a');
    const renewed = await lease.renew(a, now + 100);
    expect(renewed?.until).toBe(now + 500);
    // Past expiry b takes it with a higher fence; a's renewal and release are refused and change nothing.
    const b2 = await lease.acquire('b', now + 600);
    if (!isGrant(b2)) throw new Error('b2');
    expect(b2.fence).toBe(a.fence + 1);
    expect(await lease.renew(a, now + 610)).toBeUndefined();
    await lease.release(a);
    expect(await lease.acquire('a', now + 620)).toEqual({ holder: 'b', until: now + 1000 });
    // An orderly release frees it at once.
    await lease.release(b2);
    const a3 = await lease.acquire('a', now + 630);
    expect(isGrant(a3) && a3.fence).toBe(b2.fence + 1);
  });

  it('two replicas run one term; when the holder dies without releasing, the other connects after expiry', async () => {
    const key = `lease#wecom#replicas-${Date.now()}`;
    const terms: string[] = [];
    const stub = (name: string): LongConnection => {
      let state: 'idle' | 'connected' | 'stopped' = 'idle';
      return {
        platform: 'wecom',
        delivery: 'fire-and-forget',
        start: () => {
          state = 'connected';
          terms.push(name);
        },
        stop: async () => {
          state = 'stopped';
        },
        status: () => ({ platform: 'wecom', state, reconnects: 0, consecutiveFailures: 0, openSockets: 1 }),
        on: () => () => undefined,
      };
    };
    const replica = (name: string, lease = store(key, 600)) =>
      leasedConnection({
        platform: 'wecom',
        delivery: 'fire-and-forget',
        lease,
        holderId: name,
        leaseMs: 600,
        renewEveryMs: 100,
        logger: logger as ConnectorLogger,
        startTerm: () => ({ connection: stub(name) }),
      });
    // `a` dies without releasing: its store's release does nothing, as a killed task's would.
    const deadRelease = store(key, 600);
    const a = replica('a', { ...deadRelease, release: async () => undefined });
    const b = replica('b');
    a.start();
    await until('a holds', () => terms.length === 1);
    b.start();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(terms).toEqual(['a']);
    expect(b.status().state).toBe('standby');
    expect(b.status().leaseHolder).toBe('a');
    const diedAt = Date.now();
    await a.stop();
    await until('b took over', () => terms.length === 2, 5_000);
    expect(terms).toEqual(['a', 'b']);
    // Not before a's last lease expired (renewed at most 100 ms before it died, 600 ms long).
    expect(Date.now() - diedAt).toBeGreaterThanOrEqual(400);
    expect(b.status().state).toBe('connected');
    await b.stop();
  });
});
