import { createHash } from 'node:crypto';

/**
 * Bounded keys from ids we do not control (platform event, chat, tenant, user and thread ids; a JWT `sub`; REST
 * session headers). Such an id ends up in a DynamoDB key (partition key ≤ 2,048 bytes, sort key ≤ 1,024 bytes) and
 * in an SQS FIFO `MessageGroupId` / `MessageDeduplicationId` (≤ 128 characters of `[\x21-\x7e]`); one over-long or
 * odd id would otherwise make AWS reject the write after the platform got its 200, or fail every retry.
 *
 * Contract: a short, plain id stays readable and unchanged (so existing keys and dashboards keep working); any other
 * id is replaced by `h:` + base64url(SHA-256(id)) — deterministic, so dedup, ordering and context still line up for
 * every delivery of the same id. A readable part never starts with `h:` (such an id is hashed too), so a caller
 * cannot pick an id equal to another id's digest and share its key.
 */

/** SQS FIFO `MessageGroupId` / `MessageDeduplicationId`: at most 128 characters. */
export const SQS_FIFO_ID_MAX_CHARS = 128;
/** DynamoDB key size limits, UTF-8 bytes. */
export const DYNAMO_PARTITION_KEY_MAX_BYTES = 2048;
export const DYNAMO_SORT_KEY_MAX_BYTES = 1024;
/**
 * Longest key part kept readable. Real platform ids are far shorter (Feishu/DingTalk ids are about 40 characters);
 * with at most five parts plus fixed prefixes every key stays well under both DynamoDB limits.
 */
const MAX_READABLE_PART_CHARS = 128;
/** Marks a digest in place of an id. */
const HASHED_PREFIX = 'h:';

/** Alphanumerics and ASCII punctuation: what SQS FIFO ids allow. Readable parts use only these (hence ASCII only). */
const FIFO_SAFE = /^[\x21-\x7e]*$/;

/** `h:` + base64url SHA-256 of the UTF-8 text: 45 characters of the FIFO-safe alphabet. */
export function hashedId(text: string): string {
  return `${HASHED_PREFIX}${createHash('sha256').update(text, 'utf8').digest('base64url')}`;
}

function readable(text: string, maxChars: number): boolean {
  return text.length <= maxChars && FIFO_SAFE.test(text) && !text.startsWith(HASHED_PREFIX);
}

/**
 * One id as a part of a `#`-joined key: `%` and `#` escaped (`%25`, `%23`) so parts never run together, then kept
 * when it is at most 128 FIFO-safe characters, otherwise hashed (from the original id). The empty id stays empty.
 */
export function keyPart(id: string): string {
  const escaped = escapeKeyPart(id);
  return readable(escaped, MAX_READABLE_PART_CHARS) ? escaped : hashedId(id);
}

/** `%` → `%25`, `#` → `%23`: an id that can sit between `#` separators without running into its neighbours. */
function escapeKeyPart(id: string): string {
  return id.replaceAll('%', '%25').replaceAll('#', '%23');
}

/**
 * Parts joined with `#`, escaped but never hashed: for what people read (the cost report's lines), not for stored
 * keys. Equal to `joinKey` whenever every part is short and plain.
 */
export function displayKey(parts: readonly string[]): string {
  return parts.map(escapeKeyPart).join('#');
}

/**
 * The ids of a `displayKey`, unescaped: `splitDisplayKey(displayKey(parts))` equals `parts`. Escaping leaves no `#`
 * inside a part and makes every `%` start `%25` or `%23`, so one left-to-right pass restores each id exactly.
 */
export function splitDisplayKey(key: string): string[] {
  return key.split('#').map((part) => part.replace(/%2[35]/g, (code) => (code === '%23' ? '#' : '%')));
}

/** Parts joined with `#`, each made a `keyPart`. */
export function joinKey(parts: readonly string[]): string {
  return parts.map(keyPart).join('#');
}

/**
 * A value as an SQS FIFO `MessageGroupId` or `MessageDeduplicationId`: itself when it is 1–128 FIFO-safe characters,
 * else its digest. Keys made of several readable parts can exceed 128 characters (a DingTalk member key does), so
 * the group id is derived here rather than being the conversation key itself.
 */
export function fifoId(value: string): string {
  return value.length > 0 && readable(value, SQS_FIFO_ID_MAX_CHARS) ? value : hashedId(value);
}

/**
 * The events table key of a platform event, `platform#eventId`: an event id over 128 characters or outside the SQS
 * FIFO charset is hashed (`keyPart`), so the item key stays within DynamoDB's limit and every delivery of the event
 * still maps to the same item.
 */
export function eventKey(platform: string, eventId: string): string {
  return `${platform}#${keyPart(eventId)}`;
}
