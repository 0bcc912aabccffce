import { createHmac } from 'node:crypto';
import { timingSafeEqualValues } from '#platforms/shared/timing-safe';

/** `v0=` + hex(HMAC-SHA256(signingSecret, `v0:{timestamp}:` + raw body)), over the exact body bytes. */
export function slackSignature(signingSecret: string, timestamp: string, rawBody: Buffer): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${timestamp}:`, 'utf8');
  hmac.update(rawBody);
  return `v0=${hmac.digest('hex')}`;
}

export function isValidSlackSignature(
  signature: string,
  signingSecret: string,
  timestamp: string,
  rawBody: Buffer,
): boolean {
  return timingSafeEqualValues(signature, slackSignature(signingSecret, timestamp, rawBody));
}
