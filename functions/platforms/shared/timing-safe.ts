import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time equality of two strings (compared as UTF-8 bytes) or buffers.
 * `crypto.timingSafeEqual` throws on a length mismatch and leaks the length through that branch, so both sides
 * are first hashed to fixed-length SHA-256 digests; the final length check only decides, it does not short-circuit.
 */
export function timingSafeEqualValues(a: string | Buffer, b: string | Buffer): boolean {
  const left = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
  const right = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  const digestsEqual = timingSafeEqual(sha256(left), sha256(right));
  return digestsEqual && left.length === right.length;
}

function sha256(value: Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * A constant-time matcher for one configured secret: the secret is hashed once, each candidate once, and the two
 * 32-byte digests are compared directly (equal digests mean equal values; SHA-256 leaves no practical collision).
 */
export function secretMatcher(secret: string): (candidate: string) => boolean {
  const expected = sha256(Buffer.from(secret, 'utf8'));
  return (candidate) => timingSafeEqual(sha256(Buffer.from(candidate, 'utf8')), expected);
}
