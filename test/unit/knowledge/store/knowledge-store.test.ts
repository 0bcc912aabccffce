import { KnowledgeStore, MAX_DIMENSIONS } from '#knowledge/store/knowledge-store';
import { KnowledgeStoreError } from '#knowledge/store/knowledge-store-error';
import type { SqlClient } from '#knowledge/store/sql-client';

/** A database that must not be reached: checks run before any statement. */
const unreachable: SqlClient = {
  query: async () => {
    throw new Error('the database was called');
  },
  transaction: async () => {
    throw new Error('the database was called');
  },
};

async function failure(run: () => Promise<unknown>): Promise<KnowledgeStoreError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof KnowledgeStoreError) return error;
    throw error;
  }
  throw new Error('expected a KnowledgeStoreError');
}

const store = new KnowledgeStore(unreachable, { dimensions: 4 });
const doc = { key: 'doc', version: 'v1', title: 'Doc' };
const chunk = { chunkId: 'c1', title: 'T', text: 'text', embedding: [1, 0, 0, 0] };

describe('KnowledgeStore input checks (before any SQL)', () => {
  it.each([0, -1, 2.5, MAX_DIMENSIONS + 1])('refuses %s dimensions', (dimensions) => {
    expect(() => new KnowledgeStore(unreachable, { dimensions })).toThrow(KnowledgeStoreError);
  });

  it('returns [] for no allowed kbs without touching the database', async () => {
    await expect(store.search({ kbIds: [], text: 'cache', k: 5 })).resolves.toEqual([]);
  });

  it('returns [] for a query with no terms and no embedding', async () => {
    await expect(store.search({ kbIds: ['kb'], text: 'the a ???', k: 5 })).resolves.toEqual([]);
  });

  it('refuses a query embedding of other dimensions', async () => {
    const error = await failure(() => store.search({ kbIds: ['kb'], text: 'x', embedding: [1, 0], k: 5 }));
    expect(error.code).toBe('dimensions');
  });

  it('refuses a chunk embedding of other dimensions, naming the chunk', async () => {
    const error = await failure(() =>
      store.replaceDocument('kb', doc, [chunk, { ...chunk, chunkId: 'c2', embedding: [1, 2, 3] }]),
    );
    expect(error.code).toBe('dimensions');
    expect(error.message).toContain('chunk 1 of document doc');
  });

  it.each([
    ['a bad k', () => store.search({ kbIds: ['kb'], text: 'x', k: 0 })],
    ['too many candidates', () => store.search({ kbIds: ['kb'], text: 'x', k: 5, candidates: 10_000 })],
    ['an empty kb id in a search', () => store.search({ kbIds: [''], text: 'x', k: 5 })],
    ['duplicate chunk ids', () => store.replaceDocument('kb', doc, [chunk, chunk])],
    ['a NUL in a document key', () => store.replaceDocument('kb', { ...doc, key: 'a\u0000' }, [])],
    ['an empty version', () => store.replaceDocument('kb', { ...doc, version: '' }, [])],
    ['an oversized chunk text', () => store.replaceDocument('kb', doc, [{ ...chunk, text: 'x'.repeat(9000) }])],
    ['an empty kb id on delete', () => store.deleteKnowledgeBase('')],
  ])('refuses %s as invalid_input', async (_name, run) => {
    expect((await failure(run)).code).toBe('invalid_input');
  });
});
