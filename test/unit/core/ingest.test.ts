import { MalformedEventError, NotFoundError, PayloadTooLargeError } from '#core/errors';
import { type IngestDeps, ingest } from '#core/ingest';
import type { QueuedEvent } from '#core/queue-message';
import type { ChatPlatform, HttpResponse, IncomingMessage, ParseResult, RawRequest } from '#platforms/types';
import { incomingMessage } from '../../helpers/factories';

/** `ingest` on in-memory ports: a scripted adapter, an event store that records its calls, a recording queue. */

const NOW = Date.UTC(2026, 10, 25, 9, 0, 0);
type Reservation = Awaited<ReturnType<IngestDeps['events']['reserve']>>;

function message(overrides: Partial<IncomingMessage> = {}): IncomingMessage {
  return incomingMessage('slack', { text: 'What is the VPN address?', timestamp: NOW - 1_000, ...overrides });
}

const request = (body = '{"event":{}}', method: RawRequest['method'] = 'POST'): RawRequest => ({
  method,
  headers: {},
  query: {},
  body: Buffer.from(body),
});

function rig(
  parsed: ParseResult,
  options: { reserve?: Reservation; enqueueFails?: boolean; reserveFails?: boolean } = {},
) {
  const calls: string[] = [];
  const enqueued: { event: QueuedEvent; ids: { groupId: string; deduplicationId: string } }[] = [];
  const platform = { name: 'slack', parse: () => parsed } as Pick<ChatPlatform, 'name' | 'parse'> as ChatPlatform;
  const deps: IngestDeps = {
    platform: async (name) => (name === 'slack' ? platform : undefined),
    events: {
      reserve: async (pk) => {
        calls.push(`reserve ${pk}`);
        if (options.reserveFails) throw new Error('DynamoDB unavailable');
        return options.reserve ?? 'reserved';
      },
      release: async (pk) => {
        calls.push(`release ${pk}`);
      },
    },
    enqueue: async (event, ids) => {
      calls.push('enqueue');
      if (options.enqueueFails) throw new Error('SQS unavailable');
      enqueued.push({ event, ids });
    },
    triggers: {},
    scopes: {},
    maxBodyBytes: 1024,
    now: () => NOW,
  };
  return { deps, calls, enqueued };
}

const OK_BODY = '{"ok":true}';

describe('ingest: a triggered message', () => {
  it('reserves and enqueues side by side, with the conversation as FIFO group and the event as dedup id', async () => {
    const r = rig({ kind: 'message', message: message({ text: '  What is the VPN address? ' }) });
    const result = await ingest('slack', request(), r.deps);
    expect(result.response).toMatchObject({ statusCode: 200, body: OK_BODY });
    expect(result.outcome).toEqual({ kind: 'enqueued', eventId: 'Ev1', conversationKey: 'slack#T1#C1#U1' });
    expect(r.calls).toEqual(['reserve slack#Ev1', 'enqueue']);
    expect(r.enqueued).toEqual([
      {
        event: {
          v: 1,
          conversationKey: 'slack#T1#C1#U1',
          text: 'What is the VPN address?',
          message: expect.objectContaining({ eventId: 'Ev1' }),
          receivedAt: NOW,
          ingressMs: 0,
        },
        ids: { groupId: 'slack#T1#C1#U1', deduplicationId: 'slack#Ev1' },
      },
    ]);
  });

  it('answers with the adapter’s own ack when it has one', async () => {
    const ack: HttpResponse = { statusCode: 200, headers: {}, body: '{"msgtype":"empty"}' };
    const r = rig({ kind: 'message', message: message(), ack });
    expect((await ingest('slack', request(), r.deps)).response).toBe(ack);
  });

  it('uses the configured context scope for the conversation key', async () => {
    const r = rig({ kind: 'message', message: message() });
    const result = await ingest('slack', request(), { ...r.deps, scopes: { chats: { 'slack:C1': 'group' } } });
    expect(result.outcome).toMatchObject({ conversationKey: 'slack#T1#C1' });
  });

  it('passes an empty question on: the worker answers it with the hint', async () => {
    const r = rig({ kind: 'message', message: message({ text: ' ' }) });
    expect((await ingest('slack', request(), r.deps)).outcome.kind).toBe('enqueued');
    expect(r.enqueued[0]?.event.text).toBe('');
  });

  it('strips a trigger prefix from the queued question', async () => {
    const r = rig({ kind: 'message', message: message({ text: '/ai who approves leave?', mentionedBot: false }) });
    await ingest('slack', request(), { ...r.deps, triggers: { default: { prefixes: ['/ai'] } } });
    expect(r.enqueued[0]?.event.text).toBe('who approves leave?');
  });

  it('starts the send without waiting for the reservation', async () => {
    const r = rig({ kind: 'message', message: message() });
    let reserved: () => void = () => undefined;
    const pending = ingest('slack', request(), {
      ...r.deps,
      events: {
        ...r.deps.events,
        reserve: () => new Promise<Reservation>((resolve) => (reserved = () => resolve('reserved'))),
      },
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.calls).toEqual(['enqueue']);
    reserved();
    expect((await pending).outcome.kind).toBe('enqueued');
  });

  it('releases the reservation and rethrows when the enqueue fails, so the platform retries', async () => {
    const r = rig({ kind: 'message', message: message() }, { enqueueFails: true });
    await expect(ingest('slack', request(), r.deps)).rejects.toThrow('SQS unavailable');
    expect(r.calls).toEqual(['reserve slack#Ev1', 'enqueue', 'release slack#Ev1']);
  });

  it('does not release a reservation it did not make when the enqueue fails', async () => {
    const r = rig({ kind: 'message', message: message() }, { enqueueFails: true, reserve: 'exists' });
    await expect(ingest('slack', request(), r.deps)).rejects.toThrow('SQS unavailable');
    expect(r.calls).toEqual(['reserve slack#Ev1', 'enqueue']);
  });

  it('answers 5xx when the reservation fails, even though the message is sent (the retry’s send is collapsed)', async () => {
    const r = rig({ kind: 'message', message: message() }, { reserveFails: true });
    await expect(ingest('slack', request(), r.deps)).rejects.toThrow('DynamoDB unavailable');
    expect(r.enqueued).toHaveLength(1);
  });
});

describe('ingest: messages that go no further', () => {
  it('acknowledges an untriggered message without reserving or enqueuing', async () => {
    const r = rig({ kind: 'message', message: message({ mentionedBot: false }) });
    const result = await ingest('slack', request(), r.deps);
    expect(result.outcome).toEqual({ kind: 'ignored', reason: 'bot_not_mentioned', eventId: 'Ev1' });
    expect(result.response.statusCode).toBe(200);
    expect(r.calls).toEqual([]);
  });

  it('acknowledges a denied chat the same way', async () => {
    const r = rig({ kind: 'message', message: message() });
    const result = await ingest('slack', request(), { ...r.deps, triggers: { default: { denyChats: ['C1'] } } });
    expect(result.outcome).toEqual({ kind: 'ignored', reason: 'chat_denied', eventId: 'Ev1' });
    expect(r.calls).toEqual([]);
  });

  it('answers a handshake with the adapter’s response', async () => {
    const response: HttpResponse = { statusCode: 200, headers: {}, body: '{"challenge":"c"}' };
    const r = rig({ kind: 'handshake', response });
    expect(await ingest('slack', request(), r.deps)).toEqual({ response, outcome: { kind: 'handshake' } });
    expect(r.calls).toEqual([]);
  });

  it('acknowledges an event the adapter ignores', async () => {
    const r = rig({ kind: 'ignored', reason: 'bot_message', eventId: 'Ev2' });
    const result = await ingest('slack', request(), r.deps);
    expect(result.outcome).toEqual({ kind: 'ignored', reason: 'bot_message', eventId: 'Ev2' });
    expect(result.response).toMatchObject({ statusCode: 200, body: OK_BODY });
  });
});

describe('ingest: duplicates', () => {
  it('a duplicate is acknowledged with the platform’s duplicate answer (Slack: no retry)', async () => {
    const r = rig({ kind: 'message', message: message() }, { reserve: 'exists' });
    const result = await ingest('slack', request(), r.deps);
    expect(result.outcome).toEqual({ kind: 'duplicate', eventId: 'Ev1' });
    expect(result.response.statusCode).toBe(200);
    expect(result.response.headers['x-slack-no-retry']).toBe('1');
  });

  it('a duplicate is sent again with the same dedup id, for SQS FIFO (or the worker’s claim) to collapse', async () => {
    const r = rig({ kind: 'message', message: message() }, { reserve: 'exists' });
    await ingest('slack', request(), r.deps);
    expect(r.calls).toEqual(['reserve slack#Ev1', 'enqueue']);
    expect(r.enqueued[0]?.ids.deduplicationId).toBe('slack#Ev1');
  });
});

describe('ingest: refused requests', () => {
  it('404s a platform that is not enabled', async () => {
    const r = rig({ kind: 'message', message: message() });
    await expect(ingest('teams', request(), r.deps)).rejects.toThrow(NotFoundError);
  });

  it('refuses a body over the limit before parsing it', async () => {
    const r = rig({ kind: 'message', message: message() });
    await expect(ingest('slack', request('x'.repeat(1025)), r.deps)).rejects.toThrow(PayloadTooLargeError);
    expect(r.calls).toEqual([]);
  });

  it('refuses an empty POST body, but lets an empty GET (a verification request) through', async () => {
    const r = rig({ kind: 'handshake', response: { statusCode: 200, headers: {}, body: 'ok' } });
    await expect(ingest('slack', request(''), r.deps)).rejects.toThrow(MalformedEventError);
    expect((await ingest('slack', request('', 'GET'), r.deps)).outcome.kind).toBe('handshake');
  });
});

/**
 * The events table as a set of reserved keys (a reservation exists until released) and a FIFO queue that drops a
 * second send of a deduplication id, as SQS does within its window.
 */
function statefulRig(failures: { enqueue?: number; release?: number } = {}) {
  const table = new Set<string>();
  const queue = new Map<string, QueuedEvent>();
  let enqueueFailures = failures.enqueue ?? 0;
  let releaseFailures = failures.release ?? 0;
  const base = rig({ kind: 'message', message: message() });
  const deps: IngestDeps = {
    ...base.deps,
    events: {
      reserve: async (pk) => {
        if (table.has(pk)) return 'exists';
        table.add(pk);
        return 'reserved';
      },
      release: async (pk) => {
        if (releaseFailures-- > 0) throw new Error('DynamoDB unavailable');
        table.delete(pk);
      },
    },
    enqueue: async (event, ids) => {
      if (enqueueFailures-- > 0) throw new Error('SQS unavailable');
      if (!queue.has(ids.deduplicationId)) queue.set(ids.deduplicationId, event);
    },
  };
  return { deps, table, queue };
}

describe('ingest: nothing lost when the send fails', () => {
  it('the released reservation lets the platform’s retry in as a fresh event', async () => {
    const r = statefulRig({ enqueue: 1 });
    await expect(ingest('slack', request(), r.deps)).rejects.toThrow('SQS unavailable');
    expect(r.table.size).toBe(0);
    const retry = await ingest('slack', request(), r.deps);
    expect(retry.outcome).toEqual({ kind: 'enqueued', eventId: 'Ev1', conversationKey: 'slack#T1#C1#U1' });
    expect([...r.queue.keys()]).toEqual(['slack#Ev1']);
  });

  it('a reservation the release could not remove does not keep the retry out', async () => {
    const r = statefulRig({ enqueue: 1, release: 1 });
    // The caller sees the send's failure (a 5xx, so the platform retries), not the release's.
    await expect(ingest('slack', request(), r.deps)).rejects.toThrow('SQS unavailable');
    expect(r.table.has('slack#Ev1')).toBe(true);
    const retry = await ingest('slack', request(), r.deps);
    expect(retry.outcome).toEqual({ kind: 'duplicate', eventId: 'Ev1' });
    expect(retry.response.statusCode).toBe(200);
    expect([...r.queue.keys()]).toEqual(['slack#Ev1']);
  });

  it('a retry while the send keeps failing fails too (5xx again), and the next one gets in', async () => {
    const r = statefulRig({ enqueue: 2, release: 2 });
    await expect(ingest('slack', request(), r.deps)).rejects.toThrow('SQS unavailable');
    await expect(ingest('slack', request(), r.deps)).rejects.toThrow('SQS unavailable');
    expect(r.queue.size).toBe(0);
    expect((await ingest('slack', request(), r.deps)).response.statusCode).toBe(200);
    expect(r.queue.size).toBe(1);
  });

  it('concurrent deliveries of one event put it on the queue once', async () => {
    const r = statefulRig();
    const outcomes = await Promise.all([1, 2, 3].map(() => ingest('slack', request(), r.deps)));
    expect(outcomes.map((o) => o.outcome.kind).sort()).toEqual(['duplicate', 'duplicate', 'enqueued']);
    expect(r.queue.size).toBe(1);
  });
});
