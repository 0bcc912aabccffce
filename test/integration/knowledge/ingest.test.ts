import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Embedder } from '#knowledge/embeddings/embedder';
import { EmbeddingError } from '#knowledge/embeddings/embedder';
import { createHashingEmbedder } from '#knowledge/embeddings/hashing-embedder';
import { ingestKnowledgeBase } from '#knowledge/ingest';
import { KnowledgeStore } from '#knowledge/store/knowledge-store';
import { directorySource } from '../../../sandbox/knowledge/directory-source';
import { createPgliteSql } from '../../../sandbox/knowledge/pglite-sql';

/**
 * Ingestion against the real store (PGlite with pgvector) from a directory standing in for an S3 prefix: what is
 * added, left alone, replaced, deleted and refused, and that nothing is lost silently.
 */

const KB = 'handbook';
let dir: string;
let sql: Awaited<ReturnType<typeof createPgliteSql>>;
let store: KnowledgeStore;
const hashing = createHashingEmbedder({ dimensions: 64 });

const source = () => directorySource(dir, async () => listing);
let listing: string[] = [];
const write = (name: string, content: string | Uint8Array, listed = true) => {
  writeFileSync(join(dir, name), content);
  if (listed && !listing.includes(name)) listing.push(name);
};
const run = (embedder: Embedder = hashing, maxBytes?: number) =>
  ingestKnowledgeBase(
    { id: KB, urlBase: 'https://wiki.example.com/handbook/' },
    { source: source(), store, embedder, ...(maxBytes ? { limits: { maxBytes } } : {}) },
  );
const search = (text: string) => store.search({ kbIds: [KB], text, k: 5 });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gg-ingest-'));
  sql = await createPgliteSql();
  store = new KnowledgeStore(sql, { dimensions: 64 });
  await store.migrate();
}, 60_000);

afterAll(async () => {
  await sql?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ingestKnowledgeBase', () => {
  it('adds supported documents and lists every refused one with its reason', async () => {
    write(
      'travel.md',
      '# Travel\n\n## Booking\n\nBook business trips in the travel portal before departure.\n\n## Approvals\n\nTrips over three days need a manager approval.\n',
    );
    write('notes.txt', 'Office hours are 9 to 5.\n# not a heading\n');
    write('tool.exe', 'MZ\u0000\u0001');
    write('fake.pdf', 'this is not a pdf at all');
    write('junk.md', new Uint8Array([0, 159, 146, 150, 0, 0, 1, 2, 3]));
    const report = await run();
    expect([...report.added].sort()).toEqual(['notes.txt', 'travel.md']);
    expect(report.rejected.map((r) => [r.key, r.code]).sort()).toEqual([
      ['fake.pdf', 'corrupt'],
      ['junk.md', 'not_text'],
      ['tool.exe', 'unsupported_type'],
    ]);
    expect(report).toMatchObject({ updated: [], deleted: [], failed: [], unchanged: 0 });
    expect(report.chunks).toBeGreaterThanOrEqual(3);

    const [hit] = await search('how do I book a business trip?');
    expect(hit).toMatchObject({
      docKey: 'travel.md',
      title: 'Travel',
      section: 'Booking',
      url: 'https://wiki.example.com/handbook/travel.md#booking',
    });
    expect(await store.documents(KB)).toEqual(
      new Map([
        ['travel.md', expect.any(String)],
        ['notes.txt', expect.any(String)],
      ]),
    );
  });

  it('leaves unchanged documents alone, replaces an edited one, and deletes a removed one', async () => {
    expect(await run()).toMatchObject({ added: [], updated: [], deleted: [], unchanged: 2, chunks: 0 });

    write('travel.md', '# Travel\n\n## Booking\n\nAll trips are now booked through the new Atlas desk.\n');
    listing = listing.filter((name) => name !== 'notes.txt');
    unlinkSync(join(dir, 'notes.txt'));
    const report = await run();
    expect(report).toMatchObject({ added: [], updated: ['travel.md'], deleted: ['notes.txt'], unchanged: 0 });

    const hits = await search('manager approval for trips');
    expect(hits.some((hit) => hit.text.includes('manager approval'))).toBe(false);
    expect((await search('Atlas desk'))[0]?.text).toContain('Atlas desk');
    expect((await search('office hours')).some((hit) => hit.docKey === 'notes.txt')).toBe(false);
    expect(await store.stats(KB)).toEqual({ documents: 1, chunks: 1 });
  });

  it('deletes a stored document whose new version is refused, and says why', async () => {
    write('travel.md', new Uint8Array([0xff, 0xfe, 0xfd, 0x00, 0x01]));
    const report = await run();
    expect(report.rejected).toContainEqual({ key: 'travel.md', code: 'not_text', message: expect.any(String) });
    expect(report.deleted).toEqual(['travel.md']);
    expect(await search('Atlas desk')).toEqual([]);
  });

  it('leaves out sections without words, and refuses a document that has nothing else', async () => {
    write('symbols.md', '# ---\n\n*** ~~~ ***\n');
    write('mixed.md', '# Mixed\n\n## Words\n\nReal words here.\n\n## Rule\n\n* * *\n');
    const report = await run();
    expect(report.rejected).toContainEqual({
      key: 'symbols.md',
      code: 'empty',
      message: 'symbols.md: no words to index',
    });
    expect(report.added).toContain('mixed.md');
    expect((await search('real words')).map((hit) => hit.chunkId)).toEqual(['mixed.md#words']);
    listing = listing.filter((name) => name !== 'symbols.md' && name !== 'mixed.md');
    await run();
  });

  it('refuses what the store cannot hold, once, instead of failing every run', async () => {
    write('long-title.md', `# ${'Title '.repeat(250)}\n\nSome words.\n`);
    const report = await run();
    expect(report.rejected).toContainEqual({
      key: 'long-title.md',
      code: 'unstorable',
      message: expect.stringContaining('long-title.md: '),
    });
    expect(report.failed).toEqual([]);
    listing = listing.filter((name) => name !== 'long-title.md');
  });

  it('re-ingests every document when the embedding model changes: old and new vectors do not compare', async () => {
    write('model.md', '# Models\n\nVectors of two models do not compare.\n');
    expect((await run()).added).toEqual(['model.md']);
    const other = createHashingEmbedder({ dimensions: 64 });
    const renamed: Embedder = {
      model: 'another-model',
      dimensions: 64,
      embed: (texts, purpose) => other.embed(texts, purpose),
    };
    const after = await run(renamed);
    expect(after.updated).toEqual(['model.md']);
    expect(after.unchanged).toBe(0);
    expect((await run(hashing)).updated).toEqual(['model.md']);
    listing = listing.filter((name) => name !== 'model.md');
  });

  it('refuses a file over the size limit before reading it', async () => {
    write('big.md', `# Big\n\n${'word '.repeat(400)}`);
    const report = await run(hashing, 1000);
    expect(report.rejected).toContainEqual({
      key: 'big.md',
      code: 'too_large',
      message: expect.stringContaining('more than the limit of 1000'),
    });
    listing = listing.filter((name) => name !== 'big.md');
  });

  it('keeps the stored version when the embedding model fails, and reports the document as failed', async () => {
    write('travel.md', '# Travel\n\n## Booking\n\nBook with the Atlas desk.\n');
    expect((await run()).added).toEqual(['travel.md']);
    write('travel.md', '# Travel\n\n## Booking\n\nBook with the Borealis desk.\n');
    const down: Embedder = {
      model: 'down',
      dimensions: 64,
      embed: async () => {
        throw new EmbeddingError('unavailable', 'embedding server answered 503');
      },
    };
    const report = await run(down);
    expect(report.failed).toEqual([{ key: 'travel.md', message: 'embedding server answered 503' }]);
    expect(report.updated).toEqual([]);
    expect((await search('Atlas desk'))[0]?.text).toContain('Atlas');
    // The next run with the model back replaces it.
    expect((await run()).updated).toEqual(['travel.md']);
    expect((await search('Borealis desk'))[0]?.text).toContain('Borealis');
  });
});
