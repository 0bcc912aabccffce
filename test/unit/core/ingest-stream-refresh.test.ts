import { type IngestDeps, ingest } from '#core/ingest';
import type { ChatPlatform, HttpResponse, ParseResult, RawRequest } from '#platforms/types';
import { incomingMessage } from '../../helpers/factories';

/** `ingest` with a platform that streams by pull (WeCom): refresh callbacks are answered, never reserved or queued. */

const NOW = Date.UTC(2026, 2, 1, 9, 0, 0);
const SNAPSHOT: HttpResponse = {
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: '{"encrypt":"x"}',
};
const STREAM_ACK: HttpResponse = { statusCode: 200, headers: {}, body: '{"encrypt":"ack"}' };
const EMPTY_ACK: HttpResponse = { statusCode: 200, headers: { 'content-type': 'text/plain' }, body: '' };
const request: RawRequest = { method: 'POST', headers: {}, query: {}, body: Buffer.from('{"encrypt":"e"}') };

function rig(parsed: ParseResult, answer?: (streamId: string, now: number) => Promise<HttpResponse>) {
  const calls: string[] = [];
  const platform = {
    name: 'wecom',
    parse: () => parsed,
    ...(answer ? { answerStreamRefresh: answer } : {}),
  } as Pick<ChatPlatform, 'name' | 'parse' | 'answerStreamRefresh'> as ChatPlatform;
  const deps: IngestDeps = {
    platform: async (name) => (name === 'wecom' ? platform : undefined),
    events: {
      reserve: async (pk) => {
        calls.push(`reserve ${pk}`);
        return 'reserved';
      },
      release: async (pk) => void calls.push(`release ${pk}`),
    },
    enqueue: async () => void calls.push('enqueue'),
    triggers: {},
    scopes: {},
    maxBodyBytes: 4096,
    now: () => NOW,
  };
  return { deps, calls };
}

describe('ingest: stream refresh callbacks', () => {
  it('answers with the platform snapshot at the current time and never reserves or enqueues', async () => {
    const asked: [string, number][] = [];
    const r = rig({ kind: 'stream_refresh', streamId: 'abc123' }, async (id, now) => {
      asked.push([id, now]);
      return SNAPSHOT;
    });
    const result = await ingest('wecom', request, r.deps);
    expect(result).toEqual({ response: SNAPSHOT, outcome: { kind: 'stream_refresh', streamId: 'abc123' } });
    expect(asked).toEqual([['abc123', NOW]]);
    expect(r.calls).toEqual([]);
  });

  it('ignores a refresh on a platform that cannot answer one', async () => {
    const r = rig({ kind: 'stream_refresh', streamId: 'abc123' });
    const result = await ingest('wecom', request, r.deps);
    expect(result.outcome).toMatchObject({ kind: 'ignored' });
    expect(result.response.statusCode).toBe(200);
    expect(r.calls).toEqual([]);
  });

  it('propagates a snapshot-store failure (WeCom polls again a second later)', async () => {
    const r = rig({ kind: 'stream_refresh', streamId: 'abc123' }, async () => {
      throw new Error('DynamoDB unavailable');
    });
    await expect(ingest('wecom', request, r.deps)).rejects.toThrow('DynamoDB unavailable');
  });
});

describe('ingest: a stream-starting ack', () => {
  const message = (overrides = {}) =>
    incomingMessage('wecom', { text: 'hello', mentionedBot: true, timestamp: NOW, ...overrides });

  it('returns the stream ack for an enqueued message', async () => {
    const r = rig({ kind: 'message', message: message(), ack: STREAM_ACK, ignoredAck: EMPTY_ACK });
    const result = await ingest('wecom', request, r.deps);
    expect(result.outcome.kind).toBe('enqueued');
    expect(result.response).toBe(STREAM_ACK);
  });

  it('answers a message the trigger rules drop with the ignored-ack, so no stream is left for WeCom to poll', async () => {
    const r = rig({
      kind: 'message',
      message: message({ mentionedBot: false }),
      ack: STREAM_ACK,
      ignoredAck: EMPTY_ACK,
    });
    const result = await ingest('wecom', request, r.deps);
    expect(result.outcome.kind).toBe('ignored');
    expect(result.response).toBe(EMPTY_ACK);
    expect(r.calls).toEqual([]);
  });
});
