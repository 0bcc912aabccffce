import { MalformedEventError } from '#core/errors';
import {
  assertWithinWindow,
  decodeJsonObject,
  decodeUtf8,
  getHeader,
  isAllowedReplyUrl,
  isRecord,
  parseEpochHeader,
  parseJsonObject,
} from '#platforms/shared/index';
import type { IncomingMessage, ParseResult, RawRequest } from '#platforms/types';
import { decryptMessage, verifyMsgSignature } from './biz-msg-crypt';
import { mentionsName, stripBotMention } from './bot-mention';
import { RESPONSE_URL_LIFETIME_MS, type ResolvedWeComConfig } from './config';
import { wecomFileAttachment } from './files';
import {
  encryptedPassiveReply,
  STREAM_WINDOW_MS,
  streamRefreshSchema,
  streamReply,
  wecomStreamId,
} from './stream-protocol';

/** What WeCom expects for an accepted callback when no passive reply is sent: 200 with an empty body. */
const EMPTY_ACK = { statusCode: 200, headers: { 'content-type': 'text/plain' }, body: '' };
const XML_ENCRYPT = /<Encrypt>\s*(?:<!\[CDATA\[([^\]]*)\]\]>|([^<]*))\s*<\/Encrypt>/;

export interface WeComParseOptions {
  /**
   * Whether the reply in this chat is streamed: the message is then acknowledged with a passive `stream` reply, which
   * makes WeCom poll for the text (`stream-protocol.ts`). @default never
   */
  readonly startsStream?: (chatId: string) => boolean;
}

/**
 * Parses a callback that arrived on the bot's long connection (`ChatPlatform.parseConnectionEvent`): the
 * `aibot_msg_callback` / `aibot_event_callback` frame. Its `body` is the JSON the webhook's callback decrypts to (same
 * fields: aibot-node-sdk `BaseMessage`), unsigned and unencrypted (the socket was opened with the bot's secret, see
 * `ChatPlatform.parseConnectionEvent`). The reply handle carries the frame's `req_id` instead of `response_url`: the
 * reply goes back on the socket, through the relay (`relay.ts`).
 * @throws MalformedEventError when the frame or its body is not a callback's shape.
 */
export function parseWeComConnectionEvent(payload: unknown, config: ResolvedWeComConfig, now: number): ParseResult {
  const headers = isRecord(payload) && isRecord(payload.headers) ? payload.headers : undefined;
  const reqId = headers?.req_id;
  if (typeof reqId !== 'string' || reqId === '' || reqId.length > 256) {
    throw new MalformedEventError('Long-connection callback has no headers.req_id');
  }
  const body = isRecord(payload) ? payload.body : undefined;
  if (!isRecord(body)) {
    throw new MalformedEventError('Long-connection callback has no body object');
  }
  return normalise(body, config, now, now, { reqId });
}

/**
 * Verifies, decrypts and normalises one WeCom callback.
 * GET is the URL check (answer the decrypted `echostr`); POST carries `{"encrypt": …}` (AI bots, JSON) or the
 * legacy `<xml><Encrypt>…` of self-built apps, which is decrypted and then ignored. A `stream` refresh callback is
 * verified like any other and returned as `stream_refresh`.
 */
export function parseWeComRequest(
  request: RawRequest,
  config: ResolvedWeComConfig,
  now: number,
  options: WeComParseOptions = {},
): ParseResult {
  if (request.method === 'GET') {
    const echo = openCiphertext(request, request.query.echostr, config, now);
    return { kind: 'handshake', response: { statusCode: 200, headers: { 'content-type': 'text/plain' }, body: echo } };
  }
  const envelope = readEnvelope(request);
  const plaintext = openCiphertext(request, envelope.encrypt, config, now);
  if (envelope.format === 'xml') {
    return { kind: 'ignored', reason: 'legacy XML callback (self-built app), not an AI bot message' };
  }
  const payload = parseJsonObject(plaintext);
  if (payload.msgtype === 'stream') return streamRefresh(payload);
  // Verified by `openCiphertext` above: when WeCom sent the callback, a bound on when the member sent the message.
  const sentAt = parseEpochHeader(request.query.timestamp, 'seconds');
  return normalise(payload, config, now, sentAt, options);
}

function streamRefresh(payload: Record<string, unknown>): ParseResult {
  const refresh = streamRefreshSchema.safeParse(payload);
  if (!refresh.success) {
    throw new MalformedEventError(`Stream refresh callback is malformed: ${refresh.error.issues[0]?.message ?? ''}`);
  }
  return { kind: 'stream_refresh', streamId: refresh.data.stream.id };
}

/**
 * Verifies the query's `msg_signature` over `encrypt`, checks the timestamp window and decrypts.
 * Exposed for the legacy XML and URL-check vectors.
 */
export function openCiphertext(
  request: Pick<RawRequest, 'query'>,
  encrypt: string | undefined,
  config: ResolvedWeComConfig,
  now: number,
): string {
  const verified = verifyMsgSignature(config.token, {
    signature: request.query.msg_signature,
    timestamp: request.query.timestamp,
    nonce: request.query.nonce,
    encrypt,
  });
  assertWithinWindow(parseEpochHeader(verified.timestamp, 'seconds'), now, config.timestampWindowMs);
  return decryptMessage(config.aesKey, verified.encrypt, config.receiveId);
}

function readEnvelope(request: RawRequest): { format: 'json' | 'xml'; encrypt: string | undefined } {
  const contentType = getHeader(request.headers, 'content-type');
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType === 'text/xml' || mediaType === 'application/xml') {
    const match = XML_ENCRYPT.exec(decodeUtf8(request.body));
    if (!match) {
      throw new MalformedEventError('XML callback has no <Encrypt> element');
    }
    return { format: 'xml', encrypt: match[1] ?? match[2] };
  }
  const body = decodeJsonObject(request.body, contentType);
  if (typeof body.encrypt !== 'string') {
    throw new MalformedEventError('Callback body has no "encrypt" string');
  }
  return { format: 'json', encrypt: body.encrypt };
}

function normalise(
  payload: Record<string, unknown>,
  config: ResolvedWeComConfig,
  now: number,
  sentAt: number,
  options: WeComParseOptions & { readonly reqId?: string },
): ParseResult {
  const msgtype = requireString(payload, 'msgtype');
  const msgid = requireString(payload, 'msgid');
  // A file message (1:1 chats only) has no text; a text message may quote a file ("@bot /data …" on a shared CSV).
  const file = msgtype === 'text' || msgtype === 'file' ? wecomFileAttachment(payload) : undefined;
  if (msgtype !== 'text' && msgtype !== 'voice' && file === undefined) {
    const detail = msgtype === 'event' && isRecord(payload.event) ? ` ${String(payload.event.eventtype)}` : '';
    return { kind: 'ignored', reason: `msgtype ${msgtype}${detail} is not a text message`, eventId: msgid };
  }
  const aibotid = requireString(payload, 'aibotid');
  const userid = isRecord(payload.from) ? payload.from.userid : undefined;
  if (typeof userid !== 'string' || userid === '') {
    throw new MalformedEventError('Message has no from.userid');
  }
  if (userid === aibotid) {
    return { kind: 'ignored', reason: 'message sent by the bot itself', eventId: msgid };
  }
  const chattype = payload.chattype;
  if (chattype !== 'single' && chattype !== 'group') {
    throw new MalformedEventError(`Unknown chattype ${String(chattype)}`);
  }
  // A voice message (1:1 chats only) arrives as WeCom's own transcript, `voice.content` (docs/VOICE.md).
  const body = msgtype === 'voice' ? payload.voice : payload.text;
  const content = msgtype === 'file' ? '' : isRecord(body) ? body.content : undefined;
  if (typeof content !== 'string') {
    throw new MalformedEventError(`${msgtype === 'voice' ? 'Voice' : 'Text'} message has no ${msgtype}.content`);
  }
  const group = chattype === 'group';
  const chatId = group ? requireString(payload, 'chatid') : userid;
  const mentionedBot = group && (config.botName === undefined || mentionsName(content, config.botName));
  const responseUrl = typeof payload.response_url === 'string' ? payload.response_url : undefined;
  const createTime = typeof payload.create_time === 'number' ? payload.create_time * 1000 : now;
  const stream = options.startsStream?.(chatId)
    ? { streamId: wecomStreamId(msgid), streamUntil: Math.min(createTime, sentAt) + STREAM_WINDOW_MS }
    : undefined;

  const message: IncomingMessage = {
    platform: 'wecom',
    tenantId: aibotid,
    chatId,
    chatType: group ? 'group' : 'direct',
    senderId: userid,
    eventId: msgid,
    messageId: msgid,
    text: stripBotMention(content, { botName: config.botName, onlyBotMentioned: group }),
    mentionedBot,
    timestamp: createTime,
    replyHandle:
      options.reqId !== undefined
        ? { platform: 'wecom', chatId, reqId: options.reqId }
        : {
            platform: 'wecom',
            chatId,
            ...(responseUrl !== undefined && isAllowedReplyUrl(responseUrl, config.replyUrls)
              ? { responseUrl, responseUrlExpiresAt: now + RESPONSE_URL_LIFETIME_MS }
              : {}),
            ...stream,
          },
    ...(file === undefined ? {} : { attachments: [file] }),
  };
  if (!stream) return { kind: 'message', message, ack: EMPTY_ACK };
  const ack = encryptedPassiveReply(streamReply(stream.streamId, false, ''), config, now);
  return { kind: 'message', message, ack, ignoredAck: EMPTY_ACK };
}

function requireString(payload: Record<string, unknown>, field: string): string {
  const value = payload[field];
  if (typeof value !== 'string' || value === '') {
    throw new MalformedEventError(`Message has no ${field}`);
  }
  return value;
}
