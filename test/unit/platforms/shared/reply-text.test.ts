import {
  capReplyChars,
  DEFAULT_REPLY_LIMITS,
  prepareReplyParts,
  resolveReplyLimits,
  sanitizeReplyText,
  splitBoundedReply,
  TRUNCATION_NOTE,
} from '#platforms/shared/reply-text';

const codePoints = (s: string) => [...s].length;
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

describe('sanitizeReplyText', () => {
  it.each([
    ['NUL inside a word', 'ab\u0000cd', 'abcd'],
    ['bell and escape sequences', '\u0007警告\u001b[31m红\u001b[0m', '警告[31m红[0m'],
    ['vertical tab, form feed, backspace', 'a\u000bb\u000cc\u0008d', 'abcd'],
    ['DEL', 'x\u007fy', 'xy'],
    ['C1 controls (NEL, CSI)', 'x\u0085y\u009bz', 'xyz'],
    ['CRLF and lone CR become LF', 'one\r\ntwo\rthree', 'one\ntwo\nthree'],
    ['a control between < and a tag name', '<\u0000at user_id="all">', '<at user_id="all">'],
  ])('removes %s', (_, input, expected) => {
    expect(sanitizeReplyText(input)).toBe(expected);
  });

  it('keeps tab, newline, emoji with ZWJ, CJK and RTL text', () => {
    const text = '表格\t列\n👨‍👩‍👧 家庭\nمرحبا\n```ts\nconst a = 1;\n```';
    expect(sanitizeReplyText(text)).toBe(text);
  });

  it.each([
    ['a run of three', 'a\uFFFD\uFFFD\uFFFDb', 'a\uFFFDb'],
    ['a run of a thousand', `x${'\uFFFD'.repeat(1000)}y`, 'x\uFFFDy'],
    ['a single one (kept: it marks where something was lost)', 'a\uFFFDb', 'a\uFFFDb'],
    ['runs split by a control character', 'a\uFFFD\u0000\uFFFD\uFFFDb', 'a\uFFFDb'],
    ['separate runs', '\uFFFD\uFFFDa\uFFFD\uFFFD', '\uFFFDa\uFFFD'],
    ['lone surrogates next to a run', 'a\uD800\uFFFD\uDC00b', 'a\uFFFDb'],
  ])('collapses U+FFFD: %s', (_, input, expected) => {
    expect(sanitizeReplyText(input)).toBe(expected);
  });

  it('keeps valid surrogate pairs', () => {
    expect(sanitizeReplyText('😀𠀀')).toBe('😀𠀀');
  });
});

describe('capReplyChars', () => {
  it('returns text within the cap unchanged, even when code units exceed it', () => {
    expect(capReplyChars('short', 100)).toBe('short');
    const emoji = '😀'.repeat(100); // 200 code units, 100 code points
    expect(capReplyChars(emoji, 100)).toBe(emoji);
  });

  it.each([
    ['paragraphs', Array.from({ length: 50 }, (_, i) => `Paragraph ${i} ${'word '.repeat(20)}`).join('\n\n')],
    ['CJK sentences', '这是一个句子。'.repeat(500)],
    ['one long token', 'x'.repeat(5000)],
    ['emoji', '🎉'.repeat(3000)],
  ])('cuts %s to at most maxChars code points with the note at the end', (_, text) => {
    const capped = capReplyChars(text, 1000);
    expect(codePoints(capped)).toBeLessThanOrEqual(1000);
    expect(capped.endsWith(TRUNCATION_NOTE)).toBe(true);
    const kept = capped.slice(0, -TRUNCATION_NOTE.length);
    expect(text.startsWith(kept)).toBe(true);
    expect(codePoints(kept)).toBeGreaterThan(500);
  });

  it('prefers a paragraph boundary over a hard cut', () => {
    const text = `${'a'.repeat(600)}\n\n${'b'.repeat(600)}`;
    expect(capReplyChars(text, 1000)).toBe(`${'a'.repeat(600)}${TRUNCATION_NOTE}`);
  });

  it('closes a code fence left open by the cut', () => {
    const text = `intro\n\n\`\`\`python\n${'print(1)\n'.repeat(300)}\`\`\``;
    const capped = capReplyChars(text, 500);
    expect(capped.endsWith(`\n\`\`\`${TRUNCATION_NOTE}`)).toBe(true);
  });
});

describe('splitBoundedReply', () => {
  it.each([
    [1, 'chars' as const, 100],
    [2, 'chars' as const, 100],
    [4, 'bytes' as const, 300],
    [4, 'chars' as const, 3900],
  ])('keeps at most %d parts (%s, limit %d) and ends the last with the note within the limit', (max, unit, limit) => {
    const text = Array.from({ length: 200 }, (_, i) => `第${i}段 some words here.`)
      .join('\n\n')
      .repeat(20);
    const parts = splitBoundedReply(text, { limit, unit, maxMessages: max });
    expect(parts).toHaveLength(max);
    const size = unit === 'bytes' ? bytes : codePoints;
    for (const part of parts) expect(size(part)).toBeLessThanOrEqual(limit);
    expect(parts.at(-1)?.endsWith(TRUNCATION_NOTE)).toBe(true);
    expect(parts.slice(0, -1).some((p) => p.includes(TRUNCATION_NOTE))).toBe(false);
  });

  it('leaves a reply that fits in maxMessages alone', () => {
    expect(splitBoundedReply('a\n\nb', { limit: 16, unit: 'chars', maxMessages: 4 })).toEqual(['a\n\nb']);
  });
});

describe('prepareReplyParts', () => {
  const neutralise = (s: string) => s.replace(/@all/g, '＠all');

  it('turns a 5 MB answer into at most maxMessages parts, with the note, quickly', () => {
    const huge = `${'答案很长。'.repeat(200)}\n\n`.repeat(5 * 1024);
    expect(huge.length).toBeGreaterThan(5_000_000);
    const started = Date.now();
    const parts = prepareReplyParts(huge, { limits: DEFAULT_REPLY_LIMITS, limit: 3900, unit: 'chars', neutralise });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(parts.length).toBeLessThanOrEqual(4);
    expect(parts.reduce((n, p) => n + codePoints(p), 0)).toBeLessThanOrEqual(8000);
    expect(parts.at(-1)?.endsWith(TRUNCATION_NOTE)).toBe(true);
  });

  it('bounds the message count even when maxChars allows more than maxMessages parts', () => {
    const text = 'word '.repeat(40_000);
    const parts = prepareReplyParts(text, {
      limits: { maxChars: 100_000, maxMessages: 4 },
      limit: 3900,
      unit: 'chars',
      neutralise,
    });
    expect(parts).toHaveLength(4);
    expect(parts.filter((p) => p.includes(TRUNCATION_NOTE))).toHaveLength(1);
    expect(parts[3]?.endsWith(TRUNCATION_NOTE)).toBe(true);
  });

  it('sanitises before neutralising (a control character cannot hide a mention) and neutralises before cutting', () => {
    const parts = prepareReplyParts('@\u0000all 请看', {
      limits: DEFAULT_REPLY_LIMITS,
      limit: 100,
      unit: 'chars',
      neutralise,
    });
    expect(parts).toEqual(['＠all 请看']);
  });
});

describe('resolveReplyLimits', () => {
  it('fills defaults and rejects unusable values', () => {
    expect(resolveReplyLimits(undefined)).toEqual({ maxChars: 8000, maxMessages: 4 });
    expect(resolveReplyLimits({ maxChars: 500 })).toEqual({ maxChars: 500, maxMessages: 4 });
    expect(resolveReplyLimits({ maxChars: Number.NaN, maxMessages: 0 })).toEqual({ maxChars: 8000, maxMessages: 4 });
    expect(resolveReplyLimits({ maxChars: 5, maxMessages: 2.7 })).toEqual({ maxChars: 100, maxMessages: 2 });
  });
});
