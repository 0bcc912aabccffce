import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DYNAMO_PARTITION_KEY_MAX_BYTES, eventKey, hashedId, SQS_FIFO_ID_MAX_CHARS } from '#core/key-part';
import { queuedEventSchema } from '#core/queue-message';
import { PLATFORMS } from '#platforms/types';
import { ContextStore } from '#stores/context-store';
import { proxyEventOf, testEmulatorContext } from '../../helpers/emulated';
import { EMULATORS, startWebhookRig, type WebhookRig } from './webhook-rig';

/**
 * Issue 13 (hardening): an event whose ids are far over DynamoDB's and SQS's limits is accepted (200), reserved in
 * the events table (dynalite enforces DynamoDB's 2,048-byte key limit), enqueued once with a valid FIFO group and
 * dedup id (fauxqs does not check those, so the test does), and its conversation key is usable as a context key.
 * Before, such an event was refused by DynamoDB/SQS after parsing: a 500 and the platform's retries until it gave up.
 */

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
const isFifoId = (s: string | undefined): boolean =>
  s !== undefined && s.length >= 1 && s.length <= SQS_FIFO_ID_MAX_CHARS && /^[\x21-\x7e]+$/.test(s);

let rig: WebhookRig;
const { ctx } = testEmulatorContext();

beforeAll(async () => {
  rig = await startWebhookRig('oversize-ids-it');
}, 30_000);

afterAll(async () => {
  await rig?.aws.stop();
});

beforeEach(async () => {
  await rig.purgeQueue();
});

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
    const res = await rig.handle(proxyEventOf(request));
    expect(res.statusCode).toBe(200);

    const messages = await rig.drainQueue();
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
    const pk = eventKey(platform, request.eventId);
    expect(pk).toBe(`${platform}#${hashedId(request.eventId)}`);
    const item = await rig.aws.clients.doc.send(new GetCommand({ TableName: rig.aws.tables.events, Key: { pk } }));
    expect(item.Item?.status).toBe('enqueuing');

    // The worker's context store can load and save under the conversation key.
    const contexts = new ContextStore(rig.aws.clients.doc, {
      tableName: rig.aws.tables.conversations,
      tokenCount: (t) => t.length,
    });
    const now = Date.now();
    const loaded = await contexts.load(queued.conversationKey, now);
    await contexts.appendTurn(queued.conversationKey, loaded, { user: 'q', assistant: 'a', eventId: 'e1' }, now);
    expect((await contexts.load(queued.conversationKey, now)).turns).toHaveLength(2);

    // A re-delivery of the same event maps to the same keys: acknowledged, not enqueued again.
    const again = EMULATORS[platform].buildMessageEvent({ ...ids, text: 'oversize ids' }, ctx);
    expect((await rig.handle(proxyEventOf(again))).statusCode).toBe(200);
    expect(await rig.drainQueue()).toHaveLength(0);
  });
});
