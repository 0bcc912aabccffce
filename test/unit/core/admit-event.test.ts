import { admitEvent } from '#core/ingest';
import type { QueuedEvent } from '#core/queue-message';
import { incomingMessage } from '../../helpers/factories';

/** `admitEvent`: the ingest path after verification, as the long-connection connector calls it with a parsed event. */
const NOW = Date.UTC(2026, 10, 25, 9, 0, 0);

function deps(reservation: 'reserved' | 'exists' = 'reserved') {
  const calls: string[] = [];
  const queued: QueuedEvent[] = [];
  return {
    calls,
    queued,
    deps: {
      events: {
        reserve: async (pk: string) => {
          calls.push(`reserve ${pk}`);
          return reservation;
        },
        release: async (pk: string) => {
          calls.push(`release ${pk}`);
        },
      },
      enqueue: async (event: QueuedEvent, ids: { groupId: string; deduplicationId: string }) => {
        calls.push(`enqueue ${ids.deduplicationId}`);
        queued.push(event);
      },
      triggers: {},
      scopes: {},
      now: () => NOW,
    },
  };
}

describe('admitEvent', () => {
  it('reserves and enqueues an already-parsed message, timing ingress from when the frame arrived', async () => {
    const r = deps();
    const message = incomingMessage('dingtalk', { eventId: 'msgA', timestamp: NOW - 500 });
    const result = await admitEvent({ kind: 'message', message }, r.deps, NOW - 40);
    expect(result.outcome).toMatchObject({ kind: 'enqueued', eventId: 'msgA' });
    expect(r.calls.sort()).toEqual(['enqueue dingtalk#msgA', 'reserve dingtalk#msgA']);
    expect(r.queued[0]?.ingressMs).toBe(40);
  });

  it('answers a duplicate by the platform manifest’s rule (Slack: no retry)', async () => {
    const r = deps('exists');
    const result = await admitEvent({ kind: 'message', message: incomingMessage('slack') }, r.deps);
    expect(result.outcome.kind).toBe('duplicate');
    expect(result.response.headers['x-slack-no-retry']).toBe('1');
  });

  it('applies the trigger rules: a group message without a mention is ignored, never enqueued', async () => {
    const r = deps();
    const message = incomingMessage('slack', { mentionedBot: false, chatType: 'group', text: 'lunch?' });
    const result = await admitEvent({ kind: 'message', message }, r.deps);
    expect(result.outcome.kind).toBe('ignored');
    expect(r.calls).toEqual([]);
  });
});
