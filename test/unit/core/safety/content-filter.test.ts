import { ConfigError } from '#core/errors';
import {
  compileLexicon,
  DEFAULT_BLOCK_TEXT,
  type FilterPolicy,
  filterContent,
  findLexiconMatches,
  type LexiconEntry,
} from '#core/safety/content-filter';

const ENTRIES: LexiconEntry[] = [
  { term: 'badword', level: 2, category: 'profanity' },
  { term: 'ass', level: 2, category: 'profanity' },
  { term: 'leak plan', level: 3, category: 'confidential' },
  { term: 'meh', level: 1, category: 'tone' },
  { term: '敏感词', level: 3, category: 'politics' },
  { term: '赌博', level: 2, category: 'gambling' },
  { term: 'café', level: 2, category: 'test-accent' },
];
const lexicon = compileLexicon(ENTRIES);

const spansOf = (text: string): string[] => findLexiconMatches(text, lexicon).map((m) => text.slice(m.start, m.end));

describe('findLexiconMatches: evasions', () => {
  it.each([
    ['spaces between letters', 'you b a d w o r d', 'b a d w o r d'],
    ['full-width letters', 'ｂａｄｗｏｒｄ!', 'ｂａｄｗｏｒｄ'],
    ['zero-width space', 'bad\u200Bword', 'bad\u200Bword'],
    ['zero-width joiner and non-joiner', 'b\u200Dad\u200Cword', 'b\u200Dad\u200Cword'],
    ['word joiner, BOM and soft hyphen', 'b\u2060a\uFEFFd\u00ADword', 'b\u2060a\uFEFFd\u00ADword'],
    ['mixed case', 'BaDwOrD', 'BaDwOrD'],
    ['punctuation between letters', 'B.A.D-W_O*R/D', 'B.A.D-W_O*R/D'],
    ['full-width space in a phrase', 'we will leak\u3000plan now', 'leak\u3000plan'],
    ['spaced Chinese', '这是敏 感 词吗', '敏 感 词'],
    ['Chinese with zero-width characters', '敏\u200B感\u200D词', '敏\u200B感\u200D词'],
    ['decomposed accent', 'cafe\u0301 au lait', 'cafe\u0301'],
    ['strike-through decoration', 'b\u0336adword', 'b\u0336adword'],
  ])('%s', (_name, text, expectedSpan) => {
    expect(spansOf(text)).toEqual([expectedSpan]);
  });

  it('maps each match back to the original span, leaving the text around it', () => {
    const text = '前缀 Ｂ.Ａ.Ｄ word 中间 赌 博 后缀';
    const matches = findLexiconMatches(text, lexicon);
    expect(matches.map(({ term, level, category }) => ({ term, level, category }))).toEqual([
      { term: 'badword', level: 2, category: 'profanity' },
      { term: '赌博', level: 2, category: 'gambling' },
    ]);
    expect(matches.map((m) => text.slice(m.start, m.end))).toEqual(['Ｂ.Ａ.Ｄ word', '赌 博']);
  });
});

describe('findLexiconMatches: word boundaries', () => {
  it('does not fire inside longer Latin words', () => {
    for (const text of ['a classic pass', 'assess the badwords', 'mehmet', 'embassy']) {
      expect(spansOf(text)).toEqual([]);
    }
  });

  it('does not join letters of neighbouring words into a term', () => {
    // "grab a dog" reads "grabadog" once spaces are dropped; the "b" of "grab" is glued to "a", so no "bad...".
    expect(spansOf('grab a dword')).toEqual([]);
  });

  it('fires at boundaries: string edges, spaces, punctuation and CJK neighbours', () => {
    expect(spansOf('ass')).toEqual(['ass']);
    expect(spansOf('you ass!')).toEqual(['ass']);
    expect(spansOf('“ass”')).toEqual(['ass']);
    expect(spansOf('你这个ass啊')).toEqual(['ass']);
  });

  it('matches CJK terms as substrings (documented trade-off: no word boundaries in Chinese)', () => {
    expect(spansOf('反赌博宣传')).toEqual(['赌博']);
  });
});

describe('filterContent: policy', () => {
  it('allows text without matches unchanged', () => {
    expect(filterContent('一切正常 all good', { lexicon })).toEqual({
      decision: 'allow',
      text: '一切正常 all good',
      matches: [],
      maxLevel: 0,
    });
  });

  it('records level-1 matches but allows them by default', () => {
    const result = filterContent('meh, fine', { lexicon });
    expect(result.decision).toBe('allow');
    expect(result.text).toBe('meh, fine');
    expect(result.maxLevel).toBe(1);
    expect(result.matches).toHaveLength(1);
  });

  it('masks level-2 spans with one * per original character, keeping everything else', () => {
    const result = filterContent('Hi, b a d w o r d! 别赌博。meh', { lexicon });
    expect(result.decision).toBe('mask');
    expect(result.text).toBe('Hi, *************! 别**。meh');
    expect(result.maxLevel).toBe(2);
  });

  it('blocks level-3 with the replacement text of the requested language', () => {
    const zh = filterContent('这是敏感词和badword', { lexicon });
    expect(zh).toMatchObject({ decision: 'block', text: '内容包含敏感信息,请重新表述', maxLevel: 3 });
    expect(zh.matches.map((m) => m.term)).toEqual(['敏感词', 'badword']);
    expect(filterContent('leak plan', { lexicon, language: 'en' }).text).toBe(DEFAULT_BLOCK_TEXT.en);
    expect(filterContent('leak plan', { lexicon, language: 'fr' }).text).toBe(DEFAULT_BLOCK_TEXT.zh);
  });

  it('follows a custom policy', () => {
    const strict: FilterPolicy = {
      actions: { 1: 'mask', 2: 'block', 3: 'block' },
      blockText: { zh: '已拦截', en: 'Blocked.' },
    };
    expect(filterContent('meh', { lexicon, policy: strict }).text).toBe('***');
    expect(filterContent('赌博', { lexicon, policy: strict })).toMatchObject({ decision: 'block', text: '已拦截' });
    expect(filterContent('badword', { lexicon, policy: strict, language: 'en' }).text).toBe('Blocked.');
    const lenient: FilterPolicy = { ...strict, actions: { 1: 'allow', 2: 'allow', 3: 'mask' } };
    expect(filterContent('敏感词!', { lexicon, policy: lenient })).toMatchObject({ decision: 'mask', text: '***!' });
  });

  it('merges overlapping spans when masking', () => {
    const overlapping = compileLexicon([
      { term: '甲乙', level: 2, category: 'x' },
      { term: '乙丙', level: 2, category: 'x' },
    ]);
    const result = filterContent('甲乙丙丁', { lexicon: overlapping });
    expect(result.matches.map((m) => m.term)).toEqual(['甲乙', '乙丙']);
    expect(result.text).toBe('***丁');
  });
});

describe('compileLexicon', () => {
  it('rejects bad entries, listing every problem', () => {
    let caught: unknown;
    try {
      compileLexicon([
        { term: ' .,!', level: 2, category: 'x' },
        { term: 'ok', level: 4 as never, category: '' },
      ]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems).toEqual([
      'lexicon[0].term has no letters or digits',
      'lexicon[1].level must be 1, 2 or 3',
      'lexicon[1].category must be a non-empty string',
    ]);
  });

  it('normalises terms the same way as text (full-width, case, spacing in the term)', () => {
    const compiled = compileLexicon([{ term: 'ＢＡＤ  Ｗord', level: 2, category: 'x' }]);
    expect(findLexiconMatches('a badword here', compiled).map((m) => m.term)).toEqual(['ＢＡＤ  Ｗord']);
  });

  it('keeps matching time independent of lexicon size (Aho–Corasick)', () => {
    const big = compileLexicon(
      Array.from({ length: 20_000 }, (_, i) => ({ term: `term${i}x`, level: 2 as const, category: 'bulk' })),
    );
    const text = `${'lorem ipsum '.repeat(5_000)} term19999x`;
    const matches = findLexiconMatches(text, big);
    expect(matches.map((m) => m.term)).toEqual(['term19999x']);
  });
});
