import { estimateTokens, truncateToTokens } from '#core/prompt/token-estimate';

describe('estimateTokens', () => {
  it('is 0 for the empty string', () => {
    expect(estimateTokens('')).toBe(0);
  });

  it('counts about four ASCII characters per token, rounding up', () => {
    expect(estimateTokens('abcd')).toBe(1);
    expect(estimateTokens('abcde')).toBe(2);
    expect(estimateTokens('Hello, world! How are you?')).toBe(7); // 26 characters
  });

  it('counts one token per CJK character, kana, Hangul and full-width punctuation', () => {
    expect(estimateTokens('你好世界')).toBe(4);
    expect(estimateTokens('こんにちは')).toBe(5);
    expect(estimateTokens('안녕하세요')).toBe(5);
    expect(estimateTokens('？。！，')).toBe(4);
  });

  it('is more conservative for CJK than for the same number of Latin characters', () => {
    expect(estimateTokens('中'.repeat(100))).toBe(100);
    expect(estimateTokens('a'.repeat(100))).toBe(25);
  });

  it('counts two tokens per emoji, and each part of a ZWJ sequence', () => {
    expect(estimateTokens('😀')).toBe(2);
    expect(estimateTokens('👍👍')).toBe(4);
    // man + ZWJ + woman + ZWJ + girl: three pictographs (6) and two joiners (1 each).
    expect(estimateTokens('👨\u200D👩\u200D👧')).toBe(8);
  });

  it('counts accented and Cyrillic letters at two per token', () => {
    expect(estimateTokens('éèêë')).toBe(2);
    expect(estimateTokens('привет')).toBe(3);
  });

  it('adds up mixed text', () => {
    // 4 CJK (4) + "GPU" (3/4) + 1 emoji (2) = 6.75 → 7
    expect(estimateTokens('显卡是GPU😀吗')).toBe(7);
  });
});

describe('truncateToTokens', () => {
  it('keeps the longest prefix that fits with the marker', () => {
    const cut = truncateToTokens('一二三四五六七八九十', 5, '…');
    expect(cut).toBe('一二三四…');
    expect(estimateTokens(cut)).toBeLessThanOrEqual(5);
  });

  it('never splits a surrogate pair', () => {
    const cut = truncateToTokens('😀😀😀', 5, '');
    expect(cut).toBe('😀😀');
  });

  it('returns only the marker when no prefix fits, and nothing when the marker does not fit', () => {
    expect(truncateToTokens('你好', 1, '…')).toBe('…');
    expect(truncateToTokens('你好', 0, '…')).toBe('');
  });

  it('stays within the limit for every limit on mixed text', () => {
    const text = 'Mixed 中文 text with emoji 😀 and more words 和更多的字。';
    for (let limit = 4; limit <= estimateTokens(text) + 2; limit++) {
      expect(estimateTokens(truncateToTokens(text, limit, '…[truncated]'))).toBeLessThanOrEqual(limit);
    }
  });
});
