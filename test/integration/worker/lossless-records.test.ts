import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { eventKey } from '#core/key-part';
import { RecordsPendingError } from '#core/process-event';
import type { QueuedEvent } from '#core/queue-message';
import { writeBatchLossless } from '#stores/batch-write';
import { type Throttle, throttlingDoc } from '../../helpers/throttling-dynamo';
import { type Rig, recordOf, startRig, uniqueChat } from './harness';

/**
 * Issue 13, "ledger and audit writes are lossless": BatchWriteItem's UnprocessedItems are written again with backoff;
 * what is still unwritten fails the SQS record so the redelivery writes it — without a second reply. Against dynalite,
 * behind a stand-in that throttles batch writes as DynamoDB does.
 */
let rig: Rig;

beforeAll(async () => {
  rig = await startRig();
}, 30_000);

afterAll(async () => {
  await rig?.stop();
});

afterEach(() => {
  rig.capture = undefined;
});

async function queued(chatId: string, text: string): Promise<QueuedEvent> {
  const captured: QueuedEvent[] = [];
  rig.capture = captured;
  await rig.say('feishu', { chatId, userId: 'alice', text });
  rig.capture = undefined;
  const [event] = captured;
  if (!event) throw new Error('nothing enqueued');
  return event;
}

async function rowsOf(table: string, chatId: string) {
  const out = await rig.aws.clients.doc.send(new ScanCommand({ TableName: table }));
  return (out.Items ?? []).filter((i) => i.chatId === chatId);
}

function throttledRuntime(throttle: Throttle) {
  return rig.runtime({ clients: { ...rig.aws.clients, doc: throttlingDoc(rig.aws.clients.doc, throttle) } });
}

describe('writeBatchLossless', () => {
  it.each([
    ['a batch write that writes one item per call', 'partial', 3],
    ['a batch write that writes nothing for 3 calls', 'all', 3],
    ['a batch write throttled once', 'all', 1],
  ] as const)('writes every item despite %s', async (_label, mode, calls) => {
    const chatId = uniqueChat('lossless');
    const throttle: Throttle = { mode, calls, seen: 0 };
    const doc = throttlingDoc(rig.aws.clients.doc, throttle);
    const items = [1, 2, 3].map((n) => ({ pk: `GROUP#${chatId}`, sk: `t#${n}`, chatId }));
    const unwritten = await writeBatchLossless(doc, { [rig.aws.tables.ledger]: items }, { baseDelayMs: 1 });
    expect(unwritten).toEqual({});
    expect((await rowsOf(rig.aws.tables.ledger, chatId)).map((i) => i.sk).sort()).toEqual(['t#1', 't#2', 't#3']);
    expect(throttle.seen).toBeGreaterThan(1);
  });

  it('hands back what is still unwritten after the last attempt instead of dropping it', async () => {
    const chatId = uniqueChat('lossless');
    const doc = throttlingDoc(rig.aws.clients.doc, { mode: 'partial', calls: 10, seen: 0 });
    const items = [1, 2, 3, 4].map((n) => ({ pk: `GROUP#${chatId}`, sk: `t#${n}`, chatId }));
    const unwritten = await writeBatchLossless(
      doc,
      { [rig.aws.tables.ledger]: items },
      { maxAttempts: 2, baseDelayMs: 1 },
    );
    expect(unwritten[rig.aws.tables.ledger]?.map((i) => i.sk)).toEqual(['t#3', 't#4']);
    expect((await rowsOf(rig.aws.tables.ledger, chatId)).map((i) => i.sk).sort()).toEqual(['t#1', 't#2']);
  });
});

describe('worker under a throttled ledger', () => {
  it('retries unprocessed ledger/audit items within the attempt: one reply, both records written', async () => {
    const chatId = uniqueChat('throttle-brief');
    const event = await queued(chatId, `brief throttle ${chatId}`);
    const processRecord = throttledRuntime({ mode: 'partial', calls: 1, seen: 0 });
    await expect(processRecord(recordOf(event, `${chatId}-1`))).resolves.toMatchObject({ kind: 'replied' });
    expect(rig.deliveries.filter((d) => d.chatId === chatId)).toHaveLength(1);
    expect(await rowsOf(rig.aws.tables.ledger, chatId)).toHaveLength(1);
    expect(await rowsOf(rig.aws.tables.audit, chatId)).toHaveLength(1);
  });

  it('fails the record when the records stay unwritten; the redelivery writes them without a second reply', async () => {
    const chatId = uniqueChat('throttle-long');
    const event = await queued(chatId, `long throttle ${chatId}`);
    const throttled = throttledRuntime({ mode: 'all', calls: 100, seen: 0 });
    await expect(throttled(recordOf(event, `${chatId}-1`))).rejects.toBeInstanceOf(RecordsPendingError);
    expect(rig.deliveries.filter((d) => d.chatId === chatId)).toHaveLength(1);
    expect(await rowsOf(rig.aws.tables.ledger, chatId)).toHaveLength(0);
    const pk = eventKey('feishu', event.message.eventId);
    const kept = await rig.aws.clients.doc.send(new GetCommand({ TableName: rig.aws.tables.events, Key: { pk } }));
    expect(kept.Item?.status).toBe('replied');
    expect(typeof kept.Item?.pendingRecords).toBe('string');

    // Still throttled on the second delivery: the record fails again, nothing is sent.
    await expect(throttled(recordOf(event, `${chatId}-1`, 2))).rejects.toThrow(/not written/);
    expect(rig.deliveries.filter((d) => d.chatId === chatId)).toHaveLength(1);

    // DynamoDB recovers: the third delivery writes the kept rows and is acknowledged, still without a reply.
    const prompts = rig.prompts.length;
    const healthy = rig.runtime();
    await expect(healthy(recordOf(event, `${chatId}-1`, 3))).resolves.toEqual({ kind: 'already_replied' });
    expect(rig.prompts.length).toBe(prompts);
    expect(rig.deliveries.filter((d) => d.chatId === chatId)).toHaveLength(1);
    const [row] = await rowsOf(rig.aws.tables.ledger, chatId);
    expect(row).toMatchObject({ platform: 'feishu', chatId, userId: 'alice', cached: false });
    expect(await rowsOf(rig.aws.tables.audit, chatId)).toHaveLength(1);
    const cleared = await rig.aws.clients.doc.send(new GetCommand({ TableName: rig.aws.tables.events, Key: { pk } }));
    expect(cleared.Item?.pendingRecords).toBeUndefined();

    // A fourth delivery (say the acknowledgement was lost) writes nothing twice.
    await expect(healthy(recordOf(event, `${chatId}-1`, 4))).resolves.toEqual({ kind: 'already_replied' });
    expect(await rowsOf(rig.aws.tables.ledger, chatId)).toHaveLength(1);
  });
});
