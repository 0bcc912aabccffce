import { zipSync } from 'fflate';
import mammoth from 'mammoth';
import type { Deadline } from './deadline';
import { DocumentRejected, messageOf } from './document-rejected';
import type { ExtractLimits } from './extract-limits';
import type { ExtractedDocument } from './extracted-document';
import { htmlToMarkdown } from './html-to-markdown';
import { cleanTitle, firstH1 } from './markdown-lines';
import { inflateZipEntry, readZipDirectory, ZIP_MAGIC } from './read-zip';
import { decodeEntities, hasDoctype } from './xml-entities';

const MAIN_DOCUMENT = 'word/document.xml';
const CORE_PROPERTIES = 'docProps/core.xml';
/** An OLE compound file: what Word writes for a password-protected DOCX (and for a legacy .doc). */
const OLE_MAGIC = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1] as const;
/** The stream holding the encrypted package in a password-protected DOCX, as its UTF-16LE directory name. */
const ENCRYPTED_PACKAGE = Buffer.from('EncryptedPackage', 'utf16le');
/** Mammoth's defaults map Heading 1..6; a Title paragraph is the document's title, so it is an H1 too. */
const STYLE_MAP = ["p[style-name='Title'] => h1:fresh", 'p.Title => h1:fresh'];

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((byte, i) => bytes[i] === byte);
}

/**
 * The parts text extraction needs: the package's and word/'s XML and relationships, and the core properties.
 * Media, embedded objects and anything else are never inflated.
 */
function isNeededPart(name: string): boolean {
  if (name === '[Content_Types].xml' || name === '_rels/.rels' || name === CORE_PROPERTIES) return true;
  return name.startsWith('word/') && /\.(xml|rels)$/i.test(name);
}

function coreTitle(coreXml: Uint8Array | undefined): string | undefined {
  if (coreXml === undefined) return undefined;
  const match = /<dc:title(?:\s[^>]*)?>([\s\S]*?)<\/dc:title>/.exec(new TextDecoder().decode(coreXml));
  return cleanTitle(match?.[1] === undefined ? undefined : decodeEntities(match[1]));
}

function rejectNonZip(key: string, bytes: Uint8Array): never {
  if (startsWith(bytes, OLE_MAGIC)) {
    if (Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(ENCRYPTED_PACKAGE)) {
      throw new DocumentRejected(
        'encrypted',
        key,
        `${key}: the DOCX is encrypted with a password; upload a copy without one`,
      );
    }
    throw new DocumentRejected(
      'corrupt',
      key,
      `${key}: an OLE compound file, not a DOCX (a legacy .doc renamed?); save it as .docx`,
    );
  }
  throw new DocumentRejected('corrupt', key, `${key}: not a DOCX (not a zip archive)`);
}

/**
 * A DOCX as Markdown (see ExtractedDocument). The zip is judged from its central directory before anything is
 * inflated (readZipDirectory), only the XML parts are inflated, capped (inflateZipEntry), and mammoth reads a new
 * stored-only zip of exactly those checked parts: it never opens the uploaded archive.
 *
 * Mammoth's HTML is turned into Markdown here (htmlToMarkdown) rather than by its deprecated convertToMarkdown,
 * which is untyped, writes no tables, and backslash-escapes punctuation all through the text that gets searched.
 */
export async function extractDocx(
  key: string,
  bytes: Uint8Array,
  limits: ExtractLimits,
  deadline: Deadline,
): Promise<ExtractedDocument> {
  if (!startsWith(bytes, ZIP_MAGIC)) rejectNonZip(key, bytes);
  const entries = readZipDirectory(key, bytes, limits);
  if (!entries.some((entry) => entry.name === MAIN_DOCUMENT)) {
    throw new DocumentRejected('corrupt', key, `${key}: not a Word document (no ${MAIN_DOCUMENT} in the archive)`);
  }
  const parts: Record<string, Uint8Array> = {};
  for (const entry of entries.filter((entry) => isNeededPart(entry.name))) {
    const xml = inflateZipEntry(key, bytes, entry, deadline);
    if (hasDoctype(xml)) {
      throw new DocumentRejected('corrupt', key, `${key}: ${entry.name} declares a DTD, which OOXML never does`);
    }
    parts[entry.name] = xml;
  }
  const checked = zipSync(parts, { level: 0 });

  let html: string;
  try {
    const result = await mammoth.convertToHtml(
      { buffer: Buffer.from(checked.buffer, checked.byteOffset, checked.byteLength) },
      {
        styleMap: STYLE_MAP,
        includeEmbeddedStyleMap: false,
        externalFileAccess: false,
        convertImage: mammoth.images.imgElement(() => Promise.resolve({ src: '' })),
      },
    );
    html = result.value;
  } catch (error) {
    throw new DocumentRejected('corrupt', key, `${key}: not a readable Word document: ${messageOf(error)}`, {
      cause: error,
    });
  }
  deadline.check();

  const body = htmlToMarkdown(html);
  if (body.length > limits.maxTextChars) {
    throw new DocumentRejected(
      'too_large',
      key,
      `${key}: ${body.length} characters of text, more than the limit of ${limits.maxTextChars}`,
    );
  }
  if (body === '') throw new DocumentRejected('empty', key, `${key}: the document has no text`);
  const heading = firstH1(body);
  const title = heading ?? coreTitle(parts[CORE_PROPERTIES]);
  const markdown = heading === undefined && title !== undefined ? `# ${title}\n\n${body}` : body;
  return { format: 'docx', markdown, ...(title === undefined ? {} : { title }) };
}
