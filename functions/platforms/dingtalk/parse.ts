import { randomBytes } from 'node:crypto';
import { MalformedEventError } from '#core/errors';
import { decodeJsonObject, getHeader, isAllowedReplyUrl, isRecord, parseJsonObject } from '#platforms/shared/index';
import type { IncomingMessage, ParseResult, RawRequest, ReplyHandle } from '#platforms/types';
import { stripBotMention } from '#platforms/wecom/bot-mention';
import { decryptDingTalkCallback, encryptDingTalkResponse } from './callback-crypto';
import type { ResolvedDingTalkConfig } from './config';
import { dingtalkAudioAttachment, dingtalkFileAttachment } from './files';
import { verifyRobotSign } from './robot-sign';

/**
 * Verifies and normalises one DingTalk callback: a robot message (signed `timestamp`/`sign` headers, plain JSON
 * body) or, when `callbackCrypto` is configured, an encrypted event-subscription callback (`signature` in the
 * query), whose `check_url` handshake is answered and whose other events are ignored.
 */
export function parseDingTalkRequest(request: RawRequest, config: ResolvedDingTalkConfig, now: number): ParseResult {
  if (request.method !== 'POST') {
    throw new MalformedEventError('DingTalk callbacks are POST requests');
  }
  const signature = request.query.signature ?? request.query.msg_signature;
  if (config.callbackCrypto && signature !== undefined) {
    return parseEventSubscription(request, signature, config, now);
  }
  verifyRobotSign(request.headers, config.appSecret, now, config.timestampWindowMs);
  const body = decodeJsonObject(request.body, getHeader(request.headers, 'content-type'));
  return normaliseRobotMessage(body, config, now);
}

function parseEventSubscription(
  request: RawRequest,
  signature: string,
  config: ResolvedDingTalkConfig,
  now: number,
): ParseResult {
  const keys = config.callbackCrypto!;
  const body = decodeJsonObject(request.body, getHeader(request.headers, 'content-type'));
  const plaintext = decryptDingTalkCallback(
    {
      signature,
      timestamp: request.query.timestamp,
      nonce: request.query.nonce,
      encrypt: typeof body.encrypt === 'string' ? body.encrypt : undefined,
    },
    keys,
    now,
    config.timestampWindowMs,
  );
  const event = parseJsonObject(plaintext);
  const eventType = typeof event.EventType === 'string' ? event.EventType : 'unknown';
  if (eventType !== 'check_url') {
    return { kind: 'ignored', reason: `event subscription ${eventType} is not handled` };
  }
  const answer = encryptDingTalkResponse('success', keys, String(now), randomBytes(8).toString('hex'));
  return {
    kind: 'handshake',
    response: { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(answer) },
  };
}

/**
 * Normalises a robot message that needs no verification: DingTalk Stream's CALLBACK `data` on the topic
 * `/v1.0/im/bot/messages/get` is the same body the HTTP callback posts, delivered on the app's authenticated stream
 * connection (`ChatPlatform.parseConnectionEvent`), so it carries no `timestamp`/`sign` headers to check.
 * @throws MalformedEventError when the body is not an object or lacks fields.
 */
export function parseDingTalkRobotMessage(payload: unknown, config: ResolvedDingTalkConfig, now: number): ParseResult {
  if (!isRecord(payload)) throw new MalformedEventError('DingTalk robot message is not a JSON object');
  return normaliseRobotMessage(payload, config, now);
}

function normaliseRobotMessage(
  body: Record<string, unknown>,
  config: ResolvedDingTalkConfig,
  now: number,
): ParseResult {
  const msgId = requireString(body, 'msgId');
  const chatbotUserId = requireString(body, 'chatbotUserId');
  const senderId = requireString(body, 'senderId');
  if (senderId === chatbotUserId) {
    return { kind: 'ignored', reason: 'message sent by the robot itself', eventId: msgId };
  }
  const msgtype = requireString(body, 'msgtype');
  // A file message (1:1 chats only) carries no text: only its file, for a skill that reads files.
  const file =
    msgtype === 'file'
      ? dingtalkFileAttachment(body, optionalString(body, 'robotCode') ?? config.robotCode)
      : undefined;
  // A voice message carries DingTalk's own transcript (`content.recognition`): that is the member's text. Without
  // one, its audio (`content.downloadCode`) is attached and the worker transcribes it (docs/VOICE.md).
  const heard = msgtype === 'audio' && isRecord(body.content) ? body.content.recognition : undefined;
  const recognition = typeof heard === 'string' && heard.trim() !== '' ? heard : undefined;
  const audio =
    msgtype === 'audio' && recognition === undefined
      ? dingtalkAudioAttachment(body, optionalString(body, 'robotCode') ?? config.robotCode)
      : undefined;
  if (msgtype === 'audio' && recognition === undefined && audio === undefined) {
    return { kind: 'ignored', reason: 'audio message without recognition text or audio file', eventId: msgId };
  }
  if (msgtype !== 'text' && msgtype !== 'audio' && file === undefined) {
    return { kind: 'ignored', reason: `msgtype ${msgtype} is not a text message`, eventId: msgId };
  }
  const attachment = file ?? audio;
  const content =
    attachment !== undefined
      ? ''
      : recognition !== undefined
        ? recognition
        : isRecord(body.text)
          ? body.text.content
          : undefined;
  if (typeof content !== 'string') {
    throw new MalformedEventError('Text message has no text.content');
  }
  const conversationId = requireString(body, 'conversationId');
  const chatType = body.conversationType === '2' ? 'group' : body.conversationType === '1' ? 'direct' : undefined;
  if (chatType === undefined) {
    throw new MalformedEventError(`Unknown conversationType ${String(body.conversationType)}`);
  }
  const atIds = mentionedIds(body.atUsers);
  const mentionedBot = atIds.includes(chatbotUserId) || body.isInAtList === true;
  const staffId = optionalString(body, 'senderStaffId');
  const nick = optionalString(body, 'senderNick');
  const createAt = typeof body.createAt === 'number' ? body.createAt : now;

  const message: IncomingMessage = {
    platform: 'dingtalk',
    tenantId: optionalString(body, 'chatbotCorpId') ?? optionalString(body, 'senderCorpId') ?? config.appKey,
    chatId: conversationId,
    chatType,
    senderId: staffId ?? senderId,
    ...(nick !== undefined ? { senderName: nick } : {}),
    eventId: msgId,
    messageId: msgId,
    text: stripBotMention(content, {
      botName: config.botName,
      onlyBotMentioned: mentionedBot && atIds.every((id) => id === chatbotUserId),
    }),
    mentionedBot,
    timestamp: createAt,
    replyHandle: {
      ...replyHandle(body, conversationId, config),
      conversationType: chatType,
      ...(staffId !== undefined ? { senderStaffId: staffId } : {}),
    },
    ...(attachment === undefined ? {} : { attachments: [attachment] }),
  };
  return { kind: 'message', message };
}

/**
 * The body is unsigned, so `sessionWebhook` is only kept when its origin is on the allowlist; otherwise the reply
 * goes through the robot API on the configured base URL, never to a URL taken from the request.
 */
function replyHandle(
  body: Record<string, unknown>,
  conversationId: string,
  config: ResolvedDingTalkConfig,
): Extract<ReplyHandle, { platform: 'dingtalk' }> {
  const sessionWebhook = optionalString(body, 'sessionWebhook');
  const expiresAt = body.sessionWebhookExpiredTime;
  const usable =
    sessionWebhook !== undefined &&
    typeof expiresAt === 'number' &&
    isAllowedReplyUrl(sessionWebhook, config.replyUrls);
  return {
    platform: 'dingtalk',
    conversationId,
    robotCode: optionalString(body, 'robotCode') ?? config.robotCode,
    ...(usable ? { sessionWebhook, sessionWebhookExpiresAt: expiresAt } : {}),
  };
}

function mentionedIds(atUsers: unknown): string[] {
  if (!Array.isArray(atUsers)) {
    return [];
  }
  return atUsers.flatMap((user) => (isRecord(user) && typeof user.dingtalkId === 'string' ? [user.dingtalkId] : []));
}

function requireString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') {
    throw new MalformedEventError(`Robot message has no ${field}`);
  }
  return value;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
