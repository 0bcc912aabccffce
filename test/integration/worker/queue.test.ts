import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { QueuedEvent } from '#core/queue-message';
import { type Rig, recordOf, startRig, uniqueChat } from './harness';

const MAX_RECEIVES = 3;
let rig: Rig;

beforeAll(async () => {
  rig = await startRig({ maxReceiveCount: MAX_RECEIVES });
}, 30_000);

afterAll(async () => {
  await rig?.stop();
});

afterEach(() => {
  rig.checkpoint = undefined;
  rig.capture = undefined;
});

/** Every body currently in the DLQ (each received once and left invisible, so later calls only see new ones). */
async function drainDlq(): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < 10; i++) {
    const out = await rig.aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: rig.aws.queues.dlqUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 300,
      }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0 && i > 0) break;
    bodies.push(...messages.map((m) => m.Body ?? ''));
  }
  return bodies;
}

async function waitForDlq(predicate: (body: string) => boolean, timeoutMs = 15_000): Promise<string[]> {
  const until = Date.now() + timeoutMs;
  const seen: string[] = [];
  while (Date.now() < until) {
    seen.push(...(await drainDlq()));
    if (seen.some(predicate)) return seen;
    await new Promise((r) => setTimeout(r, 200));
  }
  return seen;
}

async function capture(say: () => Promise<unknown>): Promise<QueuedEvent> {
  const captured: QueuedEvent[] = [];
  rig.capture = captured;
  await say();
  rig.capture = undefined;
  const [event] = captured;
  if (!event) throw new Error('nothing enqueued');
  return event;
}

describe('poison messages', () => {
  it.each([
    ['invalid JSON', (tag: string) => `{"v":1,"conversationKey":"${tag}"`],
    ['JSON of the wrong shape', (tag: string) => JSON.stringify({ v: 2, conversationKey: tag })],
  ])(
    'moves %s to the DLQ after maxReceiveCount, never dropping it',
    async (_label, bodyOf) => {
      const tag = uniqueChat('poison');
      const body = bodyOf(tag);
      await rig.aws.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: rig.aws.queues.queueUrl,
          MessageBody: body,
          MessageGroupId: tag,
          MessageDeduplicationId: tag,
        }),
      );
      const dead = await waitForDlq((b) => b === body);
      expect(dead).toContain(body);
      expect(rig.deliveries.filter((d) => d.text.includes(tag))).toHaveLength(0);
    },
    30_000,
  );
});

describe('FIFO message groups', () => {
  it('reports a failed record and every later record of its group as failed, and answers the other groups', async () => {
    const chatId = uniqueChat('fifo-batch');
    const a1 = await capture(() => rig.say('slack', { chatId, userId: 'alice', text: `a1 ${chatId}` }));
    const a2 = await capture(() => rig.say('slack', { chatId, userId: 'alice', text: `a2 ${chatId}` }));
    const b1 = await capture(() => rig.say('slack', { chatId, userId: 'bob', text: `b1 ${chatId}` }));
    expect(a1.conversationKey).toBe(a2.conversationKey);
    expect(b1.conversationKey).not.toBe(a1.conversationKey);
    rig.checkpoint = (step, event) => {
      if (step === 'claimed' && event.message.eventId === a1.message.eventId) throw new Error('injected failure');
    };
    const promptsBefore = rig.prompts.length;
    const response = await rig.handle({ Records: [recordOf(a1, 'a1'), recordOf(b1, 'b1'), recordOf(a2, 'a2')] });
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['a1', 'a2']);
    const delivered = rig.deliveries.filter((d) => d.chatId === chatId);
    expect(delivered.map((d) => d.text)).toEqual([expect.stringContaining(`answer to: b1 ${chatId}`)]);
    // a2 was skipped, not attempted: only b1 reached the model.
    expect(rig.prompts.length - promptsBefore).toBe(1);
  }, 30_000);

  it('through SQS: a group stuck on a failing message does not hold up other groups; its next message waits', async () => {
    const chatId = uniqueChat('fifo-sqs');
    const stuckId = `stuck-${chatId}`;
    rig.checkpoint = (step, event) => {
      if (step === 'claimed' && event.message.eventId === stuckId) throw new Error('injected permanent failure');
    };
    await rig.say('wecom', { chatId, userId: 'alice', text: `a1 ${chatId}`, eventId: stuckId });
    await rig.say('wecom', { chatId, userId: 'alice', text: `a2 ${chatId}` });
    await rig.say('wecom', { chatId, userId: 'bob', text: `b1 ${chatId}` });

    // The random chat id may itself contain "a2" or "b1": match the whole question.
    const [bobs] = await rig.waitFor(1, (d) => d.chatId === chatId && d.text.includes(`b1 ${chatId}`), 5_000);
    expect(bobs).toBeDefined();
    // Alice's second message is answered only after her first has left the queue (dead-lettered).
    expect(rig.deliveries.some((d) => d.text.includes(`a2 ${chatId}`))).toBe(false);
    const dead = await waitForDlq((b) => b.includes(stuckId));
    expect(dead.some((b) => b.includes(`a1 ${chatId}`))).toBe(true);
    const [alices] = await rig.waitFor(1, (d) => d.chatId === chatId && d.text.includes(`a2 ${chatId}`));
    expect(alices?.text).toContain(`answer to: a2 ${chatId}`);
    expect(rig.deliveries.filter((d) => d.chatId === chatId)).toHaveLength(2);
  }, 30_000);
});
