import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { eventKey } from '#core/key-part';
import { type Rig, type Step, startRig, uniqueChat } from './harness';

let rig: Rig;

beforeAll(async () => {
  rig = await startRig({ maxReceiveCount: 6 });
}, 30_000);

afterAll(async () => {
  await rig?.stop();
});

afterEach(() => {
  rig.checkpoint = undefined;
});

async function eventItem(platform: string, eventId: string) {
  const out = await rig.aws.clients.doc.send(
    new GetCommand({ TableName: rig.aws.tables.events, Key: { pk: eventKey(platform, eventId) } }),
  );
  return out.Item;
}

describe('a worker crash at any step ends in exactly one delivery', () => {
  it.each<Step>(['claimed', 'answered', 'sent', 'recorded'])(
    'crash once at "%s", then SQS redelivers',
    async (step) => {
      const chatId = uniqueChat(`crash-${step}`);
      let crashes = 0;
      rig.checkpoint = (at, event) => {
        if (at === step && event.message.chatId === chatId && crashes === 0) {
          crashes++;
          throw new Error(`injected crash at ${step}`);
        }
      };
      const promptsBefore = rig.prompts.length;
      const eventId = await rig.say('slack', { chatId, userId: 'erin', text: `Deploy window? (${chatId})` });
      const first = await rig.waitFor(1, (d) => d.chatId === chatId);
      expect(first).toHaveLength(1);
      await rig.aws.poller?.idle({ timeoutMs: 15_000 });
      // Long enough for any second delivery: redelivery happens after the 1 s visibility timeout.
      await new Promise((r) => setTimeout(r, 2_500));
      expect(rig.deliveries.filter((d) => d.chatId === chatId)).toHaveLength(1);
      expect(crashes).toBe(1);
      const item = await eventItem('slack', eventId);
      if (step === 'sent') {
        // The reply ids never reached the table; the event stays `sending` and was acknowledged, not re-sent.
        expect(item?.status).toBe('sending');
      } else {
        expect(item?.status).toBe('replied');
        expect(item?.replyMessageIds).toEqual([first[0]?.messageId]);
      }
      // A crash after the send must not cost a second model call either.
      const calls = rig.prompts.length - promptsBefore;
      expect(calls).toBe(step === 'sent' || step === 'recorded' || step === 'claimed' ? 1 : 2);
    },
    30_000,
  );

  it('re-sends after a crash during the send on Feishu, whose reply uuid deduplicates: replied, one message', async () => {
    const chatId = uniqueChat('crash-sent-feishu');
    let crashes = 0;
    rig.checkpoint = (at, event) => {
      if (at === 'sent' && event.message.chatId === chatId && crashes === 0) {
        crashes++;
        throw new Error('injected crash at sent');
      }
    };
    const eventId = await rig.say('feishu', { chatId, userId: 'erin', text: `Deploy window? (${chatId})` });
    const first = await rig.waitFor(1, (d) => d.chatId === chatId);
    await rig.aws.poller?.idle({ timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 2_500));
    expect(crashes).toBe(1);
    // Not left as `sending` (delivery unknown): the redelivery sent again and Feishu dropped the repeat.
    expect(rig.deliveries.filter((d) => d.chatId === chatId)).toHaveLength(1);
    const item = await eventItem('feishu', eventId);
    expect(item?.status).toBe('replied');
    expect(item?.replyMessageIds).toEqual([first[0]?.messageId]);
  }, 30_000);

  it('acknowledges a platform re-delivery of an answered event without a second reply', async () => {
    const chatId = uniqueChat('replay');
    const eventId = await rig.say('feishu', { chatId, userId: 'erin', text: `Who owns billing? (${chatId})` });
    await rig.waitFor(1, (d) => d.chatId === chatId);
    await rig.say('feishu', { chatId, userId: 'erin', text: `Who owns billing? (${chatId})`, eventId });
    await rig.aws.poller?.idle();
    await new Promise((r) => setTimeout(r, 500));
    expect(rig.deliveries.filter((d) => d.chatId === chatId)).toHaveLength(1);
  }, 30_000);
});
