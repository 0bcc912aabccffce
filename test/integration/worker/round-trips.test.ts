import { BatchGetCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { eventKey } from '#core/key-part';
import type { QueuedEvent } from '#core/queue-message';
import { activeUserKey } from '#stores/active-users';
import { ItemsNotReadError } from '#stores/batch-get';
import { traceCalls } from '../../../bench/dynamo-calls';
import { type Rig, recordOf, startRig, uniqueChat } from './harness';

/**
 * Issue 22: the worker's DynamoDB round trips, against the sandbox's dynalite (with its TransactWriteItems emulation,
 * so DynamoDB's path: the replied status and the turn in one transaction). The claim and one BatchGetItem (context,
 * FAQ entry, active-user marker) share the first round trip, the `sending` fence (with the ledger and audit batch
 * alongside) the second, the final write the third.
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

async function queued(chatId: string, userId: string, text: string): Promise<QueuedEvent> {
  const captured: QueuedEvent[] = [];
  rig.capture = captured;
  await rig.say('slack', { chatId, userId, text });
  rig.capture = undefined;
  const [event] = captured;
  if (!event) throw new Error('nothing enqueued');
  return event;
}

/** A worker instance whose DynamoDB calls are traced. */
function tracedWorker(doc = rig.aws.clients.doc) {
  const trace = traceCalls(doc);
  return { trace, run: rig.runtime({ clients: { ...rig.aws.clients, doc: trace.doc } }) };
}

async function stored(table: string, pk: string) {
  const out = await rig.aws.clients.doc.send(new GetCommand({ TableName: table, Key: { pk }, ConsistentRead: true }));
  return out.Item;
}

const replies = (chatId: string) => rig.deliveries.filter((d) => d.chatId === chatId);

describe('DynamoDB round trips per message', () => {
  it('a follow-up takes 3 sequential round trips and 5 calls; its context comes from the batched read', async () => {
    const chatId = uniqueChat('rt-follow');
    const { trace, run } = tracedWorker();
    const first = await queued(chatId, 'alice', `Which port ${chatId}?`);
    await expect(run(recordOf(first, `${chatId}-1`))).resolves.toMatchObject({ kind: 'replied' });
    // The day's first message in the group wrote the member's marker.
    const { platform, tenantId, senderId } = first.message;
    const marker = activeUserKey({ platform, tenantId, chatId, userId: senderId }, rig.now());
    expect(await stored(rig.aws.tables.events, marker)).toBeDefined();

    trace.reset();
    const prompts = rig.prompts.length;
    const followUp = await queued(chatId, 'alice', 'and in staging?');
    const started = process.hrtime.bigint();
    await expect(run(recordOf(followUp, `${chatId}-2`))).resolves.toMatchObject({ kind: 'replied' });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    const figures = trace.figures();
    expect(figures.sequential).toBe(3);
    // The time with a call in flight is a part of the message's time, overlapping calls counted once.
    expect(figures.inFlightMs).toBeGreaterThan(0);
    expect(figures.inFlightMs).toBeLessThanOrEqual(wallMs);
    // claim, fence; one read; the ledger + audit batch; replied with the turn. No marker put: it was read.
    expect(figures.byOperation).toEqual({ Update: 2, BatchGet: 1, BatchWrite: 1, TransactWrite: 1 });
    expect(rig.prompts.slice(prompts)[0]?.map((m) => m.content)).toContain(`Which port ${chatId}?`);
    expect(replies(chatId)).toHaveLength(2);
  });

  it('a first question already in the FAQ cache is answered from the read made with the claim', async () => {
    const tag = uniqueChat('rt-faq');
    const { trace, run } = tracedWorker();
    const question = `What are the office hours ${tag}?`;
    await run(recordOf(await queued(`${tag}-a`, 'alice', question), `${tag}-1`));
    const prompts = rig.prompts.length;

    trace.reset();
    const second = await run(recordOf(await queued(`${tag}-b`, 'bob', question), `${tag}-2`));
    expect(second).toMatchObject({ kind: 'replied', source: 'cache' });
    expect(rig.prompts.length).toBe(prompts);
    const figures = trace.figures();
    expect(figures.sequential).toBe(3);
    expect(figures.byOperation.Get).toBeUndefined();
    expect(figures.byOperation.BatchGet).toBe(1);
    expect(replies(`${tag}-b`)[0]?.text).toContain(`answer to: ${question}`);
  });

  it("a member whose profile shapes the answer is answered from the same read, the entry's variant", async () => {
    const tag = uniqueChat('rt-shaped');
    const { trace, run } = tracedWorker();
    const question = `Where is the expense policy ${tag}?`;
    for (const [user, n] of [
      ['dana', 1],
      ['erik', 2],
    ] as const) {
      await run(recordOf(await queued(`${tag}-${user}`, user, '/profile set language ja'), `${tag}-p${n}`));
    }
    await run(recordOf(await queued(`${tag}-dana`, 'dana', question), `${tag}-1`));
    const prompts = rig.prompts.length;

    // Same shaping, another member: the shaped answer, from the batched read, no GetItem after it.
    trace.reset();
    const shaped = await run(recordOf(await queued(`${tag}-erik`, 'erik', question), `${tag}-2`));
    expect(shaped).toMatchObject({ kind: 'replied', source: 'cache' });
    expect(rig.prompts.length).toBe(prompts);
    expect(trace.figures()).toMatchObject({ sequential: 3 });
    expect(trace.figures().byOperation.Get).toBeUndefined();

    // No profile: not the shaped answer (the model answers), and still no read after the batch.
    trace.reset();
    const plain = await run(recordOf(await queued(`${tag}-fay`, 'fay', question), `${tag}-3`));
    expect(plain).toMatchObject({ kind: 'replied', source: 'model' });
    expect(rig.prompts.length).toBe(prompts + 1);
    expect(trace.figures()).toMatchObject({ sequential: 3 });
    expect(trace.figures().byOperation.Get).toBeUndefined();
  });

  it('a read DynamoDB keeps refusing fails the record before the model or a reply; the redelivery answers once', async () => {
    const chatId = uniqueChat('rt-throttled');
    const event = await queued(chatId, 'carol', `Who is on call ${chatId}?`);
    const refusing = {
      send: (command: unknown) =>
        command instanceof BatchGetCommand
          ? Promise.resolve({ Responses: {}, UnprocessedKeys: command.input.RequestItems })
          : rig.aws.clients.doc.send(command as never),
    } as typeof rig.aws.clients.doc;
    const prompts = rig.prompts.length;
    const { run } = tracedWorker(refusing);
    await expect(run(recordOf(event, `${chatId}-1`))).rejects.toBeInstanceOf(ItemsNotReadError);
    expect(rig.prompts.length).toBe(prompts);
    expect(replies(chatId)).toHaveLength(0);
    // The lease is given back: the redelivery claims at once.
    expect((await stored(rig.aws.tables.events, eventKey('slack', event.message.eventId)))?.status).toBe('failed');

    await expect(rig.runtime()(recordOf(event, `${chatId}-1`, 2))).resolves.toMatchObject({ kind: 'replied' });
    expect(replies(chatId)).toHaveLength(1);
  }, 30_000);
});
