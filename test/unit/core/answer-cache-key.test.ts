import { answerCacheKey, isCacheable, normaliseQuestion } from '#core/answer-cache-key';

type KeyOverrides = { modelId?: string; promptVersion?: string; systemPrompt?: string; maxTokens?: number };
const key = (question: string, overrides: KeyOverrides & { temperature?: number } = {}) =>
  answerCacheKey({
    question,
    modelId: 'qwen2.5-7b-int8',
    promptVersion: 'p3',
    maxTokens: 512,
    temperature: 0.3,
    ...overrides,
  });

describe('normaliseQuestion', () => {
  it.each([
    ['What is X?', 'what is x'],
    ['what   is x', 'what is x'],
    ['ｗｈａｔ ｉｓ Ｘ？', 'what is x'],
    ['  What\tis\nX ?! ', 'what is x'],
    ['What\u200B is X?', 'what is x'],
    ['什么是 GroupGate？', '什么是groupgate'],
    ['你好，世界！', '你好世界'],
    ['「报销」流程是什么。', '报销流程是什么'],
    ['a,b', 'a b'],
    // Changed deliberately (was 'version 3 14'): a decimal point is part of the number, "3.14" ≠ "3 14" ≠ "314".
    ['version 3.14', 'version 3.14'],
    ['What is C#?', 'what is c#'],
    ['What is .NET?', 'what is .net'],
    ['Is pi 3.14.', 'is pi 3.14'],
    ['What’s 50%?', "what's 50%"],
    ['wait...what', 'wait what'],
    ['- item', 'item'],
    ['1,000 or a,b', '1,000 or a b'],
    ['Ｃ＃ 是什么？', 'c#是什么'],
    ['What is X\u{E0041}\u{E0042}\u{E007F}?', 'what is x'],
  ])('%j → %j', (input, expected) => {
    expect(normaliseQuestion(input)).toBe(expected);
  });
});

/**
 * The pairs that must share an FAQ entry (the same question written differently) and those that must not (a symbol
 * that carries meaning). A pair in the second table sharing a key would serve one question's answer to the other.
 */
const MUST_COLLIDE: readonly (readonly [string, string, string])[] = [
  ['case', 'What is X?', 'what is x?'],
  ['upper case', 'WHAT IS GROUPGATE', 'what is groupgate'],
  ['full-width letters and ？', 'ｗｈａｔ ｉｓ Ｘ？', 'What is X?'],
  ['full-width ＃', 'What is Ｃ＃?', 'What is C#?'],
  ['full-width ￥', 'Is it ￥100?', 'Is it ¥100?'],
  ['spacing', 'what   is\tx', 'what is x'],
  ['leading and trailing space', '  what is x  ', 'what is x'],
  ['trailing ?', 'What is X?', 'What is X'],
  ['trailing ？', '年假政策是什么？', '年假政策是什么'],
  ['trailing ?! and space', 'What is X ?!', 'What is X'],
  ['trailing full stop', 'Explain VPN setup.', 'Explain VPN setup'],
  ['trailing 。', '报销流程是什么。', '报销流程是什么'],
  ['CJK spacing', '你好 世界', '你好世界'],
  ['CJK spacing beside latin', '什么是 GroupGate？', '什么是GroupGate'],
  ['CJK quotes and comma', '「报销」流程，是什么', '报销流程是什么'],
  ['curly vs straight apostrophe', 'What’s X?', "What's X?"],
  ['zero-width space', 'What\u200B is X?', 'What is X?'],
  ['tag characters (ASCII smuggling)', 'What is X?\u{E0001}\u{E0069}\u{E0067}\u{E006E}', 'What is X?'],
  ['bidi override', 'What is \u202EX\u202C?', 'What is X?'],
  ['variation selector', 'What is X\uFE0F?', 'What is X?'],
  ['ellipsis between words', 'wait...what', 'wait what'],
  ['comma between words', 'a,b', 'a b'],
];

const MUST_NOT_COLLIDE: readonly (readonly [string, string, string])[] = [
  ['# (C#)', 'What is C# used for', 'What is C used for'],
  ['++ (C++)', 'What is C++ used for', 'What is C used for'],
  ['+ vs ++', 'C+', 'C++'],
  ['leading dot (.NET)', 'What is .NET?', 'What is NET?'],
  ['dot inside a word (node.js)', 'what is node.js', 'what is nodejs'],
  ['dot inside a word vs space', 'what is node.js', 'what is node js'],
  ['%', 'Is the discount 50%?', 'Is the discount 50?'],
  ['$', 'Is it $100?', 'Is it 100?'],
  ['¥ vs €', 'Is it ¥100?', 'Is it €100?'],
  ['decimal point', 'Is pi 3.14?', 'Is pi 314?'],
  ['decimal point vs space', 'Is pi 3.14?', 'Is pi 3 14?'],
  ['version dots', 'What changed in v1.2?', 'What changed in v12?'],
  ['hyphen inside a word', 'How do I send e-mail?', 'How do I send email?'],
  ['minus sign', 'What is -5 squared?', 'What is 5 squared?'],
  ['thousands separator', 'Is 1,000 enough?', 'Is 1000 enough?'],
  ['time colon', 'Meeting at 10:30?', 'Meeting at 1030?'],
  ['&', 'What does R&D do?', 'What does R D do?'],
  ['slash', 'Is it a/b?', 'Is it ab?'],
  ['underscore', 'What is snake_case?', 'What is snakecase?'],
  ['different word', 'What is X?', 'What is Y?'],
];

describe('FAQ cache key collisions', () => {
  it.each(MUST_COLLIDE)('share an entry: %s (%j, %j)', (_label, a, b) => {
    expect(normaliseQuestion(a)).toBe(normaliseQuestion(b));
    expect(key(a)).toBe(key(b));
  });

  it.each(MUST_NOT_COLLIDE)('keep apart: %s (%j, %j)', (_label, a, b) => {
    expect(normaliseQuestion(a)).not.toBe(normaliseQuestion(b));
    expect(key(a)).not.toBe(key(b));
  });
});

describe('answerCacheKey', () => {
  it('is a hex SHA-256', () => {
    expect(key('What is X?')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is equal for questions that differ only in case, width, spacing and punctuation', () => {
    const expected = key('What is X?');
    expect(key('what   is x')).toBe(expected);
    expect(key('ｗｈａｔ ｉｓ Ｘ？')).toBe(expected);
    expect(key('你好，世界！')).toBe(key('你好 世界'));
  });

  it('differs for a different question, model, prompt version or system prompt', () => {
    const baseline = key('What is X?');
    expect(key('What is Y?')).not.toBe(baseline);
    expect(key('What is X?', { modelId: 'llama-3-8b-int8' })).not.toBe(baseline);
    expect(key('What is X?', { promptVersion: 'p4' })).not.toBe(baseline);
    expect(key('What is X?', { systemPrompt: 'Answer in English.' })).not.toBe(baseline);
    expect(key('What is X?', { systemPrompt: 'Answer in English.' })).not.toBe(
      key('What is X?', { systemPrompt: 'Answer in Chinese.' }),
    );
    expect(key('What is X?', { systemPrompt: 'Same.' })).toBe(key('what is x', { systemPrompt: 'Same.' }));
  });

  it('differs for a different reply-token ceiling or temperature (both shape the answer)', () => {
    const baseline = key('What is X?');
    for (const maxTokens of [1, 2, 64, 511, 513]) {
      expect(key('What is X?', { maxTokens })).not.toBe(baseline);
    }
    expect(key('What is X?', { maxTokens: 1 })).not.toBe(key('What is X?', { maxTokens: 2 }));
    expect(key('What is X?', { temperature: 0 })).not.toBe(baseline);
    expect(key('What is X?', { maxTokens: 512, temperature: 0.3 })).toBe(baseline);
  });

  it('cannot be forged by shifting text between fields', () => {
    const rest = { maxTokens: 512, temperature: 0.3 };
    expect(answerCacheKey({ question: 'a', modelId: 'b c', promptVersion: 'd', ...rest })).not.toBe(
      answerCacheKey({ question: 'a b', modelId: 'c', promptVersion: 'd', ...rest }),
    );
  });
});

describe('isCacheable', () => {
  it('accepts plain context-free questions', () => {
    expect(isCacheable('公司的年假政策是什么？', { hasContext: false })).toBe(true);
    expect(isCacheable('How do I reset my VPN password?', { hasContext: false })).toBe(true);
  });

  it('refuses questions with context', () => {
    expect(isCacheable('公司的年假政策是什么？', { hasContext: true })).toBe(false);
  });

  it('refuses commands, including with a full-width slash or leading spaces', () => {
    for (const command of ['/reset', '  /help me', '／reset', '\u200B/reset', '\u{E0020}／cost']) {
      expect(isCacheable(command, { hasContext: false })).toBe(false);
    }
  });

  it('refuses questions containing PII', () => {
    expect(isCacheable('帮我查一下13812345678的话费', { hasContext: false })).toBe(false);
    expect(isCacheable('email zhang@example.com about it', { hasContext: false })).toBe(false);
  });

  it('refuses questions that are empty after normalisation', () => {
    for (const empty of ['', '   ', '？？？', '\u200B']) {
      expect(isCacheable(empty, { hasContext: false })).toBe(false);
    }
  });
});
