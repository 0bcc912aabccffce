/**
 * Building blocks for neutralising mention syntax in model output. Each adapter composes its own neutraliser (the
 * syntax is platform specific); the rule they share: a reply may mention only the asker, and only through the
 * mention the adapter itself adds.
 *
 * Neutralising replaces the one character that makes syntax live with its full-width twin (`<` → `＜` U+FF1C,
 * `@` → `＠` U+FF20). That reads the same to a human on every client, is never parsed as markup, and survives
 * anything a platform might do to the text. The alternatives fail somewhere: a zero-width space may be stripped by
 * the platform (bringing the mention back), and an HTML entity (`&lt;`) is decoded by some message types but shown
 * raw by others.
 */

/**
 * Characters that render as nothing. A platform (or a client) may drop them before parsing, so patterns allow them
 * anywhere inside the syntax they look for; they are left in the text (ZWJ, for one, holds emoji sequences together).
 */
export const INVISIBLE =
  '[\\u00AD\\u034F\\u061C\\u115F\\u1160\\u17B4\\u17B5\\u180B-\\u180F\\u200B-\\u200F\\u202A-\\u202E\\u2060-\\u206F\\uFE00-\\uFE0F\\uFEFF]';
const GAP = `(?:\\s|${INVISIBLE})*`;

/** A `<` as text, or as the HTML entities a markdown renderer might decode back into one. */
export const LESS_THAN = '(?:<|&lt;|&#0*60;|&#x0*3c;)';
export const FULL_WIDTH_LESS_THAN = '\uFF1C';
export const FULL_WIDTH_AT = '\uFF20';

/** Keywords that address everyone in a chat on at least one platform. */
const BROADCAST_WORDS = ['all', 'everyone', 'here', 'channel', '所有人', '全体成员', '全员'] as const;

/** Spelled with optional invisible characters between letters, e.g. `a\u200Bll`. */
function spaced(word: string): string {
  return [...word].map(escapeRegExp).join(`${INVISIBLE}*`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

const BROADCAST_AT = new RegExp(
  `@(?=${INVISIBLE}*(?:${BROADCAST_WORDS.map(spaced).join('|')})(?![A-Za-z0-9_]))`,
  'giu',
);

/**
 * `@all`, `@所有人`, `@everyone`, `@here`, `@channel` (any case, invisible characters allowed after the `@` and
 * between letters) get a full-width `＠`. `@allen` and `@channels` are left alone; `@all看` is not (Chinese text
 * puts no space after a mention, so only an ASCII letter or digit ends the keyword test).
 */
export function neutraliseBroadcastAt(text: string): string {
  return text.replace(BROADCAST_AT, FULL_WIDTH_AT);
}

/**
 * Replaces the `<` (or `&lt;` / `&#60;` / `&#x3c;`) that opens a tag whose name is `tagName` (any case, optional
 * `/`, whitespace and invisible characters allowed) with a full-width `＜`; the rest of the tag stays readable.
 * @param tagName ASCII letters only, e.g. `at`.
 */
export function neutraliseTag(text: string, tagName: string): string {
  const pattern = new RegExp(`${LESS_THAN}(?=${GAP}/?${GAP}${spaced(tagName)}(?![A-Za-z0-9_]))`, 'giu');
  return text.replace(pattern, FULL_WIDTH_LESS_THAN);
}

/** Like `neutraliseTag` for tags that open with a sigil instead of a name, e.g. WeCom's `<@userid>`. */
export function neutraliseSigilTag(text: string, sigils: string): string {
  const set = [...sigils].map(escapeRegExp).join('');
  const pattern = new RegExp(`${LESS_THAN}(?=${GAP}[${set}])`, 'giu');
  return text.replace(pattern, FULL_WIDTH_LESS_THAN);
}

/** Names that must never be used as "the asker" even if an event carried them: each addresses a whole chat. */
const BROADCAST_IDS = new Set(['all', 'everyone', 'here', 'channel', '@all', '所有人', '全体成员', '全员']);

/**
 * The asker's id when it is safe to put into the adapter's own mention, else undefined (the reply then goes out
 * without a mention rather than failing). Safe: matches the platform's id `shape` and is not a broadcast name.
 */
export function askerMentionId(id: string | undefined, shape: RegExp): string | undefined {
  if (id === undefined || BROADCAST_IDS.has(id.trim().toLowerCase())) return undefined;
  return shape.test(id) ? id : undefined;
}
