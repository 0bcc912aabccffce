import { splitReply } from '#platforms/shared/split-reply';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Whether every fence opened in the part is closed in it. */
function fencesBalanced(part: string): boolean {
  let open = false;
  for (const line of part.split('\n')) {
    if (/^ {0,3}```/.test(line)) open = open ? line.trim() !== '```' : true;
  }
  return !open;
}

describe('splitReply', () => {
  it('returns fitting text as one part', () => {
    expect(splitReply('hello', { limit: 16, unit: 'bytes' })).toEqual(['hello']);
    expect(splitReply('', { limit: 16, unit: 'bytes' })).toEqual(['']);
  });

  it('never cuts inside a UTF-8 sequence when measuring bytes', () => {
    const text = '飞书机器人回答问题😀'.repeat(30);
    for (const limit of [16, 20, 31, 64, 100]) {
      const parts = splitReply(text, { limit, unit: 'bytes' });
      for (const part of parts) {
        expect(bytes(part)).toBeLessThanOrEqual(limit);
        expect(Buffer.from(part, 'utf8').toString('utf8')).toBe(part);
        expect(part).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
      }
      expect(parts.join('')).toBe(text);
    }
  });

  it('counts code points, not UTF-16 units, in chars mode and keeps surrogate pairs whole', () => {
    const text = '😀'.repeat(40);
    const parts = splitReply(text, { limit: 16, unit: 'chars' });
    expect(parts).toEqual(['😀'.repeat(16), '😀'.repeat(16), '😀'.repeat(8)]);
  });

  it('prefers paragraph, then line, then sentence, then word boundaries', () => {
    expect(splitReply('aaaa aaaa aaaa\n\nbbbb\nbbbb bbbb', { limit: 22, unit: 'chars' })).toEqual([
      'aaaa aaaa aaaa',
      'bbbb\nbbbb bbbb',
    ]);
    expect(splitReply('aaaa aaaa aaaa\nbbbb bbbb bbbb', { limit: 20, unit: 'chars' })).toEqual([
      'aaaa aaaa aaaa',
      'bbbb bbbb bbbb',
    ]);
    expect(splitReply('One two three. Four five six seven', { limit: 20, unit: 'chars' })).toEqual([
      'One two three.',
      'Four five six seven',
    ]);
    expect(splitReply('alpha beta gamma delta epsilon', { limit: 18, unit: 'chars' })).toEqual([
      'alpha beta gamma',
      'delta epsilon',
    ]);
    expect(splitReply('第一句话说完了。第二句很长很长很长很长', { limit: 16, unit: 'chars' })).toEqual([
      '第一句话说完了。',
      '第二句很长很长很长很长',
    ]);
  });

  it('hard-cuts a run without any boundary', () => {
    expect(splitReply('x'.repeat(40), { limit: 16, unit: 'bytes' })).toEqual([
      'x'.repeat(16),
      'x'.repeat(16),
      'x'.repeat(8),
    ]);
  });

  it('closes a code fence at the end of a part and reopens it with the same language', () => {
    const code = Array.from({ length: 12 }, (_, i) => `const v${i} = ${i};`).join('\n');
    const text = `Intro line.\n\n\`\`\`ts\n${code}\n\`\`\`\n\nAfter the code.`;
    const parts = splitReply(text, { limit: 80, unit: 'bytes' });
    expect(parts.length).toBeGreaterThan(2);
    for (const part of parts) {
      expect(bytes(part)).toBeLessThanOrEqual(80);
      expect(fencesBalanced(part)).toBe(true);
    }
    const middle = parts.slice(1, -1);
    for (const part of middle) {
      expect(part.startsWith('```ts\n')).toBe(true);
      expect(part.endsWith('\n```')).toBe(true);
    }
    // Every code line survives exactly once.
    for (let i = 0; i < 12; i++) {
      expect(parts.join('\n').split(`const v${i} = ${i};`)).toHaveLength(2);
    }
    expect(parts.at(-1)).toContain('After the code.');
  });

  it('keeps a longer fence marker and ~~~ fences intact', () => {
    const text = `~~~~python\n${'print("长")\n'.repeat(10)}~~~~`;
    const parts = splitReply(text, { limit: 60, unit: 'bytes' });
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) {
      expect(bytes(part)).toBeLessThanOrEqual(60);
      expect(part.startsWith('~~~~python\n')).toBe(true);
      expect(part.endsWith('~~~~')).toBe(true);
    }
  });

  it('refuses a limit too small to make progress', () => {
    expect(() => splitReply('short', { limit: 15, unit: 'chars' })).toThrow(RangeError);
    const longFence = `\`\`\`${'x'.repeat(14)}\nabc\n\`\`\``;
    expect(() => splitReply(`${longFence}\n${longFence}`, { limit: 16, unit: 'chars' })).toThrow(RangeError);
  });
});
