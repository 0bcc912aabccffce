import { withDeadline } from './deadline';
import { DocumentRejected, messageOf } from './document-rejected';
import { extractDocx } from './extract-docx';
import { describeBytes, type ExtractLimits, resolveExtractLimits } from './extract-limits';
import { extractPdf } from './extract-pdf';
import { extractTextDocument } from './extract-text';
import type { DocumentFormat, ExtractedDocument } from './extracted-document';

export { DocumentRejected, type DocumentRejectionCode } from './document-rejected';
export { DEFAULT_EXTRACT_LIMITS, type ExtractLimits } from './extract-limits';
export type { DocumentFormat, ExtractedDocument } from './extracted-document';

/**
 * Turns a knowledge-base object (Markdown, plain text, PDF, DOCX) into Markdown that chunkMarkdown cuts into sections.
 * Input is hostile: every bad document (too big, junk, bomb, corrupt, encrypted, empty, slow) rejects with a
 * DocumentRejected naming the object key, what was wrong and the limit; nothing else is thrown for bad input.
 * Content is never interpreted (prompt-injection text is just text).
 */

const FORMAT_BY_EXTENSION: Readonly<Record<string, DocumentFormat>> = {
  md: 'markdown',
  markdown: 'markdown',
  txt: 'text',
  text: 'text',
  pdf: 'pdf',
  docx: 'docx',
};
const SUPPORTED = Object.keys(FORMAT_BY_EXTENSION)
  .map((extension) => `.${extension}`)
  .join(' ');

/** The format from the object key's extension (case-insensitive), else rejects 'unsupported_type'. */
export function formatOfKey(key: string): DocumentFormat {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
  const format = Object.hasOwn(FORMAT_BY_EXTENSION, extension) ? FORMAT_BY_EXTENSION[extension] : undefined;
  if (format !== undefined) return format;
  const found = extension === '' ? 'has no file extension' : `has the unsupported type .${extension}`;
  throw new DocumentRejected('unsupported_type', key, `${key}: ${found}; supported: ${SUPPORTED}`);
}

/**
 * The object's text as Markdown (see ExtractedDocument). Limits (defaults in DEFAULT_EXTRACT_LIMITS) are checked as
 * early as possible: the byte size before any parsing; PDF and DOCX run within timeoutMs. A limit that is not a
 * positive number throws a RangeError (a caller's bug, not bad input).
 */
export async function extractDocument(
  key: string,
  bytes: Uint8Array,
  limits?: Partial<ExtractLimits>,
): Promise<ExtractedDocument> {
  const resolved = resolveExtractLimits(limits);
  const format = formatOfKey(key);
  if (bytes.byteLength > resolved.maxBytes) {
    throw new DocumentRejected(
      'too_large',
      key,
      `${key}: ${describeBytes(bytes.byteLength)}, more than the limit of ${describeBytes(resolved.maxBytes)}`,
    );
  }
  if (bytes.byteLength === 0) throw new DocumentRejected('empty', key, `${key}: the object is empty (0 bytes)`);
  if (format === 'markdown' || format === 'text') return extractTextDocument(key, bytes, format, resolved);
  try {
    return await withDeadline(key, resolved.timeoutMs, (deadline) =>
      format === 'pdf' ? extractPdf(key, bytes, resolved, deadline) : extractDocx(key, bytes, resolved, deadline),
    );
  } catch (error) {
    if (error instanceof DocumentRejected) throw error;
    // A parser failing in a way the format modules did not foresee is still the document's fault.
    throw new DocumentRejected('corrupt', key, `${key}: unreadable ${format}: ${messageOf(error)}`, { cause: error });
  }
}
