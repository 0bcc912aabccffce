import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { computeMsgSignature, deriveAesKey, encryptMessage } from '#platforms/wecom/biz-msg-crypt';
import { encryptWeComFile, WECOM_FILE_URL_LIFETIME_MS } from '#platforms/wecom/files';
import { DIRECTORY_ERRCODES, directoryEntry, emulatedDepartmentId, emulatedDepartmentName } from './directory';
import { wecomMentions } from './live-mentions';
import type {
  EmulatedApiRequest,
  EmulatedApiResponse,
  EmulatedRequest,
  EmulatorContext,
  InboundMessageInput,
  PlatformEmulator,
} from './types';
import { createStreamPoller, type StreamPollerOptions } from './wecom-stream';

/** The AI bot's display name in emulated groups; the sandbox passes it to the adapter as `botName`. */
export const WECOM_EMULATED_BOT_NAME = 'GroupGate';
/**
 * `errcode` the emulator answers for a reused or expired `response_url`. WeCom's real codes for these cases were
 * not found in the sources available; the adapter treats any non-zero errcode other than a throttle as final.
 */
export const WECOM_EMULATED_RESPONSE_URL_ERRCODE = 40099;
const RESPONSE_URL_LIFETIME_MS = 60 * 60 * 1000;

/**
 * Encrypts and signs any AI-bot payload exactly as WeCom posts it: body `{"encrypt": …}`, `msg_signature`,
 * `timestamp` (seconds) and `nonce` in the query, receive id ''.
 */
export function buildEncryptedWeComRequest(
  payload: object | string,
  ctx: Pick<EmulatorContext, 'credentials' | 'now'>,
  options: { eventId?: string; timestampSeconds?: number; receiveId?: string } = {},
): EmulatedRequest {
  const { token, encodingAesKey } = ctx.credentials.wecom;
  const plain = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const encrypt = encryptMessage(deriveAesKey(encodingAesKey, 'emulator key'), plain, options.receiveId ?? '');
  const timestamp = String(options.timestampSeconds ?? Math.floor(ctx.now() / 1000));
  const nonce = String(randomBytes(4).readUInt32BE());
  return {
    method: 'POST',
    path: '/webhook/wecom',
    query: { msg_signature: computeMsgSignature(token, timestamp, nonce, encrypt), timestamp, nonce },
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ encrypt }), 'utf8'),
    eventId: options.eventId ?? '',
  };
}

/** A decrypted AI-bot text callback as WeCom builds it for one member's message. */
export function wecomMessagePayload(input: InboundMessageInput, ctx: EmulatorContext): Record<string, unknown> {
  const { botId } = ctx.credentials.wecom;
  const group = input.direct !== true;
  const mention = group && input.mentionBot !== false;
  const msgid = input.eventId ?? randomUUID().replace(/-/g, '');
  const code = encodeResponseCode({ chatId: input.chatId, msgid, expiresAt: ctx.now() + RESPONSE_URL_LIFETIME_MS });
  return {
    msgid,
    aibotid: botId,
    ...(group ? { chatid: input.chatId } : {}),
    chattype: group ? 'group' : 'single',
    from: { userid: input.userId },
    response_url: `${ctx.apiBaseUrl}/cgi-bin/aibot/response?response_code=${code}`,
    msgtype: 'text',
    text: { content: mention ? `@${WECOM_EMULATED_BOT_NAME} ${input.text}` : input.text },
  };
}

/**
 * The emulator remembers used response codes, because WeCom accepts each `response_url` once, and polls the streams
 * the bot's answers start (`wecom-stream.ts`).
 */
export function createWeComEmulator(options: StreamPollerOptions = {}): PlatformEmulator {
  const used = new Set<string>();
  const streams = createStreamPoller(options);
  /** Files members shared, by the token in their URL: encrypted as WeCom serves them, readable for 5 minutes. */
  const files = new Map<string, { readonly encrypted: Buffer; readonly expiresAt: number }>();

  /** The file URL: the encrypted bytes while it lives, then 403 as object storage answers an expired signature. */
  const serveFile = (token: string, ctx: EmulatorContext): EmulatedApiResponse => {
    const file = files.get(token);
    if (!file)
      return {
        statusCode: 404,
        headers: { 'content-type': 'application/xml' },
        body: '<Error><Code>NoSuchKey</Code></Error>',
      };
    if (ctx.now() >= file.expiresAt) {
      return {
        statusCode: 403,
        headers: { 'content-type': 'application/xml' },
        body: '<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
      };
    }
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(file.encrypted.byteLength) },
      body: '',
      bytes: file.encrypted,
    };
  };

  /**
   * A member's file: alone in a 1:1 chat it is a `file` message; with a question it is the file the message quotes
   * (`quote`), as WeCom sends "@bot …" written as a quote of a file.
   */
  const withFile = (payload: Record<string, unknown>, input: InboundMessageInput, ctx: EmulatorContext) => {
    const [first] = input.files ?? [];
    if (!first) return payload;
    const token = randomBytes(12).toString('hex');
    const key = deriveAesKey(ctx.credentials.wecom.encodingAesKey, 'emulator key');
    files.set(token, {
      encrypted: encryptWeComFile(key, first.bytes),
      expiresAt: ctx.now() + WECOM_FILE_URL_LIFETIME_MS / ctx.clockScale,
    });
    const file = { url: `${ctx.apiBaseUrl}/_files/${token}` };
    if (input.text === '' && input.direct === true) {
      const { text: _text, ...rest } = payload;
      return { ...rest, msgtype: 'file', file };
    }
    return { ...payload, quote: { msgtype: 'file', file } };
  };

  return {
    platform: 'wecom',
    buildMessageEvent(input, ctx) {
      const payload = withFile(wecomMessagePayload(input, ctx), input, ctx);
      return buildEncryptedWeComRequest(payload, ctx, { eventId: String(payload.msgid) });
    },
    buildHandshake(ctx) {
      const { token, encodingAesKey } = ctx.credentials.wecom;
      const echo = String(randomBytes(8).readBigUInt64BE());
      const echostr = encryptMessage(deriveAesKey(encodingAesKey, 'emulator key'), echo, '');
      const timestamp = String(Math.floor(ctx.now() / 1000));
      const nonce = String(randomBytes(4).readUInt32BE());
      return {
        method: 'GET',
        path: '/webhook/wecom',
        query: { msg_signature: computeMsgSignature(token, timestamp, nonce, echostr), timestamp, nonce, echostr },
        headers: {},
        body: Buffer.alloc(0),
        eventId: '',
      };
    },
    async handleApi(request, ctx) {
      const file = /^\/_files\/([0-9a-f]+)$/.exec(request.path);
      if (request.method === 'GET' && file) return serveFile(file[1] ?? '', ctx);
      if (request.method === 'GET' && request.path === '/cgi-bin/gettoken') return issueDirectoryToken(request, ctx);
      if (request.method === 'GET' && request.path === '/cgi-bin/user/get') return directoryUser(request, ctx);
      if (request.method === 'GET' && request.path === '/cgi-bin/department/get') {
        return directoryDepartment(request, ctx);
      }
      if (request.method !== 'POST' || request.path !== '/cgi-bin/aibot/response') {
        return json(404, { errcode: 404, errmsg: `No emulated WeCom API at ${request.path}` });
      }
      return respond(request, ctx, used);
    },
    onWebhookResponse(request, response, ctx) {
      void streams.start(request, response, ctx, (payload, c) => buildEncryptedWeComRequest(payload, c));
    },
  };
}

function respond(request: EmulatedApiRequest, ctx: EmulatorContext, used: Set<string>): EmulatedApiResponse {
  const fault = ctx.fault?.() ?? 'none';
  if (fault === '429') {
    return { statusCode: 429, headers: { 'content-type': 'application/json', 'retry-after': '1' }, body: '' };
  }
  if (fault === '5xx') {
    return json(500, { errcode: -1, errmsg: 'system busy' });
  }
  const rawCode = request.query.response_code ?? '';
  const code = decodeResponseCode(rawCode);
  if (fault === 'expired-token' || !code || used.has(rawCode) || ctx.now() >= code.expiresAt) {
    return json(200, { errcode: WECOM_EMULATED_RESPONSE_URL_ERRCODE, errmsg: 'response_url expired or already used' });
  }
  const body = parseObject(request.body.toString('utf8'));
  const part = body?.msgtype === 'markdown' ? body.markdown : body?.text;
  const text = isObject(part) ? part.content : undefined;
  if (typeof text !== 'string') {
    return json(200, { errcode: 40008, errmsg: 'invalid message type' });
  }
  used.add(rawCode);
  const mentions = wecomMentions(text, isObject(part) ? part.mentioned_list : undefined);
  ctx.record({ platform: 'wecom', chatId: code.chatId, text, replyTo: code.msgid, messageId: randomUUID(), mentions });
  return json(200, { errcode: 0, errmsg: 'ok' });
}

const DIRECTORY_TOKEN_TTL_SECONDS = 7200;

/**
 * `gettoken?corpid&corpsecret` for the directory's self-built app (`credentials.wecom.directoryCorpId`/`Secret`):
 * 40013 for another corp id, 40001 for another secret, as WeCom answers (HTTP 200).
 */
function issueDirectoryToken(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse {
  const { directoryCorpId, directoryCorpSecret } = ctx.credentials.wecom;
  if (!directoryCorpId || request.query.corpid !== directoryCorpId) {
    return json(200, { errcode: 40013, errmsg: 'invalid corpid' });
  }
  if (!directoryCorpSecret || request.query.corpsecret !== directoryCorpSecret) {
    return json(200, { errcode: 40001, errmsg: 'invalid credential' });
  }
  const issuedAt = String(ctx.now());
  return json(200, {
    errcode: 0,
    errmsg: 'ok',
    access_token: `wc-${issuedAt}-${directoryTokenMac(directoryCorpSecret, issuedAt)}`,
    expires_in: DIRECTORY_TOKEN_TTL_SECONDS,
  });
}

/** Fault injection, then the directory token's check (40014 bad, 42001 for the `expired-token` fault). */
function admitDirectoryCall(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse | undefined {
  const fault = ctx.fault?.() ?? 'none';
  if (fault === '429') {
    return { statusCode: 429, headers: { 'content-type': 'application/json', 'retry-after': '1' }, body: '' };
  }
  if (fault === '5xx') return json(500, { errcode: -1, errmsg: 'system busy' });
  if (fault === 'expired-token') return json(200, { errcode: 42001, errmsg: 'access_token expired' });
  const [, issuedAt = '', mac] = (request.query.access_token ?? '').split('-');
  const secret = ctx.credentials.wecom.directoryCorpSecret ?? '';
  const age = ctx.now() - Number(issuedAt);
  if (
    !secret ||
    mac !== directoryTokenMac(secret, issuedAt) ||
    !(age >= 0 && age < DIRECTORY_TOKEN_TTL_SECONDS * 1000)
  ) {
    return json(200, { errcode: 40014, errmsg: 'invalid access_token' });
  }
  return undefined;
}

/**
 * `user/get?userid`: the member's `position` and `department` ids from the emulated directory (any userid is a
 * member, one without a department sits in the organisation, 1), or the entry's `errcode`. What a self-built app
 * created after 2022-06-20 gets: no avatar, gender, mobile, email or address.
 */
function directoryUser(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse {
  const refused = admitDirectoryCall(request, ctx);
  if (refused) return refused;
  const userid = request.query.userid ?? '';
  if (userid === '') return json(200, { errcode: DIRECTORY_ERRCODES.wecom.noSuchMember, errmsg: 'userid not found' });
  const entry = directoryEntry('wecom', userid);
  if (entry.errcode !== undefined) {
    return json(200, { errcode: entry.errcode, errmsg: `emulated directory errcode ${entry.errcode}` });
  }
  return json(200, {
    errcode: 0,
    errmsg: 'ok',
    userid,
    name: userid,
    department: [emulatedDepartmentId(entry.department)],
    position: entry.title ?? '',
    status: 1,
  });
}

/** `department/get?id`: `department.name`, or 60003 for an unknown id. */
function directoryDepartment(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse {
  const refused = admitDirectoryCall(request, ctx);
  if (refused) return refused;
  const id = Number(request.query.id);
  const name = Number.isInteger(id) ? emulatedDepartmentName(id) : undefined;
  if (name === undefined) {
    return json(200, { errcode: DIRECTORY_ERRCODES.wecom.noSuchDepartment, errmsg: 'department not found' });
  }
  return json(200, { errcode: 0, errmsg: 'ok', department: { id, name, parentid: 1, order: 1 } });
}

function directoryTokenMac(secret: string, issuedAt: string): string {
  return createHmac('sha256', secret).update(issuedAt).digest('hex').slice(0, 24);
}

interface ResponseCode {
  readonly chatId: string;
  readonly msgid: string;
  readonly expiresAt: number;
}

function encodeResponseCode(code: ResponseCode): string {
  return Buffer.from(JSON.stringify(code), 'utf8').toString('base64url');
}

function decodeResponseCode(value: string): ResponseCode | undefined {
  const parsed = parseObject(Buffer.from(value, 'base64url').toString('utf8'));
  return typeof parsed?.chatId === 'string' && typeof parsed.msgid === 'string' && typeof parsed.expiresAt === 'number'
    ? { chatId: parsed.chatId, msgid: parsed.msgid, expiresAt: parsed.expiresAt }
    : undefined;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function json(statusCode: number, body: object): EmulatedApiResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
