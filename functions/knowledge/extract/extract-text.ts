import { DocumentRejected } from './document-rejected';
import type { ExtractLimits } from './extract-limits';
import type { ExtractedDocument } from './extracted-document';
import { escapeLineStarts, firstH1, normalizeLineEnds } from './markdown-lines';

/** Above this share of control characters (other than \t \n \r \f), "text" is binary junk. */
const MAX_CONTROL_SHARE = 0.1;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this counts
const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000e-\u001f\u007f-\u009f]/g;

interface Encoding {
  readonly label: 'utf-8' | 'utf-16le' | 'utf-16be';
  readonly bomLength: number;
}

function encodingOf(bytes: Uint8Array): Encoding {
  const [b0, b1, b2] = bytes;
  if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) return { label: 'utf-8', bomLength: 3 };
  if (b0 === 0xff && b1 === 0xfe) return { label: 'utf-16le', bomLength: 2 };
  if (b0 === 0xfe && b1 === 0xff) return { label: 'utf-16be', bomLength: 2 };
  return { label: 'utf-8', bomLength: 0 };
}

/**
 * The bytes as text: UTF-8 (a BOM stripped), or UTF-16 LE/BE when a BOM says so. Anything else is 'not_text':
 * bytes that do not decode (a legacy encoding such as GBK), NUL bytes, or more than 10 % control characters.
 */
export function decodeText(key: string, bytes: Uint8Array): string {
  const encoding = encodingOf(bytes);
  let text: string;
  try {
    text = new TextDecoder(encoding.label, { fatal: true, ignoreBOM: true }).decode(bytes.subarray(encoding.bomLength));
  } catch (error) {
    const hint =
      encoding.label === 'utf-8'
        ? 'not valid UTF-8 (a legacy encoding such as GBK, Big5, Shift_JIS or Windows-1252?); save it as UTF-8'
        : `not valid ${encoding.label.toUpperCase()} despite its byte order mark`;
    throw new DocumentRejected('not_text', key, `${key}: ${hint}`, { cause: error });
  }
  if (text.includes('\u0000')) {
    throw new DocumentRejected('not_text', key, `${key}: contains NUL characters: binary data, not text`);
  }
  const controls = text.match(CONTROL_CHARS)?.length ?? 0;
  if (text.length > 0 && controls / text.length > MAX_CONTROL_SHARE) {
    const percent = Math.round((100 * controls) / text.length);
    throw new DocumentRejected(
      'not_text',
      key,
      `${key}: ${percent} % of its characters are control characters, more than the limit of ${100 * MAX_CONTROL_SHARE} %: binary data, not text`,
    );
  }
  return text;
}

/** A Markdown or plain-text object as Markdown (see ExtractedDocument.markdown). */
export function extractTextDocument(
  key: string,
  bytes: Uint8Array,
  format: 'markdown' | 'text',
  limits: ExtractLimits,
): ExtractedDocument {
  const text = normalizeLineEnds(decodeText(key, bytes));
  if (text.length > limits.maxTextChars) {
    throw new DocumentRejected(
      'too_large',
      key,
      `${key}: ${text.length} characters of text, more than the limit of ${limits.maxTextChars}`,
    );
  }
  if (text.trim() === '') throw new DocumentRejected('empty', key, `${key}: no text (empty or only whitespace)`);
  if (format === 'text') return { format, markdown: escapeLineStarts(text) };
  const title = firstH1(text);
  return { format, markdown: text, ...(title === undefined ? {} : { title }) };
}
