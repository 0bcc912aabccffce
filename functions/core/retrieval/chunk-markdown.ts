/**
 * Splits a markdown document into retrievable chunks, one per section (a heading and the text up to the next
 * heading of any level), so a search hit can be cited as "title › section" with a link to the section's anchor.
 *
 * - Headings are ATX headings (`#` … `######` followed by a space or the line end, at most three spaces in), never
 *   inside ``` or ~~~ fences (a `# comment` in a bash block is code). Setext headings (`===`/`---` underlines) and
 *   front matter are not recognised: the documents this serves use neither.
 * - The title is the document's first H1, else the file name. The first H1 is left out of deeper sections' heading
 *   paths (every section would repeat it; the title is its own field); its own section's path is its text.
 * - Anchors follow GitHub's slugs (github-slugger): the heading's text as rendered (links reduced to their text),
 *   lower case, every character other than a letter, mark, digit, `_`, `-` or space removed, each space → `-`; a
 *   repeated slug gets `-1`, `-2`, … in document order, counting every heading (also those of dropped sections).
 * - A section longer than `maxChars` is split into pieces ≤ maxChars at paragraph boundaries, then at line breaks
 *   (tables, lists and code have no blank lines to split at), then at sentence ends (`.!?` before a space, `。！？`),
 *   then hard (at the last space in the second half of the window if any). Pieces are consecutive slices of the
 *   section's text with the whitespace at their ends trimmed: in order, they cover it all.
 * - Empty sections (a heading with no text under it, or blank text before the first heading) are dropped.
 * CRLF line ends are read as LF. Pure: no I/O.
 */

export interface SourceDocument {
  readonly path: string;
  readonly text: string;
  /** https link base, optional */
  readonly url?: string;
}

export interface Chunk {
  /** `${path}#${anchor}` (just `path` for text before the first heading) plus `~n` for the n-th piece (n ≥ 2). */
  readonly id: string;
  /** e.g. 'docs/OPERATIONS.md' */
  readonly path: string;
  /** The document's first H1, else the file name. */
  readonly title: string;
  /** The heading path of the section, e.g. '1. Deploy > 1.4 Third-party skills'. */
  readonly section?: string;
  /** GitHub-style slug of the section's own heading. */
  readonly anchor?: string;
  /** `${url}#${anchor}` when the document has a url (the url itself for text before the first heading). */
  readonly url?: string;
  /** The section's text (headings included), at most maxChars. */
  readonly text: string;
}

export interface ChunkOptions {
  /** Longest chunk text in UTF-16 code units, an integer ≥ 2 (a surrogate pair must fit). @default 1200 */
  readonly maxChars?: number;
}

export const DEFAULT_MAX_CHUNK_CHARS = 1200;

interface Heading {
  readonly line: number;
  readonly level: number;
  readonly text: string;
  readonly anchor: string;
}

/** A fence opener (any indent: fences inside list items are indented); a backtick fence's info has no backtick. */
const FENCE_OPEN = /^\s*(`{3,}(?=[^`]*$)|~{3,})/;
const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*))?$/;
const CLOSING_HASHES = /(?:^|[ \t]+)#+[ \t]*$/;

/** The ATX headings outside fences, with their GitHub anchors (duplicates numbered). */
function findHeadings(lines: readonly string[]): Heading[] {
  const headings: Heading[] = [];
  const slugs = new GithubSlugger();
  let fence: string | undefined; // the opening fence's marker run while inside a fence
  lines.forEach((line, index) => {
    const fenceMatch = FENCE_OPEN.exec(line);
    if (fence !== undefined) {
      // A closing fence: the same character, at least as long, nothing after it but spaces.
      const marker = fenceMatch?.[1];
      const closes = marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length;
      if (closes && line.trim() === marker) fence = undefined;
      return;
    }
    if (fenceMatch?.[1] !== undefined) {
      fence = fenceMatch[1];
      return;
    }
    const heading = ATX_HEADING.exec(line);
    if (heading?.[1] === undefined) return;
    const text = (heading[2] ?? '').replace(CLOSING_HASHES, '').trim();
    headings.push({ line: index, level: heading[1].length, text, anchor: slugs.slug(text) });
  });
  return headings;
}

/** github-slugger's algorithm: slug of the rendered heading text, made unique by `-n` suffixes. */
class GithubSlugger {
  private readonly occurrences = new Map<string, number>();

  slug(headingText: string): string {
    const rendered = headingText.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]*>/g, '');
    const base = rendered
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    let result = base;
    while (this.occurrences.has(result)) {
      const n = (this.occurrences.get(base) ?? 0) + 1;
      this.occurrences.set(base, n);
      result = `${base}-${n}`;
    }
    this.occurrences.set(result, 0);
    return result;
  }
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function chunkMarkdown(doc: SourceDocument, options: ChunkOptions = {}): Chunk[] {
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHUNK_CHARS;
  if (!Number.isInteger(maxChars) || maxChars < 2) {
    throw new RangeError(`maxChars must be an integer of at least 2, got ${maxChars}`);
  }
  const lines = doc.text.replace(/\r\n?/g, '\n').split('\n');
  const headings = findHeadings(lines);
  const titleHeading = headings.find((h) => h.level === 1);
  const title = titleHeading?.text ?? baseName(doc.path);

  const chunks: Chunk[] = [];
  const pushSection = (heading: Heading | undefined, section: string | undefined, from: number, to: number) => {
    const text = lines.slice(from, to).join('\n');
    const body = heading === undefined ? text : lines.slice(from + 1, to).join('\n');
    if (body.trim() === '') return;
    const anchor = heading?.anchor;
    const base = anchor === undefined ? doc.path : `${doc.path}#${anchor}`;
    splitText(text, maxChars).forEach((piece, i) => {
      chunks.push({
        id: i === 0 ? base : `${base}~${i + 1}`,
        path: doc.path,
        title,
        ...(section === undefined ? {} : { section }),
        ...(anchor === undefined ? {} : { anchor }),
        ...(doc.url === undefined ? {} : { url: anchor === undefined ? doc.url : `${doc.url}#${anchor}` }),
        text: piece,
      });
    });
  };

  pushSection(undefined, undefined, 0, headings[0]?.line ?? lines.length);
  const stack: Heading[] = []; // the open headings above the current one, title heading excluded
  headings.forEach((heading, i) => {
    while ((stack.at(-1)?.level ?? 0) >= heading.level) stack.pop();
    const path = heading === titleHeading ? heading.text : [...stack, heading].map((h) => h.text).join(' > ');
    if (heading !== titleHeading) stack.push(heading);
    pushSection(heading, path, heading.line, headings[i + 1]?.line ?? lines.length);
  });
  return chunks;
}

// --- Splitting a long section --------------------------------------------------------------------------------------

/** Separators, coarsest first: paragraphs, lines, sentences (a closing bracket/quote stays with its sentence). */
const SEPARATORS: readonly RegExp[] = [
  /\n[ \t]*\n\s*/g,
  /\n/g,
  /(?<=[.!?]['")\]]?)\s+|(?<=[。！？][」』”’）)]*)(?![」』”’）)])\s*/g,
];

interface Span {
  readonly start: number;
  readonly end: number;
}

/**
 * The text's pieces (≤ maxChars each), as trimmed consecutive slices: the text cut into atoms that fit (a paragraph
 * that fits is one atom; one that does not is cut into lines, a line into sentences, a sentence hard), then
 * neighbouring atoms packed greedily. Packing all atoms at once lets a heading or a short paragraph share a piece with
 * the start of a long table instead of standing alone.
 */
function splitText(text: string, maxChars: number): string[] {
  const pieces: Span[] = [];
  for (const atom of atoms(text, trim(text, { start: 0, end: text.length }), 0, maxChars)) {
    const last = pieces.at(-1);
    if (last !== undefined && atom.end - last.start <= maxChars) pieces[pieces.length - 1] = { ...last, end: atom.end };
    else pieces.push(atom);
  }
  return pieces.map((s) => text.slice(s.start, s.end));
}

function trim(text: string, span: Span): Span {
  let { start, end } = span;
  while (start < end && /\s/.test(text.charAt(start))) start++;
  while (end > start && /\s/.test(text.charAt(end - 1))) end--;
  return { start, end };
}

/** `span` as atoms of at most maxChars: whole if it fits, else cut at separator `level` and finer ones. */
function atoms(text: string, span: Span, level: number, maxChars: number): Span[] {
  if (span.end === span.start) return [];
  if (span.end - span.start <= maxChars) return [span];
  const separator = SEPARATORS[level];
  if (separator === undefined) return hardSplit(text, span, maxChars);
  const parts: Span[] = [];
  let from = span.start;
  for (const match of text.slice(span.start, span.end).matchAll(separator)) {
    const at = span.start + match.index;
    if (at > from) parts.push(trim(text, { start: from, end: at }));
    from = Math.max(from, at + match[0].length);
  }
  parts.push(trim(text, { start: from, end: span.end }));
  return parts.flatMap((part) => atoms(text, part, level + 1, maxChars));
}

/** Cuts at most maxChars at a time, at the last whitespace in the window's second half if any, never mid-pair. */
function hardSplit(text: string, span: Span, maxChars: number): Span[] {
  const out: Span[] = [];
  let rest = span;
  while (rest.end - rest.start > maxChars) {
    let cut = rest.start + maxChars;
    const space = text.slice(rest.start + Math.floor(maxChars / 2), cut + 1).search(/\s\S*$/);
    if (space >= 0) cut = rest.start + Math.floor(maxChars / 2) + space;
    else if (/[\uD800-\uDBFF]/.test(text.charAt(cut - 1))) cut--; // keep a surrogate pair whole
    out.push(trim(text, { start: rest.start, end: cut }));
    rest = trim(text, { start: cut, end: rest.end });
  }
  if (rest.end > rest.start) out.push(rest);
  return out;
}
