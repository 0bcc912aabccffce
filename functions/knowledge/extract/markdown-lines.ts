/**
 * Line-level Markdown helpers shared by the formats. They follow what chunkMarkdown (core/retrieval) reads as
 * structure: ATX headings (`#` at most three spaces in) and ``` / ~~~ fences (any indent). A fence opened by stray
 * text would hide every later heading from it, so fence markers are escaped like '#'.
 */

const STRUCTURAL_LINE_START = /^(\s*)(#|`{3}|~{3})/;
const FENCE_OPEN = /^\s*(`{3,}(?=[^`]*$)|~{3,})/;
const ATX_H1 = /^ {0,3}#(?:[ \t]+(.*))?$/;
const CLOSING_HASHES = /(?:^|[ \t]+)#+[ \t]*$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what titles are cleaned of
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/g;

/** `line` with a backslash before a leading '#' or fence marker (``` ~~~), so it reads as text, never as structure. */
export function escapeLineStart(line: string): string {
  return line.replace(STRUCTURAL_LINE_START, '$1\\$2');
}

/** Plain text as Markdown: every line's start escaped (see escapeLineStart), nothing else changed. */
export function escapeLineStarts(text: string): string {
  return text.split('\n').map(escapeLineStart).join('\n');
}

/** CRLF and lone CR → LF. */
export function normalizeLineEnds(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

/** The text of the first H1 outside fences (closing hashes removed), as chunkMarkdown takes it; undefined when
 *  there is none or it is blank. */
export function firstH1(markdown: string): string | undefined {
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = FENCE_OPEN.exec(line)?.[1];
    if (fence !== undefined) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) {
        fence = undefined;
      }
      continue;
    }
    if (marker !== undefined) {
      fence = marker;
      continue;
    }
    const h1 = ATX_H1.exec(line);
    if (h1 === null) continue;
    const text = (h1[1] ?? '').replace(CLOSING_HASHES, '').trim();
    return text === '' ? undefined : text;
  }
  return undefined;
}

/** A title from metadata as one clean line (control characters dropped, whitespace collapsed), or undefined. */
export function cleanTitle(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const title = raw.replace(CONTROL_CHARS, ' ').replace(/\s+/g, ' ').trim();
  return title === '' ? undefined : title;
}
