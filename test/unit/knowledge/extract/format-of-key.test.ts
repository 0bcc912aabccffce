import { formatOfKey } from '#knowledge/extract/extract-document';
import { thrownRejection } from './rejection';

describe('formatOfKey', () => {
  it.each([
    ['guide.md', 'markdown'],
    ['docs/Guide.MARKDOWN', 'markdown'],
    ['notes.txt', 'text'],
    ['a/b/notes.Text', 'text'],
    ['report.PDF', 'pdf'],
    ['kb/2024/handbook.v2.docx', 'docx'],
  ])('reads %s as %s', (key, format) => {
    expect(formatOfKey(key)).toBe(format);
  });

  it.each([
    ['legacy.doc', '.doc'],
    ['sheet.xlsx', '.xlsx'],
    ['setup.exe', '.exe'],
    ['report.pdf.zip', '.zip'],
  ])('rejects %s as unsupported_type, naming %s and the supported types', (key, extension) => {
    const rejection = thrownRejection(() => formatOfKey(key));
    expect(rejection.code).toBe('unsupported_type');
    expect(rejection.key).toBe(key);
    expect(rejection.message).toContain(extension);
    expect(rejection.message).toContain('.md .markdown .txt .text .pdf .docx');
  });

  it.each(['README', 'docs.md/README', '.md', 'kb/'])('rejects %s: no file extension', (key) => {
    const rejection = thrownRejection(() => formatOfKey(key));
    expect(rejection.code).toBe('unsupported_type');
    expect(rejection.message).toContain('no file extension');
  });

  it('does not take inherited object properties for extensions', () => {
    expect(thrownRejection(() => formatOfKey('x.constructor')).code).toBe('unsupported_type');
    expect(thrownRejection(() => formatOfKey('x.__proto__')).code).toBe('unsupported_type');
  });
});
