import { KnowledgeStoreError } from './knowledge-store-error';

/**
 * The store's input boundary: what an id or a text may be, so nothing reaches PostgreSQL that it would refuse or that
 * would break a Data API limit later.
 *
 * - NUL (U+0000) cannot be stored in PostgreSQL text. In free text (titles, sections, urls, chunk and query text) it is
 *   removed here; in an identifier (kb id, document key, chunk id, version) it is refused, since removing it could
 *   make two different ids one.
 * - Sizes are in UTF-8 bytes. Identifiers stay inside one btree index entry together (≈ 2.7 KB); a stored chunk
 *   (ids, title, section, url, text) stays far below the Data API's 64 KB per result row, and MAX_K of them below its
 *   1 MiB per response, whatever their script.
 */

export const LIMITS = {
  kbIdBytes: 128,
  docKeyBytes: 1024,
  chunkIdBytes: 1024,
  versionBytes: 256,
  titleBytes: 1024,
  sectionBytes: 2048,
  urlBytes: 2048,
  /** chunkMarkdown's chunks are ≤ 1200 characters, ≤ 3.6 KB even in CJK. */
  textBytes: 8192,
} as const;

/** Most hits one search returns (see the module comment). */
export const MAX_K = 50;
/** Most candidates per ranked list before fusion. */
export const MAX_CANDIDATES = 1000;
export const DEFAULT_CANDIDATES = 50;

const utf8Bytes = (value: string): number => Buffer.byteLength(value, 'utf8');

export function stripNul(value: string): string {
  return value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
}

/** An identifier: non-empty, no NUL, at most `maxBytes`; refused otherwise with a message naming `what`. */
export function checkedId(value: string, what: string, maxBytes: number): string {
  if (value.length === 0) throw new KnowledgeStoreError('invalid_input', `${what} is empty.`);
  if (value.includes('\u0000')) throw new KnowledgeStoreError('invalid_input', `${what} contains a NUL character.`);
  const bytes = utf8Bytes(value);
  if (bytes > maxBytes) {
    throw new KnowledgeStoreError('invalid_input', `${what} is ${bytes} bytes; at most ${maxBytes} are allowed.`);
  }
  return value;
}

/** Free text without its NULs, at most `maxBytes` after that. */
export function checkedText(value: string, what: string, maxBytes: number): string {
  const clean = stripNul(value);
  const bytes = utf8Bytes(clean);
  if (bytes > maxBytes) {
    throw new KnowledgeStoreError('invalid_input', `${what} is ${bytes} bytes; at most ${maxBytes} are allowed.`);
  }
  return clean;
}

/** An optional free text; absent, or empty once cleaned, is absent (the store keeps NULL). */
export function checkedOptionalText(value: string | undefined, what: string, maxBytes: number): string | undefined {
  if (value === undefined) return undefined;
  const clean = checkedText(value, what, maxBytes);
  return clean.length === 0 ? undefined : clean;
}

/** An integer in [min, max], else a named error. */
export function checkedCount(value: number, what: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new KnowledgeStoreError('invalid_input', `${what} is ${value}; it must be an integer from ${min} to ${max}.`);
  }
  return value;
}
