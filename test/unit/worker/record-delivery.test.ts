import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createWorkerRuntime } from '#composition/worker-runtime';
import { logger } from '#shared/powertools';
import { activeUserKey } from '#stores/active-users';
import { fakeModel, fakePlatform, queuedEvent, sqsRecordOf, workerConfig } from '../../helpers/factories';

/**
 * The TransactWriteItems branch (replied status + turn in one round trip), pinned here with a mocked client; against
 * the sandbox's dynalite and its transaction emulation in test/integration/local-aws/dynalite-transactions.test.ts.
 */
const NOW = 1_800_000_000_000;
const config = workerConfig();
const dynamo = new DynamoDBClient({ region: 'us-east-1' });
const doc = DynamoDBDocumentClient.from(dynamo);
const ddb = mockClient(doc);

const model = fakeModel({ id: 'm', answer: 'It is 8443.' });
const platform = fakePlatform('slack', { respond: () => ({ messageIds: ['1700000000.000100'] }) });

let seq = 0;
/** A follow-up in the stored conversation; each record a new event (`Ev1`, `Ev2`, …). */
function record() {
  seq++;
  const event = queuedEvent('slack', {
    text: `and in staging ${seq}?`,
    receivedAt: NOW,
    message: { eventId: `Ev${seq}`, text: 'and in staging?' },
  });
  return sqsRecordOf(event, { messageId: `m${seq}`, sentAt: NOW, firstReceivedAt: NOW });
}

const storedTurns = [
  { role: 'user', content: 'which port?', tokens: 3, at: NOW - 60_000, eventId: 'Ev0' },
  { role: 'assistant', content: '443', tokens: 1, at: NOW - 60_000, eventId: 'Ev0' },
];

function runtime() {
  return createWorkerRuntime({
    config,
    clients: { doc },
    platforms: { slack: platform },
    model,
    now: () => NOW,
  });
}

beforeAll(() => logger.setLogLevel('SILENT'));

beforeEach(() => {
  ddb.reset();
  ddb.on(UpdateCommand).resolves({ Attributes: { attempts: 1 } });
  // The conversation, read with the member's active-user marker (present: no marker put) in one BatchGetItem.
  ddb.on(BatchGetCommand).resolves({
    Responses: {
      conversations: [{ pk: 'slack#T1#C1#U1', turns: storedTurns, version: 3, expiresAt: NOW / 1000 + 600 }],
      events: [{ pk: activeUserKey({ platform: 'slack', tenantId: 'T1', chatId: 'C1', userId: 'U1' }, NOW) }],
    },
  });
  ddb.on(BatchWriteCommand).resolves({});
  ddb.on(PutCommand).resolves({});
});

const updates = () => ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input.UpdateExpression ?? '');
const contextPuts = () => ddb.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === 'conversations');

describe('worker runtime: replied status and turn', () => {
  it('writes both in one TransactWriteItems where the store supports it', async () => {
    ddb.on(TransactWriteCommand).resolves({ ConsumedCapacity: [{ CapacityUnits: 2 }, { CapacityUnits: 2 }] });
    await expect(runtime()(record())).resolves.toMatchObject({ kind: 'replied' });
    const [tx] = ddb.commandCalls(TransactWriteCommand);
    const items = tx?.args[0].input.TransactItems ?? [];
    expect(items[0]?.Put).toMatchObject({
      TableName: 'conversations',
      ConditionExpression: 'version = :expected',
      ExpressionAttributeValues: { ':expected': 3 },
      Item: { version: 4 },
    });
    expect(JSON.parse(String(items[0]?.Put?.Item?.history))).toHaveLength(4);
    expect(items[1]?.Update).toMatchObject({ TableName: 'events', Key: { pk: 'slack#Ev1' } });
    expect(items[1]?.Update?.ExpressionAttributeValues).toMatchObject({ ':replied': 'replied' });
    expect(contextPuts()).toHaveLength(0);
    // claim + markSending; markReplied went into the transaction. (The round trips per follow-up on this path are
    // a benchmark figure with a budget: bench/worker-bench.ts.)
    expect(updates()).toHaveLength(2);
  });

  it('on a context conflict writes the status alone and appends after re-loading', async () => {
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
      }),
    );
    await expect(runtime()(record())).resolves.toMatchObject({ kind: 'replied' });
    expect(updates().filter((u) => u.includes(':replied'))).toHaveLength(1);
    expect(contextPuts()).toHaveLength(1);
  });

  it('falls back to two writes for good once the store answers UnknownOperationException (dynalite)', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(Object.assign(new Error('UnknownError'), { name: 'UnknownOperationException' }));
    const run = runtime();
    await run(record());
    await run(record());
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
    expect(updates().filter((u) => u.includes(':replied'))).toHaveLength(2);
    expect(contextPuts()).toHaveLength(2);
  });

  it('fails the record on any other transaction error, so SQS redelivers', async () => {
    ddb.on(TransactWriteCommand).rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    await expect(runtime()(record())).rejects.toThrow('throttled');
    expect(contextPuts()).toHaveLength(0);
  });
});
