import type { DeliveryOutcome } from '#connector/admit-delivery';
import { type RunningConnector, startConnector } from '#connector/connector';
import type { ConnectorLogger } from '#connector/connector-logger';
import type { InboundDelivery } from '#connector/long-connection';
import { createLongConnections } from '#connector/platform-connections';
import type { IngestDeps } from '#core/ingest';
import { credentialEnv, SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import { createFeishuWsEmulator, type FeishuWsEmulator } from '../../../sandbox/platform-emulator/feishu-ws';
import {
  alternatingPick,
  recordingLogger,
  type SocketEmulatorServer,
  startSocketEmulatorServer,
  until,
} from '../../helpers/socket-emulator-server';
import { type Rig, startRig, uniqueChat } from '../worker/harness';

/**
 * The connector end to end on Feishu's long connection: the emulator on a real WebSocket (every event split into
 * `sum`/`seq` parts; an event not acked within 3 s pushed again 3 s after its push instead of 15 s), connectors
 * admitting through the webhook's real ingest dependencies into dynalite + fauxqs, the real worker answering through
 * the emulated Feishu send API. "Answered" is read off the platform's delivery log.
 */
let rig: Rig;
let feishu: FeishuWsEmulator;
let server: SocketEmulatorServer;
const running: RunningConnector[] = [];
const outcomes: { eventId: string; outcome: DeliveryOutcome }[] = [];
const { lines, logger } = recordingLogger();

/** Holds the enqueue of events whose text contains `hold` until released: admissions caught mid-flight. */
const gate: { closed: boolean; held: Set<string>; release: () => void; opened: Promise<void> } = {
  closed: false,
  held: new Set(),
  release: () => undefined,
  opened: Promise.resolve(),
};
function closeGate(): void {
  gate.closed = true;
  gate.opened = new Promise<void>((resolve) => {
    gate.release = () => {
      gate.closed = false;
      resolve();
    };
  });
}

beforeAll(async () => {
  rig = await startRig();
  feishu = createFeishuWsEmulator({
    appId: SANDBOX_CREDENTIALS.feishu.appId,
    appSecret: SANDBOX_CREDENTIALS.feishu.appSecret,
    encryptKey: SANDBOX_CREDENTIALS.feishu.encryptKey,
    partBytes: 400,
    repushDelaysMs: [3_000, 3_000, 6_000, 12_000],
    random: alternatingPick(),
  });
  server = await startSocketEmulatorServer([feishu]);
}, 60_000);

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});

afterAll(async () => {
  await server?.close();
  await rig?.stop();
});

/** One connector replica, as an ECS task would run it, with a short backoff so reconnects are quick here. */
async function startReplica(): Promise<RunningConnector> {
  const env = { ...credentialEnv(SANDBOX_CREDENTIALS), FEISHU_API_BASE_URL: server.apiBase('feishu') };
  const connections = await createLongConnections(['feishu'], env, {
    logger: logger as ConnectorLogger,
    backoff: { baseMs: 50, capMs: 200, stableMs: 60_000 },
  });
  const ingest: IngestDeps = {
    ...rig.ingest,
    enqueue: async (event, ids) => {
      if (gate.closed && event.message.text.includes('hold')) {
        gate.held.add(event.message.eventId);
        await gate.opened;
      }
      return rig.ingest.enqueue(event, ids);
    },
  };
  const connector = await startConnector({
    connections,
    ingest,
    logger: logger as ConnectorLogger,
    onOutcome: (_: InboundDelivery, outcome) => {
      const eventId = outcome.kind === 'admitted' ? ((outcome.outcome as { eventId?: string }).eventId ?? '') : '';
      outcomes.push({ eventId, outcome });
    },
  });
  running.push(connector);
  await until('replica connected', () => connector.health().connections.every((c) => c.state === 'connected'));
  return connector;
}

interface Sent {
  readonly chatId: string;
  readonly eventId: string;
}

/**
 * Pushes one member's message over the socket, as the sandbox does: the webhook body the platform emulator builds
 * (encrypted), opened by the socket emulator. Each in a chat of its own, so replies count per event.
 */
function say(label: string, text: string, toAll = false): Sent {
  const chatId = uniqueChat(`feishu-${label}`);
  // Long enough to go out in several parts.
  const request = rig.messageEvent('feishu', { chatId, userId: 'ou_alice', text: `${text} ${'·'.repeat(300)}` });
  const pushed = feishu.deliver(JSON.parse(request.body.toString('utf8')) as Record<string, unknown>, { toAll });
  expect(pushed.eventId).toBe(request.eventId);
  return { chatId, eventId: request.eventId };
}

/** Waits for a reply to every event, lets any duplicate surface, and returns the replies per event. */
async function repliesPerEvent(sent: readonly Sent[]): Promise<number[]> {
  const chats = new Set(sent.map((s) => s.chatId));
  await rig.waitFor(sent.length, (d) => chats.has(d.chatId), 30_000);
  await rig.aws.poller?.idle({ timeoutMs: 15_000 });
  // Past the queue's 1 s visibility timeout: a second reply would have arrived by now.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  return sent.map((s) => rig.deliveries.filter((d) => d.platform === 'feishu' && d.chatId === s.chatId).length);
}

const logOf = (sent: readonly Sent[]) => feishu.deliveries().filter((d) => sent.some((s) => s.eventId === d.eventId));

describe('Feishu long connection through the connector', () => {
  it('answers multi-part events exactly once, acking each once, and skips bad frames', async () => {
    await startReplica();
    const openedBefore = feishu.stats().socketsOpened;
    feishu.sendRaw('{"type":"event"}');
    feishu.sendBytes(Uint8Array.from([0x08, 0x01, 0x10]));
    const sent = [1, 2, 3, 4, 5, 6].map((i) => say(`plain${i}`, `VPN address? #${i}`));
    expect(await repliesPerEvent(sent)).toEqual(sent.map(() => 1));
    expect(logOf(sent).map((d) => [d.acks, d.pushes.length])).toEqual(sent.map(() => [1, 1]));
    expect(feishu.stats()).toMatchObject({ socketsOpened: openedBefore, unexpectedFrames: 0 });
    expect(lines.filter((l) => l.message === 'bad frame skipped').map((l) => l.fields.platform)).toEqual([
      'feishu',
      'feishu',
    ]);
  }, 60_000);

  it('answers every event exactly once when the socket is cut mid-traffic and the connector restarts', async () => {
    const first = await startReplica();
    const openedBefore = feishu.stats().socketsOpened;
    const ackedBefore = feishu.stats().acked;
    closeGate();
    // Two events go through; four are received and held mid-admission, unacknowledged.
    const passed = [1, 2].map((i) => say(`pass${i}`, `deploy window ${i}`));
    const held = [1, 2, 3, 4].map((i) => say(`held${i}`, `hold ${i}`));
    await until('the free events acknowledged', () => feishu.stats().acked === ackedBefore + 2);
    await until('the held events received', () => held.every((s) => gate.held.has(s.eventId)));
    // Cut the socket without a close frame while four admissions are in flight: their acks have nowhere to go.
    expect(feishu.dropAll()).toBe(1);
    gate.release();
    await until('reconnected', () =>
      first.health().connections.every((c) => c.state === 'connected' && c.reconnects === 1),
    );
    // Restart: stop the connector (events sent meanwhile wait at the platform), start a new one.
    await first.stop();
    running.splice(running.indexOf(first), 1);
    const whileDown = [1, 2].map((i) => say(`down${i}`, `while down ${i}`));
    await startReplica();
    const all = [...passed, ...held, ...whileDown];
    const replies = await repliesPerEvent(all);
    expect(all.map((s, i) => `${s.chatId}: ${replies[i]}`)).toEqual(all.map((s) => `${s.chatId}: 1`));
    expect(feishu.stats().socketsOpened - openedBefore).toBeGreaterThanOrEqual(2);
    // The held events are pushed again (their first ack never reached the platform), admitted as duplicates, acked.
    await until('held events pushed again and acked', () =>
      logOf(held).every((d) => d.pushes.length >= 2 && d.ackedAt !== undefined),
    );
    const duplicates = outcomes.filter((o) => o.outcome.kind === 'admitted' && o.outcome.outcome.kind === 'duplicate');
    expect(held.every((s) => duplicates.some((d) => d.eventId === s.eventId))).toBe(true);
    expect(logOf(whileDown).every((d) => d.ackedAt !== undefined && !d.abandoned)).toBe(true);
  }, 90_000);

  it('answers every event exactly once with two connector replicas, even when both receive it', async () => {
    await Promise.all([startReplica(), startReplica()]);
    await until('two sockets', () => feishu.stats().openSockets === 2);
    const spread = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => say(`spread${i}`, `q${i}`));
    const both = [1, 2, 3].map((i) => say(`both${i}`, `twice ${i}`, true));
    const all = [...spread, ...both];
    expect(await repliesPerEvent(all)).toEqual(all.map(() => 1));
    // Each event pushed to both replicas was admitted by both: one enqueued it, the other found it reserved.
    for (const s of both) {
      const kinds = outcomes
        .filter((o) => o.eventId === s.eventId && o.outcome.kind === 'admitted')
        .map((o) => (o.outcome.kind === 'admitted' ? o.outcome.outcome.kind : ''))
        .sort();
      expect(kinds).toEqual(['duplicate', 'enqueued']);
    }
    // The pick (alternating here, random on Feishu) spread the events over both replicas.
    const sockets = new Set(logOf(spread).flatMap((d) => d.pushes.map((p) => p.socketId)));
    expect(sockets.size).toBe(2);
  }, 60_000);
});
