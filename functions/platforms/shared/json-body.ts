import { isUtf8 } from 'node:buffer';
import { MalformedEventError } from '#core/errors';

/**
 * Decodes a verified raw body as strict UTF-8 JSON. Call only after the signature was checked over the same bytes.
 * @param contentType the request's `Content-Type`; must be `application/json` (parameters such as charset allowed).
 * @returns the parsed JSON object.
 * @throws MalformedEventError for a wrong content type, invalid UTF-8, malformed JSON or a non-object top level.
 */
export function decodeJsonObject(body: Buffer, contentType: string | undefined): Record<string, unknown> {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new MalformedEventError(`Expected Content-Type application/json, got ${contentType ?? 'none'}`);
  }
  return parseJsonObject(decodeUtf8(body));
}

/**
 * Strict UTF-8 decode: invalid byte sequences are an error, never silently replaced. A leading byte-order mark is
 * dropped, as the WHATWG decoder does. (`isUtf8` + `toString` is the native check: about twice as fast as a fatal
 * `TextDecoder`, on the webhook's hot path.)
 */
export function decodeUtf8(body: Buffer): string {
  if (!isUtf8(body)) throw new MalformedEventError('Body is not valid UTF-8');
  const hasBom = body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf;
  return (hasBom ? body.subarray(3) : body).toString('utf8');
}

/** Parses JSON text that must hold an object (not an array, string or null). */
export function parseJsonObject(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new MalformedEventError('Body is not valid JSON', { cause });
  }
  if (!isRecord(parsed)) {
    throw new MalformedEventError('JSON body is not an object');
  }
  return parsed;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
