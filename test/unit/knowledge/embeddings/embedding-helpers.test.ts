import { batchesOf, MAX_BATCH_INPUT_BYTES } from '#knowledge/embeddings/batches';
import { featureHash, fmix32 } from '#knowledge/embeddings/feature-hash';
import { inputText } from '#knowledge/embeddings/input-text';
import { dot, l2Normalize } from '#knowledge/embeddings/vector';

/** Reference FNV-1a 32 over bytes, the textbook loop, to check the streaming UTF-8 encoder against. */
function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}

describe('featureHash', () => {
  it('is FNV-1a 32 (published test vectors) finished by fmix32', () => {
    expect(featureHash('')).toBe(fmix32(0x811c9dc5));
    expect(featureHash('a')).toBe(fmix32(0xe40c292c));
    expect(featureHash('foobar')).toBe(fmix32(0xbf9cf968));
  });

  it.each(['g:<de', 'c:报销', 'w:café', 'c:𠀀𠀁', 'w:😀ok'])('hashes the UTF-8 bytes of %p', (text) => {
    expect(featureHash(text)).toBe(fmix32(fnv1a(Buffer.from(text, 'utf8'))));
  });

  it('hashes a lone surrogate without throwing', () => {
    expect(Number.isInteger(featureHash('a\ud800b'))).toBe(true);
  });
});

describe('inputText', () => {
  it('prefixes, then cuts at maxChars', () => {
    expect(inputText('hello world', 100, 'query: ')).toBe('query: hello world');
    expect(inputText('hello world', 9, 'query: ')).toBe('query: he');
    expect(inputText('hello', 5)).toBe('hello');
    expect(inputText('', 5)).toBe('');
  });

  it('never leaves half a surrogate pair at the cut', () => {
    const text = `ab${'𠀀'}cd`; // 𠀀 is two UTF-16 code units
    expect(inputText(text, 3)).toBe('ab');
    expect(inputText(text, 4)).toBe('ab𠀀');
  });
});

describe('l2Normalize', () => {
  it('scales to unit length', () => {
    expect(Array.from(l2Normalize([3, 4]))).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
    const v = l2Normalize([1, -2, 3, -4, 5]);
    expect(dot(v, v)).toBeCloseTo(1, 6);
  });

  it('leaves a zero vector zero', () => {
    expect(Array.from(l2Normalize([0, 0, 0]))).toEqual([0, 0, 0]);
  });
});

describe('batchesOf', () => {
  it('cuts by count, keeping order', () => {
    const items = Array.from({ length: 150 }, (_, i) => `t${i}`);
    const batches = batchesOf(items, 64);
    expect(batches.map((b) => b.length)).toEqual([64, 64, 22]);
    expect(batches.flat()).toEqual(items);
    expect(batchesOf([], 64)).toEqual([]);
  });

  it('cuts by UTF-8 bytes too, and keeps an oversized input as a batch of its own', () => {
    const chinese = '报'.repeat(100_000); // 300,000 bytes
    const batches = batchesOf([chinese, chinese, 'x', chinese], 64);
    expect(batches.map((b) => b.length)).toEqual([1, 2, 1]);
    expect(batchesOf(['x'.repeat(MAX_BATCH_INPUT_BYTES + 1), 'y'], 64).map((b) => b.length)).toEqual([1, 1]);
  });
});
