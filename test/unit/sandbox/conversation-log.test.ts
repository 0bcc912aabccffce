import { type AuditFields, joinAnswers, type PostedQuestion, QuestionLog } from '../../../sandbox/conversation-log';
import { deliveryView } from '../../../sandbox/delivery-feed';

/** What the sandbox keeps of the members' messages for the page (`GET /_sandbox/conversation`). */

const question = (overrides: Partial<PostedQuestion> = {}): PostedQuestion => ({
  platform: 'feishu',
  chatId: 'eng-team',
  userId: 'alice',
  text: 'call me on 13812345678',
  mentionBot: true,
  eventId: 'ev-1',
  messageId: 'om_1',
  webhookStatus: 200,
  at: '2026-01-01T00:00:00.000Z',
  ackedAt: '2026-01-01T00:00:00.040Z',
  ...overrides,
});

const audit = (overrides: Partial<AuditFields> = {}): AuditFields => ({
  eventId: 'ev-1',
  platform: 'feishu',
  chatId: 'eng-team',
  question: 'call me on [手机号]',
  source: 'model',
  piiFound: 1,
  modelLatencyMs: 812,
  latencyMs: 950,
  ...overrides,
});

describe('QuestionLog', () => {
  it('lists one chat’s questions oldest first; null filters match every platform or chat', () => {
    const log = new QuestionLog();
    log.record(question({ eventId: 'a' }));
    log.record(question({ eventId: 'b', platform: 'slack' }));
    log.record(question({ eventId: 'c', chatId: 'sales' }));
    log.record(question({ eventId: 'd' }));
    expect(log.list('feishu', 'eng-team').map((q) => q.eventId)).toEqual(['a', 'd']);
    expect(log.list(null, 'eng-team').map((q) => q.eventId)).toEqual(['a', 'b', 'd']);
    expect(log.list(null, null)).toHaveLength(4);
    expect(log.list('wecom', null)).toEqual([]);
  });

  it('drops the oldest questions past its limit', () => {
    const log = new QuestionLog(3);
    for (const eventId of ['a', 'b', 'c', 'd', 'e']) log.record(question({ eventId }));
    expect(log.list(null, null).map((q) => q.eventId)).toEqual(['c', 'd', 'e']);
  });
});

describe('joinAnswers', () => {
  it('gives a question its audit facts: masked question, PII, model time and worker time', () => {
    const [joined] = joinAnswers([question()], [audit()], true);
    expect(joined).toEqual({
      ...question(),
      answer: {
        source: 'model',
        storedQuestion: 'call me on [手机号]',
        piiFound: 1,
        piiMaskedForModel: true,
        modelLatencyMs: 812,
        workerMs: 950,
      },
    });
  });

  it('leaves a question without a record (not answered yet, or refused by the webhook) without facts', () => {
    const refused = question({ eventId: 'ev-2', webhookStatus: 401 });
    expect(joinAnswers([refused], [audit()], true)).toEqual([refused]);
  });

  it('matches on platform and event id: the same id on another platform is another event', () => {
    const [joined] = joinAnswers([question({ platform: 'slack' })], [audit()], true);
    expect(joined?.answer).toBeUndefined();
  });

  it('says the model saw PII masked only when masking was on and the model was asked', () => {
    const masked = (facts: Partial<AuditFields>, maskModelInput: boolean) =>
      joinAnswers([question()], [audit(facts)], maskModelInput)[0]?.answer?.piiMaskedForModel;
    expect(masked({}, true)).toBe(true);
    expect(masked({ source: 'fallback', modelLatencyMs: null }, true)).toBe(true);
    expect(masked({}, false)).toBe(false);
    expect(masked({ source: 'blocked_input', modelLatencyMs: null }, true)).toBe(false);
    expect(masked({ piiFound: 0, question: 'call me' }, true)).toBe(false);
  });
});

describe('a delivery as the page reads it', () => {
  it('names the thread a reply was posted in, and only then', () => {
    const base = { platform: 'slack', chatId: 'sales', messageId: '2.000002', text: 'hi', at: 'now' } as const;
    expect(deliveryView({ ...base, replyTo: '1.000001', threadId: '1.000001' })).toMatchObject({
      replyTo: '1.000001',
      threadId: '1.000001',
    });
    expect(deliveryView(base)).not.toHaveProperty('threadId');
  });
});
