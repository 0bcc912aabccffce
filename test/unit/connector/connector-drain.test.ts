import { startConnector } from '#connector/connector';
import type { ConnectorLogger } from '#connector/connector-logger';
import type {
  ConnectionStatus,
  DeliverySemantics,
  InboundDelivery,
  LongConnection,
  LongConnectionEvents,
} from '#connector/long-connection';
import type { IngestDeps } from '#core/ingest';
import { createDingTalkPlatform } from '#platforms/dingtalk/index';
import { createSlackPlatform } from '#platforms/slack/index';
import type { ChatPlatform } from '#platforms/types';
import { SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import { DINGTALK_EMULATED_BOT_NAME, dingtalkMessageBody } from '../../../sandbox/platform-emulator/dingtalk';
import { slackMessagePayload } from '../../../sandbox/platform-emulator/slack';
import { testEmulatorContext } from '../../helpers/emulated';
import { recordingLogger } from '../../helpers/socket-emulator-server';

/**
 * `RunningConnector.stop` as ECS's SIGTERM drives it: stop accepting, let admissions in flight finish (acks still
 * going out on the open sockets), then close the sockets; all within the drain. Connections are in-memory fakes and
 * an admission is held open at its enqueue, so "in flight" is a state the test controls.
 */
type Listeners = { [E in keyof LongConnectionEvents]: LongConnectionEvents[E][] };

function fakeConnection(platform: 'slack' | 'dingtalk', delivery: DeliverySemantics, calls: string[]) {
  const listeners: Listeners = { connected: [], disconnected: [], event: [] };
  const connection: LongConnection = {
    platform,
    delivery,
    start: () => calls.push(`${platform} start`),
    stop: async () => {
      calls.push(`${platform} stop`);
    },
    status: (): ConnectionStatus => ({
      platform,
      state: 'connected',
      reconnects: 0,
      consecutiveFailures: 0,
      openSockets: 1,
    }),
    on: (event, listener) => {
      const list = listeners[event] as unknown[];
      list.push(listener);
      return () => list.splice(list.indexOf(listener), 1);
    },
  };
  const push = (id: string) => {
    const inbound: InboundDelivery = {
      platform,
      deliveryId: id,
      payload: payloadFor(platform, id),
      attempt: 0,
      receivedAt: Date.now(),
      ack: async () => {
        calls.push(`ack ${id}`);
      },
    };
    for (const listener of listeners.event) listener(inbound);
  };
  return { connection, push };
}

const noop = { fetch, now: Date.now, sleep: async () => undefined };
const ADAPTERS: Record<'slack' | 'dingtalk', ChatPlatform> = {
  slack: createSlackPlatform(SANDBOX_CREDENTIALS.slack, noop),
  dingtalk: createDingTalkPlatform({ ...SANDBOX_CREDENTIALS.dingtalk, botName: DINGTALK_EMULATED_BOT_NAME }, noop),
};
const { ctx } = testEmulatorContext();

/** A member's message as the platform's socket carries it; `id` is its event id and its text. */
function payloadFor(platform: 'slack' | 'dingtalk', id: string): unknown {
  return platform === 'slack'
    ? slackMessagePayload({ chatId: 'C1', userId: 'alice', text: id, eventId: id }, ctx)
    : dingtalkMessageBody({ chatId: 'cid1', userId: 'bob', text: id, eventId: id }, ctx);
}

/** The real adapters and ingest path on in-memory ports; each enqueue waits for `release(<event id>)`. */
function heldIngest(calls: string[]) {
  const gates = new Map<string, () => void>();
  const ingest: Pick<IngestDeps, 'platform' | 'events' | 'enqueue' | 'triggers' | 'scopes' | 'now'> = {
    platform: async (name) => ADAPTERS[name as 'slack' | 'dingtalk'],
    events: { reserve: async () => 'reserved', release: async () => undefined },
    enqueue: (event) => {
      const id = event.message.eventId;
      calls.push(`admit ${id}`);
      return new Promise<void>((resolve) => gates.set(id, resolve));
    },
    triggers: {},
    scopes: {},
    now: Date.now,
  };
  return { ingest, release: (id: string) => gates.get(id)?.() };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

async function rig(drainMs = 2_000) {
  const calls: string[] = [];
  const { lines, logger } = recordingLogger();
  const slack = fakeConnection('slack', 'redelivered', calls);
  const dingtalk = fakeConnection('dingtalk', 'fire-and-forget', calls);
  const held = heldIngest(calls);
  const connector = await startConnector({
    connections: [slack.connection, dingtalk.connection],
    ingest: held.ingest,
    logger: logger as ConnectorLogger,
    drainMs,
  });
  return { calls, lines, slack, dingtalk, held, connector };
}

it('lets an admission in flight finish and acknowledge before the sockets close', async () => {
  const { calls, slack, held, connector } = await rig();
  slack.push('s1');
  await flush();
  const stopped = connector.stop();
  await flush();
  expect(calls).not.toContain('slack stop');
  held.release('s1');
  await stopped;
  expect(calls.slice(calls.indexOf('admit s1'))).toEqual(['admit s1', 'ack s1', 'slack stop', 'dingtalk stop']);
});

it('stops accepting a redelivered platform at once, but still admits a fire-and-forget one until its socket closes', async () => {
  const { calls, lines, slack, dingtalk, held, connector } = await rig();
  slack.push('s1');
  await flush();
  const stopped = connector.stop();
  // Slack delivers again what is not acknowledged: left to it (another replica takes it). DingTalk never would.
  slack.push('s2');
  dingtalk.push('d1');
  await flush();
  expect(calls).not.toContain('admit s2');
  expect(calls).toContain('admit d1');
  held.release('s1');
  await flush();
  expect(calls).not.toContain('slack stop');
  held.release('d1');
  await stopped;
  expect(calls).toEqual(expect.arrayContaining(['ack s1', 'ack d1', 'slack stop', 'dingtalk stop']));
  expect(calls.indexOf('ack d1')).toBeLessThan(calls.indexOf('slack stop'));
  expect(calls).not.toContain('ack s2');
  expect(lines.some((l) => l.message.includes('left to the platform') && l.fields.deliveryId === 's2')).toBe(true);
});

it('closes the sockets when the drain runs out, and says how many admissions it abandoned', async () => {
  const { calls, lines, slack, connector } = await rig(100);
  slack.push('stuck');
  await flush();
  const started = Date.now();
  await connector.stop();
  expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  expect(Date.now() - started).toBeLessThan(2_000);
  expect(calls).toEqual(expect.arrayContaining(['slack stop', 'dingtalk stop']));
  expect(calls).not.toContain('ack stuck');
  expect(lines.find((l) => l.message === 'connector stopped')?.fields).toEqual({ abandonedAdmissions: 1 });
});

it('stops once, however often it is asked', async () => {
  const { calls, connector } = await rig();
  await Promise.all([connector.stop(), connector.stop()]);
  await connector.stop();
  expect(calls.filter((c) => c === 'slack stop')).toEqual(['slack stop']);
});
