import { chunkMarkdown } from '#core/retrieval/chunk-markdown';
import { DocumentRejected, extractDocument } from '#knowledge/extract/extract-document';
import { rejectionOfPdfError } from '#knowledge/extract/extract-pdf';
import { buildPdf } from './build-pdf';
import { rejectionOf } from './rejection';
import { useNativePdfjs } from './use-native-pdfjs';

beforeAll(useNativePdfjs);

const handbook = buildPdf({
  title: 'Employee Handbook',
  pages: [
    ['Welcome to the company.', 'Read this first.'],
    ['Holidays: 25 days a year.', '# Not a heading', '~~~'],
    [], // a page with no text layer
    ['Expenses: keep receipts.'],
  ],
});

describe('extractDocument: PDF', () => {
  it('writes each page with text as a "## Page N" section under the Info title', async () => {
    const doc = await extractDocument('hr/handbook.pdf', handbook);
    expect(doc.format).toBe('pdf');
    expect(doc.pages).toBe(4);
    expect(doc.title).toBe('Employee Handbook');
    expect(doc.markdown).toBe(
      [
        '# Employee Handbook',
        '## Page 1\n\nWelcome to the company.\nRead this first.',
        '## Page 2\n\nHolidays: 25 days a year.\n\\# Not a heading\n\\~~~',
        '## Page 4\n\nExpenses: keep receipts.',
      ].join('\n\n'),
    );
  });

  it('yields one chunk per page, titled by the document', async () => {
    const doc = await extractDocument('hr/handbook.pdf', handbook);
    const chunks = chunkMarkdown({ path: 'hr/handbook.pdf', text: doc.markdown });
    expect(chunks.map((c) => [c.title, c.section, c.anchor])).toEqual([
      ['Employee Handbook', 'Page 1', 'page-1'],
      ['Employee Handbook', 'Page 2', 'page-2'],
      ['Employee Handbook', 'Page 4', 'page-4'],
    ]);
    expect(chunks[1]?.text).toContain('Holidays: 25 days a year.');
  });

  it('has no title (and no H1) without an Info title', async () => {
    const doc = await extractDocument('memo.pdf', buildPdf({ pages: [['One page (with parentheses).']] }));
    expect(doc.title).toBeUndefined();
    expect(doc.markdown).toBe('## Page 1\n\nOne page (with parentheses).');
    expect(chunkMarkdown({ path: 'memo.pdf', text: doc.markdown })[0]?.title).toBe('memo.pdf');
  });

  it('rejects a PDF with no text on any page as empty: no OCR', async () => {
    const error = await rejectionOf(extractDocument('scan.pdf', buildPdf({ pages: [[], []] })));
    expect(error.code).toBe('empty');
    expect(error.message).toBe('scan.pdf: none of its 2 pages has text (a scan?): no text layer; OCR is not supported');
  });

  it('rejects a password-protected PDF as encrypted', async () => {
    const locked = buildPdf({ pages: [['secret']], encryptedWithPassword: true });
    const error = await rejectionOf(extractDocument('locked.pdf', locked));
    expect(error.code).toBe('encrypted');
    expect(error.message).toContain('password');
  });

  it('rejects more pages than maxPdfPages before extracting text', async () => {
    const pages = Array.from({ length: 4 }, (_, i) => [`page ${i + 1}`]);
    const error = await rejectionOf(extractDocument('long.pdf', buildPdf({ pages }), { maxPdfPages: 3 }));
    expect(error.code).toBe('too_many_pages');
    expect(error.message).toBe('long.pdf: 4 pages, more than the limit of 3');
  });

  it('rejects 501 pages under the default limits', async () => {
    const pages = Array.from({ length: 501 }, () => ['x']);
    const error = await rejectionOf(extractDocument('report.pdf', buildPdf({ pages })));
    expect(error.message).toBe('report.pdf: 501 pages, more than the limit of 500');
  });

  it('rejects more text than maxTextChars', async () => {
    const error = await rejectionOf(extractDocument('hr/handbook.pdf', handbook, { maxTextChars: 20 }));
    expect(error.code).toBe('too_large');
    expect(error.message).toMatch(/characters of text, more than the limit of 20$/);
  });

  it('rejects bytes without a %PDF- header as corrupt', async () => {
    const error = await rejectionOf(extractDocument('fake.pdf', new TextEncoder().encode('<html>not a pdf</html>')));
    expect(error.code).toBe('corrupt');
    expect(error.message).toBe('fake.pdf: not a PDF (no %PDF- header)');
  });

  it('rejects a header followed by junk as corrupt, with pdf.js reason', async () => {
    const junk = new TextEncoder().encode(`%PDF-1.7\n${'garbage '.repeat(50)}`);
    const error = await rejectionOf(extractDocument('junk.pdf', junk));
    expect(error.code).toBe('corrupt');
    expect(error.message).toMatch(/^junk\.pdf: not a readable PDF: ./);
  });

  it('rejects a truncated PDF (no cross-reference table, no trailer) as corrupt', async () => {
    const truncated = handbook.subarray(0, Math.floor(handbook.length / 2));
    const error = await rejectionOf(extractDocument('cut.pdf', truncated));
    expect(error.code).toBe('corrupt');
    expect(error.message).toBe('cut.pdf: not a readable PDF: Invalid PDF structure.');
  });

  it('does not detach or change the caller bytes', async () => {
    const bytes = buildPdf({ pages: [['kept']] });
    const before = bytes.slice();
    await extractDocument('a.pdf', bytes);
    expect(bytes).toEqual(before);
  });

  it('rejects with timeout when extraction takes longer than timeoutMs', async () => {
    const pages = Array.from({ length: 300 }, (_, i) => [`page ${i + 1} `.repeat(20)]);
    const error = await rejectionOf(extractDocument('slow.pdf', buildPdf({ pages }), { timeoutMs: 1 }));
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('slow.pdf: extraction took longer than the limit of 1 ms');
  });
});

describe('rejectionOfPdfError', () => {
  it('maps pdf.js errors by name', () => {
    const password = Object.assign(new Error('No password given'), { name: 'PasswordException' });
    expect(rejectionOfPdfError('a.pdf', password).code).toBe('encrypted');
    const invalid = Object.assign(new Error('Invalid PDF structure.'), { name: 'InvalidPDFException' });
    const corrupt = rejectionOfPdfError('a.pdf', invalid);
    expect([corrupt.code, corrupt.message, corrupt.cause]).toEqual([
      'corrupt',
      'a.pdf: not a readable PDF: Invalid PDF structure.',
      invalid,
    ]);
    expect(rejectionOfPdfError('a.pdf', 'a string').message).toBe('a.pdf: not a readable PDF: a string');
  });

  it('passes a DocumentRejected through', () => {
    const rejected = new DocumentRejected('too_many_pages', 'a.pdf', 'a.pdf: 9 pages');
    expect(rejectionOfPdfError('a.pdf', rejected)).toBe(rejected);
  });
});
