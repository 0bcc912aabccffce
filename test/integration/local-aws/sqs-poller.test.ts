import { createHash } from 'node:crypto';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ConfigError } from '#core/errors';
import {
  type AwsClients,
  createAwsClients,
  createQueues,
  type FauxqsServer,
  type FifoQueuePair,
  type SqsBatchHandler,
  type SqsPoller,
  startFauxqs,
  startSqsPoller,
} from '../../../sandbox/local-aws/index';

let server: FauxqsServer;
let clients: AwsClients;
let sqs: SQSClient;
let queueCount = 0;
const pollers: SqsPoller[] = [];

beforeAll(async () => {
  server = await startFauxqs();
  clients = createAwsClients({ dynamoEndpoint: 'http://127.0.0.1:9', sqsEndpoint: server.endpoint });
  sqs = clients.sqs;
});
afterEach(async () => {
  await Promise.all(pollers.splice(0).map((poller) => poller.stop()));
});
afterAll(async () => {
  clients.destroy();
  await server.stop();
});

/** A fresh queue pair per test; visibility 1 s keeps redelivery tests quick. */
function freshQueues(overrides: { maxReceiveCount?: number; contentBasedDeduplication?: boolean } = {}) {
  queueCount += 1;
  return createQueues(sqs, {
    name: `poller-test-${queueCount}`,
    maxReceiveCount: overrides.maxReceiveCount ?? 5,
    visibilityTimeoutSeconds: 1,
    ...(overrides.contentBasedDeduplication === undefined
      ? {}
      : { contentBasedDeduplication: overrides.contentBasedDeduplication }),
  });
}

async function poll(queues: FifoQueuePair, handler: SqsBatchHandler, batchSize = 10, concurrency = 2) {
  const poller = await startSqsPoller({ sqs, queueUrl: queues.queueUrl, handler, batchSize, concurrency });
  pollers.push(poller);
  return poller;
}

function send(queueUrl: string, body: string, group: string, dedupId: string) {
  return sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: body,
      MessageGroupId: group,
      MessageDeduplicationId: dedupId,
    }),
  );
}

/** Remembers every record the handler saw, in order, with its receive count. */
function recorder() {
  const seen: { body: string; receiveCount: string; group: string | undefined }[] = [];
  const note = (record: SQSRecord) =>
    seen.push({
      body: record.body,
      receiveCount: record.attributes.ApproximateReceiveCount,
      group: record.attributes.MessageGroupId,
    });
  const bodies = () => seen.map((entry) => entry.body);
  return { seen, note, bodies };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('startSqsPoller builds the Lambda SQS event', () => {
  it('delivers a real SQSEvent record with system and message attributes in the Lambda shape', async () => {
    const queues = await freshQueues();
    const events: SQSEvent[] = [];
    const poller = await poll(queues, async (event) => {
      events.push(event);
    });
    const before = Date.now();
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queues.queueUrl,
        MessageBody: '{"text":"你好 @bot"}',
        MessageGroupId: 'slack#T1#C1#U1',
        MessageDeduplicationId: 'slack#Ev001',
        MessageAttributes: {
          platform: { DataType: 'String', StringValue: 'slack' },
          attempt: { DataType: 'Number', StringValue: '1' },
          blob: { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 2, 255]) },
        },
      }),
    );
    await poller.idle();

    expect(events).toHaveLength(1);
    const [record] = events[0]?.Records ?? [];
    expect(record).toEqual({
      messageId: expect.any(String),
      receiptHandle: expect.any(String),
      body: '{"text":"你好 @bot"}',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d{13}$/),
        SenderId: expect.any(String),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
        MessageGroupId: 'slack#T1#C1#U1',
        MessageDeduplicationId: 'slack#Ev001',
        SequenceNumber: expect.stringMatching(/^\d+$/),
      },
      messageAttributes: {
        platform: { stringValue: 'slack', stringListValues: [], binaryListValues: [], dataType: 'String' },
        attempt: { stringValue: '1', stringListValues: [], binaryListValues: [], dataType: 'Number' },
        blob: { binaryValue: 'AAEC/w==', stringListValues: [], binaryListValues: [], dataType: 'Binary' },
      },
      md5OfBody: createHash('md5').update('{"text":"你好 @bot"}').digest('hex'),
      md5OfMessageAttributes: expect.stringMatching(/^[0-9a-f]{32}$/),
      eventSource: 'aws:sqs',
      eventSourceARN: queues.queueArn,
      awsRegion: 'us-east-1',
    });
    expect(Number(record?.attributes.SentTimestamp)).toBeGreaterThanOrEqual(before - 1000);
  });
});

describe('startSqsPoller honours FIFO', () => {
  it('keeps each message group in order while different groups are handled in parallel', async () => {
    const queues = await freshQueues();
    const { seen, note } = recorder();
    const active = new Map<string, number>();
    let maxSameGroup = 0;
    let maxOverall = 0;
    const poller = await poll(
      queues,
      async (event) => {
        for (const record of event.Records) {
          const group = record.attributes.MessageGroupId ?? '';
          active.set(group, (active.get(group) ?? 0) + 1);
          maxSameGroup = Math.max(maxSameGroup, active.get(group) ?? 0);
          maxOverall = Math.max(
            maxOverall,
            [...active.values()].reduce((a, b) => a + b, 0),
          );
        }
        await sleep(60);
        for (const record of event.Records) {
          note(record);
          const group = record.attributes.MessageGroupId ?? '';
          active.set(group, (active.get(group) ?? 1) - 1);
        }
      },
      1,
      2,
    );
    for (let i = 1; i <= 4; i++) {
      await send(queues.queueUrl, `A${i}`, 'group-A', `a${i}`);
      await send(queues.queueUrl, `B${i}`, 'group-B', `b${i}`);
    }
    await poller.idle();

    const inGroup = (group: string) => seen.filter((entry) => entry.group === group).map((entry) => entry.body);
    expect(inGroup('group-A')).toEqual(['A1', 'A2', 'A3', 'A4']);
    expect(inGroup('group-B')).toEqual(['B1', 'B2', 'B3', 'B4']);
    expect(maxSameGroup).toBe(1);
    expect(maxOverall).toBe(2);
  });

  it('drops a second send with the same deduplication id within the 5-minute window', async () => {
    const queues = await freshQueues();
    const { note, bodies } = recorder();
    const poller = await poll(queues, async (event) => {
      event.Records.forEach(note);
    });
    const first = await send(queues.queueUrl, 'first delivery', 'g', 'feishu#evt-42');
    const retry = await send(queues.queueUrl, 'platform retry', 'g', 'feishu#evt-42');
    await send(queues.queueUrl, 'another event', 'g', 'feishu#evt-43');
    await poller.idle();

    expect(retry.MessageId).toBe(first.MessageId);
    expect(bodies()).toEqual(['first delivery', 'another event']);
  });

  it('drops identical bodies when the queue uses content-based deduplication', async () => {
    const queues = await freshQueues({ contentBasedDeduplication: true });
    const seen: string[] = [];
    const poller = await poll(queues, async (event) => {
      seen.push(...event.Records.map((record) => record.body));
    });
    for (const body of ['same', 'same', 'different']) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: body, MessageGroupId: 'g' }));
    }
    await poller.idle();
    expect(seen).toEqual(['same', 'different']);
  });
});

describe('startSqsPoller failure handling (ReportBatchItemFailures)', () => {
  it('redelivers only the records listed in batchItemFailures, with ApproximateReceiveCount 2', async () => {
    const queues = await freshQueues();
    const { seen, note } = recorder();
    let failedOnce = false;
    const batchSizes: number[] = [];
    // Sent before polling starts, and in three groups, so all three arrive in one batch (fauxqs hands out one
    // message per group per receive).
    await send(queues.queueUrl, 'good-1', 'g1', 'd1');
    await send(queues.queueUrl, 'bad', 'g2', 'd2');
    await send(queues.queueUrl, 'good-2', 'g3', 'd3');
    const poller = await poll(queues, async (event): Promise<SQSBatchResponse> => {
      batchSizes.push(event.Records.length);
      event.Records.forEach(note);
      const bad = event.Records.find((record) => record.body === 'bad' && !failedOnce);
      if (!bad) return { batchItemFailures: [] };
      failedOnce = true;
      return { batchItemFailures: [{ itemIdentifier: bad.messageId }] };
    });
    await poller.idle();

    expect(batchSizes[0]).toBe(3);
    expect(seen.filter((entry) => entry.body === 'good-1').map((entry) => entry.receiveCount)).toEqual(['1']);
    expect(seen.filter((entry) => entry.body === 'good-2').map((entry) => entry.receiveCount)).toEqual(['1']);
    expect(seen.filter((entry) => entry.body === 'bad').map((entry) => entry.receiveCount)).toEqual(['1', '2']);
  });

  it('moves a record that fails maxReceiveCount times to the DLQ instead of dropping it', async () => {
    const queues = await freshQueues({ maxReceiveCount: 2 });
    const { seen, note } = recorder();
    const poller = await poll(queues, async (event) => {
      event.Records.forEach(note);
      return {
        batchItemFailures: event.Records.filter((r) => r.body === 'poison').map((r) => ({
          itemIdentifier: r.messageId,
        })),
      };
    });
    await send(queues.queueUrl, 'poison', 'g', 'p1');
    await send(queues.queueUrl, 'healthy', 'other', 'h1');
    await poller.idle();

    expect(seen.filter((entry) => entry.body === 'poison').map((entry) => entry.receiveCount)).toEqual(['1', '2']);
    expect(seen.filter((entry) => entry.body === 'healthy')).toHaveLength(1);
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues.dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(Messages.map((message) => message.Body)).toEqual(['poison']);
  });

  it('redelivers the whole batch when the handler throws', async () => {
    const queues = await freshQueues();
    const { seen, note } = recorder();
    let calls = 0;
    // Sent before polling starts, so both arrive in one batch.
    await send(queues.queueUrl, 'm1', 'g1', 'd1');
    await send(queues.queueUrl, 'm2', 'g2', 'd2');
    const poller = await poll(queues, async (event) => {
      calls += 1;
      event.Records.forEach(note);
      if (calls === 1) throw new Error('model endpoint timed out');
    });
    await poller.idle();

    expect(calls).toBe(2);
    expect(seen.map((entry) => `${entry.body}:${entry.receiveCount}`).sort()).toEqual(['m1:1', 'm1:2', 'm2:1', 'm2:2']);
  });

  it('redelivers the whole batch when batchItemFailures names an unknown message id', async () => {
    const queues = await freshQueues();
    const { seen, note } = recorder();
    const poller = await poll(queues, async (event) => {
      event.Records.forEach(note);
      return seen.length <= event.Records.length
        ? { batchItemFailures: [{ itemIdentifier: 'not-in-batch' }] }
        : undefined;
    });
    await send(queues.queueUrl, 'x', 'g', 'd');
    await poller.idle();
    expect(seen.map((entry) => entry.receiveCount)).toEqual(['1', '2']);
  });
});

describe('startSqsPoller lifecycle', () => {
  it('never runs two batches of one group at once, even when the visibility timeout expires mid-batch', async () => {
    const queues = await freshQueues();
    const { seen, note } = recorder();
    let running = 0;
    let maxRunning = 0;
    const poller = await poll(
      queues,
      async (event) => {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        // Longer than the 1 s visibility timeout: the queue hands the message out again meanwhile.
        if (seen.length === 0) await sleep(1600);
        event.Records.forEach(note);
        running -= 1;
      },
      1,
      2,
    );
    await send(queues.queueUrl, 'slow', 'g', 'd');
    await poller.idle();

    expect(maxRunning).toBe(1);
    // At-least-once: the second delivery still happens, after the first finished.
    expect(seen.map((entry) => entry.receiveCount)).toEqual(['1', '2']);
  });

  it('stop() finishes the batch in flight and deletes it', async () => {
    const queues = await freshQueues();
    let finished = false;
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    const poller = await startSqsPoller({
      sqs,
      queueUrl: queues.queueUrl,
      handler: async () => {
        started();
        await sleep(300);
        finished = true;
      },
    });
    await send(queues.queueUrl, 'in flight', 'g', 'd');
    await handlerStarted;
    await poller.stop();

    expect(finished).toBe(true);
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, WaitTimeSeconds: 1, VisibilityTimeout: 0 }),
    );
    expect(Messages).toBeUndefined();
  });

  it('idle() rejects with the counts when the queue does not drain in time', async () => {
    const queues = await freshQueues();
    const poller = await poll(queues, async () => {
      await sleep(1000);
    });
    await send(queues.queueUrl, 'slow', 'g', 'd');
    await expect(poller.idle({ timeoutMs: 100 })).rejects.toThrow(/queue not idle after 100 ms/);
  });

  it.each([
    [{ batchSize: 0 }, /batchSize must be an integer in 1–10, got 0/],
    [{ batchSize: 11 }, /batchSize must be an integer in 1–10, got 11/],
    [{ waitTimeSeconds: 21 }, /waitTimeSeconds must be an integer in 1–20/],
    [{ concurrency: 0 }, /concurrency must be an integer/],
    [{ visibilityTimeoutSeconds: -1 }, /visibilityTimeoutSeconds must be an integer in 0–43200/],
  ])('rejects invalid options %j', async (bad, message) => {
    const attempt = startSqsPoller({ sqs, queueUrl: 'http://unused', handler: async () => undefined, ...bad });
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(message);
  });
});

describe('createQueues', () => {
  it('creates a FIFO queue whose redrive policy points at a FIFO DLQ', async () => {
    const queues = await createQueues(sqs, { name: 'redrive-check', maxReceiveCount: 4, visibilityTimeoutSeconds: 7 });
    expect(queues.queueUrl).toMatch(/\/redrive-check\.fifo$/);
    expect(queues.dlqArn).toMatch(/:redrive-check-dlq\.fifo$/);
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queues.queueUrl, AttributeNames: ['All'] }),
    );
    expect(Attributes).toMatchObject({ FifoQueue: 'true', VisibilityTimeout: '7', ContentBasedDeduplication: 'false' });
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: queues.dlqArn,
      maxReceiveCount: 4,
    });
  });

  it.each([
    [{ name: 'bad name!', maxReceiveCount: 3, visibilityTimeoutSeconds: 30 }, /queue name "bad name!"/],
    [{ name: 'q', maxReceiveCount: 0, visibilityTimeoutSeconds: 30 }, /maxReceiveCount must be an integer in 1–1000/],
    [{ name: 'q', maxReceiveCount: 3, visibilityTimeoutSeconds: 43_201 }, /visibilityTimeoutSeconds must be/],
  ])('rejects %j', async (options, message) => {
    const attempt = createQueues(sqs, options);
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(message);
  });
});
