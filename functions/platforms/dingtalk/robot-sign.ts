import { createHmac } from 'node:crypto';
import { SignatureError } from '#core/errors';
import { assertWithinWindow, getHeader, parseEpochHeader, timingSafeEqualValues } from '#platforms/shared/index';

/** `sign` header of a robot callback: base64(HMAC-SHA256(key = appSecret, data = timestamp + "\n" + appSecret)). */
export function computeRobotSign(appSecret: string, timestamp: string): string {
  return createHmac('sha256', appSecret).update(`${timestamp}\n${appSecret}`, 'utf8').digest('base64');
}

/**
 * Verifies the `timestamp` (epoch ms) and `sign` headers of a robot callback. The body is NOT covered by the
 * signature, so callers must dedupe on `msgId` and treat URLs in the body as untrusted.
 * @throws SignatureError when a header is missing or the signature does not match;
 *   ReplayError when the timestamp is further than `windowMs` from `now` either way.
 */
export function verifyRobotSign(
  headers: Readonly<Record<string, string>>,
  appSecret: string,
  now: number,
  windowMs: number,
): void {
  const timestamp = getHeader(headers, 'timestamp');
  const sign = getHeader(headers, 'sign');
  if (!timestamp || !sign) {
    throw new SignatureError('Missing timestamp or sign header');
  }
  if (!timingSafeEqualValues(computeRobotSign(appSecret, timestamp), sign)) {
    throw new SignatureError('Robot callback sign does not match');
  }
  assertWithinWindow(parseEpochHeader(timestamp, 'milliseconds'), now, windowMs);
}
