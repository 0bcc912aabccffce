import { MalformedEventError, SignatureError } from '#core/errors';
import { getHeader } from '#platforms/shared/headers';
import { decodeJsonObject, decodeUtf8, isRecord, parseJsonObject } from '#platforms/shared/json-body';
import { assertWithinWindow, parseEpochHeader } from '#platforms/shared/timestamp-window';
import { secretMatcher } from '#platforms/shared/timing-safe';
import type { IncomingMessage, ParseResult, RawRequest } from '#platforms/types';
import * as z from '#shared/zod';
import { FEISHU_DEFAULT_REPLAY_WINDOW_MS, type FeishuConfig } from './config';
import { decryptFeishu, isValidFeishuSignature } from './crypto';
import { feishuAudioAttachment, feishuFileAttachment, feishuRepliedAttachment } from './files';

const mentionSchema = z.object({
  key: z.string(),
  id: z.object({ open_id: z.optional(z.string()) }),
  name: z.optional(z.string()),
});

const messageEventSchema = z.object({
  header: z.object({
    event_id: z.string().check(z.minLength(1)),
    event_type: z.string(),
    tenant_key: z.string().check(z.minLength(1)),
    create_time: z.optional(z.string()),
  }),
  event: z.object({
    sender: z.object({
      sender_id: z.object({ open_id: z.string().check(z.minLength(1)) }),
      sender_type: z.string(),
    }),
    message: z.object({
      message_id: z.string().check(z.minLength(1)),
      chat_id: z.string().check(z.minLength(1)),
      chat_type: z.string(),
      message_type: z.string(),
      content: z.string(),
      create_time: z.string().check(z.regex(/^\d+$/)),
      thread_id: z.optional(z.string()),
      parent_id: z.optional(z.string()),
      mentions: z.optional(z.array(mentionSchema)),
    }),
  }),
});

type FeishuMention = z.infer<typeof mentionSchema>;

/**
 * Verifies and parses one Feishu event callback (event schema 2.0, `im.message.receive_v1`).
 *
 * Order: signature + timestamp over the raw bytes (when the headers are present) → decode → decrypt → token →
 * dispatch. Feishu does not sign the `url_verification` request, so an unsigned body is decoded only to recognise
 * that handshake; it is answered only when its verification token matches, and every other unsigned event is a
 * `SignatureError`.
 */
export function parseFeishuRequest(config: FeishuConfig, request: RawRequest, now: number): ParseResult {
  if (request.method !== 'POST') {
    throw new MalformedEventError(`Feishu events are POSTed, got ${request.method}`);
  }
  const signed = verifySignatureHeaders(config, request, now);
  const outer = decodeJsonObject(request.body, getHeader(request.headers, 'content-type'));
  if (outer.encrypt !== undefined && typeof outer.encrypt !== 'string') {
    throw new MalformedEventError('Feishu `encrypt` is not a string');
  }
  const payload = typeof outer.encrypt === 'string' ? decryptPayload(outer.encrypt, config.encryptKey) : outer;

  if (payload.type === 'url_verification') {
    assertToken(config, payload.token);
    if (typeof payload.challenge !== 'string') {
      throw new MalformedEventError('Feishu url_verification without a string `challenge`');
    }
    return {
      kind: 'handshake',
      response: {
        statusCode: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ challenge: payload.challenge }),
      },
    };
  }
  if (!signed) {
    throw new SignatureError('Feishu event without X-Lark-Signature');
  }
  if (payload.schema !== '2.0') {
    assertToken(config, payload.token);
    return { kind: 'ignored', reason: 'unsupported_schema:1.0' };
  }
  if (!isRecord(payload.header)) {
    throw new MalformedEventError('Feishu schema 2.0 event without a `header` object');
  }
  assertToken(config, payload.header.token);
  return parseEventV2(config, payload.header, payload);
}

/**
 * Parses an event that arrived on the app's long connection (`ChatPlatform.parseConnectionEvent`): the JSON of an
 * `event` data frame, the same schema 2.0 body the webhook receives, but in plaintext and unsigned. Nothing is
 * verified here, on purpose: the socket was opened at a URL that only the app's App ID and App Secret buy from
 * `/callback/ws/endpoint`, over TLS, by the connector itself (outbound, from the private network), so every frame on
 * it is Feishu's; there is no signature to check, and the verification token is not checked either: it guards the
 * unsigned HTTP URL check, which never comes over a socket. An `{encrypt}` body is still opened with the Encrypt Key,
 * as the SDK's dispatcher does on both transports: whether Feishu ever encrypts socket events is unverified, and
 * reading them costs nothing, where ignoring them would silence the bot.
 * @throws MalformedEventError when the body is not an object or an `im.message.receive_v1` lacks fields.
 */
export function parseFeishuConnectionEvent(config: FeishuConfig, body: unknown): ParseResult {
  if (!isRecord(body)) throw new MalformedEventError('Feishu event is not a JSON object');
  if (body.encrypt !== undefined && typeof body.encrypt !== 'string') {
    throw new MalformedEventError('Feishu `encrypt` is not a string');
  }
  const payload = typeof body.encrypt === 'string' ? decryptPayload(body.encrypt, config.encryptKey) : body;
  if (payload.schema !== '2.0') {
    return { kind: 'ignored', reason: `unsupported_schema:${String(payload.schema ?? '1.0')}` };
  }
  if (!isRecord(payload.header)) {
    throw new MalformedEventError('Feishu schema 2.0 event without a `header` object');
  }
  return parseEventV2(config, payload.header, payload);
}

/**
 * Checks `X-Lark-Signature` and the timestamp window when the signature header is present.
 * @returns whether the request was signed (and verified).
 */
function verifySignatureHeaders(config: FeishuConfig, request: RawRequest, now: number): boolean {
  const signature = getHeader(request.headers, 'x-lark-signature');
  if (signature === undefined) {
    return false;
  }
  const timestamp = getHeader(request.headers, 'x-lark-request-timestamp');
  const nonce = getHeader(request.headers, 'x-lark-request-nonce');
  if (timestamp === undefined || nonce === undefined) {
    throw new SignatureError('Feishu signature without X-Lark-Request-Timestamp or X-Lark-Request-Nonce');
  }
  if (!isValidFeishuSignature(signature, timestamp, nonce, config.encryptKey, request.body)) {
    throw new SignatureError('Feishu X-Lark-Signature does not match the body');
  }
  assertWithinWindow(
    parseEpochHeader(timestamp, 'seconds'),
    now,
    config.replayWindowMs ?? FEISHU_DEFAULT_REPLAY_WINDOW_MS,
  );
  return true;
}

function decryptPayload(encrypt: string, encryptKey: string): Record<string, unknown> {
  return parseJsonObject(decodeUtf8(decryptFeishu(encrypt, encryptKey)));
}

let tokenCheck: { readonly token: string; readonly matches: (candidate: string) => boolean } | undefined;

function assertToken(config: FeishuConfig, token: unknown): void {
  const expected = config.verificationToken;
  if (expected === undefined) {
    return;
  }
  // The configured token is hashed once per deployment, not per event.
  if (tokenCheck?.token !== expected) tokenCheck = { token: expected, matches: secretMatcher(expected) };
  if (typeof token !== 'string' || !tokenCheck.matches(token)) {
    throw new SignatureError('Feishu verification token does not match');
  }
}

function parseEventV2(
  config: FeishuConfig,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
): ParseResult {
  const eventId = typeof header.event_id === 'string' ? header.event_id : undefined;
  if (header.event_type !== 'im.message.receive_v1') {
    return { kind: 'ignored', reason: `unsupported_event_type:${String(header.event_type)}`, eventId };
  }
  const parsed = messageEventSchema.safeParse(payload);
  if (!parsed.success) {
    const where = parsed.error.issues.map((issue) => issue.path.join('.')).join(', ');
    throw new MalformedEventError(`Feishu im.message.receive_v1 is missing or has invalid fields: ${where}`);
  }
  const { header: h, event } = parsed.data;
  const { message, sender } = event;
  if (sender.sender_type !== 'user') {
    return { kind: 'ignored', reason: `sender_not_user:${sender.sender_type}`, eventId: h.event_id };
  }
  // A file message carries no text (and so no @-mention): only its file, for a skill that reads files.
  // A voice message likewise: only its audio, which the worker transcribes into the question.
  const file =
    message.message_type === 'file'
      ? feishuFileAttachment(message.message_id, message.content)
      : message.message_type === 'audio'
        ? feishuAudioAttachment(message.message_id, message.content)
        : undefined;
  if (message.message_type !== 'text' && file === undefined) {
    return { kind: 'ignored', reason: `unsupported_message_type:${message.message_type}`, eventId: h.event_id };
  }
  // A reply may be about the file it replies to ("@bot /data …" on a shared CSV): found when a skill needs it.
  const replied = file === undefined && message.parent_id ? feishuRepliedAttachment(message.parent_id) : undefined;
  const attachment = file ?? replied;
  const mentions = message.mentions ?? [];
  const mentionedBot = mentions.some((m) => m.id.open_id === config.botOpenId);
  const incoming: IncomingMessage = {
    platform: 'feishu',
    tenantId: h.tenant_key,
    chatId: message.chat_id,
    chatType: message.chat_type === 'p2p' ? 'direct' : 'group',
    threadId: message.thread_id,
    senderId: sender.sender_id.open_id,
    eventId: h.event_id,
    messageId: message.message_id,
    text: file === undefined ? normaliseText(readText(message.content), mentions, config.botOpenId) : '',
    mentionedBot,
    timestamp: Number(message.create_time),
    replyHandle: {
      platform: 'feishu',
      chatId: message.chat_id,
      messageId: message.message_id,
      inThread: message.thread_id !== undefined,
    },
    ...(attachment === undefined ? {} : { attachments: [attachment] }),
  };
  return { kind: 'message', message: incoming };
}

/** A text message's `content` is itself JSON: `{"text": "..."}`. */
function readText(content: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (cause) {
    throw new MalformedEventError('Feishu text `content` is not JSON', { cause });
  }
  const text = (parsed as { text?: unknown } | null)?.text;
  if (typeof text !== 'string') {
    throw new MalformedEventError('Feishu text `content` has no string `text`');
  }
  return text;
}

/**
 * Removes the bot's placeholder (`@_user_N` whose mention is the bot), writes other placeholders as `@Name`,
 * `@_all` as `@all`, and collapses the whitespace the removal leaves.
 */
function normaliseText(text: string, mentions: readonly FeishuMention[], botOpenId: string): string {
  const byKey = new Map(mentions.map((m) => [m.key, m]));
  const replaced = text.replace(/@_user_\d+|@_all/g, (key) => {
    if (key === '@_all') return '@all';
    const mention = byKey.get(key);
    if (!mention) return key;
    if (mention.id.open_id === botOpenId) return '';
    return `@${mention.name ?? mention.id.open_id ?? key.slice(1)}`;
  });
  return replaced.replace(/[ \t]{2,}/g, ' ').trim();
}
