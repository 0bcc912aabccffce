import { type ZipOptions, zipSync } from 'fflate';

/** Minimal, valid DOCX packages for tests, zipped with fflate, and tools to make them lie. */

export interface DocxParagraph {
  /** A paragraph style id (Heading1, Title, …); none is Normal. */
  readonly style?: string;
  readonly text: string;
}

const encoder = new TextEncoder();

function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}

export function documentXml(paragraphs: readonly DocxParagraph[], bodyExtra = ''): string {
  const body = paragraphs
    .map(({ style, text }) => {
      const properties = style === undefined ? '' : `<w:pPr><w:pStyle w:val="${style}"/></w:pPr>`;
      return `<w:p>${properties}<w:r><w:t xml:space="preserve">${escapeXml(text)}</w:t></w:r></w:p>`;
    })
    .join('');
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${body}${bodyExtra}</w:body></w:document>`;
}

const CONTENT_TYPES = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>
</Types>`;

const PACKAGE_RELS = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>
</Relationships>`;

function coreXml(title: string): string {
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>${escapeXml(title)}</dc:title></cp:coreProperties>`;
}

export interface DocxSpec {
  readonly paragraphs?: readonly DocxParagraph[];
  /** Raw word/document.xml, instead of paragraphs. */
  readonly documentXml?: string;
  readonly coreTitle?: string;
  /** More entries (or replacements), by name; `null` leaves a standard entry out. */
  readonly entries?: Readonly<Record<string, Uint8Array | string | null>>;
  readonly options?: ZipOptions;
}

export function buildDocx(spec: DocxSpec): Uint8Array {
  const files: Record<string, Uint8Array | string | null> = {
    '[Content_Types].xml': CONTENT_TYPES,
    '_rels/.rels': PACKAGE_RELS,
    'word/document.xml': spec.documentXml ?? documentXml(spec.paragraphs ?? []),
    ...(spec.coreTitle === undefined ? {} : { 'docProps/core.xml': coreXml(spec.coreTitle) }),
    ...spec.entries,
  };
  const zippable: Record<string, Uint8Array> = {};
  for (const [name, content] of Object.entries(files)) {
    if (content !== null) zippable[name] = typeof content === 'string' ? encoder.encode(content) : content;
  }
  return zipSync(zippable, spec.options ?? { level: 6 });
}

/**
 * A copy of `zip` whose central directory (and local header) declare `declaredSize` uncompressed bytes for entry
 * `name`, whatever the entry really holds: how a zip bomb hides from size checks.
 */
export function withDeclaredSize(zip: Uint8Array, name: string, declaredSize: number): Uint8Array {
  const out = zip.slice();
  const view = new DataView(out.buffer);
  const nameBytes = encoder.encode(name);
  /** Whether the header at `at` names `name`: its name length sits at `lengthAt`, the name itself at `nameStart`. */
  const names = (at: number, lengthAt: number, nameStart: number) =>
    view.getUint16(at + lengthAt, true) === nameBytes.length &&
    nameBytes.every((byte, i) => out[at + nameStart + i] === byte);
  let patched = 0;
  for (let at = 0; at + 4 <= out.length; at++) {
    const signature = view.getUint32(at, true);
    if (signature === 0x02014b50 && names(at, 28, 46)) {
      view.setUint32(at + 24, declaredSize, true);
      patched++;
    } else if (signature === 0x04034b50 && names(at, 26, 30)) {
      view.setUint32(at + 22, declaredSize, true);
      patched++;
    }
  }
  if (patched !== 2) throw new Error(`withDeclaredSize: found ${patched} headers for ${name}, expected 2`);
  return out;
}
