import { batchesBySize } from '#knowledge/store/batches';
import { KnowledgeStoreError } from '#knowledge/store/knowledge-store-error';
import { checkedCount, checkedId, checkedOptionalText, checkedText, stripNul } from '#knowledge/store/store-input';

function failure(run: () => unknown): KnowledgeStoreError {
  try {
    run();
  } catch (error) {
    if (error instanceof KnowledgeStoreError) return error;
    throw error;
  }
  throw new Error('expected a KnowledgeStoreError');
}

describe('store input', () => {
  it('removes NULs from free text and refuses them in ids', () => {
    expect(stripNul('a\u0000b\u0000')).toBe('ab');
    expect(checkedText('ti\u0000tle', 'title', 100)).toBe('title');
    expect(failure(() => checkedId('kb\u0000a', 'kbId', 100)).message).toBe('kbId contains a NUL character.');
  });

  it('refuses empty ids and counts sizes in UTF-8 bytes', () => {
    expect(failure(() => checkedId('', 'document key', 10)).message).toBe('document key is empty.');
    expect(checkedId('配置', 'kbId', 6)).toBe('配置');
    expect(failure(() => checkedId('配置a', 'kbId', 6)).message).toBe('kbId is 7 bytes; at most 6 are allowed.');
    expect(failure(() => checkedText('x'.repeat(11), 'text', 10)).code).toBe('invalid_input');
  });

  it('treats an optional text that is empty once cleaned as absent', () => {
    expect(checkedOptionalText(undefined, 'section', 10)).toBeUndefined();
    expect(checkedOptionalText('\u0000', 'section', 10)).toBeUndefined();
    expect(checkedOptionalText('Install', 'section', 10)).toBe('Install');
  });

  it('accepts integers in range only', () => {
    expect(checkedCount(5, 'k', 1, 50)).toBe(5);
    for (const bad of [0, 51, 2.5, Number.NaN])
      expect(failure(() => checkedCount(bad, 'k', 1, 50)).code).toBe('invalid_input');
  });
});

describe('batchesBySize', () => {
  it('cuts at the item or byte limit, keeping order', () => {
    const sizes = [3, 3, 3, 9, 1, 1, 1, 1];
    expect(batchesBySize(sizes, (s) => s, { maxItems: 3, maxBytes: 7 })).toEqual([[3, 3], [3], [9], [1, 1, 1], [1]]);
  });

  it('returns no batches for no items', () => {
    expect(batchesBySize([], () => 1, { maxItems: 2, maxBytes: 2 })).toEqual([]);
  });
});
