import { extractText, getDocumentProxy } from 'unpdf';
import type { Deadline } from './deadline';
import { DocumentRejected, messageOf, nameOf } from './document-rejected';
import type { ExtractLimits } from './extract-limits';
import type { ExtractedDocument } from './extracted-document';
import { cleanTitle, escapeLineStarts, normalizeLineEnds } from './markdown-lines';

type PdfDocument = Awaited<ReturnType<typeof getDocumentProxy>>;

const PDF_MAGIC = '%PDF-';
/** Readers accept the header anywhere in the first KiB (junk before it is common); so does this check. */
const MAGIC_WINDOW = 1024;
/** pdf.js's VerbosityLevel.ERRORS: no warnings about recoverable damage in the logs. */
const PDFJS_ERRORS_ONLY = 0;

function hasPdfMagic(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, MAGIC_WINDOW)).includes(PDF_MAGIC);
}

/**
 * A pdf.js failure as a rejection: PasswordException → 'encrypted', anything else → 'corrupt' with pdf.js's message.
 * Matched by name, not class: pdf.js's classes come from its own module instance (and realm, under jest).
 */
export function rejectionOfPdfError(key: string, error: unknown): DocumentRejected {
  if (error instanceof DocumentRejected) return error;
  if (nameOf(error) === 'PasswordException') {
    return new DocumentRejected(
      'encrypted',
      key,
      `${key}: the PDF is encrypted with a password; upload a copy without one`,
      { cause: error },
    );
  }
  return new DocumentRejected('corrupt', key, `${key}: not a readable PDF: ${messageOf(error)}`, { cause: error });
}

/** One page's text as Markdown: LF lines without trailing blanks or control characters, at most one blank line. */
function pageMarkdown(text: string): string {
  const lines = normalizeLineEnds(text)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stray control characters from broken fonts are dropped
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '')
    .split('\n')
    .map((line) => line.trimEnd());
  return escapeLineStarts(lines.join('\n'))
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

async function titleOf(pdf: PdfDocument): Promise<string | undefined> {
  const { info } = await pdf.getMetadata();
  const title: unknown = Object.entries(info).find(([name]) => name === 'Title')?.[1];
  return cleanTitle(typeof title === 'string' ? title : undefined);
}

/**
 * A PDF as Markdown: '## Page N' per page with text (see ExtractedDocument). The page count is checked before any
 * text is extracted; the text limit once it is (the page limit bounds that work).
 */
export async function extractPdf(
  key: string,
  bytes: Uint8Array,
  limits: ExtractLimits,
  deadline: Deadline,
): Promise<ExtractedDocument> {
  if (!hasPdfMagic(bytes)) throw new DocumentRejected('corrupt', key, `${key}: not a PDF (no ${PDF_MAGIC} header)`);
  // pdf.js takes ownership of the buffer it is given: hand it a copy, never the caller's bytes.
  const loading = getDocumentProxy(bytes.slice(), { verbosity: PDFJS_ERRORS_ONLY, stopAtErrors: false });
  loading.catch(() => undefined); // its failure is handled below, or ignored after a timeout
  const release = () => {
    loading.then((pdf) => pdf.loadingTask.destroy()).catch(() => undefined);
  };
  deadline.signal.addEventListener('abort', release, { once: true });
  try {
    const pdf = await loading;
    deadline.check();
    if (pdf.numPages > limits.maxPdfPages) {
      throw new DocumentRejected(
        'too_many_pages',
        key,
        `${key}: ${pdf.numPages} pages, more than the limit of ${limits.maxPdfPages}`,
      );
    }
    const { text: pageTexts } = await extractText(pdf, { mergePages: false });
    deadline.check();
    const chars = pageTexts.reduce((sum, text) => sum + text.length, 0);
    if (chars > limits.maxTextChars) {
      throw new DocumentRejected(
        'too_large',
        key,
        `${key}: ${chars} characters of text, more than the limit of ${limits.maxTextChars}`,
      );
    }
    const sections = pageTexts.flatMap((text, i) => {
      const body = pageMarkdown(text);
      return body === '' ? [] : [`## Page ${i + 1}\n\n${body}`];
    });
    if (sections.length === 0) {
      throw new DocumentRejected(
        'empty',
        key,
        `${key}: none of its ${pdf.numPages} pages has text (a scan?): no text layer; OCR is not supported`,
      );
    }
    const title = await titleOf(pdf);
    deadline.check();
    const markdown = [...(title === undefined ? [] : [`# ${title}`]), ...sections].join('\n\n');
    return { format: 'pdf', markdown, pages: pdf.numPages, ...(title === undefined ? {} : { title }) };
  } catch (error) {
    throw rejectionOfPdfError(key, error);
  } finally {
    deadline.signal.removeEventListener('abort', release);
    release();
  }
}
