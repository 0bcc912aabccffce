import { MalformedEventError, ReplayError, SignatureError } from '#core/errors';
import { createSlackPlatform } from '#platforms/slack/index';
import { slackSignature } from '#platforms/slack/signature';
import type { RawRequest } from '#platforms/types';
import vectors from '../../../fixtures/platform-vectors.json';

const S1 = vectors.slack.S1_signature;
const now = Number(S1.timestamp) * 1000;
const platform = createSlackPlatform(
  { signingSecret: S1.signingSecret, botToken: 'xoxb', botUserId: 'U0BOT' },
  { fetch, now: () => now, sleep: async () => {} },
);

function request(body: string, signature = S1.signature, timestamp = S1.timestamp): RawRequest {
  return {
    method: 'POST',
    query: {},
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-signature': signature,
      'x-slack-request-timestamp': timestamp,
    },
    body: Buffer.from(body, 'utf8'),
  };
}

describe('Slack published vector S1', () => {
  it('computes the documented signature', () => {
    expect(slackSignature(S1.signingSecret, S1.timestamp, Buffer.from(S1.rawBody, 'utf8'))).toBe(S1.signature);
  });

  it('verifies through parse; the slash-command form body is then refused as not an Events API JSON body', () => {
    expect(() => platform.parse(request(S1.rawBody), now)).toThrow(MalformedEventError);
  });

  it('rejects the vector with one byte changed, with another secret, or outside the 5-minute window', () => {
    expect(() => platform.parse(request(`${S1.rawBody}x`), now)).toThrow(SignatureError);
    const other = createSlackPlatform(
      { signingSecret: 'other', botToken: 'x', botUserId: 'U' },
      { fetch, now: () => now, sleep: async () => {} },
    );
    expect(() => other.parse(request(S1.rawBody), now)).toThrow(SignatureError);
    expect(() => platform.parse(request(S1.rawBody), now + 300_001)).toThrow(ReplayError);
    expect(() => platform.parse(request(S1.rawBody), now - 300_001)).toThrow(ReplayError);
  });
});
