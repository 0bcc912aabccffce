import { compileLexicon, filterContent, findLexiconMatches, type LexiconEntry } from '#core/safety/content-filter';
import { normaliseForMatching } from '#core/safety/match-normaliser';

// Issue 13: the lexicon must also catch Latin words spelled with Cyrillic/Greek look-alike letters, and Chinese
// terms written in the other of traditional/simplified characters. Every positive case here was missed before
// `character-folding.ts`.

const ENTRIES: LexiconEntry[] = [
  { term: 'forbiddenword', level: 2, category: 'profanity' },
  { term: 'ass', level: 2, category: 'profanity' },
  { term: 'lol', level: 1, category: 'tone' },
  { term: '机密项目', level: 3, category: 'confidential' },
  { term: '機密文件', level: 3, category: 'confidential' },
  { term: '赌博网站', level: 2, category: 'gambling' },
  { term: 'сука', level: 2, category: 'profanity-ru' },
  { term: 'ηλίθιος', level: 2, category: 'profanity-el' },
];
const lexicon = compileLexicon(ENTRIES);

const found = (text: string): string[] =>
  findLexiconMatches(text, lexicon).map((m) => `${m.term}@${text.slice(m.start, m.end)}`);

describe('findLexiconMatches: Latin look-alikes from other scripts', () => {
  it.each([
    ['Cyrillic о and е', 'fоrbiddеnwоrd'],
    ['Cyrillic upper case', 'FОRBIDDЕNWОRD'],
    ['every look-alike Cyrillic can offer', 'fоrbіddеnwоrd'],
    ['Greek ο', 'fοrbiddenwοrd'],
    ['Greek and Cyrillic mixed with full-width letters', 'ｆοrbiddеnwоrd'],
    ['Cyrillic mixed with zero-width characters', 'f\u200bоrbidd\u200dеnw\ufeffоrd'],
    ['Cyrillic spread out with spaces', 'f о r b i d d е n w о r d'],
    ['Armenian օ and a Latin small capital ᴏ', 'fօrbiddenwᴏrd'],
  ])('catches "forbiddenword" written with %s', (_name, text) => {
    expect(found(`he said ${text}!`)).toEqual([`forbiddenword@${text}`]);
  });

  it.each([
    ['Cyrillic а', 'аss'],
    ['Cyrillic ѕ', 'aѕѕ'],
    ['Greek α', 'αss'],
    ['Cherokee Ꭺ', 'Ꭺss'],
  ])('catches a short term written with %s', (_name, text) => {
    expect(found(`you ${text}`)).toEqual([`ass@${text}`]);
  });

  it('keeps word boundaries: look-alike letters glued to a word do not fire', () => {
    for (const text of ['сlass', 'clаss', 'fоrbiddеnwоrds', 'pаssage']) expect(found(text)).toEqual([]);
  });

  it('masks the original look-alike characters, one * per character', () => {
    expect(filterContent('ok fоrbiddеnwоrd ok', { lexicon }).text).toBe('ok ************* ok');
  });
});

describe('findLexiconMatches: other scripts are not broken by folding', () => {
  it('still matches Cyrillic and Greek terms in their own script, in either case', () => {
    expect(found('Ты сука!')).toEqual(['сука@сука']);
    expect(found('СУКА')).toEqual(['сука@СУКА']);
    expect(found('είσαι ηλίθιος')).toEqual(['ηλίθιος@ηλίθιος']);
    // Upper case gives 'Σ' → 'σ' where the term has final 'ς'; both fold alike.
    expect(found('ΗΛΊΘΙΟΣ')).toEqual(['ηλίθιος@ΗΛΊΘΙΟΣ']);
  });

  it('does not fire on ordinary Russian, Greek, Arabic, Hebrew and Hindi text', () => {
    for (const text of [
      'Привет, как дела? Всё хорошо.',
      'Καλημέρα, τι κάνεις;',
      'مرحبا كيف حالك',
      'שלום מה שלומך',
      'नमस्ते, आप कैसे हैं',
    ]) {
      expect(found(text)).toEqual([]);
    }
  });

  it('does not fold digits, Arabic or Hebrew letters that confusables data lists as Latin look-alikes', () => {
    // Arabic alif, Arabic-Indic five, Hebrew vav/samekh and Devanagari zero all "look like" l or o.
    for (const text of ['ا٥ا', 'וסו', 'l०l', '1o1']) expect(found(text)).toEqual([]);
  });
});

describe('findLexiconMatches: traditional and simplified Chinese', () => {
  it.each([
    ['traditional text, simplified term', '这是機密項目的资料', '机密项目@機密項目'],
    ['simplified text, simplified term', '这是机密项目的资料', '机密项目@机密项目'],
    ['mixed traditional and simplified', '这是机密項目的资料', '机密项目@机密項目'],
    ['simplified text, traditional term', '请看机密文件', '機密文件@机密文件'],
    ['traditional text, traditional term', '請看機密文件', '機密文件@機密文件'],
    ['traditional with zero-width characters', '機\u200b密\u200d項目', '机密项目@機\u200b密\u200d項目'],
    ['traditional spread out with spaces', '機 密 項 目', '机密项目@機 密 項 目'],
    ['traditional, variant and simplified mixed', '賭博網站', '赌博网站@賭博網站'],
  ])('%s', (_name, text, expected) => {
    expect(found(text)).toEqual([expected]);
  });

  it('masks the original traditional characters', () => {
    expect(filterContent('別上賭博網站。', { lexicon }).text).toBe('別上****。');
  });

  it('blocks a level-3 term written in traditional characters', () => {
    expect(filterContent('機密項目', { lexicon }).decision).toBe('block');
  });
});

describe('normaliseForMatching: folding', () => {
  it('folds look-alikes and traditional characters on the normalised side only, keeping offsets', () => {
    const input = 'Fо機';
    const normalised = normaliseForMatching(input);
    expect(normalised.text).toBe('fo机');
    expect([...normalised.originStart]).toEqual([0, 1, 2]);
    expect([...normalised.spacedWord]).toEqual([1, 1, 0]);
  });

  it('is idempotent: normalising normalised text changes nothing', () => {
    const once = normaliseForMatching('ΗΛΊΘΙΟΣ fоrbiddеn 機密項目 薴').text;
    expect(normaliseForMatching(once).text).toBe(once);
  });
});
