import type { ChatLimits } from '#config/chat-api-config';
import { apiConversationKey, parseChatRequest } from '#core/chat-request';
import { PayloadTooLargeError, ValidationError } from '#core/errors';

const limits: ChatLimits = { maxQueryChars: 10, maxContextChars: 12, maxTokens: 256, maxBodyBytes: 2048 };
const headers = { 'x-group-id': 'eng', 'x-user-id': 'alice' };
const input = (body: unknown, h: Record<string, string> = headers) => ({
  headers: h,
  body: Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
});

function problem(body: unknown, h?: Record<string, string>): string {
  try {
    parseChatRequest(input(body, h), limits);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as Error).message;
  }
  throw new Error('expected a ValidationError');
}

describe('parseChatRequest', () => {
  it('returns the trimmed query, optional fields and the session headers', () => {
    expect(parseChatRequest(input({ query: '  hi  ' }), limits)).toEqual({
      query: 'hi',
      groupId: 'eng',
      userId: 'alice',
    });
    expect(parseChatRequest(input({ query: '你好', context: 'ref', max_tokens: 256 }), limits)).toEqual({
      query: '你好',
      context: 'ref',
      maxTokens: 256,
      groupId: 'eng',
      userId: 'alice',
    });
  });

  it('counts characters as code points, like API Gateway: 10 emoji fit a 10-character limit', () => {
    expect(parseChatRequest(input({ query: '🙂'.repeat(10) }), limits).query).toHaveLength(20);
    expect(problem({ query: '🙂'.repeat(11) })).toBe('query must be at most 10 characters');
  });

  it.each<[string, unknown, string]>([
    ['a missing query', {}, 'query is required'],
    ['an empty query', { query: '' }, 'query must not be empty'],
    ['a blank query', { query: ' \n\t ' }, 'query must not be empty'],
    ['a query of zero-width spaces', { query: '\u200B\u200B' }, 'query must not be empty'],
    ['a query of tag characters', { query: '\u{E0041}\u{E0042}\u{E007F}' }, 'query must not be empty'],
    ['a query of bidi controls and a BOM', { query: ' \u202E\uFEFF\u2066 ' }, 'query must not be empty'],
    ['a non-string query', { query: 42 }, 'query must be a string'],
    ['an overlong query', { query: 'x'.repeat(11) }, 'query must be at most 10 characters'],
    ['an overlong context', { query: 'q', context: 'c'.repeat(13) }, 'context must be at most 12 characters'],
    ['a non-string context', { query: 'q', context: ['a'] }, 'context must be a string'],
    ['max_tokens 0', { query: 'q', max_tokens: 0 }, 'max_tokens must be an integer from 1 to 256'],
    ['max_tokens over the maximum', { query: 'q', max_tokens: 257 }, 'max_tokens must be an integer from 1 to 256'],
    ['a fractional max_tokens', { query: 'q', max_tokens: 1.5 }, 'max_tokens must be an integer from 1 to 256'],
    ['max_tokens as a string', { query: 'q', max_tokens: '10' }, 'max_tokens must be an integer from 1 to 256'],
    [
      'an unknown field',
      { query: 'q', temperature: 1 },
      'unknown field temperature (allowed: query, context, max_tokens)',
    ],
    ['a JSON array', [{ query: 'q' }], 'body must be a JSON object'],
    ['JSON null', 'null', 'body must be a JSON object'],
    ['non-JSON', 'query=hello', 'body must be a JSON object encoded as UTF-8'],
    ['an empty body', '', 'body must be a JSON object encoded as UTF-8'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 'body must be a JSON object encoded as UTF-8'],
  ])('rejects %s with a 400 that says so', (_name, body, message) => {
    expect(problem(body)).toBe(message);
  });

  it('leaves userId out when X-User-ID is not sent (the member is then the token’s subject)', () => {
    const request = parseChatRequest(input({ query: 'hi' }, { 'x-group-id': 'eng' }), limits);
    expect(request).toEqual({ query: 'hi', groupId: 'eng' });
    expect(request).not.toHaveProperty('userId');
  });

  it('reports every problem at once, headers included', () => {
    expect(problem({ query: '', max_tokens: 0, a: 1, b: 2 }, { 'x-user-id': ' ' })).toBe(
      'header X-Group-ID is required; ' +
        "header X-User-ID must not be blank (leave it out to act as the token's subject); query must not be empty; " +
        'max_tokens must be an integer from 1 to 256; unknown fields a, b (allowed: query, context, max_tokens)',
    );
  });

  it.each<[string, Record<string, string>, string]>([
    ['a missing X-Group-ID', { 'x-user-id': 'u' }, 'header X-Group-ID is required'],
    [
      'a blank X-User-ID',
      { 'x-group-id': 'g', 'x-user-id': '  ' },
      "header X-User-ID must not be blank (leave it out to act as the token's subject)",
    ],
    [
      'an empty X-User-ID',
      { 'x-group-id': 'g', 'x-user-id': '' },
      "header X-User-ID must not be blank (leave it out to act as the token's subject)",
    ],
    [
      'an overlong X-Group-ID',
      { 'x-group-id': 'g'.repeat(129), 'x-user-id': 'u' },
      'header X-Group-ID must be at most 128 characters without control characters',
    ],
    [
      'a control character in X-User-ID',
      { 'x-group-id': 'g', 'x-user-id': 'a\u0007b' },
      'header X-User-ID must be at most 128 characters without control characters',
    ],
  ])('rejects %s', (_name, h, message) => {
    expect(problem({ query: 'q' }, h)).toBe(message);
  });

  it('answers 413 for a body over the limit before looking at it', () => {
    const big = Buffer.alloc(limits.maxBodyBytes + 1, 0x20);
    expect(() => parseChatRequest(input(big), limits)).toThrow(PayloadTooLargeError);
    expect(() => parseChatRequest(input(Buffer.alloc(limits.maxBodyBytes, 0x20)), limits)).toThrow(ValidationError);
  });
});

describe('apiConversationKey', () => {
  it('is per tenant, group and member', () => {
    expect(apiConversationKey('svc', 'eng', 'alice')).toBe('api#svc#eng#alice');
    const keys = new Set([
      apiConversationKey('svc', 'eng', 'alice'),
      apiConversationKey('svc', 'eng', 'bob'),
      apiConversationKey('svc', 'ops', 'alice'),
      apiConversationKey('other', 'eng', 'alice'),
    ]);
    expect(keys.size).toBe(4);
  });

  it('escapes # and % so ids cannot forge another key', () => {
    expect(apiConversationKey('svc', 'a#b', 'c')).toBe('api#svc#a%23b#c');
    expect(apiConversationKey('svc', 'a', 'b#c')).not.toBe(apiConversationKey('svc', 'a#b', 'c'));
    expect(apiConversationKey('svc', '%23', 'x')).toBe('api#svc#%2523#x');
  });
});
