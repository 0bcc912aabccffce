import { answerCacheKey, isCacheable, normaliseQuestion } from '../../../functions/core/answer-cache-key';

const key = (question: string, overrides: { modelId?: string; promptVersion?: string; systemPrompt?: string } = {}) =>
  answerCacheKey({ question, modelId: 'qwen2.5-7b-int8', promptVersion: 'p3', ...overrides });

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
    ['version 3.14', 'version 3 14'],
  ])('%j → %j', (input, expected) => {
    expect(normaliseQuestion(input)).toBe(expected);
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

  it('cannot be forged by shifting text between fields', () => {
    expect(answerCacheKey({ question: 'a', modelId: 'b c', promptVersion: 'd' })).not.toBe(
      answerCacheKey({ question: 'a b', modelId: 'c', promptVersion: 'd' }),
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
    for (const command of ['/reset', '  /help me', '／reset']) {
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
