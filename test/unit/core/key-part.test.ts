import { apiConversationKey } from '#core/chat-request';
import { conversationKey, groupKey } from '#core/conversation-key';
import {
  DYNAMO_PARTITION_KEY_MAX_BYTES,
  DYNAMO_SORT_KEY_MAX_BYTES,
  eventKey,
  fifoId,
  hashedId,
  keyPart,
  SQS_FIFO_ID_MAX_CHARS,
} from '#core/key-part';
import type { IncomingMessage } from '#platforms/types';
import { activeUserKey, memberGroupKey } from '#stores/active-users';

/**
 * Issue 13 (hardening): ids we do not control become DynamoDB keys and SQS FIFO ids. Short plain ids stay readable
 * and unchanged; over-long or odd ones are hashed, deterministically, so every key fits its store's limits.
 */

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
const HASHED = /^h:[A-Za-z0-9_-]{43}$/;
/** What SQS accepts as a MessageGroupId / MessageDeduplicationId. */
const isFifoId = (s: string): boolean => s.length >= 1 && s.length <= SQS_FIFO_ID_MAX_CHARS && /^[\x21-\x7e]+$/.test(s);

/** Hostile or merely unusual ids from the platforms, a JWT subject or REST headers. */
const ODD_IDS: readonly [string, string][] = [
  ['a DingTalk conversationId of 200 characters', `cid${'A1b2+/='.repeat(28)}=`],
  ['a 3 KB chat id', 'c'.repeat(3072)],
  ['a 3,000-character JWT subject', 's'.repeat(3000)],
  ['a 3 KB CJK id (9 KB of UTF-8)', '群'.repeat(3072)],
  ['a short CJK id', '技术部群'],
  ['an emoji id', 'team🚀'],
  ['an accented id', 'équipe'],
  ['an id with a space', 'eng team'],
  ['an id with a tab', 'eng\tteam'],
  ['an id with a newline', 'eng\nteam'],
  ['an id with DEL', 'eng\u007fteam'],
  ['an id with NUL', 'eng\u0000team'],
  ['an id posing as a digest', hashedId('victim')],
  ['129 ASCII characters', 'x'.repeat(129)],
  ['127 characters that grow past 128 when # is escaped', `${'y'.repeat(126)}#`],
];

describe('keyPart', () => {
  it.each<[string, string, string]>([
    ['a Feishu open_id', 'ou_7d8a6e6df7621556ce0d21922b676706ccs', 'ou_7d8a6e6df7621556ce0d21922b676706ccs'],
    ['a DingTalk sender id', '$:LWCP_v1:$Ab+cD/eF==', '$:LWCP_v1:$Ab+cD/eF=='],
    ['a Slack thread ts', '1700000000.000100', '1700000000.000100'],
    ['an id with # and %', 'a#b%c', 'a%23b%25c'],
    ['the empty tenant', '', ''],
    ['exactly 128 characters', 'z'.repeat(128), 'z'.repeat(128)],
  ])('keeps %s readable (existing keys do not change)', (_name, id, expected) => {
    expect(keyPart(id)).toBe(expected);
  });

  it.each(ODD_IDS)('hashes %s into h: + 43 base64url characters', (_name, id) => {
    const part = keyPart(id);
    expect(part).toMatch(HASHED);
    expect(part).toBe(hashedId(id));
    expect(keyPart(id)).toBe(part); // deterministic: every delivery of the id finds the same key
  });

  it('never maps two different ids to one part, even ones sharing a 2 KB prefix or posing as a digest', () => {
    const prefix = 'p'.repeat(2048);
    const ids = [`${prefix}1`, `${prefix}2`, 'victim', hashedId('victim'), 'a#b', 'a%23b', 'a b', 'a_b'];
    const parts = ids.map(keyPart);
    expect(new Set(parts).size).toBe(ids.length);
  });
});

describe('fifoId', () => {
  it('keeps a short conversation key or event key as it is', () => {
    expect(fifoId('feishu#t1#oc_1#ou_1')).toBe('feishu#t1#oc_1#ou_1');
    expect(fifoId('x'.repeat(128))).toBe('x'.repeat(128));
  });

  it.each<[string, string]>([
    ['129 characters', 'x'.repeat(129)],
    [
      'a realistic DingTalk member key (over 128 characters)',
      `dingtalk#ding${'9'.repeat(32)}#cid${'Q'.repeat(44)}==#$:LWCP_v1:$${'k'.repeat(40)}`,
    ],
    ['a key with a space', 'slack#T1#C 1#U1'],
    ['a key with non-ASCII', 'wecom#corp#群#u1'],
    ['the empty string', ''],
  ])('hashes %s to a valid FIFO id', (_name, value) => {
    const id = fifoId(value);
    expect(isFifoId(id)).toBe(true);
    expect(id).toMatch(HASHED);
    expect(fifoId(value)).toBe(id);
  });
});

const message = (overrides: Partial<IncomingMessage> = {}) => ({
  platform: 'dingtalk' as const,
  tenantId: 'ding1234',
  chatId: 'cidAbC==',
  senderId: 'staff-1',
  threadId: undefined as string | undefined,
  ...overrides,
});

describe('keys built from odd ids fit DynamoDB and SQS', () => {
  it('leaves the keys of ordinary ids exactly as before', () => {
    expect(conversationKey(message(), 'member')).toBe('dingtalk#ding1234#cidAbC==#staff-1');
    expect(conversationKey(message({ threadId: 't#1' }), 'thread')).toBe('dingtalk#ding1234#cidAbC==#staff-1#t%231');
    expect(groupKey(message())).toBe('dingtalk#ding1234#cidAbC==');
    expect(eventKey('slack', 'Ev0123ABC')).toBe('slack#Ev0123ABC');
    expect(apiConversationKey('alice', 'eng', 'bob')).toBe('api#alice#eng#bob');
  });

  it.each(ODD_IDS)('conversation and group keys with %s in every id', (_name, id) => {
    const m = message({ tenantId: id, chatId: id, senderId: id, threadId: id });
    for (const key of [
      conversationKey(m, 'member'),
      conversationKey(m, 'thread'),
      conversationKey(m, 'group'),
      groupKey(m),
      `GROUP#${groupKey(m)}`,
      activeUserKey({ platform: 'dingtalk', tenantId: id, chatId: id, userId: id }, Date.UTC(2026, 10, 1)),
      apiConversationKey(id, id, id),
      eventKey('dingtalk', id),
    ]) {
      expect(bytes(key)).toBeLessThanOrEqual(DYNAMO_PARTITION_KEY_MAX_BYTES);
      expect(isFifoId(fifoId(key))).toBe(true);
      expect(key).toContain(hashedId(id)); // the odd id is hashed, not cut or dropped
    }
  });

  it('a DingTalk group of 200-character conversation ids: member key readable except the long part', () => {
    const chatId = `cid${'Z'.repeat(197)}`;
    const key = conversationKey(message({ chatId }), 'member');
    expect(key).toBe(`dingtalk#ding1234#${hashedId(chatId)}#staff-1`);
    expect(fifoId(key)).toBe(key); // now short enough to be the message group itself
  });

  it('keeps members apart when their long ids differ only at the end', () => {
    const base = 'u'.repeat(3000);
    const a = conversationKey(message({ senderId: `${base}a` }), 'member');
    const b = conversationKey(message({ senderId: `${base}b` }), 'member');
    expect(a).not.toBe(b);
    expect(fifoId(a)).not.toBe(fifoId(b));
  });

  it('an id equal to another id’s digest does not share that member’s context', () => {
    const victim = 'v'.repeat(3000);
    const forged = hashedId(victim);
    expect(conversationKey(message({ senderId: forged }), 'member')).not.toBe(
      conversationKey(message({ senderId: victim }), 'member'),
    );
  });

  it('`api` callers get their own group key in the ledger and /cost lookup', () => {
    const member = { platform: 'api' as const, tenantId: 'svc', chatId: 'eng', userId: 'alice' };
    expect(memberGroupKey(member)).toBe('api#svc#eng');
    expect(memberGroupKey({ ...member, tenantId: 'x'.repeat(3000) })).toBe(`api#${hashedId('x'.repeat(3000))}#eng`);
  });

  it('the audit/ledger sort key `<ISO>#<id>` stays within 1,024 bytes for a 3,000-character event id', () => {
    const sk = `${new Date(0).toISOString()}#${keyPart('e'.repeat(3000))}`;
    expect(bytes(sk)).toBeLessThanOrEqual(DYNAMO_SORT_KEY_MAX_BYTES);
  });
});
