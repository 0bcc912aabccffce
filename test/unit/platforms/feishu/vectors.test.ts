import { MalformedEventError, SignatureError } from '#core/errors';
import { decryptFeishu, feishuSignature } from '#platforms/feishu/crypto';
import { createFeishuPlatform } from '#platforms/feishu/index';
import type { RawRequest } from '#platforms/types';
import vectors from '../../../fixtures/platform-vectors.json';

const { F1_decrypt: F1, F2_encrypted_challenge: F2, F3_plain_challenge: F3, Fd_signature: Fd } = vectors.feishu;
const deps = { fetch, now: () => 0, sleep: async () => {} };
const base = { appId: 'a', appSecret: 's', botOpenId: 'ou_bot' };

function post(body: string, headers: Record<string, string> = {}): RawRequest {
  return {
    method: 'POST',
    query: {},
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(body, 'utf8'),
  };
}

describe('Feishu published vectors', () => {
  it('F1: decrypts the official sample', () => {
    expect(decryptFeishu(F1.encrypt, F1.encryptKey).toString('utf8')).toBe(F1.plaintext);
  });

  it('F2: answers the encrypted url_verification from the node SDK tests', () => {
    const decrypted = JSON.parse(F2.decrypted) as { token: string };
    const platform = createFeishuPlatform(
      { ...base, encryptKey: F2.encryptKey, verificationToken: decrypted.token },
      deps,
    );
    const result = platform.parse(post(JSON.stringify(F2.body)), 0);
    expect(result.kind).toBe('handshake');
    expect(result.kind === 'handshake' && JSON.parse(result.response.body)).toEqual(F2.expectedResponse);
  });

  it('F2: refuses the same challenge when the verification token differs', () => {
    const platform = createFeishuPlatform({ ...base, encryptKey: F2.encryptKey, verificationToken: 'other' }, deps);
    expect(() => platform.parse(post(JSON.stringify(F2.body)), 0)).toThrow(SignatureError);
  });

  it('F3: answers the plain url_verification when no verification token is configured', () => {
    const platform = createFeishuPlatform({ ...base, encryptKey: 'k' }, deps);
    const result = platform.parse(post(JSON.stringify(F3.body)), 0);
    expect(result.kind === 'handshake' && JSON.parse(result.response.body)).toEqual(F3.expectedResponse);
  });

  it('F3: the token-less challenge is refused once a verification token is configured', () => {
    const platform = createFeishuPlatform({ ...base, encryptKey: 'k', verificationToken: 'tok' }, deps);
    expect(() => platform.parse(post(JSON.stringify(F3.body)), 0)).toThrow(SignatureError);
  });

  it('Fd: computes the derived signature', () => {
    expect(feishuSignature(Fd.timestamp, Fd.nonce, Fd.encryptKey, Buffer.from(Fd.rawBody, 'utf8'))).toBe(Fd.signature);
  });

  it('Fd: the signature verifies through parse (then "hello world" is not a JSON event)', () => {
    const platform = createFeishuPlatform({ ...base, encryptKey: Fd.encryptKey }, deps);
    const headers = {
      'x-lark-request-timestamp': Fd.timestamp,
      'x-lark-request-nonce': Fd.nonce,
      'x-lark-signature': Fd.signature,
    };
    const now = Number(Fd.timestamp) * 1000;
    expect(() => platform.parse(post(Fd.rawBody, headers), now)).toThrow(MalformedEventError);
    expect(() => platform.parse(post(`${Fd.rawBody} `, headers), now)).toThrow(SignatureError);
  });
});

describe('decryptFeishu refuses what is not padded base64, before any AES work', () => {
  const valid = F1.encrypt;
  it.each([
    ['a character outside the alphabet, length kept', `${valid.slice(0, 20)}*${valid.slice(21)}`],
    ['base64url characters', valid.replace(/[+/]/g, (c) => (c === '+' ? '-' : '_'))],
    ['a length that is not a multiple of 4', valid.slice(0, -1)],
    ['only symbols', '%%%%'],
  ])('%s', (_name, encrypt) => {
    expect(encrypt).not.toBe(valid);
    expect(() => decryptFeishu(encrypt, F1.encryptKey)).toThrow(/not base64/);
  });

  it('still decrypts the published vector (control)', () => {
    expect(decryptFeishu(valid, F1.encryptKey).toString('utf8')).toBe(F1.plaintext);
  });
});
