import type { DeliveryOutcome } from '#connector/admit-delivery';
import { type RunningConnector, startConnector } from '#connector/connector';
import type { ConnectorLogger } from '#connector/connector-logger';
import type { InboundDelivery } from '#connector/long-connection';
import { createLongConnections } from '#connector/platform-connections';
import type { IngestDeps } from '#core/ingest';
import { credentialEnv, SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import { dingtalkMessageBody } from '../../../sandbox/platform-emulator/dingtalk';
import {
  createDingTalkStreamEmulator,
  type DingTalkStreamEmulator,
} from '../../../sandbox/platform-emulator/dingtalk-stream';
import type { LongConnectionEmulator } from '../../../sandbox/platform-emulator/long-connection-emulator';
import { slackMessagePayload } from '../../../sandbox/platform-emulator/slack';
import { createSlackSocketEmulator } from '../../../sandbox/platform-emulator/slack-socket';
import { testEmulatorContext } from '../../helpers/emulated';
import {
  alternatingPick,
  recordingLogger,
  type SocketEmulatorServer,
  startSocketEmulatorServer,
  until,
} from '../../helpers/socket-emulator-server';
import { type Rig, startRig, uniqueChat } from '../worker/harness';

/**
 * The connector end to end: Slack Socket Mode and DingTalk Stream emulators on real WebSockets, connectors admitting
 * through the webhook's real ingest dependencies into dynalite + fauxqs, the real worker answering through the
 * platforms' emulated send APIs. "Answered" is read off the platforms' delivery log.
 */
let rig: Rig;
let slack: LongConnectionEmulator;
let dingtalk: DingTalkStreamEmulator;
let server: SocketEmulatorServer;
const running: RunningConnector[] = [];
const outcomes: { platform: string; eventId: string; outcome: DeliveryOutcome }[] = [];
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
  slack = createSlackSocketEmulator({
    appToken: SANDBOX_CREDENTIALS.slack.appToken ?? '',
    ackTimeoutMs: 500,
    random: alternatingPick(),
  });
  dingtalk = createDingTalkStreamEmulator({
    clientId: SANDBOX_CREDENTIALS.dingtalk.appKey,
    clientSecret: SANDBOX_CREDENTIALS.dingtalk.appSecret,
    random: alternatingPick(),
  });
  server = await startSocketEmulatorServer([slack, dingtalk]);
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
  const env = {
    ...credentialEnv(SANDBOX_CREDENTIALS),
    SLACK_API_BASE_URL: server.apiBase('slack'),
    DINGTALK_API_BASE_URL: server.apiBase('dingtalk'),
  };
  const connections = await createLongConnections(['slack', 'dingtalk'], env, {
    logger: logger as ConnectorLogger,
    backoff: { baseMs: 50, capMs: 200, stableMs: 60_000 },
  });
  const ingest: IngestDeps = {
    ...rig.ingest,
    enqueue: async (event, ids) => {
      if (gate.closed && event.message.text.includes('hold')) {
        gate.held.add(`${event.message.platform}#${event.message.eventId}`);
        await gate.opened;
      }
      return rig.ingest.enqueue(event, ids);
    },
  };
  const connector = await startConnector({
    connections,
    ingest,
    logger: logger as ConnectorLogger,
    onOutcome: (delivery: InboundDelivery, outcome) => {
      const eventId = outcome.kind === 'admitted' ? ((outcome.outcome as { eventId?: string }).eventId ?? '') : '';
      outcomes.push({ platform: delivery.platform, eventId, outcome });
    },
  });
  running.push(connector);
  await until('replica connected', () => connector.health().connections.every((c) => c.state === 'connected'));
  return connector;
}

const slackCtx = () => testEmulatorContext(`${rig.platformUrl}/_emulator/slack`).ctx;
const dingtalkCtx = () => testEmulatorContext(`${rig.platformUrl}/_emulator/dingtalk`).ctx;

interface Sent {
  readonly platform: 'slack' | 'dingtalk';
  readonly chatId: string;
  readonly eventId: string;
}

/** Pushes one member's message over the platform's socket; each in a chat of its own, so replies count per event. */
function say(platform: 'slack' | 'dingtalk', label: string, text: string, toAll = false): Sent {
  const chatId = uniqueChat(`${platform}-${label}`);
  if (platform === 'slack') {
    const payload = slackMessagePayload({ chatId, userId: 'alice', text }, slackCtx());
    slack.deliver(payload, { toAll });
    return { platform, chatId, eventId: payload.event_id };
  }
  const body = dingtalkMessageBody({ chatId, userId: 'bob', text }, dingtalkCtx());
  dingtalk.deliver(body, { toAll });
  return { platform, chatId, eventId: String(body.msgId) };
}

/** Waits for a reply to every event, lets any duplicate surface, and returns the replies per event. */
async function repliesPerEvent(sent: readonly Sent[]): Promise<number[]> {
  const chats = new Set(sent.map((s) => s.chatId));
  await rig.waitFor(sent.length, (d) => chats.has(d.chatId), 30_000);
  await rig.aws.poller?.idle({ timeoutMs: 15_000 });
  // Past the queue's 1 s visibility timeout: a second reply would have arrived by now.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  return sent.map((s) => rig.deliveries.filter((d) => d.platform === s.platform && d.chatId === s.chatId).length);
}

describe('long-connection connector', () => {
  it('answers Slack and DingTalk events delivered over the sockets exactly once, skipping bad frames', async () => {
    await startReplica();
    slack.sendRaw('{"type":"surprise"}');
    dingtalk.sendRaw('not json');
    const sent = [1, 2, 3, 4].flatMap((i) => [
      say('slack', `plain${i}`, `VPN address? #${i}`),
      say('dingtalk', `plain${i}`, `VPN address? #${i}`),
    ]);
    expect(await repliesPerEvent(sent)).toEqual(sent.map(() => 1));
    // Every push was acknowledged, once; the bad frames were logged and the sockets kept.
    for (const emulator of [slack, dingtalk]) {
      const log = emulator.deliveries().filter((d) => sent.some((s) => s.eventId === d.eventId));
      expect(log.map((d) => [d.acks, d.pushes.length])).toEqual(log.map(() => [1, 1]));
      expect(emulator.stats().socketsOpened).toBe(1);
    }
    expect(
      lines
        .filter((l) => l.message === 'bad frame skipped')
        .map((l) => l.fields.platform)
        .sort(),
    ).toEqual(['dingtalk', 'slack']);
  }, 60_000);

  it('answers every event exactly once when the sockets are cut mid-traffic and the connector restarts', async () => {
    const first = await startReplica();
    const before = { slack: slack.stats().socketsOpened, dingtalk: dingtalk.stats().socketsOpened };
    const acked = () => slack.stats().acked + dingtalk.stats().acked;
    const ackedBefore = acked();
    closeGate();
    // Two events per platform go through; four more are received and held mid-admission, unacknowledged.
    const sent = [
      ...[1, 2].flatMap((i) => [
        say('slack', `pass${i}`, `deploy window ${i}`),
        say('dingtalk', `pass${i}`, `deploy window ${i}`),
      ]),
      ...[1, 2, 3, 4].flatMap((i) => [say('slack', `held${i}`, `hold ${i}`), say('dingtalk', `held${i}`, `hold ${i}`)]),
    ];
    await until('the free events acknowledged', () => acked() === ackedBefore + 4);
    await until('the held events received', () => gate.held.size === 8);
    // Cut every socket without a close frame while four admissions per platform are in flight.
    expect(slack.dropAll() + dingtalk.dropAll()).toBe(2);
    gate.release();
    // Slack re-delivers what was not acknowledged (to the reconnected socket); the reservation collapses the copies.
    await until('reconnected', () =>
      first.health().connections.every((c) => c.state === 'connected' && c.reconnects === 1),
    );
    // Restart: stop the connector (events sent meanwhile wait at the platform), start a new one.
    await first.stop();
    running.splice(running.indexOf(first), 1);
    const whileDown = [1, 2].flatMap((i) => [
      say('slack', `down${i}`, `while down ${i}`),
      say('dingtalk', `down${i}`, `while down ${i}`),
    ]);
    await startReplica();
    const all = [...sent, ...whileDown];
    const replies = await repliesPerEvent(all);
    expect(all.map((s, i) => `${s.chatId}: ${replies[i]}`)).toEqual(all.map((s) => `${s.chatId}: 1`));
    // A reconnect after the cut, and the restarted replica's socket.
    expect(slack.stats().socketsOpened - before.slack).toBeGreaterThanOrEqual(2);
    expect(dingtalk.stats().socketsOpened - before.dingtalk).toBeGreaterThanOrEqual(2);
    // The held Slack events came back as retries and were admitted as duplicates, not answered twice.
    const heldSlack = sent.filter((s) => s.platform === 'slack' && s.chatId.includes('held')).map((s) => s.eventId);
    const retried = slack.deliveries().filter((d) => heldSlack.includes(d.eventId));
    expect(retried.every((d) => d.pushes.length >= 2 && d.ackedAt !== undefined)).toBe(true);
    const duplicates = outcomes.filter((o) => o.outcome.kind === 'admitted' && o.outcome.outcome.kind === 'duplicate');
    expect(heldSlack.every((id) => duplicates.some((d) => d.eventId === id))).toBe(true);
    // DingTalk never pushes again: its held events were answered from the one delivery, their acks lost with the socket.
    const heldDingTalk = sent
      .filter((s) => s.platform === 'dingtalk' && s.chatId.includes('held'))
      .map((s) => s.eventId);
    const once = dingtalk.deliveries().filter((d) => heldDingTalk.includes(d.eventId));
    expect(once.map((d) => [d.pushes.length, d.abandoned])).toEqual(once.map(() => [1, true]));
  }, 90_000);

  it('answers every event exactly once with two connector replicas, even when both receive it', async () => {
    await Promise.all([startReplica(), startReplica()]);
    await until(
      'two sockets per platform',
      () => slack.stats().openSockets === 2 && dingtalk.stats().openSockets === 2,
    );
    const spread = [1, 2, 3, 4, 5, 6].flatMap((i) => [
      say('slack', `spread${i}`, `q${i}`),
      say('dingtalk', `spread${i}`, `q${i}`),
    ]);
    const both = [1, 2, 3].flatMap((i) => [
      say('slack', `both${i}`, `twice ${i}`, true),
      say('dingtalk', `both${i}`, `twice ${i}`, true),
    ]);
    const all = [...spread, ...both];
    expect(await repliesPerEvent(all)).toEqual(all.map(() => 1));
    // Each copy pushed to both replicas was admitted by both: one enqueued it, the other found it reserved.
    for (const s of both) {
      const kinds = outcomes
        .filter((o) => o.eventId === s.eventId && o.outcome.kind === 'admitted')
        .map((o) => (o.outcome.kind === 'admitted' ? o.outcome.outcome.kind : ''))
        .sort();
      expect(kinds).toEqual(['duplicate', 'enqueued']);
    }
    // The pick (alternating here, random on both platforms) spread each platform's events over both replicas.
    for (const emulator of [slack, dingtalk]) {
      const sockets = new Set(
        emulator
          .deliveries()
          .filter((d) => spread.some((s) => s.eventId === d.eventId))
          .flatMap((d) => d.pushes.map((p) => p.socketId)),
      );
      expect(sockets.size).toBe(2);
    }
  }, 60_000);
});
