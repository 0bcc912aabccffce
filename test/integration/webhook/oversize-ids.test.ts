import { PurgeQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { ContextStore } from '../../../functions/core/context-store';
import { EventStore } from '../../../functions/core/event-store';
import type { IngestDeps } from '../../../functions/core/ingest';
import { DYNAMO_PARTITION_KEY_MAX_BYTES, hashedId, SQS_FIFO_ID_MAX_CHARS } from '../../../functions/core/key-part';
import { queuedEventSchema } from '../../../functions/core/queue-message';
import { createDefaultIngestDeps, createWebhookHandler, sqsEnqueuer } from '../../../functions/handlers/webhook';
import { PLATFORMS, type PlatformName } from '../../../functions/platforms/types';
import { credentialEnv, SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import { type LocalAws, startLocalAws } from '../../../sandbox/local-aws';
import { createDingTalkEmulator } from '../../../sandbox/platform-emulator/dingtalk';
import { createFeishuEmulator } from '../../../sandbox/platform-emulator/feishu';
import { createSlackEmulator } from '../../../sandbox/platform-emulator/slack';
import type { PlatformEmulator } from '../../../sandbox/platform-emulator/types';
import { createWeComEmulator } from '../../../sandbox/platform-emulator/wecom';
import { proxyEventOf, testEmulatorContext } from '../../helpers/emulated';

/**
 * Issue 13 (hardening): an event whose ids are far over DynamoDB's and SQS's limits is accepted (200), reserved in
 * the events table (dynalite enforces DynamoDB's 2,048-byte key limit), enqueued once with a valid FIFO group and
 * dedup id (fauxqs does not check those, so the test does), and its conversation key is usable as a context key.
 * Before, such an event was refused by DynamoDB/SQS after parsing: a 500 and the platform's retries until it gave up.
 */

const EMULATORS: Record<PlatformName, PlatformEmulator> = {
  feishu: createFeishuEmulator(),
  slack: createSlackEmulator(),
  dingtalk: createDingTalkEmulator(),
  wecom: createWeComEmulator(),
};

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
const isFifoId = (s: string | undefined): boolean =>
  s !== undefined && s.length >= 1 && s.length <= SQS_FIFO_ID_MAX_CHARS && /^[\x21-\x7e]+$/.test(s);

let aws: LocalAws;
let deps: IngestDeps;
let handle: ReturnType<typeof createWebhookHandler>;
const { ctx } = testEmulatorContext();

beforeAll(async () => {
  aws = await startLocalAws({ queue: { name: 'oversize-ids-it', visibilityTimeoutSeconds: 30, maxReceiveCount: 3 } });
  deps = await createDefaultIngestDeps({
    ...credentialEnv(SANDBOX_CREDENTIALS),
    ENABLED_PLATFORMS: PLATFORMS.join(','),
    QUEUE_URL: aws.queues.queueUrl,
    EVENTS_TABLE: aws.tables.events,
    REPLY_HANDLE_ORIGINS: 'http://127.0.0.1:9',
  });
  deps = {
    ...deps,
    events: new EventStore(aws.clients.doc, { tableName: aws.tables.events }),
    enqueue: sqsEnqueuer(aws.clients.sqs, aws.queues.queueUrl),
  };
  handle = createWebhookHandler(async () => deps);
}, 30_000);

afterAll(async () => {
  await aws?.stop();
});

beforeEach(async () => {
  await aws.clients.sqs.send(new PurgeQueueCommand({ QueueUrl: aws.queues.queueUrl }));
});

async function receiveAll() {
  const res = await aws.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: aws.queues.queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['All'],
      VisibilityTimeout: 60,
    }),
  );
  return (res.Messages ?? []).map((m) => ({
    body: m.Body ?? '',
    groupId: m.Attributes?.MessageGroupId,
    dedupId: m.Attributes?.MessageDeduplicationId,
  }));
}

/** Ids of the given shapes for chat, user and event; each case is one hostile variant. */
const VARIANTS: readonly [string, { chatId: string; userId: string; eventId: string }][] = [
  ['3,000-character ids', { chatId: 'c'.repeat(3000), userId: 'u'.repeat(3000), eventId: 'e'.repeat(3000) }],
  [
    'a 200-character DingTalk-style conversation id and a long sender',
    { chatId: `cid${'Ab+/'.repeat(49)}==`, userId: `$:LWCP_v1:$${'k'.repeat(120)}`, eventId: `msg${'9'.repeat(150)}` },
  ],
  [
    'non-ASCII ids (3 KB of UTF-8 each)',
    { chatId: '群'.repeat(1000), userId: '员'.repeat(1000), eventId: `事${'件'.repeat(999)}` },
  ],
];

describe.each(PLATFORMS)('%s webhook with oversize ids', (platform) => {
  it.each(VARIANTS)('accepts, reserves and enqueues %s once, with every key within its limit', async (_name, ids) => {
    const request = EMULATORS[platform].buildMessageEvent({ ...ids, text: 'oversize ids' }, ctx);
    const res = await handle(proxyEventOf(request));
    expect(res.statusCode).toBe(200);

    const messages = await receiveAll();
    expect(messages).toHaveLength(1);
    const [message] = messages;
    const queued = queuedEventSchema.parse(JSON.parse(message?.body ?? ''));
    // The message still carries the real ids; only the keys are bounded.
    expect(queued.message.eventId).toBe(request.eventId);
    expect(queued.message.chatId.length).toBeGreaterThan(128);
    expect(isFifoId(message?.groupId)).toBe(true);
    expect(isFifoId(message?.dedupId)).toBe(true);
    expect(bytes(queued.conversationKey)).toBeLessThanOrEqual(DYNAMO_PARTITION_KEY_MAX_BYTES);
    expect(queued.conversationKey).toContain(hashedId(queued.message.chatId));

    // The events table holds the reservation under the bounded key (dynalite would refuse an oversize one).
    const pk = EventStore.key(platform, request.eventId);
    expect(pk).toBe(`${platform}#${hashedId(request.eventId)}`);
    const item = await aws.clients.doc.send(new GetCommand({ TableName: aws.tables.events, Key: { pk } }));
    expect(item.Item?.status).toBe('enqueued');

    // The worker's context store can load and save under the conversation key.
    const contexts = new ContextStore(aws.clients.doc, {
      tableName: aws.tables.conversations,
      tokenCount: (t) => t.length,
    });
    const now = Date.now();
    const loaded = await contexts.load(queued.conversationKey, now);
    await contexts.appendTurn(queued.conversationKey, loaded, { user: 'q', assistant: 'a', eventId: 'e1' }, now);
    expect((await contexts.load(queued.conversationKey, now)).turns).toHaveLength(2);

    // A re-delivery of the same event maps to the same keys: acknowledged, not enqueued again.
    const again = EMULATORS[platform].buildMessageEvent({ ...ids, text: 'oversize ids' }, ctx);
    expect((await handle(proxyEventOf(again))).statusCode).toBe(200);
    expect(await receiveAll()).toHaveLength(0);
  });
});
