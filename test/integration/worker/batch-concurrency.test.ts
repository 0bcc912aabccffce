import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent } from 'aws-lambda';
import { DEFAULT_MESSAGES } from '#core/answer-pipeline';
import type { QueuedEvent } from '#core/queue-message';
import { createWorkerHandler } from '#handlers/worker';
import { lambdaContext } from '../../../sandbox/api-gateway';
import { completion, echoModel, type Rig, recordOf, startRig, uniqueChat } from './harness';

/**
 * Issue 13, "one member's batch neighbours are not starved": a FIFO batch holds records of several members (message
 * groups). Processed one after another under one invocation deadline, a slow model left the last members of the batch
 * with the apology although the model was healthy. Groups now run side by side, each record with its own deadline
 * taken when it starts; FIFO order within a group is kept.
 */
let rig: Rig;

beforeAll(async () => {
  rig = await startRig();
}, 30_000);

afterAll(async () => {
  await rig?.stop();
});

afterEach(() => {
  rig.model = echoModel;
  rig.capture = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Queued events as the webhook built them, captured instead of enqueued so the test hands the batch over itself. */
async function queued(say: () => Promise<unknown>[]): Promise<QueuedEvent[]> {
  const captured: QueuedEvent[] = [];
  rig.capture = captured;
  for (const s of say()) await s;
  rig.capture = undefined;
  return captured;
}

/** A 60 s Lambda invocation: the runtime's remaining time runs down with the wall clock, as in AWS. */
function invocation(timeoutMs: number) {
  const context = lambdaContext('worker-batch', timeoutMs) as unknown as Context;
  const processRecord = rig.runtime({ remainingMs: () => context.getRemainingTimeInMillis() });
  return { context, handler: createWorkerHandler(async () => processRecord) };
}

it('answers all 8 members of one batch when the model takes 8 s and the Lambda has 60 s', async () => {
  const tag = uniqueChat('starve');
  const members = Array.from({ length: 8 }, (_, i) => ({ chatId: `${tag}-chat${i}`, userId: `member${i}` }));
  const events = await queued(() =>
    members.map((m) => rig.say('slack', { ...m, text: `question of ${m.userId} ${tag}` })),
  );
  expect(new Set(events.map((e) => e.conversationKey)).size).toBe(8);
  rig.model = async (messages) => {
    await sleep(8_000);
    return completion(`answer to: ${messages.at(-1)?.content ?? ''}`);
  };
  const { context, handler } = invocation(60_000);
  const batch: SQSEvent = { Records: events.map((e, i) => recordOf(e, `${tag}-m${i}`)) };
  const started = Date.now();
  const response = await handler(batch, context);
  const elapsed = Date.now() - started;

  expect(response.batchItemFailures).toEqual([]);
  const replies = rig.deliveries.filter((d) => d.chatId.startsWith(tag));
  expect(replies).toHaveLength(8);
  for (const m of members) {
    const reply = replies.find((d) => d.chatId === m.chatId);
    expect(reply?.text).toContain(`answer to: question of ${m.userId}`);
    expect(reply?.text).not.toContain(DEFAULT_MESSAGES.modelUnavailable);
  }
  // Side by side: the batch took about one model call, not eight (64 s would exceed the invocation).
  expect(elapsed).toBeLessThan(30_000);
}, 45_000);

it('keeps FIFO order within a member and skips the rest of a group whose record failed, not other groups', async () => {
  const tag = uniqueChat('fifo');
  const alice = { chatId: `${tag}-a`, userId: 'alice' };
  const bob = { chatId: `${tag}-b`, userId: 'bob' };
  const events = await queued(() => [
    rig.say('slack', { ...alice, text: `first ${tag}` }),
    rig.say('slack', { ...bob, text: `only ${tag}` }),
    rig.say('slack', { ...alice, text: `second ${tag}` }),
    rig.say('slack', { ...alice, text: `third ${tag}` }),
  ]);
  const order: string[] = [];
  rig.model = async (messages) => {
    const question = messages.at(-1)?.content ?? '';
    // The first of alice's records is slow: had her second overtaken it, the order below would show it.
    if (question.startsWith('first')) await sleep(600);
    order.push(question.split(' ')[0] ?? '');
    return completion(`answer to: ${question}`);
  };
  const { context, handler } = invocation(60_000);
  const records = events.map((e, i) => recordOf(e, `${tag}-m${i}`));
  const response = await handler({ Records: records }, context);
  expect(response.batchItemFailures).toEqual([]);
  expect(order.filter((q) => q !== 'only')).toEqual(['first', 'second', 'third']);
  // Bob did not wait behind alice's slow first question.
  expect(order.indexOf('only')).toBeLessThan(order.indexOf('first'));

  // A poison record in alice's group fails it and her later records; bob's group still answers.
  const tag2 = uniqueChat('fifo-fail');
  const more = await queued(() => [
    rig.say('slack', { chatId: `${tag2}-a`, userId: 'alice', text: `one ${tag2}` }),
    rig.say('slack', { chatId: `${tag2}-a`, userId: 'alice', text: `two ${tag2}` }),
    rig.say('slack', { chatId: `${tag2}-b`, userId: 'bob', text: `three ${tag2}` }),
  ]);
  const [one, two, three] = more.map((e, i) => recordOf(e, `${tag2}-m${i}`));
  if (!one || !two || !three) throw new Error('three records expected');
  const poisoned = { ...one, body: '{"v":1' };
  const second = await handler({ Records: [poisoned, two, three] }, context);
  expect(second.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([poisoned.messageId, two.messageId]);
  const bobReplies = await rig.waitFor(1, (d) => d.chatId === `${tag2}-b`);
  expect(bobReplies[0]?.text).toContain(`answer to: three ${tag2}`);
  expect(rig.deliveries.filter((d) => d.chatId === `${tag2}-a`)).toHaveLength(0);
}, 45_000);

it('fails the invocation when every record of the batch failed, so SQS redelivers them all', async () => {
  const tag = uniqueChat('allfail');
  const events = await queued(() => [rig.say('slack', { chatId: `${tag}-a`, userId: 'alice', text: `x ${tag}` })]);
  const [event] = events;
  if (!event) throw new Error('one event expected');
  const { context, handler } = invocation(60_000);
  const bad = { ...recordOf(event, `${tag}-m0`), body: 'not json' };
  const bad2 = { ...recordOf(event, `${tag}-m1`), body: '{}' };
  bad2.attributes = { ...bad2.attributes, MessageGroupId: `${tag}-other` };
  const failure = await handler({ Records: [bad, bad2] }, context).catch((err: unknown) => err);
  expect(failure).toBeInstanceOf(FullBatchFailureError);
  expect((failure as FullBatchFailureError).recordErrors.map((e) => e.message)).toEqual([
    'all 2 records of the batch failed',
  ]);
});
