import { admitDelivery, type DeliveryOutcome } from '#connector/admit-delivery';
import type { ConnectorLogger } from '#connector/connector-logger';
import type { DeliverySemantics, InboundDelivery } from '#connector/long-connection';
import type { IngestDeps } from '#core/ingest';
import { createDingTalkPlatform } from '#platforms/dingtalk/index';
import { createSlackPlatform } from '#platforms/slack/index';
import type { ChatPlatform, PlatformName } from '#platforms/types';
import { SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import { DINGTALK_EMULATED_BOT_NAME, dingtalkMessageBody } from '../../../sandbox/platform-emulator/dingtalk';
import { slackMessagePayload } from '../../../sandbox/platform-emulator/slack';
import { testEmulatorContext } from '../../helpers/emulated';
import { ManualTimers } from '../../helpers/manual-timers';
import { recordingLogger } from '../../helpers/socket-emulator-server';

/**
 * The ack policy on in-memory ports: real adapters parse real long-connection payloads (the emulators' builders),
 * and a call log shows the order of reservation, enqueue and ack.
 */
const noop = { fetch, now: Date.now, sleep: async () => undefined };
const ADAPTERS: Record<'slack' | 'dingtalk', ChatPlatform> = {
  slack: createSlackPlatform(SANDBOX_CREDENTIALS.slack, noop),
  dingtalk: createDingTalkPlatform({ ...SANDBOX_CREDENTIALS.dingtalk, botName: DINGTALK_EMULATED_BOT_NAME }, noop),
};

function rig(options: { enqueueFailures?: number; reservation?: 'reserved' | 'exists' } = {}) {
  const calls: string[] = [];
  const timers = new ManualTimers();
  const { lines, logger } = recordingLogger();
  let failuresLeft = options.enqueueFailures ?? 0;
  const ingest: Pick<IngestDeps, 'platform' | 'events' | 'enqueue' | 'triggers' | 'scopes' | 'now'> = {
    platform: async (name) => ADAPTERS[name as 'slack' | 'dingtalk'],
    events: {
      reserve: async (pk) => {
        calls.push(`reserve ${pk}`);
        return options.reservation ?? 'reserved';
      },
      release: async (pk) => {
        calls.push(`release ${pk}`);
      },
    },
    enqueue: async (event) => {
      calls.push(`enqueue ${event.message.eventId}`);
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        throw new Error('SQS unavailable');
      }
    },
    triggers: {},
    scopes: {},
    now: timers.now,
  };
  const delivery = (platform: PlatformName, payload: unknown): InboundDelivery => ({
    platform,
    deliveryId: 'delivery-1',
    payload,
    attempt: 0,
    receivedAt: timers.now(),
    ack: async () => {
      calls.push('ack');
    },
  });
  /** Runs the admission to its end, firing the local retries' pauses as they are set. */
  const run = async (d: InboundDelivery, semantics: DeliverySemantics): Promise<DeliveryOutcome> => {
    let result: DeliveryOutcome | undefined;
    const pending = admitDelivery(d, semantics, { ingest, logger: logger as ConnectorLogger, timers }).then((r) => {
      result = r;
    });
    while (result === undefined) {
      await new Promise((resolve) => setImmediate(resolve));
      timers.advance(10_000);
    }
    await pending;
    return result;
  };
  return { calls, lines, delivery, run };
}

const { ctx } = testEmulatorContext();
const slackEvent = (eventId = 'EvSOCKET1') =>
  slackMessagePayload({ chatId: 'C1', userId: 'alice', text: 'VPN address?', eventId }, ctx);
const dingtalkMessage = (msgId = 'msgSTREAM1') =>
  dingtalkMessageBody({ chatId: 'cid1', userId: 'bob', text: 'VPN address?', eventId: msgId }, ctx);

describe('Slack (redelivered): acknowledged only once durably enqueued', () => {
  it('reserves and enqueues, then acks', async () => {
    const r = rig();
    const outcome = await r.run(r.delivery('slack', slackEvent()), 'redelivered');
    expect(outcome).toMatchObject({
      kind: 'admitted',
      acked: true,
      outcome: { kind: 'enqueued', eventId: 'EvSOCKET1' },
    });
    expect(r.calls).toEqual(['reserve slack#EvSOCKET1', 'enqueue EvSOCKET1', 'ack']);
  });

  it('leaves a delivery it could not enqueue unacknowledged, for Slack to retry (no local retry)', async () => {
    const r = rig({ enqueueFailures: 1 });
    const outcome = await r.run(r.delivery('slack', slackEvent()), 'redelivered');
    expect(outcome).toMatchObject({ kind: 'failed', acked: false });
    expect(r.calls).toEqual(['reserve slack#EvSOCKET1', 'enqueue EvSOCKET1', 'release slack#EvSOCKET1']);
    expect(r.lines.map((l) => l.message)).toContain('long connection event left unacknowledged for redelivery');
  });

  it('acks a duplicate (a retry or the other replica) without a second reply path', async () => {
    const r = rig({ reservation: 'exists' });
    const outcome = await r.run(r.delivery('slack', slackEvent()), 'redelivered');
    expect(outcome).toMatchObject({ kind: 'admitted', acked: true, outcome: { kind: 'duplicate' } });
  });

  it('acks and skips a payload the adapter cannot read, since a retry would carry the same bytes', async () => {
    const r = rig();
    const { event_id: _dropped, ...broken } = slackEvent();
    const outcome = await r.run(r.delivery('slack', broken), 'redelivered');
    expect(outcome).toMatchObject({ kind: 'rejected', acked: true });
    expect(r.calls).toEqual(['ack']);
  });

  it('acks events it does not act on (a bot message) without enqueueing them', async () => {
    const r = rig();
    const payload = slackEvent();
    const outcome = await r.run(
      r.delivery('slack', { ...payload, event: { ...payload.event, bot_id: 'B1' } }),
      'redelivered',
    );
    expect(outcome).toMatchObject({ kind: 'admitted', outcome: { kind: 'ignored', reason: 'bot_message' } });
    expect(r.calls).toEqual(['ack']);
  });
});

describe('DingTalk (fire-and-forget): retried locally, since the platform never pushes again', () => {
  it('parses the CALLBACK data as the robot message the webhook would get (no signature on this path)', () => {
    const parsed = ADAPTERS.dingtalk.parseConnectionEvent?.(dingtalkMessage(), Date.now());
    expect(parsed).toMatchObject({
      kind: 'message',
      message: {
        platform: 'dingtalk',
        eventId: 'msgSTREAM1',
        chatId: 'cid1',
        text: 'VPN address?',
        mentionedBot: true,
      },
    });
  });

  it('retries a failed enqueue after 250 ms and 1 s, then acks once it is on the queue', async () => {
    const r = rig({ enqueueFailures: 2 });
    const outcome = await r.run(r.delivery('dingtalk', dingtalkMessage()), 'fire-and-forget');
    expect(outcome).toMatchObject({ kind: 'admitted', acked: true, outcome: { kind: 'enqueued' } });
    expect(r.calls.filter((c) => c.startsWith('enqueue'))).toHaveLength(3);
    expect(r.calls.filter((c) => c === 'ack')).toHaveLength(1);
    expect(r.calls.at(-1)).toBe('ack');
  });

  it('gives up after four tries, logs the event as lost, and still acks', async () => {
    const r = rig({ enqueueFailures: 10 });
    const outcome = await r.run(r.delivery('dingtalk', dingtalkMessage()), 'fire-and-forget');
    expect(outcome).toMatchObject({ kind: 'failed', acked: true });
    expect(r.calls.filter((c) => c.startsWith('enqueue'))).toHaveLength(4);
    expect(r.lines.find((l) => l.level === 'error')?.message).toBe(
      'long connection event lost: not enqueued and never pushed again',
    );
  });
});
