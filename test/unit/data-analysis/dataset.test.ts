import { DataAnalysisError, type DataAnalysisErrorCode } from '#data-analysis/data-analysis-error';
import { checkCsv, formatBytes, isDatasetName } from '#data-analysis/dataset';

function codeOf(bytes: Uint8Array, maxBytes = 1024): DataAnalysisErrorCode | undefined {
  try {
    checkCsv(bytes, maxBytes);
    return undefined;
  } catch (error) {
    if (error instanceof DataAnalysisError) return error.code;
    throw error;
  }
}

describe('checkCsv', () => {
  it('passes UTF-8 CSV through, Chinese text included', () => {
    const bytes = Buffer.from('region,units\n华东,3\n');
    expect(Buffer.from(checkCsv(bytes, 1024)).toString('utf8')).toBe('region,units\n华东,3\n');
  });

  it('drops a UTF-8 byte-order mark', () => {
    expect(Buffer.from(checkCsv(Buffer.from('\uFEFFa,b\n1,2\n'), 1024)).toString('utf8')).toBe('a,b\n1,2\n');
  });

  it('accepts a file of exactly the limit and refuses one byte more', () => {
    expect(codeOf(Buffer.from('a\n1\n'), 4)).toBeUndefined();
    expect(codeOf(Buffer.from('a\n12\n'), 4)).toBe('too_large');
  });

  it.each<[string, Uint8Array, DataAnalysisErrorCode]>([
    ['UTF-16', Buffer.from('a,b\n', 'utf16le'), 'not_text'],
    ['a NUL byte in text', Buffer.from('a,b\n1,\u00002\n'), 'not_text'],
    ['a truncated UTF-8 sequence', Uint8Array.of(0x61, 0x0a, 0xe5, 0x8d), 'not_text'],
    ['gzip', Uint8Array.of(0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03), 'not_text'],
    ['an empty file', new Uint8Array(0), 'empty'],
    ['a BOM alone', Uint8Array.of(0xef, 0xbb, 0xbf), 'empty'],
    ['a blank first line', Buffer.from('   \r\na,b\n'), 'empty'],
  ])('refuses %s', (_, bytes, code) => {
    expect(codeOf(bytes)).toBe(code);
  });

  it('names both sizes when a file is too large', () => {
    expect(() => checkCsv(new Uint8Array(3 * 1024 * 1024), 2 * 1024 * 1024)).toThrow(
      'The dataset file is 3 MiB, over the limit of 2 MiB.',
    );
  });
});

describe('dataset names', () => {
  it.each(['sales', 'sales_2024', 'a', `a${'b'.repeat(62)}`])('accepts %p', (name) => {
    expect(isDatasetName(name)).toBe(true);
  });

  it.each([
    '',
    'Sales',
    '2024_sales',
    'sales-2024',
    'sales 2024',
    'sales;drop',
    '"sales"',
    `a${'b'.repeat(63)}`,
    '销售',
  ])('refuses %p', (name) => {
    expect(isDatasetName(name)).toBe(false);
  });
});

describe('formatBytes', () => {
  it.each<[number, string]>([
    [812, '812 bytes'],
    [1024, '1 KiB'],
    [3482, '3.4 KiB'],
    [50 * 1024 * 1024, '50 MiB'],
    [3 * 1024 ** 3, '3 GiB'],
  ])('%p is %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
