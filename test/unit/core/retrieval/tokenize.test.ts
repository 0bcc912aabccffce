import { tokenize } from '#core/retrieval/tokenize';

/** Search terms of mixed Chinese/English text: what documents and queries are matched on. */

describe('tokenize: Chinese, Japanese, Korean', () => {
  it('splits mixed Chinese/English: English words, CJK runs as overlapping bigrams', () => {
    expect(tokenize('FAQ cache是什么')).toEqual(['faq', 'cache', '是什', '什么']);
    expect(tokenize('如何配置飞书机器人 Feishu bot')).toEqual([
      '如何',
      '何配',
      '配置',
      '置飞',
      '飞书',
      '书机',
      '机器',
      '器人',
      'feishu',
      'bot',
    ]);
  });

  it('keeps a one-character run as that character, and never drops CJK as a stop word', () => {
    expect(tokenize('是 的 了，群')).toEqual(['是', '的', '了', '群']);
  });

  it('breaks CJK runs at punctuation, Latin letters and digits', () => {
    expect(tokenize('权限管理（飞书）3秒内')).toEqual(['权限', '限管', '管理', '飞书', '3', '秒内']);
  });

  it('treats kana and Hangul as CJK, and a character outside the BMP as one character', () => {
    expect(tokenize('カタカナ 한국어 𠮷野家')).toEqual(['カタ', 'タカ', 'カナ', '한국', '국어', '𠮷野', '野家']);
  });
});

describe('tokenize: English words and identifiers', () => {
  it('folds full-width forms (NFKC) and lower-cases', () => {
    expect(tokenize('ＦＡＱ　Ｃａｃｈｅ，１２３')).toEqual(['faq', 'cache', '123']);
  });

  it('splits identifiers into words and keeps their camelCase parts', () => {
    expect(tokenize('`groupgate:answerCacheTtlMinutes`')).toEqual([
      'groupgate',
      'answercachettlminute',
      'answer',
      'cache',
      'ttl',
      'minute',
    ]);
    expect(tokenize('im.message.receive_v1')).toEqual(['im', 'message', 'receive', 'v1']);
    expect(tokenize('XMLHttpRequest')).toEqual(['xmlhttprequest', 'xml', 'http', 'request']);
  });

  it('reads an upper-case run followed by s as a plural, not camelCase', () => {
    expect(tokenize('FAQs APIs')).toEqual(['faq', 'api']);
  });

  it('drops English stop words and single letters', () => {
    expect(tokenize('How do I set up the Feishu bot?')).toEqual(['set', 'up', 'feishu', 'bot']);
    expect(tokenize('What is this, and can it be on or in a group with my app')).toEqual(['group', 'app']);
    expect(tokenize("the bot's reply, e.g. x")).toEqual(['bot', 'reply']);
  });

  it('folds plurals so singular and plural meet', () => {
    expect(tokenize('caches queues policies APIs')).toEqual(tokenize('cache queue policy API'));
    expect(tokenize('caches queues policies')).toEqual(['cache', 'queue', 'policy']);
  });

  it('leaves short words and -ss / -us endings alone', () => {
    expect(tokenize('aws gas yes class status')).toEqual(['aws', 'gas', 'yes', 'class', 'status']);
  });

  it('keeps digits as words', () => {
    expect(tokenize('30,000 bytes in 5 minutes; HTTP 429')).toEqual([
      '30',
      '000',
      'byte',
      '5',
      'minute',
      'http',
      '429',
    ]);
  });

  it('ignores markdown punctuation', () => {
    expect(tokenize('## `npx cdk deploy` **now** [docs](../OPERATIONS.md#2-deploy) | x |')).toEqual([
      'npx',
      'cdk',
      'deploy',
      'now',
      'doc',
      'operation',
      'md',
      '2',
      'deploy',
    ]);
  });
});

describe('tokenize: edge cases', () => {
  it('finds no terms in empty, blank or punctuation-only text', () => {
    expect(tokenize('')).toEqual([]);
    expect(tokenize(' \n\t ')).toEqual([]);
    expect(tokenize('## --- ``` | :: ，。！')).toEqual([]);
    expect(tokenize('the a an')).toEqual([]);
  });

  it('keeps repeated terms (the index counts them) and is deterministic', () => {
    const text = 'cache Cache CACHE 缓存缓存';
    expect(tokenize(text)).toEqual(['cache', 'cache', 'cache', '缓存', '存缓', '缓存']);
    expect(tokenize(text)).toEqual(tokenize(text));
  });
});
