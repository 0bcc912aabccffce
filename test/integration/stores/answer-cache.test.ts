import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { answerCacheKey } from '#core/answer-cache-key';
import { ConfigError } from '#core/errors';
import { AnswerCache, type AnswerCacheOptions } from '#stores/answer-cache';
import { type LocalTables, startLocalTables } from './dynalite-tables';

const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);
const MINUTE = 60_000;
const ENTRY = { answer: 'Reset it at https://sso.example.com.', modelId: 'qwen2-7b', promptVersion: 'v3' };

let tables: LocalTables;
let keySeq = 0;

beforeAll(async () => {
  tables = await startLocalTables();
});

afterAll(async () => {
  await tables.close();
});

function cache(options: Partial<AnswerCacheOptions> = {}): AnswerCache {
  return new AnswerCache(tables.doc, { tableName: tables.answerCache, ...options });
}

function freshKey(): string {
  keySeq += 1;
  return keyOf(`How do I reset my password? #${keySeq}`);
}

function keyOf(question: string, variant?: string): string {
  return answerCacheKey({
    question,
    modelId: 'qwen2-7b',
    promptVersion: 'v3',
    maxTokens: 512,
    temperature: 0.3,
    ...(variant === undefined ? {} : { variant }),
  });
}

/** A question's plain key and its keys for the given profile blocks. */
function variantsOf(...blocks: string[]): { plain: string; shaped: string[] } {
  keySeq += 1;
  const question = `What is the VPN address? #${keySeq}`;
  return { plain: keyOf(question), shaped: blocks.map((block) => keyOf(question, block)) };
}

async function rawItem(pk: string) {
  return (await tables.doc.send(new GetCommand({ TableName: tables.answerCache, Key: { pk } }))).Item;
}

describe('AnswerCache against dynalite', () => {
  it('misses an unknown key, then hits after a put', async () => {
    const answers = cache();
    const key = freshKey();
    expect(await answers.get(key, T0)).toEqual({ hit: false, reason: 'absent' });

    expect(await answers.put(key, ENTRY, T0)).toEqual({ stored: true });
    expect(await answers.get(key, T0 + MINUTE)).toEqual({ hit: true, answer: ENTRY.answer, createdAt: T0 });

    const item = await tables.doc.send(new GetCommand({ TableName: tables.answerCache, Key: { pk: key } }));
    expect(item.Item).toEqual({
      pk: key,
      ...ENTRY,
      createdAt: T0,
      expiresAt: Math.floor(T0 / 1000) + 3600,
    });
  });

  it('expires an answer after one hour though the item still exists', async () => {
    const answers = cache();
    const key = freshKey();
    await answers.put(key, ENTRY, T0);
    expect((await answers.get(key, T0 + 60 * MINUTE)).hit).toBe(true);
    expect(await answers.get(key, T0 + 60 * MINUTE + 1000)).toEqual({ hit: false, reason: 'expired' });
    const item = await tables.doc.send(new GetCommand({ TableName: tables.answerCache, Key: { pk: key } }));
    expect(item.Item?.answer).toBe(ENTRY.answer);
  });

  it('honours a configured TTL, and a new put refreshes an expired entry', async () => {
    const answers = cache({ ttlSeconds: 120 });
    const key = freshKey();
    await answers.put(key, ENTRY, T0);
    expect((await answers.get(key, T0 + 3 * MINUTE)).hit).toBe(false);
    await answers.put(key, { ...ENTRY, answer: 'newer' }, T0 + 3 * MINUTE);
    expect(await answers.get(key, T0 + 4 * MINUTE)).toEqual({ hit: true, answer: 'newer', createdAt: T0 + 3 * MINUTE });
  });

  it('does not cache an answer over maxAnswerBytes, counting UTF-8 bytes', async () => {
    const answers = cache({ maxAnswerBytes: 11 });
    const key = freshKey();
    // Four characters, twelve bytes.
    expect(await answers.put(key, { ...ENTRY, answer: '你好世界' }, T0)).toEqual({
      stored: false,
      reason: 'too_large',
    });
    expect(await answers.get(key, T0)).toEqual({ hit: false, reason: 'absent' });
    expect(await answers.put(key, { ...ENTRY, answer: 'hello world' }, T0)).toEqual({ stored: true });
  });

  it('does not cache an answer over the default 16 KiB', async () => {
    const answers = cache();
    const key = freshKey();
    expect(await answers.put(key, { ...ENTRY, answer: 'x'.repeat(16_385) }, T0)).toEqual({
      stored: false,
      reason: 'too_large',
    });
    expect(await answers.put(key, { ...ENTRY, answer: 'x'.repeat(16_384) }, T0)).toEqual({ stored: true });
  });

  it('does not cache a blank answer', async () => {
    const answers = cache();
    const key = freshKey();
    expect(await answers.put(key, { ...ENTRY, answer: ' \n\t' }, T0)).toEqual({ stored: false, reason: 'empty' });
    expect((await answers.get(key, T0)).hit).toBe(false);
  });

  it('treats an item without the documented fields as a miss', async () => {
    const answers = cache();
    const key = freshKey();
    await tables.doc.send(new PutCommand({ TableName: tables.answerCache, Item: { pk: key, answer: 42 } }));
    expect(await answers.get(key, T0)).toEqual({ hit: false, reason: 'absent' });
    await tables.doc.send(
      new PutCommand({ TableName: tables.answerCache, Item: { pk: key, answer: 'a', createdAt: T0 } }),
    );
    expect(await answers.get(key, T0)).toEqual({ hit: false, reason: 'expired' });
  });

  it('reports consumed capacity for the cost ledger', async () => {
    const answers = cache();
    const key = freshKey();
    let reads = 0;
    let writes = 0;
    const sink = {
      add(capacity: { read?: number; write?: number }) {
        reads += capacity.read ?? 0;
        writes += capacity.write ?? 0;
      },
    };
    await answers.put(key, ENTRY, T0, sink);
    await answers.get(key, T0, sink);
    expect(reads).toBeGreaterThan(0);
    expect(writes).toBeGreaterThan(0);
  });

  it("keeps a question's profile variants beside its plain answer, in one item that one read answers", async () => {
    const answers = cache();
    const { plain, shaped } = variantsOf('Answer in Japanese.', 'Answer briefly.');
    const [japanese = '', brief = ''] = shaped;
    expect(answers.itemRead(japanese)).toEqual(answers.itemRead(plain));

    expect(await answers.put(japanese, { ...ENTRY, answer: 'ja' }, T0)).toEqual({ stored: true });
    expect(await answers.get(plain, T0)).toEqual({ hit: false, reason: 'absent' });
    expect(await answers.put(plain, ENTRY, T0 + 1)).toEqual({ stored: true });
    expect(await answers.put(brief, { ...ENTRY, answer: 'brief' }, T0 + 2)).toEqual({ stored: true });

    expect(await answers.get(japanese, T0 + 3)).toEqual({ hit: true, answer: 'ja', createdAt: T0 });
    expect(await answers.get(brief, T0 + 3)).toEqual({ hit: true, answer: 'brief', createdAt: T0 + 2 });
    expect(await answers.get(plain, T0 + 3)).toEqual({ hit: true, answer: ENTRY.answer, createdAt: T0 + 1 });

    // One item: the batch read of any key of the question answers them all.
    const item = await rawItem(answers.itemRead(plain).pk);
    const entry = answers.entryOf(japanese, item, T0 + 3);
    expect([plain, japanese, brief].map((key) => entry.lookup(key).hit)).toEqual([true, true, true]);
    expect(item?.variants).toEqual(new Set(shaped.map((key) => key.split(':')[1])));
    expect(entry.covers(freshKey())).toBe(false);
  });

  it("ages each answer on its own: a variant's write does not keep an old answer alive", async () => {
    const answers = cache({ ttlSeconds: 60 });
    const { plain, shaped } = variantsOf('Answer in French.');
    const [french = ''] = shaped;
    await answers.put(plain, ENTRY, T0);
    await answers.put(french, { ...ENTRY, answer: 'fr' }, T0 + 50_000);
    expect(await answers.get(plain, T0 + 61_000)).toEqual({ hit: false, reason: 'expired' });
    expect(await answers.get(french, T0 + 61_000)).toEqual({ hit: true, answer: 'fr', createdAt: T0 + 50_000 });
    expect((await rawItem(answers.itemRead(plain).pk))?.expiresAt).toBe(Math.floor((T0 + 50_000) / 1000) + 60);
  });

  it('stores at most maxVariants variants per question, and still replaces the ones it holds', async () => {
    const answers = cache({ maxVariants: 2 });
    const { plain, shaped } = variantsOf('a', 'b', 'c');
    const [a = '', b = '', c = ''] = shaped;
    expect(await answers.put(a, { ...ENTRY, answer: 'A' }, T0)).toEqual({ stored: true });
    expect(await answers.put(b, { ...ENTRY, answer: 'B' }, T0)).toEqual({ stored: true });
    expect(await answers.put(c, { ...ENTRY, answer: 'C' }, T0)).toEqual({ stored: false, reason: 'variants_full' });
    expect(await answers.get(c, T0)).toEqual({ hit: false, reason: 'absent' });
    expect(await answers.put(a, { ...ENTRY, answer: 'A2' }, T0 + 1)).toEqual({ stored: true });
    expect(await answers.put(plain, ENTRY, T0 + 1)).toEqual({ stored: true });
    expect((await answers.get(a, T0 + 2)).hit && (await answers.get(b, T0 + 2)).hit).toBe(true);
    expect(await answers.get(a, T0 + 2)).toMatchObject({ answer: 'A2' });
    expect(await answers.get(plain, T0 + 2)).toMatchObject({ answer: ENTRY.answer });
  });

  it('frees the slots of expired variants for a new one, though every write keeps the item alive', async () => {
    const answers = cache({ maxVariants: 1, ttlSeconds: 60 });
    const { plain, shaped } = variantsOf('Answer in Korean.', 'Answer in German.');
    const [korean = '', german = ''] = shaped;
    await answers.put(korean, { ...ENTRY, answer: 'ko' }, T0);
    // A busy question: its plain answer is written again after the variant expired, so the item lives on.
    await answers.put(plain, ENTRY, T0 + 70_000);
    expect(await answers.get(korean, T0 + 71_000)).toEqual({ hit: false, reason: 'expired' });

    expect(await answers.put(german, { ...ENTRY, answer: 'de' }, T0 + 71_000)).toEqual({ stored: true });
    expect(await answers.get(german, T0 + 72_000)).toEqual({ hit: true, answer: 'de', createdAt: T0 + 71_000 });
    expect(await answers.get(plain, T0 + 72_000)).toMatchObject({ hit: true, answer: ENTRY.answer });
    const item = await rawItem(answers.itemRead(plain).pk);
    expect(item?.variants).toEqual(new Set([german.split(':')[1]]));
    expect(item?.[`v_${korean.split(':')[1]}`]).toBeUndefined();
  });

  it('keeps an expired variant that was answered again while its slot was being freed', async () => {
    const { plain, shaped } = variantsOf('Answer in Thai.', 'Answer in Hindi.');
    const [thai = '', hindi = ''] = shaped;
    await cache({ maxVariants: 1, ttlSeconds: 60 }).put(thai, { ...ENTRY, answer: 'th' }, T0);
    // Between the store's consistent read of the full item and its removal, another worker answers Thai again.
    let raced = false;
    const racing = {
      send: async (command: Parameters<typeof tables.doc.send>[0]) => {
        const out = await tables.doc.send(command);
        if (!raced && command instanceof GetCommand && command.input.ConsistentRead) {
          raced = true;
          await cache({ maxVariants: 1, ttlSeconds: 60 }).put(thai, { ...ENTRY, answer: 'th, again' }, T0 + 70_500);
        }
        return out;
      },
    } as typeof tables.doc;
    const answers = new AnswerCache(racing, { tableName: tables.answerCache, maxVariants: 1, ttlSeconds: 60 });
    expect(await answers.put(hindi, { ...ENTRY, answer: 'hi' }, T0 + 71_000)).toEqual({
      stored: false,
      reason: 'variants_full',
    });
    expect(raced).toBe(true);
    expect(await answers.get(thai, T0 + 71_000)).toEqual({ hit: true, answer: 'th, again', createdAt: T0 + 70_500 });
    expect(await answers.get(hindi, T0 + 71_000)).toEqual({ hit: false, reason: 'absent' });
    expect(answers.itemRead(plain).pk).toBe(answers.itemRead(thai).pk);
  });

  it('reads an item the previous version wrote (PutItem, plain answer only) and adds variants beside it', async () => {
    const answers = cache();
    const { plain, shaped } = variantsOf('Answer formally.');
    const [formal = ''] = shaped;
    const pk = answers.itemRead(plain).pk;
    await tables.doc.send(
      new PutCommand({
        TableName: tables.answerCache,
        Item: { pk, ...ENTRY, createdAt: T0, expiresAt: Math.floor(T0 / 1000) + 3600 },
      }),
    );
    expect(await answers.get(plain, T0 + 1)).toEqual({ hit: true, answer: ENTRY.answer, createdAt: T0 });
    expect(await answers.get(formal, T0 + 1)).toEqual({ hit: false, reason: 'absent' });
    expect(await answers.put(formal, { ...ENTRY, answer: 'Formally.' }, T0 + 2)).toEqual({ stored: true });
    expect(await answers.get(plain, T0 + 3)).toEqual({ hit: true, answer: ENTRY.answer, createdAt: T0 });
    expect(await answers.get(formal, T0 + 3)).toMatchObject({ hit: true, answer: 'Formally.' });
  });

  it('keeps exactly maxVariants variants when more writers race for the last slots', async () => {
    const answers = cache({ maxVariants: 3 });
    const blocks = Array.from({ length: 12 }, (_, i) => `Profile ${i}.`);
    const { shaped } = variantsOf(...blocks);
    const outcomes = await Promise.all(shaped.map((key, i) => answers.put(key, { ...ENTRY, answer: `a${i}` }, T0)));
    expect(outcomes.filter((o) => o.stored)).toHaveLength(3);
    expect(outcomes.filter((o) => !o.stored)).toEqual(Array(9).fill({ stored: false, reason: 'variants_full' }));
    const hits = await Promise.all(shaped.map(async (key) => (await answers.get(key, T0 + 1)).hit));
    expect(hits.filter(Boolean)).toHaveLength(3);
  });

  it('rejects a maxVariants that is not a positive integer', () => {
    expect(() => cache({ maxVariants: 0 })).toThrow('AnswerCache maxVariants must be a positive integer, got 0');
  });

  it('rejects invalid options, naming every problem', () => {
    let caught: unknown;
    try {
      cache({ ttlSeconds: -1, maxAnswerBytes: 0 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems).toEqual([
      'AnswerCache ttlSeconds must be a positive integer, got -1',
      'AnswerCache maxAnswerBytes must be a positive integer, got 0',
    ]);
  });
});
