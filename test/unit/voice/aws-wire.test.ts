import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { presignUrl } from '#shared/aws-sigv4';
import { decodeEventMessages, encodeEventMessage } from '#voice/event-stream';
import { VoiceError } from '#voice/voice-error';

function bytes(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data;
  return ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
}

/** Node's crypto in the shape @smithy/signature-v4 takes (the SDK's own signer, as the reference). */
class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }
}

describe('presignUrl', () => {
  it('signs exactly as the AWS SDK signer presigns (Transcribe streaming WebSocket URL, session credentials)', async () => {
    const credentials = {
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      sessionToken: 'token/+=',
    };
    const now = new Date('2026-12-05T04:00:00.000Z');
    const host = 'transcribestreaming.us-east-1.amazonaws.com:8443';
    const query = {
      'language-code': 'en-US',
      'media-encoding': 'ogg-opus',
      'sample-rate': '48000',
    };
    const ours = new URL(
      presignUrl(
        { protocol: 'wss:', host, path: '/stream-transcription-websocket', query },
        { service: 'transcribe', region: 'us-east-1' },
        credentials,
        now,
        300,
      ),
    );
    const signer = new SignatureV4({ service: 'transcribe', region: 'us-east-1', credentials, sha256: Sha256 });
    const reference = await signer.presign(
      {
        method: 'GET',
        protocol: 'wss:',
        hostname: host,
        path: '/stream-transcription-websocket',
        query,
        headers: { host },
      },
      { signingDate: now, expiresIn: 300 },
    );
    expect(Object.fromEntries(ours.searchParams)).toEqual(reference.query);
    expect(ours.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('event stream codec', () => {
  it('round-trips headers and a binary payload, several messages in one frame', () => {
    const a = encodeEventMessage({
      headers: { ':message-type': 'event', ':event-type': 'AudioEvent' },
      payload: new Uint8Array([0, 1, 255]),
    });
    const b = encodeEventMessage({ headers: { ':message-type': 'event' }, payload: new Uint8Array() });
    const decoded = decodeEventMessages(new Uint8Array([...a, ...b]));
    expect(decoded).toEqual([
      { headers: { ':message-type': 'event', ':event-type': 'AudioEvent' }, payload: new Uint8Array([0, 1, 255]) },
      { headers: { ':message-type': 'event' }, payload: new Uint8Array() },
    ]);
  });

  it('rejects a flipped byte and a cut-short message', () => {
    const good = encodeEventMessage({ headers: { a: 'b' }, payload: new TextEncoder().encode('{"x":1}') });
    const flipped = good.slice();
    flipped[20] = (flipped[20] ?? 0) ^ 1;
    for (const bytes of [flipped, good.subarray(0, good.length - 1), good.subarray(0, 5)]) {
      expect(() => decodeEventMessages(bytes)).toThrow(VoiceError);
    }
  });
});
