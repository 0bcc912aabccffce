import { MalformedEventError, ReplayError } from '#core/errors';
import { getHeader } from '#platforms/shared/headers';
import { decodeJsonObject } from '#platforms/shared/json-body';
import { isAllowedReplyUrl } from '#platforms/shared/reply-url';
import { assertWithinWindow, parseEpochHeader } from '#platforms/shared/timestamp-window';
import { timingSafeEqualValues } from '#platforms/shared/timing-safe';

describe('timingSafeEqualValues', () => {
  it.each([
    ['abc', 'abc', true],
    ['abc', 'abd', false],
    ['abc', 'abcd', false],
    ['', '', true],
    ['', 'a', false],
    ['飞书', '飞书', true],
  ])('%j vs %j → %s', (a, b, expected) => {
    expect(timingSafeEqualValues(a, b)).toBe(expected);
  });

  it('compares buffers of different lengths without throwing', () => {
    expect(timingSafeEqualValues(Buffer.from([1, 2]), Buffer.from([1, 2, 3]))).toBe(false);
    expect(timingSafeEqualValues(Buffer.from([1, 2]), Buffer.from([1, 2]))).toBe(true);
  });
});

describe('assertWithinWindow', () => {
  const now = 1_700_000_000_000;
  it('accepts the edges of the window', () => {
    expect(() => assertWithinWindow(now - 300_000, now, 300_000)).not.toThrow();
    expect(() => assertWithinWindow(now + 300_000, now, 300_000)).not.toThrow();
  });
  it('rejects stale, future and non-numeric timestamps with ReplayError', () => {
    expect(() => assertWithinWindow(now - 300_001, now, 300_000)).toThrow(ReplayError);
    expect(() => assertWithinWindow(now + 300_001, now, 300_000)).toThrow(/future/);
    expect(() => assertWithinWindow(Number.NaN, now, 300_000)).toThrow(ReplayError);
  });
  it('parses epoch headers strictly', () => {
    expect(parseEpochHeader('1700000000', 'seconds')).toBe(1_700_000_000_000);
    expect(parseEpochHeader('1700000000000', 'milliseconds')).toBe(1_700_000_000_000);
    for (const bad of [undefined, '', ' 1', '1e9', '-1', '0x10', '1.5']) {
      expect(parseEpochHeader(bad, 'seconds')).toBeNaN();
    }
  });
});

describe('getHeader', () => {
  it('finds headers whatever their case', () => {
    const headers = { 'X-Slack-Signature': 'a', 'x-lark-nonce': 'b' };
    expect(getHeader(headers, 'x-slack-signature')).toBe('a');
    expect(getHeader(headers, 'X-Lark-Nonce')).toBe('b');
    expect(getHeader(headers, 'x-missing')).toBeUndefined();
  });
});

describe('decodeJsonObject', () => {
  const json = 'application/json; charset=utf-8';
  it('decodes UTF-8 JSON objects', () => {
    expect(decodeJsonObject(Buffer.from('{"t":"你好👋"}'), json)).toEqual({ t: '你好👋' });
    expect(decodeJsonObject(Buffer.from('{}'), 'Application/JSON')).toEqual({});
  });
  it.each([
    ['wrong content type', '{}', 'text/plain'],
    ['missing content type', '{}', undefined],
    ['form body', 'a=b', 'application/x-www-form-urlencoded'],
    ['malformed JSON', '{"a":', json],
    ['array', '[1]', json],
    ['null', 'null', json],
    ['string', '"x"', json],
    ['empty', '', json],
  ])('rejects %s with MalformedEventError', (_name, body, contentType) => {
    expect(() => decodeJsonObject(Buffer.from(body), contentType)).toThrow(MalformedEventError);
  });
  it('rejects invalid UTF-8 rather than replacing it', () => {
    expect(() => decodeJsonObject(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), json)).toThrow(/UTF-8/);
  });
});

describe('isAllowedReplyUrl', () => {
  const allowlist = { origins: ['https://oapi.dingtalk.com'], insecureOrigins: ['http://127.0.0.1:3000'] };
  it.each([
    ['https://oapi.dingtalk.com/robot/sendBySession?session=x', true],
    ['https://OAPI.dingtalk.com:443/robot', true],
    ['http://127.0.0.1:3000/_emulator/dingtalk/session', true],
    ['http://oapi.dingtalk.com/robot', false],
    ['https://oapi.dingtalk.com.evil.com/robot', false],
    ['https://evil.com/https://oapi.dingtalk.com', false],
    ['https://oapi.dingtalk.com@evil.com/robot', false],
    ['https://user:pw@oapi.dingtalk.com/robot', false],
    ['https://evil.com\\@oapi.dingtalk.com/', false],
    ['https://oapi.dingtalk.com:8443/robot', false],
    ['http://127.0.0.1:3001/x', false],
    ['https://127.0.0.1:3000/x', false],
    ['ftp://oapi.dingtalk.com/', false],
    ['javascript:alert(1)', false],
    ['/relative/path', false],
    ['not a url', false],
  ])('%s → %s', (url, expected) => {
    expect(isAllowedReplyUrl(url, allowlist)).toBe(expected);
  });
  it('never accepts http unless listed as insecure', () => {
    expect(isAllowedReplyUrl('http://oapi.dingtalk.com/', { origins: ['http://oapi.dingtalk.com'] })).toBe(false);
  });
});
