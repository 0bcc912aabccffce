import { ConfigError } from '#core/errors';
import { EmbeddingError } from '#knowledge/embeddings/embedder';
import { createHashingEmbedder, HASHING_MODEL } from '#knowledge/embeddings/hashing-embedder';
import { dot } from '#knowledge/embeddings/vector';

const embedder = createHashingEmbedder();
const embedOne = async (text: string, e = embedder): Promise<Float32Array> => {
  const [vector] = await e.embed([text], 'document');
  if (!vector) throw new Error('no vector');
  return vector;
};
const norm = (v: Float32Array): number => Math.sqrt(dot(v, v));
const similarity = async (a: string, b: string): Promise<number> => dot(await embedOne(a), await embedOne(b));

describe('createHashingEmbedder', () => {
  it('names its model and makes vectors of the configured size (256 by default)', async () => {
    expect(embedder.model).toBe(HASHING_MODEL);
    expect(embedder.model).toBe('groupgate-hashing-v1');
    expect(embedder.dimensions).toBe(256);
    expect((await embedOne('deploy the stack')).length).toBe(256);
    const small = createHashingEmbedder({ dimensions: 64 });
    expect(small.dimensions).toBe(64);
    expect((await embedOne('deploy the stack', small)).length).toBe(64);
  });

  it('is deterministic: two embedders, two calls, same vectors', async () => {
    const texts = ['How do I deploy the stack?', '报销流程怎么配置', 'answerCacheTtlMinutes'];
    const first = await embedder.embed(texts, 'document');
    const again = await createHashingEmbedder().embed(texts, 'query');
    expect(again).toEqual(first);
  });

  it('returns one unit vector per text, in order', async () => {
    const texts = ['invoice', 'deploy', '如何配置报销流程', 'S3 bucket policy'];
    const together = await embedder.embed(texts, 'document');
    expect(together).toHaveLength(4);
    for (const [i, text] of texts.entries()) {
      expect(together[i]).toEqual(await embedOne(text));
      expect(norm(together[i]!)).toBeCloseTo(1, 5);
    }
  });

  it('keeps a text without features a zero vector (no NaN from dividing by zero)', async () => {
    for (const text of ['', '   ', 'the a an', '!!! ... ???']) {
      const vector = await embedOne(text);
      expect(vector.length).toBe(256);
      expect(Array.from(vector).every((x) => x === 0)).toBe(true);
    }
  });

  it('puts "deploy", "deployment" and "deploying" closer to each other than to "invoice"', async () => {
    const family = ['deploy', 'deployment', 'deploying'];
    const within: number[] = [];
    const across: number[] = [];
    for (const [i, a] of family.entries()) {
      across.push(await similarity(a, 'invoice'));
      for (const b of family.slice(i + 1)) within.push(await similarity(a, b));
    }
    expect(Math.min(...within)).toBeGreaterThan(Math.max(...across) + 0.15);
  });

  it('keeps a typo near its word (character n-grams), unlike BM25 terms', async () => {
    expect(await similarity('deploymnet', 'deployment')).toBeGreaterThan(await similarity('deploymnet', 'invoice'));
    expect(await similarity('How do I deploy the stack?', 'Deploying the stack to production')).toBeGreaterThan(
      await similarity('How do I deploy the stack?', 'Pay the invoice by Friday'),
    );
  });

  it('gives a Chinese text similarity with a variant sharing its bigrams, not with an unrelated one', async () => {
    const related = await similarity('如何配置报销流程', '报销流程怎么配置');
    const unrelated = await similarity('如何配置报销流程', '今天天气很好');
    expect(related).toBeGreaterThan(0.3);
    expect(related).toBeGreaterThan(unrelated + 0.3);
  });

  it('cuts texts at maxChars, as the remote embedders do', async () => {
    const cut = createHashingEmbedder({ maxChars: 20 });
    const long = 'alpha beta gamma delta epsilon zeta eta theta';
    expect(await embedOne(long, cut)).toEqual(await embedOne(long.slice(0, 20), cut));
    expect(await embedOne(long, cut)).not.toEqual(await embedOne(long, embedder));
  });

  it('returns no vectors for no texts', async () => {
    await expect(embedder.embed([], 'query')).resolves.toEqual([]);
  });

  it('refuses an aborted signal with a timeout EmbeddingError', async () => {
    const controller = new AbortController();
    controller.abort();
    const failure = embedder.embed(['deploy'], 'query', { signal: controller.signal });
    await expect(failure).rejects.toBeInstanceOf(EmbeddingError);
    await expect(failure).rejects.toMatchObject({ code: 'timeout', message: expect.stringContaining('aborted') });
  });

  it.each([0, -4, 1.5, 70_000])('refuses dimensions %p at construction', (dimensions) => {
    expect(() => createHashingEmbedder({ dimensions })).toThrow(ConfigError);
    expect(() => createHashingEmbedder({ dimensions })).toThrow(/dimensions must be an integer from 1 to 65536/);
  });

  it('refuses a maxChars below 1', () => {
    expect(() => createHashingEmbedder({ maxChars: 0 })).toThrow(/maxChars/);
  });
});
