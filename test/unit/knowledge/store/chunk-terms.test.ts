import { chunkTerms, MAX_QUERY_TERMS, MAX_TERM_LENGTH, queryTerms, storedTerm } from '#knowledge/store/chunk-terms';

describe('chunkTerms', () => {
  it('counts title and section terms twice and body terms once, as bm25.ts does', () => {
    const terms = chunkTerms({ title: 'Deploy', section: 'Cache settings', text: 'The cache deploys quickly.' });
    expect(Object.fromEntries(terms.frequencies)).toEqual({ deploy: 3, cache: 3, setting: 2, quickly: 1 });
    // 3 heading terms × 2 + 3 body terms ("the" is a stop word).
    expect(terms.length).toBe(9);
  });

  it('makes CJK bigrams and leaves out an absent section', () => {
    const terms = chunkTerms({ title: '', text: '如何配置' });
    expect(Object.fromEntries(terms.frequencies)).toEqual({ 如何: 1, 何配: 1, 配置: 1 });
    expect(terms.length).toBe(3);
  });

  it('has no terms and length 0 for text without words', () => {
    expect(chunkTerms({ title: '', text: '--- !!! ***' })).toEqual({ frequencies: new Map(), length: 0 });
  });

  it('cuts a very long term to MAX_TERM_LENGTH code points, in chunks and queries alike', () => {
    const long = 'x'.repeat(5000);
    const terms = chunkTerms({ title: '', text: `${long} ${long}` });
    expect([...terms.frequencies]).toEqual([['x'.repeat(MAX_TERM_LENGTH), 2]]);
    expect(queryTerms(long)).toEqual(['x'.repeat(MAX_TERM_LENGTH)]);
    const astral = '𠀀'.repeat(MAX_TERM_LENGTH + 5); // outside the BMP: two UTF-16 units each, never split
    expect(Array.from(storedTerm(astral))).toHaveLength(MAX_TERM_LENGTH);
  });
});

describe('queryTerms', () => {
  it('de-duplicates in text order', () => {
    expect(queryTerms('cache the Cache; deploy caches')).toEqual(['cache', 'deploy']);
  });

  it('keeps at most MAX_QUERY_TERMS distinct terms', () => {
    const words = Array.from({ length: MAX_QUERY_TERMS + 100 }, (_, i) => `w${i}`);
    const terms = queryTerms(words.join(' '));
    expect(terms).toHaveLength(MAX_QUERY_TERMS);
    expect(terms[0]).toBe('w0');
    expect(terms.at(-1)).toBe(`w${MAX_QUERY_TERMS - 1}`);
  });
});
