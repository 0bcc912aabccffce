import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildBm25Index } from '#core/retrieval/bm25';
import { type Chunk, chunkMarkdown } from '#core/retrieval/chunk-markdown';
import {
  type ChunkToStore,
  type KnowledgeHit,
  KnowledgeStore,
  type SearchQuery,
} from '#knowledge/store/knowledge-store';
import { KnowledgeStoreError } from '#knowledge/store/knowledge-store-error';
import { type SqlClient, SqlClientError } from '#knowledge/store/sql-client';
import { seededRandom } from '../../../sandbox/faults';
import { createPgliteSql } from '../../../sandbox/knowledge/pglite-sql';

/**
 * The knowledge store on real PGlite + pgvector, with the same SQL the Data API client sends to Aurora. One database
 * for the file; every test uses its own kb ids, which is all the isolation the store's per-kb statistics need.
 */

const DIMENSIONS = 4;
/** Jest's per-project configs ignore testTimeout: PGlite's start (1–5 s, more on a busy machine) needs its own. */
const SETUP_TIMEOUT_MS = 60_000;
const ROOT = path.resolve(__dirname, '../../..');

let sql: SqlClient & { close(): Promise<void> };
let store: KnowledgeStore;

beforeAll(async () => {
  sql = await createPgliteSql();
  store = new KnowledgeStore(sql, { dimensions: DIMENSIONS });
  await store.migrate();
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await sql?.close();
});

async function rejection<E extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof type) return error;
    throw error;
  }
  throw new Error(`expected a ${type.name}`);
}

const unit = (values: readonly number[]): number[] => {
  const norm = Math.hypot(...values);
  return values.map((v) => v / norm);
};

function chunk(chunkId: string, text: string, embedding: readonly number[], extra: Partial<ChunkToStore> = {}) {
  return { chunkId, title: 'Guide', text, embedding, ...extra };
}

const ids = (hits: readonly KnowledgeHit[]) => hits.map((hit) => `${hit.kbId}/${hit.docKey}/${hit.chunkId}`);
const scoresOf = (hits: readonly KnowledgeHit[]) =>
  hits.map(({ chunkId, lexicalScore, lexicalRank }) => ({ chunkId, lexicalScore, lexicalRank }));

describe('PGlite SqlClient (the Data API parameter convention)', () => {
  it('round-trips awkward strings through a $n::text[] array literal', async () => {
    const values = ['plain', 'a,b', '{brace}', 'quote"d', 'back\\slash', 'NULL', '', ' spaced ', '配置', '😀'];
    const [row] = await sql.query<{ values: string[] }>('SELECT $1::text[] AS values', [values]);
    expect(row?.values).toEqual(values);
  });

  it('sends a string as character varying, so a missing cast fails as it would on Aurora', async () => {
    const error = await rejection(sql.query('SELECT $1 <=> $2 AS d', ['[1,0]', '[0,1]']), SqlClientError);
    expect(error.code).toBe('query_failed');
    const [row] = await sql.query<{ d: number }>('SELECT $1::vector <=> $2::vector AS d', ['[1,0]', '[0,1]']);
    expect(row?.d).toBeCloseTo(1, 12);
  });

  it('refuses a NUL parameter and an unused parameter before the database sees them', async () => {
    expect((await rejection(sql.query('SELECT $1::text AS t', ['a\u0000b']), SqlClientError)).code).toBe(
      'invalid_parameter',
    );
    expect((await rejection(sql.query('SELECT 1 AS one', [1]), SqlClientError)).code).toBe('invalid_parameter');
  });

  it('commits a transaction that resolves and rolls back one that throws', async () => {
    await sql.query('CREATE TABLE IF NOT EXISTS tx_probe (v text NOT NULL)');
    await sql.transaction((tx) => tx.query('INSERT INTO tx_probe (v) VALUES ($1)', ['kept']));
    const failure = new Error('work failed');
    await expect(
      sql.transaction(async (tx) => {
        await tx.query('INSERT INTO tx_probe (v) VALUES ($1)', ['dropped']);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await sql.query('SELECT v FROM tx_probe ORDER BY v')).toEqual([{ v: 'kept' }]);
  });

  it('refuses nested transactions and a transaction client used after its end', async () => {
    let escaped: SqlClient | undefined;
    const nested = await rejection(
      sql.transaction(async (tx) => {
        escaped = tx;
        return tx.transaction(async () => 1);
      }),
      SqlClientError,
    );
    expect(nested.code).toBe('nested_transaction');
    expect((await rejection(escaped!.query('SELECT 1 AS one'), SqlClientError)).code).toBe('transaction_closed');
  });
});

describe('schema', () => {
  it('migrates again without change and refuses a store of other dimensions', async () => {
    await store.migrate();
    const error = await rejection(new KnowledgeStore(sql, { dimensions: 8 }).migrate(), KnowledgeStoreError);
    expect(error.code).toBe('dimensions');
    expect(error.message).toContain('4-dimension');
  });

  it('makes iterative HNSW scans the default (pgvector ≥ 0.8)', async () => {
    expect(await sql.query('SHOW hnsw.iterative_scan')).toEqual([{ 'hnsw.iterative_scan': 'relaxed_order' }]);
  });
});

describe('BM25 in SQL ranks as bm25.ts does', () => {
  const KB = 'docs';
  let corpus: Chunk[];

  beforeAll(async () => {
    const files = [
      'README.md',
      ...readdirSync(path.join(ROOT, 'docs'))
        .filter((name) => name.endsWith('.md'))
        .sort()
        .map((name) => `docs/${name}`),
    ];
    const random = seededRandom(17);
    corpus = [];
    for (const file of files) {
      const chunks = chunkMarkdown({ path: file, text: readFileSync(path.join(ROOT, file), 'utf8') });
      corpus.push(...chunks);
      await store.replaceDocument(
        KB,
        { key: file, version: 'v1', title: chunks[0]?.title ?? file },
        chunks.map((c) => ({
          chunkId: c.id,
          title: c.title,
          text: c.text,
          embedding: unit([random() - 0.5, random() - 0.5, random() - 0.5, random() - 0.5]),
          ...(c.section === undefined ? {} : { section: c.section }),
          ...(c.url === undefined ? {} : { url: c.url }),
        })),
      );
    }
  }, SETUP_TIMEOUT_MS);

  it.each([
    'how do I deploy the stack',
    'answer cache TTL',
    'third-party skills protocol',
    '如何配置 飞书',
    'model endpoint circuit breaker timeout',
  ])('%s: same chunks, same order, same scores', async (question) => {
    const expected = buildBm25Index(corpus).search(question, 10);
    expect(expected.length).toBeGreaterThan(0);
    const hits = await store.search({ kbIds: [KB], text: question, k: 10 });
    expect(hits.map((hit) => hit.chunkId)).toEqual(expected.map((hit) => hit.chunk.id));
    hits.forEach((hit, i) => {
      expect(hit.lexicalScore).toBeCloseTo(expected[i]!.score, 9);
      expect(hit.lexicalRank).toBe(i + 1);
      expect(hit.vectorRank).toBeUndefined();
      expect(hit.score).toBeCloseTo(1 / (60 + i + 1), 12);
    });
  });

  it('stores what a search returns: title, section, url of the chunk', async () => {
    const [hit] = await store.search({ kbIds: [KB], text: 'answer cache TTL', k: 1 });
    const source = corpus.find((c) => c.id === hit?.chunkId);
    expect(hit).toMatchObject({ kbId: KB, title: source?.title, text: source?.text, docKey: source?.path });
    expect(hit?.section).toBe(source?.section);
  });
});

describe('access control: a search reads only the allowed knowledge bases', () => {
  const SECRET = 'Project Nightingale launch code is amber-falcon-7731';
  const secretEmbedding = unit([0.3, -0.2, 0.9, 0.1]);
  const B_QUERY = 'deploy the service with the launch checklist';

  const ingestB = () =>
    store.replaceDocument('b-public', { key: 'handbook.md', version: '1', title: 'Handbook' }, [
      chunk('b1', 'To deploy the service run the launch checklist, then watch the dashboards.', unit([1, 0, 0, 0])),
      chunk('b2', 'The service code review needs two approvals before deploy.', unit([0, 1, 0, 0])),
      chunk('b3', 'Holidays are listed on the intranet calendar.', unit([0, 0, 1, 1])),
    ]);
  const ingestA = () =>
    store.replaceDocument('a-private', { key: 'secrets.md', version: '1', title: 'Secrets' }, [
      chunk('a1', SECRET, secretEmbedding),
      // Shares B's query terms, so A's statistics would move B's scores if they leaked into B's searches.
      chunk('a2', 'deploy deploy service launch checklist code', unit([0.9, 0.1, 0, 0])),
      chunk('a3', 'launch service deploy', unit([0.5, 0.5, 0, 0])),
    ]);

  it("keeps B's scores unchanged by A and never returns A's chunks to a B-only search", async () => {
    await ingestB();
    const before = await store.search({ kbIds: ['b-public'], text: B_QUERY, embedding: [1, 0, 0, 0], k: 10 });
    expect(before.length).toBeGreaterThan(0);

    await ingestA();
    const after = await store.search({ kbIds: ['b-public'], text: B_QUERY, embedding: [1, 0, 0, 0], k: 10 });
    expect(after).toEqual(before);

    // The exact secret phrase and A's exact embedding, asked of B only: nothing of A.
    const probe = await store.search({ kbIds: ['b-public'], text: SECRET, embedding: secretEmbedding, k: 50 });
    expect(probe.every((hit) => hit.kbId === 'b-public')).toBe(true);
    expect(probe.some((hit) => hit.text.includes('Nightingale'))).toBe(false);
    const lexicalOnly = await store.search({ kbIds: ['b-public'], text: 'Nightingale amber falcon 7731', k: 50 });
    expect(lexicalOnly).toEqual([]);
  });

  it('finds the secret when A is allowed, and A and B together rank on their joint statistics', async () => {
    const own = await store.search({ kbIds: ['a-private'], text: SECRET, embedding: secretEmbedding, k: 1 });
    expect(ids(own)).toEqual(['a-private/secrets.md/a1']);
    expect(own[0]).toMatchObject({ lexicalRank: 1, vectorRank: 1 });
    expect(own[0]?.similarity).toBeCloseTo(1, 6);

    const bOnly = await store.search({ kbIds: ['b-public'], text: B_QUERY, k: 10 });
    const both = await store.search({ kbIds: ['a-private', 'b-public'], text: B_QUERY, k: 10 });
    const b1Alone = bOnly.find((hit) => hit.chunkId === 'b1')?.lexicalScore;
    const b1Joint = both.find((hit) => hit.chunkId === 'b1')?.lexicalScore;
    expect(b1Alone).toBeDefined();
    expect(b1Joint).toBeDefined();
    expect(b1Joint).not.toBeCloseTo(b1Alone!, 6); // the statistics are per allowed set: this test can see a leak
  });

  it('reads an unknown kb as empty and a duplicated kb id once', async () => {
    expect(await store.search({ kbIds: ['no-such-kb'], text: SECRET, embedding: secretEmbedding, k: 5 })).toEqual([]);
    const once = await store.search({ kbIds: ['b-public'], text: B_QUERY, k: 10 });
    const twice = await store.search({ kbIds: ['b-public', 'b-public'], text: B_QUERY, k: 10 });
    expect(twice).toEqual(once);
  });
});

describe('re-ingestion', () => {
  const KB = 'reingest';
  const doc = (version: string) => ({ key: 'faq.md', version, title: 'FAQ' });
  const v1 = [
    chunk('q1', 'The quokka-v1 password reset happens on the SSO portal.', unit([1, 0, 0, 0])),
    chunk('q2', 'VPN access needs a hardware token.', unit([0, 1, 0, 0])),
  ];
  const v2 = [
    chunk('q1', 'Password resets now happen in the wombat-v2 self-service app.', unit([0, 0, 1, 0])),
    chunk('q3', 'VPN access needs a hardware token or the mobile authenticator.', unit([0, 1, 0, 0])),
    chunk('q4', 'Expense claims are filed within 30 days.', unit([0, 0, 0, 1])),
  ];
  const other = [chunk('o1', 'VPN troubleshooting: restart the client.', unit([0, 1, 0.1, 0]))];

  it('replaces a version, skips the same version, deletes a document and a kb', async () => {
    expect(await store.replaceDocument(KB, doc('1'), v1)).toBe(true);
    expect(await store.replaceDocument(KB, { key: 'other.md', version: '1', title: 'Other' }, other)).toBe(true);
    expect(await store.stats(KB)).toEqual({ documents: 2, chunks: 3 });
    expect(ids(await store.search({ kbIds: [KB], text: 'quokka', k: 5 }))).toEqual([`${KB}/faq.md/q1`]);

    expect(await store.replaceDocument(KB, doc('2'), v2)).toBe(true);
    expect(await store.search({ kbIds: [KB], text: 'quokka', k: 5 })).toEqual([]);
    expect(await store.search({ kbIds: [KB], text: 'SSO portal', embedding: [1, 0, 0, 0], k: 5 })).not.toContainEqual(
      expect.objectContaining({ text: v1[0]!.text }),
    );
    expect(ids(await store.search({ kbIds: [KB], text: 'wombat self-service', k: 5 }))).toEqual([`${KB}/faq.md/q1`]);
    expect(await store.stats(KB)).toEqual({ documents: 2, chunks: 4 });
    expect(await store.documents(KB)).toEqual(
      new Map([
        ['faq.md', '2'],
        ['other.md', '1'],
      ]),
    );

    // The same version again changes nothing, even with other chunks offered.
    expect(await store.replaceDocument(KB, doc('2'), v1)).toBe(false);
    expect(await store.stats(KB)).toEqual({ documents: 2, chunks: 4 });
    expect(await store.search({ kbIds: [KB], text: 'quokka', k: 5 })).toEqual([]);

    // The kb's statistics after replacing equal those of a kb that only ever held the final state.
    await store.replaceDocument('reingest-fresh', doc('2'), v2);
    await store.replaceDocument('reingest-fresh', { key: 'other.md', version: '1', title: 'Other' }, other);
    const query: Omit<SearchQuery, 'kbIds'> = { text: 'VPN hardware token access', k: 5 };
    const replaced = await store.search({ kbIds: [KB], ...query });
    const fresh = await store.search({ kbIds: ['reingest-fresh'], ...query });
    expect(scoresOf(replaced)).toEqual(scoresOf(fresh));

    expect(await store.deleteDocument(KB, 'faq.md')).toBe(true);
    expect(await store.deleteDocument(KB, 'faq.md')).toBe(false);
    expect(await store.search({ kbIds: [KB], text: 'wombat VPN expense', k: 5 })).toEqual(
      await store.search({ kbIds: [KB], text: 'VPN', k: 5 }),
    );
    expect(await store.stats(KB)).toEqual({ documents: 1, chunks: 1 });

    expect(await store.deleteKnowledgeBase(KB)).toBe(1);
    expect(await store.stats(KB)).toEqual({ documents: 0, chunks: 0 });
    expect(await store.documents(KB)).toEqual(new Map());
    expect(await store.search({ kbIds: [KB], text: 'VPN', embedding: [0, 1, 0, 0], k: 5 })).toEqual([]);
    expect(await store.stats('reingest-fresh')).toEqual({ documents: 2, chunks: 4 });
    expect(await store.deleteKnowledgeBase(KB)).toBe(0);
  });

  it('keeps the stored version whole when a replacement fails part-way', async () => {
    await store.replaceDocument('atomic', doc('1'), v1);
    const failing: SqlClient = {
      query: (text, params) => sql.query(text, params),
      transaction: (work) =>
        sql.transaction((tx) =>
          work({
            query: async (text, params) => {
              if (text.includes('INSERT INTO kb_postings')) throw new Error('connection lost');
              return tx.query(text, params);
            },
            transaction: (inner) => tx.transaction(inner),
          }),
        ),
    };
    const broken = new KnowledgeStore(failing, { dimensions: DIMENSIONS });
    await expect(broken.replaceDocument('atomic', doc('2'), v2)).rejects.toThrow('connection lost');
    expect(await store.documents('atomic')).toEqual(new Map([['faq.md', '1']]));
    expect(await store.stats('atomic')).toEqual({ documents: 1, chunks: 2 });
    expect(ids(await store.search({ kbIds: ['atomic'], text: 'quokka', k: 5 }))).toEqual(['atomic/faq.md/q1']);
  });

  it(
    'pages through more documents than one page holds',
    async () => {
      const keys = Array.from({ length: 1005 }, (_, i) => `doc-${String(i).padStart(4, '0')}.md`);
      for (const key of keys) await store.replaceDocument('many', { key, version: 'v', title: key }, []);
      const documents = await store.documents('many');
      expect(documents.size).toBe(keys.length);
      expect([...documents.keys()].sort()).toEqual(keys);
    },
    SETUP_TIMEOUT_MS,
  );
});

describe('retrieval quality on hand-made embeddings', () => {
  const KB = 'quality';
  // Axes: 0 = networking, 1 = money, 2 = people, 3 = hardware.
  const chunks = [
    chunk('vpn', 'Connect to the VPN with the corporate client before opening internal sites.', [1, 0, 0, 0]),
    chunk('expenses', 'Submit travel expenses with receipts in the finance portal.', [0, 1, -0.5, 0]),
    chunk('onboarding', 'New hires meet their buddy on the first day.', [0, 0, 1, 0]),
    chunk('laptop', 'Laptop replacement requests go to the hardware desk.', [0, 0, 0, 1]),
    chunk('wifi', 'Office wifi and VPN outages are posted on the status page.', [0.8, 0, 0, 0.6]),
    chunk('budget', 'Team budget questions: ask your finance partner about travel limits.', [0.1, 0.9, 0.2, 0]),
  ];

  beforeAll(async () => {
    await store.replaceDocument(KB, { key: 'it.md', version: '1', title: 'Company guide' }, chunks);
  });

  it.each([
    ['VPN client', 'vpn'],
    ['travel expenses receipts', 'expenses'],
    ['laptop replacement', 'laptop'],
  ])('lexical only: %s → %s', async (text, expected) => {
    const [top] = await store.search({ kbIds: [KB], text, k: 3 });
    expect(top).toMatchObject({ chunkId: expected, lexicalRank: 1 });
    expect(top?.vectorRank).toBeUndefined();
  });

  it.each([
    [[0.95, 0.05, 0, 0], 'vpn'],
    [[0, 0.1, 0.99, 0], 'onboarding'],
    [[0.1, 0.2, 0, 0.97], 'laptop'],
  ])('vector only: %j → %s', async (embedding, expected) => {
    const hits = await store.search({ kbIds: [KB], text: '', embedding, k: 3 });
    expect(hits[0]).toMatchObject({ chunkId: expected, vectorRank: 1 });
    expect(hits[0]?.lexicalRank).toBeUndefined();
    const similarities = hits.map((hit) => hit.similarity ?? Number.NaN);
    expect(similarities).toEqual([...similarities].sort((a, b) => b - a));
  });

  it('fusion ranks first a chunk both lists find, though neither ranks it first', async () => {
    // Lexically `expenses` ranks first (shorter than `budget`, same matches); the embedding (mostly people, some
    // money and networking) ranks `onboarding` first and `budget` second, `expenses` fifth. `budget` is second in
    // both lists: 2/62 beats `expenses`'s 1/61 + 1/65.
    const query = { kbIds: [KB], text: 'travel finance expenses limits', embedding: [0.2, 0.5, 0.85, 0], k: 4 };
    const lexical = await store.search({ ...query, embedding: undefined });
    const vector = await store.search({ ...query, text: '' });
    const fused = await store.search(query);
    expect(lexical.map((hit) => hit.chunkId).slice(0, 2)).toEqual(['expenses', 'budget']);
    expect(vector.map((hit) => hit.chunkId).slice(0, 2)).toEqual(['onboarding', 'budget']);
    expect(fused[0]).toMatchObject({ chunkId: 'budget' });
    expect(fused[0]?.lexicalRank).toBeDefined();
    expect(fused[0]?.vectorRank).toBeDefined();
    expect(fused[0]?.score).toBeCloseTo(1 / (60 + fused[0]!.lexicalRank!) + 1 / (60 + fused[0]!.vectorRank!), 12);
    for (let i = 1; i < fused.length; i++) expect(fused[i]!.score).toBeLessThanOrEqual(fused[i - 1]!.score);
  });

  it('returns at most k hits and is deterministic', async () => {
    const query = { kbIds: [KB], text: 'VPN travel laptop wifi', embedding: [0.5, 0.5, 0.5, 0.5], k: 2 };
    const first = await store.search(query);
    expect(first).toHaveLength(2);
    expect(await store.search(query)).toEqual(first);
  });
});

describe('filtered vector search next to a much larger kb', () => {
  it(
    'fills the small kb’s list even when the HNSW index serves the query',
    async () => {
      const near = (i: number) => unit([1, 0.001 * i, 0.0005 * (i % 7), 0]);
      const big = Array.from({ length: 300 }, (_, i) => chunk(`big-${i}`, `filler ${i}`, near(i)));
      await store.replaceDocument('hnsw-big', { key: 'big.md', version: '1', title: 'Big' }, big);
      const small = Array.from({ length: 5 }, (_, i) => chunk(`small-${i}`, `note ${i}`, unit([0, 1, 0.1 * i, 1])));
      await store.replaceDocument('hnsw-small', { key: 'small.md', version: '1', title: 'Small' }, small);
      const query = { kbIds: ['hnsw-small'], text: '', embedding: [1, 0, 0, 0], k: 5 };

      // Make the planner walk the HNSW index (it would sort this small table exactly otherwise).
      await sql.query('SELECT set_config($1, $2, false) AS s', ['enable_seqscan', 'off']);
      await sql.query('SELECT set_config($1, $2, false) AS s', ['enable_sort', 'off']);
      try {
        const plan = await sql.query<{ 'QUERY PLAN': string }>(
          "EXPLAIN SELECT id FROM kb_chunks WHERE kb_id = 'hnsw-small' ORDER BY embedding <=> '[1,0,0,0]' LIMIT 5",
        );
        expect(plan.map((line) => line['QUERY PLAN']).join('\n')).toContain('kb_chunks_embedding_hnsw');
        expect(ids(await store.search(query))).toHaveLength(5);

        // The control: without iterative scans the index yields its 40 nearest of ALL kbs, none of them small's.
        await sql.query('SELECT set_config($1, $2, false) AS s', ['hnsw.iterative_scan', 'off']);
        expect((await store.search(query)).length).toBeLessThan(5);
      } finally {
        for (const setting of ['enable_seqscan', 'enable_sort']) {
          await sql.query('SELECT set_config($1, $2, false) AS s', [setting, 'on']);
        }
        await sql.query('SELECT set_config($1, $2, false) AS s', ['hnsw.iterative_scan', 'relaxed_order']);
      }
    },
    SETUP_TIMEOUT_MS,
  );
});

describe('input safety', () => {
  const KB = 'safety';

  beforeAll(async () => {
    await store.replaceDocument(KB, { key: 'o\'brien "quoted" \\ doc.md', version: "v'1", title: 'Quotes' }, [
      chunk('s1', "Robert'); DROP TABLE kb_chunks; -- is a student\u0000 name", unit([1, 1, 0, 0]), {
        section: 'Names\u0000',
        url: 'https://example.com/a?b="c"&d=\\e',
      }),
      chunk('s2', 'Backslashes \\ and "double quotes" and {braces,commas} survive.', unit([0, 1, 1, 0])),
    ]);
  });

  it('stores quotes, backslashes and braces exactly and drops NULs from free text', async () => {
    const hits = await store.search({ kbIds: [KB], text: 'student braces commas', k: 5 });
    expect(hits.map((hit) => hit.text).sort()).toEqual([
      'Backslashes \\ and "double quotes" and {braces,commas} survive.',
      "Robert'); DROP TABLE kb_chunks; -- is a student name",
    ]);
    const s1 = hits.find((hit) => hit.chunkId === 's1');
    expect(s1).toMatchObject({ docKey: 'o\'brien "quoted" \\ doc.md', section: 'Names' });
    expect(s1?.url).toBe('https://example.com/a?b="c"&d=\\e');
    expect(await store.documents(KB)).toEqual(new Map([['o\'brien "quoted" \\ doc.md', "v'1"]]));
    expect((await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM kb_chunks'))[0]?.n).toBeGreaterThan(0);
  });

  it('searches a 100 KB query full of quotes, backslashes and NULs', async () => {
    const noise = `'"\\\u0000 ${"'; DROP TABLE kb_postings; --"} \\' "" `;
    const text = `student ${noise.repeat(Math.ceil(100_000 / noise.length))} ${'word '.repeat(100)}`;
    expect(text.length).toBeGreaterThan(100_000);
    const hits = await store.search({ kbIds: [KB], text, embedding: [1, 1, 0, 0], k: 5 });
    expect(hits[0]).toMatchObject({ chunkId: 's1', lexicalRank: 1, vectorRank: 1 });
    const [count] = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM kb_postings');
    expect(count?.n).toBeGreaterThan(0);
  });

  it('treats a kb id full of SQL as a plain, unknown kb', async () => {
    const hits = await store.search({ kbIds: ["safety' OR '1'='1", 'safety"--'], text: 'student', k: 5 });
    expect(hits).toEqual([]);
  });
});
