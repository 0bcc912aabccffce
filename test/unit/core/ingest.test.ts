import { MalformedEventError, NotFoundError, PayloadTooLargeError } from '#core/errors';
import { type IngestDeps, ingest } from '#core/ingest';
import type { QueuedEvent } from '#core/queue-message';
import type { ChatPlatform, HttpResponse, IncomingMessage, ParseResult, RawRequest } from '#platforms/types';
import { incomingMessage } from '../../helpers/factories';

/** `ingest` on in-memory ports: a scripted adapter, an event store that records its calls, a recording queue. */

const NOW = Date.UTC(2026, 10, 25, 9, 0, 0);
type ReserveOutcome = Awaited<ReturnType<IngestDeps['events']['reserve']>>;

function message(overrides: Partial<IncomingMessage> = {}): IncomingMessage {
  return incomingMessage('slack', { text: 'What is the VPN address?', timestamp: NOW - 1_000, ...overrides });
}

const request = (body = '{"event":{}}', method: RawRequest['method'] = 'POST'): RawRequest => ({
  method,
  headers: {},
  query: {},
  body: Buffer.from(body),
});

function rig(parsed: ParseResult, options: { reserve?: ReserveOutcome; enqueueFails?: boolean } = {}) {
  const calls: string[] = [];
  const enqueued: { event: QueuedEvent; ids: { groupId: string; deduplicationId: string } }[] = [];
  const platform = { name: 'slack', parse: () => parsed } as Pick<ChatPlatform, 'name' | 'parse'> as ChatPlatform;
  const deps: IngestDeps = {
    platform: async (name) => (name === 'slack' ? platform : undefined),
    events: {
      reserve: async (pk) => {
        calls.push(`reserve ${pk}`);
        return options.reserve ?? { outcome: 'reserved' };
      },
      markEnqueued: async (pk) => {
        calls.push(`markEnqueued ${pk}`);
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
  it('reserves, enqueues with the conversation as FIFO group and the event as dedup id, then marks it', async () => {
    const r = rig({ kind: 'message', message: message({ text: '  What is the VPN address? ' }) });
    const result = await ingest('slack', request(), r.deps);
    expect(result.response).toMatchObject({ statusCode: 200, body: OK_BODY });
    expect(result.outcome).toEqual({ kind: 'enqueued', eventId: 'Ev1', conversationKey: 'slack#T1#C1#U1' });
    expect(r.calls).toEqual(['reserve slack#Ev1', 'enqueue', 'markEnqueued slack#Ev1']);
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

  it('releases the reservation and rethrows when the enqueue fails, so the platform retries', async () => {
    const r = rig({ kind: 'message', message: message() }, { enqueueFails: true });
    await expect(ingest('slack', request(), r.deps)).rejects.toThrow('SQS unavailable');
    expect(r.calls).toEqual(['reserve slack#Ev1', 'enqueue', 'release slack#Ev1']);
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
  it('a duplicate of an enqueued event is acknowledged without a second send (Slack: no retry)', async () => {
    const r = rig({ kind: 'message', message: message() }, { reserve: { outcome: 'exists', status: 'enqueued' } });
    const result = await ingest('slack', request(), r.deps);
    expect(result.outcome).toEqual({ kind: 'duplicate', eventId: 'Ev1', resent: false });
    expect(result.response.headers['x-slack-no-retry']).toBe('1');
    expect(r.calls).toEqual(['reserve slack#Ev1']);
  });

  it('a duplicate that finds the reservation still enqueuing sends again with the same dedup id', async () => {
    const r = rig({ kind: 'message', message: message() }, { reserve: { outcome: 'exists', status: 'enqueuing' } });
    const result = await ingest('slack', request(), r.deps);
    expect(result.outcome).toEqual({ kind: 'duplicate', eventId: 'Ev1', resent: true });
    expect(r.calls).toEqual(['reserve slack#Ev1', 'enqueue', 'markEnqueued slack#Ev1']);
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
