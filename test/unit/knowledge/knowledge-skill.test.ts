import { parseKnowledgeConfig } from '#config/knowledge-config';
import { SKILL_PROTOCOL_VERSION } from '#core/skills/remote-protocol';
import type { SkillRequestInput } from '#core/skills/skill-request';
import { type Embedder, EmbeddingError } from '#knowledge/embeddings/embedder';
import { answerKnowledgeRequest, MIN_LEXICAL_SCORE, relevantHits } from '#knowledge/knowledge-skill';
import type { KnowledgeHit, SearchQuery } from '#knowledge/store/knowledge-store';

/**
 * The knowledge skill's decisions, with a recording store: which bases a group's question is searched in (the access
 * control), what counts as relevant, and what it answers when the embedding model fails.
 */

const config = parseKnowledgeConfig(
  JSON.stringify({
    bases: [
      { id: 'public', title: 'Handbook', prefix: 'public/', groups: ['*'] },
      { id: 'finance', title: 'Finance', prefix: 'finance/', groups: ['slack:CFIN'] },
      { id: 'chat-only', title: 'Chat', prefix: 'chat/', groups: ['feishu:*', 'slack:*'] },
    ],
  }),
);

const hit = (overrides: Partial<KnowledgeHit> = {}): KnowledgeHit => ({
  kbId: 'public',
  docKey: 'travel.md',
  chunkId: 'travel.md#booking',
  title: 'Travel',
  section: 'Travel > Booking',
  url: 'https://wiki.example.com/travel.md#booking',
  text: 'Book trips in the portal.',
  score: 0.03,
  lexicalRank: 1,
  lexicalScore: 12,
  ...overrides,
});

function recordingStore(hits: readonly KnowledgeHit[]) {
  const queries: SearchQuery[] = [];
  const search = async (query: SearchQuery) => {
    queries.push(query);
    return [...hits];
  };
  return { queries, store: { search } };
}

const embedder = (impl: Embedder['embed']): Embedder => ({ model: 'm', dimensions: 2, embed: impl });
const unit: Embedder = embedder(async (texts) => texts.map(() => new Float32Array([1, 0])));

const request = (text: string, origin?: { platform: string; chatId: string }, command?: string): SkillRequestInput => ({
  version: SKILL_PROTOCOL_VERSION,
  skill: 'knowledge',
  requestId: 'r1',
  text,
  deadlineMs: 3000,
  ...(origin ? { origin: { ...origin, memberRef: 'm1' } } : {}),
  ...(command ? { command } : {}),
});

describe('answerKnowledgeRequest', () => {
  it("searches exactly the group's bases and grounds the answer in the relevant hits", async () => {
    const { store, queries } = recordingStore([hit(), hit({ chunkId: 'x', lexicalScore: 3, similarity: 0.1 })]);
    const answer = await answerKnowledgeRequest(
      request('how do I book a trip?', { platform: 'slack', chatId: 'CFIN' }),
      {
        config,
        store,
        embedder: unit,
      },
    );
    expect(queries).toHaveLength(1);
    expect(queries[0]).toMatchObject({ kbIds: ['public', 'finance', 'chat-only'], text: 'how do I book a trip?' });
    expect(Array.from(queries[0]?.embedding ?? [])).toEqual([1, 0]);
    expect(answer).toEqual({
      version: SKILL_PROTOCOL_VERSION,
      action: 'ground',
      passages: [
        {
          text: 'Book trips in the portal.',
          title: 'Travel',
          section: 'Travel > Booking',
          url: 'https://wiki.example.com/travel.md#booking',
        },
      ],
    });
  });

  it('another group searches only the bases that admit it', async () => {
    const { store, queries } = recordingStore([hit()]);
    await answerKnowledgeRequest(request('expense policy', { platform: 'dingtalk', chatId: 'd1' }), { config, store });
    await answerKnowledgeRequest(request('expense policy', { platform: 'api', chatId: 'CFIN' }), { config, store });
    expect(queries.map((q) => q.kbIds)).toEqual([['public'], ['public']]);
  });

  it('declines without a query: no origin, a group with no base, a command, an empty text', async () => {
    const none = parseKnowledgeConfig(
      JSON.stringify({ bases: [{ id: 'fin', title: 'F', prefix: 'f/', groups: ['slack:CFIN'] }] }),
    );
    const { store, queries } = recordingStore([hit()]);
    const decline = { version: SKILL_PROTOCOL_VERSION, action: 'decline' };
    const origin = { platform: 'slack', chatId: 'CFIN' };
    expect(await answerKnowledgeRequest(request('trip'), { config: none, store })).toEqual(decline);
    expect(
      await answerKnowledgeRequest(request('trip', { platform: 'slack', chatId: 'C2' }), { config: none, store }),
    ).toEqual(decline);
    expect(await answerKnowledgeRequest(request('/define trip', origin), { config: none, store })).toEqual(decline);
    expect(await answerKnowledgeRequest(request('trip', origin, '/define'), { config: none, store })).toEqual(decline);
    expect(await answerKnowledgeRequest(request('   ', origin), { config: none, store })).toEqual(decline);
    expect(queries).toEqual([]);
  });

  it('declines when nothing found is relevant', async () => {
    const { store } = recordingStore([hit({ lexicalScore: MIN_LEXICAL_SCORE - 1, similarity: 0.2 })]);
    const answer = await answerKnowledgeRequest(request('hello', { platform: 'slack', chatId: 'C1' }), {
      config,
      store,
      embedder: unit,
    });
    expect(answer.action).toBe('decline');
  });

  it('falls back to lexical retrieval when the embedding model fails, and says so', async () => {
    const { store, queries } = recordingStore([hit()]);
    const reasons: string[] = [];
    const failing = embedder(async () => {
      throw new EmbeddingError('unavailable', 'embedding server answered 503');
    });
    const answer = await answerKnowledgeRequest(request('trip', { platform: 'slack', chatId: 'C1' }), {
      config,
      store,
      embedder: failing,
      onDegraded: (reason) => reasons.push(reason),
    });
    expect(answer.action).toBe('ground');
    expect(queries[0]?.embedding).toBeUndefined();
    expect(reasons).toEqual(['query embedding failed, lexical retrieval only: embedding server answered 503']);
  });

  it('names the document when there is no https link, so members can still find it', async () => {
    const { store } = recordingStore([
      hit({ url: 'http://intranet/travel.md' }),
      hit({ chunkId: 'b', url: undefined }),
    ]);
    const answer = await answerKnowledgeRequest(request('trip', { platform: 'slack', chatId: 'C1' }), {
      config,
      store,
    });
    expect(answer.action === 'ground' && answer.passages.map((p) => [p.title, p.url])).toEqual([
      ['Travel (travel.md)', undefined],
      ['Travel (travel.md)', undefined],
    ]);
  });
});

describe('relevantHits', () => {
  it('keeps hits strong on either scale: BM25 over the floor and half the best, or similar enough', () => {
    const hits = [
      hit({ chunkId: 'a', lexicalScore: 20 }),
      hit({ chunkId: 'b', lexicalScore: 11, similarity: 0.1 }),
      hit({ chunkId: 'c', lexicalScore: 9, similarity: 0.1 }),
      hit({ chunkId: 'd', lexicalScore: undefined, similarity: 0.7 }),
      hit({ chunkId: 'e', lexicalScore: undefined, similarity: undefined }),
    ];
    expect(relevantHits(hits, 0.55).map((h) => h.chunkId)).toEqual(['a', 'b', 'd']);
  });
});
