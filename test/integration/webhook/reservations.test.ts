import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { eventKey } from '#core/key-part';
import { createWebhookHandler } from '#handlers/webhook';
import { AwsServiceError, DYNAMODB, SQS } from '#shared/aws-json-client';
import { sqsEnqueuer } from '#stores/event-queue';
import { EventReservations } from '#stores/event-reservations';
import { EventStore } from '#stores/event-store';
import { proxyEventOf, testEmulatorContext } from '../../helpers/emulated';
import { localJsonClient } from '../../helpers/local-aws-json';
import { EMULATORS, startWebhookRig, type WebhookRig } from './webhook-rig';

/**
 * The webhook's durable dedup record on dynalite, written by the hand-signed client alongside the send to fauxqs,
 * and what the two must guarantee: the worker's claim takes the reservation as the webhook leaves it; a failed send
 * loses nothing (the platform's retry gets the event in, even when the release fails too); a duplicate, even of an
 * event a worker has claimed, ends up on the queue once.
 */
let rig: WebhookRig;
let reservations: EventReservations;
let worker: EventStore;
const { ctx } = testEmulatorContext();

beforeAll(async () => {
  rig = await startWebhookRig('reservations-it');
  reservations = new EventReservations(localJsonClient(DYNAMODB, rig.aws.endpoints.dynamo), {
    tableName: rig.aws.tables.events,
  });
  worker = new EventStore(rig.aws.clients.doc, { tableName: rig.aws.tables.events });
}, 30_000);

afterAll(async () => {
  await rig?.aws.stop();
});

beforeEach(async () => {
  await rig.purgeQueue();
});

/** Messages on the queue, visible or in flight (a second message of a group waits behind the first). */
async function queueDepth(): Promise<number> {
  const { Attributes } = await rig.aws.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: rig.aws.queues.queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

const item = async (pk: string) =>
  (await rig.aws.clients.doc.send(new GetCommand({ TableName: rig.aws.tables.events, Key: { pk } }))).Item;
const slackEvent = (eventId?: string) =>
  EMULATORS.slack.buildMessageEvent(
    { chatId: 'C-res', userId: 'alice', text: 'hi', ...(eventId ? { eventId } : {}) },
    ctx,
  );

describe('EventReservations on dynalite', () => {
  it('writes the item the worker’s claim accepts: enqueuing, with its times and expiry', async () => {
    const now = Date.now();
    expect(await reservations.reserve('slack#res-1', now)).toBe('reserved');
    expect(await item('slack#res-1')).toEqual({
      pk: 'slack#res-1',
      status: 'enqueuing',
      createdAt: now,
      updatedAt: now,
      expiresAt: Math.floor(now / 1000) + 86_400,
      reservation: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(await worker.claim('slack#res-1', now + 10, 60_000)).toMatchObject({ outcome: 'claimed', attempts: 1 });
  });

  it('reports an existing event whatever its status, and takes over one past its expiry', async () => {
    const now = Date.now();
    await reservations.reserve('slack#res-2', now);
    expect(await reservations.reserve('slack#res-2', now + 1)).toBe('exists');
    await worker.claim('slack#res-2', now + 2, 60_000);
    expect(await reservations.reserve('slack#res-2', now + 3)).toBe('exists');
    expect((await item('slack#res-2'))?.status).toBe('processing');
    const dayLater = now + 86_401_000;
    expect(await reservations.reserve('slack#res-2', dayLater)).toBe('reserved');
    expect((await item('slack#res-2'))?.status).toBe('enqueuing');
  });

  it('leaves a worker’s claim alone when the reservation lands after it (the send went first)', async () => {
    const now = Date.now();
    await worker.claim('slack#res-5', now, 60_000);
    expect(await reservations.reserve('slack#res-5', now + 1)).toBe('exists');
    expect(await item('slack#res-5')).toMatchObject({ status: 'processing', attempts: 1 });
  });

  it('takes a retried write that had landed for its own reservation, not for a duplicate', async () => {
    // The client's try timed out after DynamoDB wrote the item, and it tried again: the same request, twice.
    const real = localJsonClient(DYNAMODB, rig.aws.endpoints.dynamo);
    let puts = 0;
    const retrying = new EventReservations(
      {
        call: async (operation, input) => {
          if (operation !== 'PutItem') return real.call(operation, input);
          puts++;
          await real.call(operation, input);
          return real.call(operation, input);
        },
        destroy: () => undefined,
      },
      { tableName: rig.aws.tables.events },
    );
    const now = Date.now();
    expect(await retrying.reserve('slack#res-retried', now)).toBe('reserved');
    expect(puts).toBe(1);
    // Its send failed: the release finds its reservation, so the platform's retry is taken as new.
    await retrying.release('slack#res-retried');
    expect(await item('slack#res-retried')).toBeUndefined();
    // Another call's reservation is still a duplicate, retried or not.
    await reservations.reserve('slack#res-other', now);
    expect(await retrying.reserve('slack#res-other', now + 1)).toBe('exists');
  });

  it("reads the holder from the error's old item where DynamoDB returns it, without a read", async () => {
    const calls: string[] = [];
    const stored = { pk: { S: 'slack#res-old' }, status: { S: 'enqueuing' }, reservation: { S: 'someone-else' } };
    const withOldItem = new EventReservations(
      {
        call: async (operation) => {
          calls.push(operation);
          throw new AwsServiceError('ConditionalCheckFailedException', 400, 'The conditional request failed', {
            Item: stored,
          });
        },
        destroy: () => undefined,
      },
      { tableName: 'events' },
    );
    expect(await withOldItem.reserve('slack#res-old', Date.now())).toBe('exists');
    expect(calls).toEqual(['PutItem']);
    // A worker's claim that landed first wrote no token: a duplicate, still without a read.
    delete (stored as Partial<typeof stored>).reservation;
    expect(await withOldItem.reserve('slack#res-old', Date.now())).toBe('exists');
    expect(calls).toEqual(['PutItem', 'PutItem']);
  });

  it('releases only a reservation still enqueuing, never an event a worker holds', async () => {
    const now = Date.now();
    await reservations.reserve('slack#res-3', now);
    await reservations.release('slack#res-3');
    expect(await item('slack#res-3')).toBeUndefined();
    await reservations.release('slack#res-absent');
    await reservations.reserve('slack#res-4', now);
    await worker.claim('slack#res-4', now + 1, 60_000);
    await reservations.release('slack#res-4');
    expect((await item('slack#res-4'))?.status).toBe('processing');
  });
});

describe('the webhook when the send fails after the reservation', () => {
  /** The production enqueuer aimed at a queue that does not exist: SQS refuses every send. */
  const refusingQueue = () =>
    sqsEnqueuer(
      localJsonClient(SQS, rig.aws.endpoints.sqs),
      rig.aws.queues.queueUrl.replace(/[^/]+$/, 'no-such-queue.fifo'),
    );

  it('answers 500, releases the reservation, and the platform’s retry is enqueued once', async () => {
    const request = slackEvent();
    const failing = createWebhookHandler(async () => ({ ...rig.deps, enqueue: refusingQueue() }));
    const first = await failing(proxyEventOf(request));
    expect(first.statusCode).toBe(500);
    expect(await item(eventKey('slack', request.eventId))).toBeUndefined();
    expect(await rig.drainQueue()).toHaveLength(0);

    const retry = await rig.handle(proxyEventOf(slackEvent(request.eventId)));
    expect(retry.statusCode).toBe(200);
    expect(retry.headers?.['x-slack-no-retry']).toBeUndefined();
    expect(await rig.drainQueue()).toHaveLength(1);
  });

  it('still gets the event in when the release fails too: the retry, answered as a duplicate, sends it', async () => {
    const request = slackEvent();
    const failing = createWebhookHandler(async () => ({
      ...rig.deps,
      events: {
        reserve: rig.deps.events.reserve.bind(rig.deps.events),
        release: async () => {
          throw new Error('DynamoDB unavailable');
        },
      },
      enqueue: refusingQueue(),
    }));
    expect((await failing(proxyEventOf(request))).statusCode).toBe(500);
    expect((await item(eventKey('slack', request.eventId)))?.status).toBe('enqueuing');

    const retry = await rig.handle(proxyEventOf(slackEvent(request.eventId)));
    expect(retry.statusCode).toBe(200);
    const messages = await rig.drainQueue();
    expect(messages).toHaveLength(1);
    expect(messages[0]?.dedupId).toBe(eventKey('slack', request.eventId));
  });
});

describe('duplicates', () => {
  it('a retry of an event a worker claimed is answered 200 and its send collapsed (Slack: no retry)', async () => {
    const request = slackEvent();
    expect((await rig.handle(proxyEventOf(request))).statusCode).toBe(200);
    expect(await rig.drainQueue()).toHaveLength(1);
    await worker.claim(eventKey('slack', request.eventId), Date.now(), 60_000);

    const sends: string[] = [];
    const counting = createWebhookHandler(async () => ({
      ...rig.deps,
      enqueue: async (event, ids) => {
        sends.push(ids.deduplicationId);
        await rig.deps.enqueue(event, ids);
      },
    }));
    const retry = await counting(proxyEventOf(slackEvent(request.eventId)));
    expect(retry.statusCode).toBe(200);
    expect(retry.headers?.['x-slack-no-retry']).toBe('1');
    // Sent again with the same deduplication id: SQS FIFO drops it (past its window, the worker's claim would).
    expect(sends).toEqual([eventKey('slack', request.eventId)]);
    expect(await queueDepth()).toBe(1);
  });
});
