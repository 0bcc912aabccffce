import { createServer, type Server } from 'node:net';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { type LocalAws, startLocalAws } from '../../../sandbox/local-aws/index';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function listen(port = 0): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

const close = (server: Server) => new Promise((resolve) => server.close(resolve));

describe('startLocalAws', () => {
  let aws: LocalAws;
  let startMs: number;
  const events: SQSEvent[] = [];

  beforeAll(async () => {
    const started = performance.now();
    aws = await startLocalAws({
      tablePrefix: 'e2e-',
      queue: { name: 'e2e-work', visibilityTimeoutSeconds: 5 },
      worker: {
        handler: async (event) => {
          events.push(event);
          for (const record of event.Records) {
            await aws.clients.doc.send(
              new PutCommand({ TableName: aws.tables.events, Item: { pk: record.body, status: 'replied' } }),
            );
          }
        },
      },
    });
    startMs = performance.now() - started;
  });
  // stop() is idempotent; this only matters when a test fails before the stop test runs.
  afterAll(() => aws?.stop());

  it('starts dynalite, fauxqs, the tables and the queues in well under 3 s', () => {
    expect(startMs).toBeLessThan(3000);
    expect(aws.endpoints.dynamo).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(aws.endpoints.sqs).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(aws.tables.conversations).toBe('e2e-Conversations');
    expect(aws.queues.queueUrl).toMatch(/\/e2e-work\.fifo$/);
    expect(aws.queues.dlqUrl).toMatch(/\/e2e-work-dlq\.fifo$/);
  });

  it('carries a message from the FIFO queue through the poller into DynamoDB', async () => {
    await aws.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: aws.queues.queueUrl,
        MessageBody: 'slack#Ev42',
        MessageGroupId: 'slack#T1#C1#U1',
        MessageDeduplicationId: 'slack#Ev42',
      }),
    );
    await aws.poller?.idle();
    expect(events.flatMap((event) => event.Records.map((record) => record.eventSourceARN))).toEqual([
      aws.queues.queueArn,
    ]);
    const { Item } = await aws.clients.doc.send(
      new GetCommand({ TableName: aws.tables.events, Key: { pk: 'slack#Ev42' } }),
    );
    expect(Item).toEqual({ pk: 'slack#Ev42', status: 'replied' });
  });

  it('stop() ends the fauxqs child and releases both ports', async () => {
    const pid = aws.fauxqsPid;
    expect(isAlive(pid)).toBe(true);
    await aws.stop();
    expect(isAlive(pid)).toBe(false);
    for (const endpoint of [aws.endpoints.dynamo, aws.endpoints.sqs]) {
      await close(await listen(Number(new URL(endpoint).port)));
    }
  });
});

describe('startLocalAws when a part cannot start', () => {
  it('rejects and stops the parts that did start', async () => {
    const taken = await listen();
    const freed = await listen();
    const dynamoPort = (freed.address() as { port: number }).port;
    await close(freed);
    try {
      await expect(startLocalAws({ dynamoPort, sqsPort: (taken.address() as { port: number }).port })).rejects.toThrow(
        /EADDRINUSE/,
      );
      // dynalite started on dynamoPort and must have been stopped again, so the port is free.
      await close(await listen(dynamoPort));
    } finally {
      await close(taken);
    }
  });
});
