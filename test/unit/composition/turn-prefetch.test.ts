import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { prefetchTurn, type TurnPrefetchDeps } from '#composition/turn-prefetch';
import { ActiveUsers, activeUserKey } from '#stores/active-users';
import { AnswerCache } from '#stores/answer-cache';
import { CapacityMeter } from '#stores/capacity';
import { ContextStore } from '#stores/context-store';
import { ProfileStore, profileKey } from '#stores/profile-store';

/** `prefetchTurn`: the reads a queued event needs before its model call, in one BatchGetItem. */
const NOW = Date.UTC(2026, 11, 4, 9, 0, 0);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const ddb = mockClient(doc);
const member = { platform: 'slack', tenantId: 'T1', chatId: 'C1', userId: 'U1' } as const;
const turn = { conversationKey: 'slack#T1#C1#U1', member, question: { text: 'What are the office hours?' }, now: NOW };
const stored = {
  pk: turn.conversationKey,
  turns: [{ role: 'user', content: 'hi', tokens: 1, at: NOW, eventId: 'Ev0' }],
  version: 2,
  expiresAt: NOW / 1000 + 600,
};

function deps(faqCacheKey: TurnPrefetchDeps['faqCacheKey'] = async () => 'faq-1'): TurnPrefetchDeps {
  return {
    db: doc,
    contexts: new ContextStore(doc, { tableName: 'conversations', tokenCount: (t) => t.length }),
    cache: new AnswerCache(doc, { tableName: 'answer-cache' }),
    activeUsers: new ActiveUsers(doc, { tableName: 'events' }),
    profiles: new ProfileStore(doc, {
      tableName: 'conversations',
      auditTableName: 'audit',
      retentionDays: 365,
      auditRetentionDays: 365,
    }),
    faqCacheKey,
  };
}

const requested = () => ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems);

beforeEach(() => ddb.reset());
afterAll(() => ddb.restore());

describe('prefetchTurn', () => {
  it('reads the conversation and the profile (consistently), the marker and the FAQ entry in one call', async () => {
    const profile = {
      pk: profileKey(member),
      m_language: { value: 'ja', updatedAt: NOW - 1000 },
      expiresAt: NOW / 1000 + 86_400,
    };
    ddb.on(BatchGetCommand).resolves({
      Responses: {
        conversations: [stored, profile],
        events: [{ pk: activeUserKey(member, NOW) }],
        'answer-cache': [{ pk: 'faq-1', answer: 'Nine to five.', createdAt: NOW, expiresAt: NOW / 1000 + 60 }],
      },
    });
    const meter = new CapacityMeter();
    const prefetch = prefetchTurn(deps(), turn, meter);
    expect((await prefetch.context).version).toBe(2);
    const cached = await prefetch.cache;
    expect(cached?.covers('faq-1')).toBe(true);
    expect(cached?.lookup('faq-1')).toEqual({ hit: true, answer: 'Nine to five.', createdAt: NOW });
    expect(await prefetch.activeMarker.present).toBe(true);
    expect(prefetch.activeMarker.key).toBe(activeUserKey(member, NOW));
    expect(await prefetch.profile).toEqual({ member: { language: { value: 'ja', updatedAt: NOW - 1000 } } });
    expect(requested()).toEqual([
      {
        conversations: { Keys: [{ pk: turn.conversationKey }, { pk: profileKey(member) }], ConsistentRead: true },
        events: { Keys: [{ pk: activeUserKey(member, NOW) }], ConsistentRead: false },
        'answer-cache': { Keys: [{ pk: 'faq-1' }], ConsistentRead: false },
      },
    ]);
    // No consumed capacity in the answer: priced as two strong and two eventual reads.
    expect(meter.read).toBe(3);
  });

  it("reads a profile variant's whole entry, which covers every variant of the question", async () => {
    ddb.on(BatchGetCommand).resolves({
      Responses: {
        'answer-cache': [
          {
            pk: 'faq-1',
            variants: new Set(['grp']),
            v_grp: { answer: 'Shaped.', createdAt: NOW },
            expiresAt: NOW / 1e3 + 60,
          },
        ],
      },
    });
    const prefetch = prefetchTurn(
      deps(async () => 'faq-1:grp'),
      turn,
      new CapacityMeter(),
    );
    const cached = await prefetch.cache;
    expect(requested()[0]?.['answer-cache']).toEqual({ Keys: [{ pk: 'faq-1' }], ConsistentRead: false });
    expect(cached?.lookup('faq-1:grp')).toMatchObject({ hit: true, answer: 'Shaped.' });
    expect(cached?.covers('faq-1:mine')).toBe(true);
    expect(cached?.lookup('faq-1:mine')).toEqual({ hit: false, reason: 'absent' });
    expect(cached?.covers('faq-2')).toBe(false);
  });

  it('reads no FAQ entry for a question with no key, and reports absent items as such', async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: {} });
    const prefetch = prefetchTurn(
      deps(async () => undefined),
      turn,
      new CapacityMeter(),
    );
    expect(await prefetch.context).toEqual({ turns: [], version: 0, tokenCount: 0 });
    expect(await prefetch.cache).toBeUndefined();
    expect(await prefetch.activeMarker.present).toBe(false);
    expect(await prefetch.profile).toEqual({ member: {} });
    expect(Object.keys(requested()[0] ?? {})).toEqual(['conversations', 'events']);
  });

  it('still reads the context and marker when the FAQ key cannot be computed', async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { conversations: [stored] } });
    const prefetch = prefetchTurn(
      deps(() => Promise.reject(new Error('moderation down'))),
      turn,
      new CapacityMeter(),
    );
    expect((await prefetch.context).turns).toHaveLength(1);
    expect(await prefetch.cache).toBeUndefined();
  });

  it('fails every read when the call fails, without an unhandled rejection for the unused ones', async () => {
    ddb.on(BatchGetCommand).rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    const prefetch = prefetchTurn(deps(), turn, new CapacityMeter());
    await expect(prefetch.context).rejects.toThrow('throttled');
    await expect(prefetch.activeMarker.present).rejects.toThrow('throttled');
  });
});
