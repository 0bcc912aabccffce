import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildBm25Index, type SearchHit } from '#core/retrieval/bm25';
import { type Chunk, chunkMarkdown } from '#core/retrieval/chunk-markdown';

/** BM25 ranking over markdown chunks: what a document-search skill would ground answers in. */

const ids = (hits: readonly SearchHit[]) => hits.map((h) => h.chunk.id);

const handbook = chunkMarkdown({
  path: 'docs/HANDBOOK.md',
  text: [
    '# Handbook',
    '## Answer cache',
    'GroupGate caches answers to frequent questions (the FAQ cache). Cached answers expire after',
    '`groupgate:answerCacheTtlMinutes`; a cache hit skips the model. Each cache entry is keyed by the question.',
    '## Queues',
    'Every event goes through an SQS queue; failed messages are retried and then dead-lettered.',
    '## Dashboard',
    'The dashboard shows latency, errors and the cache hit rate among forty other widgets: invocations, throttles,',
    'durations, the queue age, the dead-letter depth, model tokens, cost per platform, cold starts and more panels.',
    '## 配置飞书机器人',
    '在飞书开发者后台创建企业自建应用，开启机器人能力，然后把回调地址填到事件订阅里。',
    '## 部署',
    '使用 cdk deploy 部署整个栈。',
  ].join('\n'),
});

describe('buildBm25Index: ranking', () => {
  const index = buildBm25Index(handbook);

  it('indexes every chunk', () => {
    expect(index.size).toBe(handbook.length);
    expect(index.size).toBe(5);
  });

  it('finds a Chinese section by a Chinese question', () => {
    expect(ids(index.search('如何配置飞书机器人？', 3))[0]).toBe('docs/HANDBOOK.md#配置飞书机器人');
    expect(ids(index.search('怎么部署', 3))).toEqual(['docs/HANDBOOK.md#部署']);
  });

  it('matches plural and singular forms', () => {
    expect(ids(index.search('queue', 1))).toEqual(['docs/HANDBOOK.md#queues']);
    expect(ids(index.search('what do caches do', 1))).toEqual(['docs/HANDBOOK.md#answer-cache']);
  });

  it('finds an identifier by its whole name and by its parts', () => {
    // The whole name and its parts are terms: the section naming it wins; one saying "cache" follows far behind.
    const hits = index.search('answerCacheTtlMinutes', 5);
    expect(ids(hits)).toEqual(['docs/HANDBOOK.md#answer-cache', 'docs/HANDBOOK.md#dashboard']);
    expect(hits[0]!.score).toBeGreaterThan(4 * hits[1]!.score);
    expect(ids(index.search('ttl minutes', 5))).toEqual(['docs/HANDBOOK.md#answer-cache']);
  });

  it('ranks the section about a topic above one that merely mentions it', () => {
    const hits = index.search('cache', 5);
    expect(ids(hits)).toEqual(['docs/HANDBOOK.md#answer-cache', 'docs/HANDBOOK.md#dashboard']);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
  });

  it('returns only chunks that score, however large k is, best first', () => {
    const hits = index.search('queue', 100);
    expect(ids(hits)).toEqual(['docs/HANDBOOK.md#queues', 'docs/HANDBOOK.md#dashboard']);
    for (const hit of hits) expect(hit.score).toBeGreaterThan(0);
  });

  it('finds nothing for an empty, stop-word-only or unknown query, or k < 1', () => {
    expect(index.search('', 5)).toEqual([]);
    expect(index.search('   ', 5)).toEqual([]);
    expect(index.search('how do I do this?', 5)).toEqual([]);
    expect(index.search('kubernetes', 5)).toEqual([]);
    expect(index.search('cache', 0)).toEqual([]);
    expect(index.search('cache', -1)).toEqual([]);
    expect(index.search('cache', Number.NaN)).toEqual([]);
    expect(ids(index.search('cache', 1.9))).toEqual(['docs/HANDBOOK.md#answer-cache']);
  });

  it('counts a repeated query term once', () => {
    expect(index.search('cache cache caches', 5)).toEqual(index.search('cache', 5));
  });

  it('an empty index finds nothing', () => {
    const empty = buildBm25Index([]);
    expect(empty.size).toBe(0);
    expect(empty.search('cache', 5)).toEqual([]);
  });

  it('is unaffected by later changes to the caller’s array', () => {
    const chunks = [...handbook];
    const own = buildBm25Index(chunks);
    chunks.length = 0;
    expect(ids(own.search('queue', 1))).toEqual(['docs/HANDBOOK.md#queues']);
  });
});

describe('buildBm25Index: scores', () => {
  const chunk = (id: string, text: string, section?: string): Chunk => ({
    id,
    path: 'x.md',
    title: 'Guide',
    text,
    ...(section === undefined ? {} : { section }),
  });

  it('computes Okapi BM25 (k1 1.2, b 0.75) with heading terms counted twice', () => {
    // Terms: c0 = guide×2, sect×2, alpha, beta → 6; c1 = guide×2, alpha×2, gamma → 5; c2 = guide×2, delta → 3.
    const chunks = [chunk('c0', 'alpha beta', 'sect'), chunk('c1', 'alpha alpha gamma'), chunk('c2', 'delta')];
    const index = buildBm25Index(chunks);
    const avg = (6 + 5 + 3) / 3;
    const idf = (df: number) => Math.log(1 + (3 - df + 0.5) / (df + 0.5));
    const term = (tf: number, len: number, df: number) =>
      (idf(df) * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * len) / avg));
    const hits = index.search('alpha sect', 3);
    expect(ids(hits)).toEqual(['c0', 'c1']);
    expect(hits[0]!.score).toBeCloseTo(term(1, 6, 2) + term(2, 6, 1), 12);
    expect(hits[1]!.score).toBeCloseTo(term(2, 5, 2), 12);
  });

  it('breaks ties by chunk order, also when k cuts through the tie', () => {
    const chunks = Array.from({ length: 30 }, (_, i) =>
      chunk(`c${i}`, i % 3 === 0 ? 'cache answers' : i % 3 === 1 ? 'queue depth' : 'cache answers'),
    );
    const index = buildBm25Index(chunks);
    const tied = chunks.filter((_, i) => i % 3 !== 1).map((c) => c.id);
    expect(ids(index.search('cache', 100))).toEqual(tied);
    expect(ids(index.search('cache', 5))).toEqual(tied.slice(0, 5));
    expect(new Set(index.search('cache', 100).map((h) => h.score)).size).toBe(1);
  });

  it('selects the same top k as sorting every score (random corpus)', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const vocabulary = ['cache', 'queue', 'model', 'deploy', 'secret', 'feishu', 'slack', '飞书', '缓存', '部署'];
    const words = (n: number) => Array.from({ length: n }, () => vocabulary[Math.floor(random() * 10)]).join(' ');
    const chunks = Array.from({ length: 400 }, (_, i) => chunk(`c${i}`, words(3 + Math.floor(random() * 30))));
    const index = buildBm25Index(chunks);
    for (const query of ['cache', 'feishu deploy', '飞书 缓存', 'slack secret model queue']) {
      const all = index.search(query, chunks.length);
      const sorted = [...all].sort((a, b) => b.score - a.score || chunks.indexOf(a.chunk) - chunks.indexOf(b.chunk));
      expect(ids(all)).toEqual(ids(sorted));
      for (const k of [1, 3, 10, 57]) expect(ids(index.search(query, k))).toEqual(ids(sorted.slice(0, k)));
    }
  });
});

describe("buildBm25Index: this repository's docs", () => {
  const root = resolve(__dirname, '../../../..');
  const files = ['docs', 'docs/platforms'].flatMap((dir) =>
    readdirSync(join(root, dir))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `${dir}/${f}`),
  );
  const index = buildBm25Index(
    files.flatMap((p) => chunkMarkdown({ path: p, text: readFileSync(join(root, p), 'utf8') })),
  );
  const top5Paths = (query: string) => index.search(query, 5).map((h) => h.chunk.path);

  it('finds the Feishu setup guide for an English question', () => {
    expect(top5Paths('how do I set up the Feishu bot')).toContain('docs/platforms/feishu.md');
  });

  it('finds the Feishu setup guide for a mixed Chinese/English question', () => {
    expect(top5Paths('Feishu 机器人 配置')).toContain('docs/platforms/feishu.md');
  });

  it('finds the configuration reference for a config key', () => {
    expect(top5Paths('answerCacheTtlMinutes')).toContain('docs/OPERATIONS.md');
  });
});
