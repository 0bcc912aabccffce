import { BatchGetCommand, type BatchGetCommandInput, PutCommand } from '@aws-sdk/lib-dynamodb';
import { type ItemRead, ItemsNotReadError, readItems } from '#stores/batch-get';
import { CapacityMeter } from '#stores/capacity';
import { type LocalTables, startLocalTables } from './dynalite-tables';

/**
 * `readItems`: several tables' items in one BatchGetItem, against dynalite; keys DynamoDB leaves unprocessed are
 * played by a stand-in in front of it, as DynamoDB returns them under throttling.
 */
let tables: LocalTables;
let seq = 0;

beforeAll(async () => {
  tables = await startLocalTables();
});

afterAll(async () => {
  await tables.close();
});

/** A fresh conversation item and a fresh cache item, stored; and a key nothing is stored under. */
async function stored() {
  seq++;
  const conversation = { pk: `slack#T#C#u${seq}`, turns: [], version: 2 };
  const answer = { pk: `faq-${seq}`, answer: 'Nine to five.' };
  await tables.doc.send(new PutCommand({ TableName: tables.conversations, Item: conversation }));
  await tables.doc.send(new PutCommand({ TableName: tables.answerCache, Item: answer }));
  const reads = {
    conversation: { table: tables.conversations, pk: conversation.pk, consistent: true },
    answer: { table: tables.answerCache, pk: answer.pk, consistent: false },
    absent: { table: tables.answerCache, pk: `faq-none-${seq}`, consistent: false },
  } satisfies Record<string, ItemRead>;
  return { conversation, answer, reads };
}

type Requests = NonNullable<BatchGetCommandInput['RequestItems']>;

/** The document client with every BatchGetItem request recorded, the first `unprocessed` of them refused whole. */
function recorded(unprocessed = 0) {
  const requests: Requests[] = [];
  let refuse = unprocessed;
  const send = async (command: unknown) => {
    if (!(command instanceof BatchGetCommand)) return tables.doc.send(command as never);
    const request = command.input.RequestItems ?? {};
    requests.push(request);
    if (refuse-- > 0) return { Responses: {}, UnprocessedKeys: request, ConsumedCapacity: [] };
    return tables.doc.send(command);
  };
  return { db: { send } as Pick<typeof tables.doc, 'send'>, requests };
}

const noWait = { sleep: async () => undefined };

describe('readItems against dynalite', () => {
  it('reads items of two tables in one call, in the order asked; an absent key reads as undefined', async () => {
    const { conversation, answer, reads } = await stored();
    const { db, requests } = recorded();
    const meter = new CapacityMeter();
    const items = await readItems(db, [reads.answer, reads.absent, reads.conversation], meter);
    expect(items).toEqual([answer, undefined, conversation]);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.[tables.conversations]).toEqual({ Keys: [{ pk: conversation.pk }], ConsistentRead: true });
    expect(requests[0]?.[tables.answerCache]?.ConsistentRead).toBe(false);
    // One strongly consistent read unit, two eventually consistent halves.
    expect(meter.read).toBe(2);
  });

  it('asks a key listed twice once (BatchGetItem refuses duplicates) and answers both places', async () => {
    const { answer, reads } = await stored();
    const { db, requests } = recorded();
    expect(await readItems(db, [reads.answer, reads.answer])).toEqual([answer, answer]);
    expect(requests[0]?.[tables.answerCache]?.Keys).toEqual([{ pk: answer.pk }]);
  });

  it('asks unprocessed keys again after a backoff until they are read', async () => {
    const { conversation, answer, reads } = await stored();
    const { db, requests } = recorded(2);
    const waits: number[] = [];
    const sleep = async (ms: number) => {
      waits.push(ms);
    };
    const items = await readItems(db, [reads.conversation, reads.answer], undefined, { sleep, random: () => 1 });
    expect(items).toEqual([conversation, answer]);
    expect(requests).toHaveLength(3);
    expect(waits).toEqual([50, 100]);
  });

  it('fails with the keys still unread after the last attempt, as a failed GetItem would', async () => {
    const { reads } = await stored();
    const { db, requests } = recorded(10);
    const read = readItems(db, [reads.conversation, reads.answer], undefined, { ...noWait, maxAttempts: 3 });
    await expect(read).rejects.toBeInstanceOf(ItemsNotReadError);
    await expect(read).rejects.toMatchObject({ unread: [reads.conversation, reads.answer] });
    expect(requests).toHaveLength(3);
  });

  it('refuses, before any call, one table read both ways or more keys than one call takes', async () => {
    const { reads } = await stored();
    const { db, requests } = recorded();
    const both = { ...reads.conversation, pk: 'other', consistent: false };
    await expect(readItems(db, [reads.conversation, both])).rejects.toThrow(TypeError);
    const many = Array.from({ length: 101 }, (_, i) => ({ ...reads.absent, pk: `k${i}` }));
    await expect(readItems(db, many)).rejects.toThrow(RangeError);
    expect(requests).toHaveLength(0);
  });
});
