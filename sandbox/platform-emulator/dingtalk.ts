import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { encryptDingTalkResponse } from '#platforms/dingtalk/callback-crypto';
import { computeRobotSign } from '#platforms/dingtalk/robot-sign';
import { deriveAesKey } from '#platforms/wecom/biz-msg-crypt';
import { createDingTalkCardApi } from './dingtalk-card';
import { DIRECTORY_ERRCODES, directoryEntry, emulatedDepartmentId, emulatedDepartmentName } from './directory';
import { dingtalkMentions } from './live-mentions';
import type {
  EmulatedApiRequest,
  EmulatedApiResponse,
  EmulatedAudio,
  EmulatedFile,
  EmulatedImage,
  EmulatedRequest,
  EmulatorContext,
  InboundMessageInput,
  PlatformEmulator,
} from './types';
import { multipartForm, storedImage } from './uploaded-image';
import { emulatedAudioDurationMs, emulatedAudioType, storedAudio } from './voice-file';

/** The robot's display name in emulated groups; the sandbox passes it to the adapter as `botName`. */
export const DINGTALK_EMULATED_BOT_NAME = 'GroupGate';
export const DINGTALK_EMULATED_CORP_ID = 'dingsandboxcorp';
/**
 * Event-subscription callback keys the emulator's `check_url` handshake is encrypted with; the sandbox configures
 * the adapter's `callbackCrypto` with the same values (ownerKey = appKey).
 */
export const DINGTALK_EMULATED_CALLBACK = {
  token: 'sandbox-callback-token',
  aesKey: 'c2FuZGJveC1kaW5ndGFsay1jYWxsYmFjay1hZXMta2V',
} as const;
/** DingTalk's sessionWebhook lives about 90 minutes. */
const SESSION_LIFETIME_MS = 90 * 60 * 1000;
const TOKEN_TTL_SECONDS = 7200;

/** The robot's own `chatbotUserId` in emulated events. */
export function dingtalkBotUserId(robotCode: string): string {
  return `$:LWCP_v1:$bot-${robotCode}`;
}

/** The opaque `senderId` DingTalk gives a member; `senderStaffId` is the member's plain user id. */
export function dingtalkSenderId(staffId: string): string {
  return `$:LWCP_v1:$${Buffer.from(staffId, 'utf8').toString('base64url')}`;
}

/**
 * Signs any body the way DingTalk signs robot callbacks (`timestamp` ms + `sign` headers; the body is not signed),
 * for tests that need shapes the message builder does not make.
 */
export function buildSignedDingTalkRequest(
  body: object | Buffer,
  ctx: Pick<EmulatorContext, 'credentials' | 'now'>,
  options: { eventId?: string; timestampMs?: number; contentType?: string } = {},
): EmulatedRequest {
  const timestamp = String(options.timestampMs ?? ctx.now());
  return {
    method: 'POST',
    path: '/webhook/dingtalk',
    query: {},
    headers: {
      'content-type': options.contentType ?? 'application/json; charset=utf-8',
      timestamp,
      sign: computeRobotSign(ctx.credentials.dingtalk.appSecret, timestamp),
    },
    body: Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body), 'utf8'),
    eventId: options.eventId ?? '',
  };
}

/**
 * How long a temporary `downloadUrl` from `robot/messageFiles/download` stays readable. DingTalk documents the link
 * as temporary without a figure; this one is the emulator's assumption (unverified).
 */
export const DINGTALK_DOWNLOAD_URL_LIFETIME_MS = 60 * 60 * 1000;

/**
 * A robot `file`-message callback body (1:1 chats only: a robot gets group messages only when @-mentioned, which a
 * file message cannot be), `content` `{downloadCode, fileName}`.
 */
export function dingtalkFileMessageBody(
  input: InboundMessageInput,
  ctx: EmulatorContext,
  file: { readonly downloadCode: string; readonly name: string },
): Record<string, unknown> {
  const {
    text: _text,
    msgtype: _msgtype,
    isInAtList: _at,
    atUsers: _users,
    ...rest
  } = dingtalkMessageBody({ ...input, direct: true, mentionBot: false }, ctx);
  return { ...rest, msgtype: 'file', content: { downloadCode: file.downloadCode, fileName: file.name } };
}

/**
 * A robot voice-message callback body (`msgtype: "audio"`, `content` `{duration (ms), downloadCode}`) without
 * DingTalk's `recognition`: what the robot gets when DingTalk recognised nothing, so the worker must transcribe the
 * audio itself. 1:1 chats only, like files (a voice message cannot @-mention the robot in a group).
 */
export function dingtalkAudioMessageBody(
  input: InboundMessageInput,
  ctx: EmulatorContext,
  audio: { readonly downloadCode: string; readonly durationMs: number },
): Record<string, unknown> {
  const { content: _content, ...rest } = dingtalkFileMessageBody(input, ctx, { downloadCode: '', name: '' });
  return { ...rest, msgtype: 'audio', content: { duration: audio.durationMs, downloadCode: audio.downloadCode } };
}

/** A robot text-message callback body as DingTalk posts it for one member's message. */
export function dingtalkMessageBody(input: InboundMessageInput, ctx: EmulatorContext): Record<string, unknown> {
  const { robotCode } = ctx.credentials.dingtalk;
  const botUserId = dingtalkBotUserId(robotCode);
  const group = input.direct !== true;
  const mention = group && input.mentionBot !== false;
  const msgId = input.eventId ?? `msg${randomUUID().replace(/-/g, '')}`;
  const now = ctx.now();
  const expiresAt = now + SESSION_LIFETIME_MS;
  const session = encodeSession({ chatId: input.chatId, msgId, expiresAt });
  return {
    msgtype: 'text',
    text: { content: mention ? `@${DINGTALK_EMULATED_BOT_NAME} ${input.text}` : input.text },
    msgId,
    createAt: now,
    conversationType: group ? '2' : '1',
    conversationId: input.chatId,
    ...(group ? { conversationTitle: `Sandbox ${input.chatId}` } : {}),
    senderId: dingtalkSenderId(input.userId),
    senderStaffId: input.userId,
    senderNick: input.userId,
    senderCorpId: DINGTALK_EMULATED_CORP_ID,
    chatbotUserId: botUserId,
    chatbotCorpId: DINGTALK_EMULATED_CORP_ID,
    robotCode,
    isAdmin: false,
    isInAtList: mention,
    atUsers: mention ? [{ dingtalkId: botUserId }] : [],
    sessionWebhook: `${ctx.apiBaseUrl}/robot/sendBySession?session=${session}`,
    sessionWebhookExpiredTime: expiresAt,
  };
}

export { DINGTALK_CARD_QPS_LIMIT, DINGTALK_EMULATED_CARD_TEMPLATE } from './dingtalk-card';

/** What a DingTalk client shows as an image message's text (its preview in the chat list). */
export const DINGTALK_IMAGE_PREVIEW = '[图片]';
/** What a DingTalk client shows as a voice message's text. */
export const DINGTALK_AUDIO_PREVIEW = '[语音]';
/** `media/upload` takes `voice` up to 2 MB (the media upload reference; the adapter checks it first). */
export const DINGTALK_MAX_MEDIA_VOICE_BYTES = 2 * 1024 * 1024;
/** `media/upload` takes images up to 20 MB [U: DingTalk's figure for `image`; the emulator's limit]. */
const MAX_MEDIA_IMAGE_BYTES = 20 * 1024 * 1024;

/** Each emulator keeps its own AI cards (`dingtalk-card.ts`); the message APIs stay stateless. */
export function createDingTalkEmulator(): PlatformEmulator {
  const cards = createDingTalkCardApi({ admit: admitOpenApiCall });
  /** Files members sent the robot, by download code. */
  const files = new Map<string, { readonly file: EmulatedFile; readonly robotCode: string }>();
  /** Temporary download links handed out, by their path token. */
  const links = new Map<string, { readonly file: EmulatedFile; readonly expiresAt: number }>();
  /** Images the bot uploaded (`media/upload`), by `media_id`. */
  const media = new Map<string, EmulatedImage>();
  /** Voice files the bot uploaded (`media/upload?type=voice`), by `media_id`; the duration comes with the message. */
  const voices = new Map<string, Omit<EmulatedAudio, 'durationMs'>>();
  /** Each member's 1:1 chat with the robot, by staff id (`oToMessages/batchSend` addresses the member). */
  const directChats = new Map<string, string>();

  /**
   * The legacy `media/upload?access_token&type=image|voice`, multipart field `media`. Answers HTTP 200 with an
   * `errcode`, as the legacy API does: 40014 for a bad token, 40004 for another `type`, 40005 for an image that is not
   * a whole PNG (DingTalk takes JPG/GIF/BMP too; the sandbox only posts PNG charts) or a voice file that is not Ogg
   * (DingTalk takes AMR too [U]; the sandbox only posts Ogg/Opus), 40006 for one over the limit [U: the codes are the
   * ones DingTalk lists for these cases; not seen live].
   */
  const uploadMedia = async (request: EmulatedApiRequest, ctx: EmulatorContext): Promise<EmulatedApiResponse> => {
    const fault = ctx.fault?.() ?? 'none';
    const faulty = faultResponse(fault);
    if (faulty) return faulty;
    if (fault === 'expired-token' || !isValidToken(request.query.access_token ?? '', ctx)) {
      return json(200, { errcode: 40014, errmsg: '不合法的access_token' });
    }
    const type = request.query.type;
    if (type !== 'image' && type !== 'voice') return json(200, { errcode: 40004, errmsg: '不合法的媒体文件类型' });
    const file = (await multipartForm(request))?.get('media');
    if (!file || typeof file === 'string') return json(200, { errcode: 40005, errmsg: '不合法的文件类型' });
    if (file.size > (type === 'voice' ? DINGTALK_MAX_MEDIA_VOICE_BYTES : MAX_MEDIA_IMAGE_BYTES)) {
      return json(200, { errcode: 40006, errmsg: '不合法的文件大小' });
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    const mediaId = `@lAL${randomBytes(18).toString('base64url')}`;
    if (type === 'voice') {
      const audio = storedAudio(bytes, 0);
      if (!audio) return json(200, { errcode: 40005, errmsg: '不合法的文件类型' });
      voices.set(mediaId, { mediaType: audio.mediaType, data: audio.data });
    } else {
      const stored = storedImage(bytes, '');
      if (!stored) return json(200, { errcode: 40005, errmsg: '不合法的文件类型' });
      media.set(mediaId, stored);
    }
    return json(200, { errcode: 0, errmsg: 'ok', media_id: mediaId, type, created_at: ctx.now() });
  };

  /** `robot/messageFiles/download`: `{downloadCode, robotCode}` → `{downloadUrl}`, a temporary link on this emulator. */
  const messageFileDownload = (request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse => {
    const refused = admitOpenApiCall(request, ctx);
    if (refused) return refused;
    const body = parseBody(request.body);
    const code = typeof body?.downloadCode === 'string' ? body.downloadCode : '';
    const stored = files.get(code);
    if (!stored || body?.robotCode !== stored.robotCode) {
      return json(400, { code: 'invalidParameter.downloadCode', message: 'downloadCode is invalid or expired' });
    }
    const token = randomBytes(12).toString('hex');
    links.set(token, { file: stored.file, expiresAt: ctx.now() + DINGTALK_DOWNLOAD_URL_LIFETIME_MS / ctx.clockScale });
    return json(200, { downloadUrl: `${ctx.apiBaseUrl}/_files/${token}` });
  };

  /** The temporary link: the bytes while it lives, then 403 as object storage answers an expired signature. */
  const serveLink = (token: string, ctx: EmulatorContext): EmulatedApiResponse => {
    const link = links.get(token);
    if (!link)
      return {
        statusCode: 404,
        headers: { 'content-type': 'application/xml' },
        body: '<Error><Code>NoSuchKey</Code></Error>',
      };
    if (ctx.now() >= link.expiresAt) {
      return {
        statusCode: 403,
        headers: { 'content-type': 'application/xml' },
        body: '<Error><Code>AccessDenied</Code><Message>Request has expired.</Message></Error>',
      };
    }
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(link.file.bytes.byteLength) },
      body: '',
      bytes: link.file.bytes,
    };
  };

  return {
    platform: 'dingtalk',
    buildMessageEvent(input, ctx) {
      const [first] = input.files ?? [];
      // The robot sees a file only as a 1:1 file message with no text; in a group the file never reaches it. An audio
      // file is a voice message, without DingTalk's recognition text (the emulator recognises nothing).
      const shared = first !== undefined && input.direct === true && input.text === '' ? first : undefined;
      let body: Record<string, unknown>;
      if (shared) {
        const downloadCode = `dc_${randomBytes(16).toString('base64url')}`;
        files.set(downloadCode, { file: shared, robotCode: ctx.credentials.dingtalk.robotCode });
        body =
          emulatedAudioType(shared) === undefined
            ? dingtalkFileMessageBody(input, ctx, { downloadCode, name: shared.name })
            : dingtalkAudioMessageBody(input, ctx, { downloadCode, durationMs: emulatedAudioDurationMs(shared) });
      } else {
        body = dingtalkMessageBody(input, ctx);
      }
      if (input.direct === true) {
        cards.noteDirectChat(input.userId, input.chatId);
        directChats.set(input.userId, input.chatId);
      }
      return buildSignedDingTalkRequest(body, ctx, { eventId: String(body.msgId) });
    },
    buildHandshake(ctx) {
      // Robots have no URL check; the app's event subscription does: an encrypted {"EventType":"check_url"}.
      const keys = callbackKeys(ctx);
      const timestamp = String(ctx.now());
      const nonce = randomBytes(4).toString('hex');
      const sealed = encryptDingTalkResponse(JSON.stringify({ EventType: 'check_url' }), keys, timestamp, nonce);
      return {
        method: 'POST',
        path: '/webhook/dingtalk',
        query: { signature: sealed.msg_signature, timestamp, nonce },
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify({ encrypt: sealed.encrypt }), 'utf8'),
        eventId: '',
      };
    },
    async handleApi(request, ctx) {
      if (request.method === 'POST' && request.path === '/v1.0/oauth2/accessToken') {
        return issueToken(request, ctx);
      }
      if (request.method === 'POST' && request.path === '/v1.0/robot/groupMessages/send') {
        return sendRobotMessage(request, ctx, { media, voices }, (body) =>
          typeof body.openConversationId === 'string' ? body.openConversationId : undefined,
        );
      }
      if (request.method === 'POST' && request.path === '/v1.0/robot/oToMessages/batchSend') {
        return sendRobotMessage(request, ctx, { media, voices }, (body) => {
          const [userId, ...others] = Array.isArray(body.userIds) ? body.userIds : [];
          return typeof userId === 'string' && others.length === 0 ? directChats.get(userId) : undefined;
        });
      }
      if (request.method === 'POST' && request.path === '/topapi/v2/user/get') {
        return directoryUser(request, ctx);
      }
      if (request.method === 'POST' && request.path === '/topapi/v2/department/get') {
        return directoryDepartment(request, ctx);
      }
      if (request.method === 'POST' && request.path === '/media/upload') {
        return uploadMedia(request, ctx);
      }
      if (request.method === 'POST' && request.path === '/robot/sendBySession') {
        return sendBySession(request, ctx);
      }
      if (request.method === 'POST' && request.path === '/v1.0/robot/messageFiles/download') {
        return messageFileDownload(request, ctx);
      }
      const link = /^\/_files\/([0-9a-f]+)$/.exec(request.path);
      if (request.method === 'GET' && link) return serveLink(link[1] ?? '', ctx);
      const card = cards.handle(request, ctx);
      if (card) return card;
      return json(404, { code: 'NotFound', message: `No emulated DingTalk API at ${request.path}` });
    },
  };
}

function issueToken(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse {
  const { appKey, appSecret } = ctx.credentials.dingtalk;
  const body = parseBody(request.body);
  if (body?.appKey !== appKey || body?.appSecret !== appSecret) {
    return json(400, { code: 'invalidClientIdOrSecret', message: '无效的clientId或者clientSecret' });
  }
  const issuedAt = String(ctx.now());
  return json(200, { accessToken: `dt-${issuedAt}-${tokenMac(appSecret, issuedAt)}`, expireIn: TOKEN_TTL_SECONDS });
}

/** Fault injection, then the access-token check every new-style OpenAPI call passes; undefined admits the call. */
function admitOpenApiCall(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse | undefined {
  const fault = ctx.fault?.() ?? 'none';
  const faulty = faultResponse(fault);
  if (faulty) return faulty;
  const token = request.headers['x-acs-dingtalk-access-token'] ?? '';
  if (fault === 'expired-token' || !isValidToken(token, ctx)) {
    return json(401, { code: 'InvalidAuthentication', message: '不合法的access_token' });
  }
  return undefined;
}

/**
 * The robot message APIs (`groupMessages/send` to a group, `oToMessages/batchSend` to one member here): text,
 * markdown, `sampleImageMsg` whose `photoURL` is an image `media_id` this app uploaded, and `sampleAudio` whose
 * `mediaId` is a voice `media_id` it uploaded and whose `duration` is a string of milliseconds (an unknown media id or
 * a bad duration is refused).
 */
function sendRobotMessage(
  request: EmulatedApiRequest,
  ctx: EmulatorContext,
  uploaded: {
    readonly media: ReadonlyMap<string, EmulatedImage>;
    readonly voices: ReadonlyMap<string, Omit<EmulatedAudio, 'durationMs'>>;
  },
  chatOf: (body: Record<string, unknown>) => string | undefined,
): EmulatedApiResponse {
  const refused = admitOpenApiCall(request, ctx);
  if (refused) return refused;
  const body = parseBody(request.body);
  const chatId = body ? chatOf(body) : undefined;
  if (body?.robotCode !== ctx.credentials.dingtalk.robotCode || chatId === undefined) {
    return json(400, { code: 'invalidParameter', message: 'robotCode or the receiver is wrong' });
  }
  const param = typeof body.msgParam === 'string' ? parseBody(Buffer.from(body.msgParam, 'utf8')) : undefined;
  let text: unknown;
  let image: EmulatedImage | undefined;
  let audio: EmulatedAudio | undefined;
  if (body.msgKey === 'sampleImageMsg') {
    image = typeof param?.photoURL === 'string' ? uploaded.media.get(param.photoURL) : undefined;
    // [U] the code DingTalk answers for a photoURL it cannot resolve.
    if (!image) return json(400, { code: 'invalidParameter.photoURL', message: 'photoURL is not a valid media id' });
    text = DINGTALK_IMAGE_PREVIEW;
  } else if (body.msgKey === 'sampleAudio') {
    const voice = typeof param?.mediaId === 'string' ? uploaded.voices.get(param.mediaId) : undefined;
    const durationMs =
      typeof param?.duration === 'string' && /^[1-9]\d*$/.test(param.duration) ? Number(param.duration) : 0;
    // [U] the codes DingTalk answers for a mediaId it cannot resolve and a bad duration.
    if (!voice) return json(400, { code: 'invalidParameter.mediaId', message: 'mediaId is not a valid media id' });
    if (durationMs === 0) return json(400, { code: 'invalidParameter.duration', message: 'duration is invalid' });
    audio = { ...voice, durationMs };
    text = DINGTALK_AUDIO_PREVIEW;
  } else {
    text = body.msgKey === 'sampleMarkdown' ? param?.text : param?.content;
  }
  if (typeof text !== 'string') {
    return json(400, { code: 'invalidParameter', message: 'msgParam does not match msgKey' });
  }
  const processQueryKey = randomUUID();
  // The robot API has no `at` object: it notifies nobody.
  ctx.record({
    platform: 'dingtalk',
    chatId,
    text,
    messageId: processQueryKey,
    mentions: [],
    ...(image ? { image } : {}),
    ...(audio ? { audio } : {}),
  });
  return json(200, { processQueryKey });
}

/** The sessionWebhook needs no token; an expired session answers an errcode with HTTP 200, as DingTalk does. */
function sendBySession(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse {
  const faulty = faultResponse(ctx.fault?.() ?? 'none');
  if (faulty) return faulty;
  const session = decodeSession(request.query.session ?? '');
  if (!session || ctx.now() >= session.expiresAt) {
    return json(200, { errcode: 300001, errmsg: 'session expired or invalid' });
  }
  const body = parseBody(request.body);
  const payload = body?.msgtype === 'markdown' ? body.markdown : body?.text;
  const text = isObject(payload) ? (body?.msgtype === 'markdown' ? payload.text : payload.content) : undefined;
  if (typeof text !== 'string') {
    return json(200, { errcode: 40035, errmsg: 'invalid message body' });
  }
  ctx.record({
    platform: 'dingtalk',
    chatId: session.chatId,
    text,
    replyTo: session.msgId,
    messageId: randomUUID(),
    mentions: dingtalkMentions(body?.at),
  });
  return json(200, { errcode: 0, errmsg: 'ok' });
}

function faultResponse(fault: 'none' | '429' | '5xx' | 'expired-token'): EmulatedApiResponse | undefined {
  if (fault === '429') {
    return {
      ...json(429, { code: 'Throttling', message: 'Request was denied due to flow control' }),
      headers: {
        'content-type': 'application/json',
        'retry-after': '1',
      },
    };
  }
  if (fault === '5xx') {
    return json(500, { code: 'ServiceUnavailable', message: 'emulated server error' });
  }
  return undefined;
}

function callbackKeys(ctx: EmulatorContext) {
  return {
    token: DINGTALK_EMULATED_CALLBACK.token,
    aesKey: deriveAesKey(DINGTALK_EMULATED_CALLBACK.aesKey, 'emulator aesKey'),
    ownerKey: ctx.credentials.dingtalk.appKey,
  };
}

interface Session {
  readonly chatId: string;
  readonly msgId: string;
  readonly expiresAt: number;
}

/** The emulator keeps no state: the session names its chat, message and expiry. */
function encodeSession(session: Session): string {
  return Buffer.from(JSON.stringify(session), 'utf8').toString('base64url');
}

function decodeSession(value: string): Session | undefined {
  const parsed = parseBody(Buffer.from(value, 'base64url'));
  return typeof parsed?.chatId === 'string' && typeof parsed.msgId === 'string' && typeof parsed.expiresAt === 'number'
    ? { chatId: parsed.chatId, msgId: parsed.msgId, expiresAt: parsed.expiresAt }
    : undefined;
}

function tokenMac(appSecret: string, issuedAt: string): string {
  return createHmac('sha256', appSecret).update(issuedAt).digest('hex').slice(0, 24);
}

/**
 * Fault injection, then the legacy API's `access_token` check (HTTP 200 with an `errcode`, as the legacy API answers:
 * 40014 for a bad token, 42001 for the `expired-token` fault); undefined admits the call.
 */
function admitLegacyCall(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse | undefined {
  const fault = ctx.fault?.() ?? 'none';
  const faulty = faultResponse(fault);
  if (faulty) return faulty;
  if (fault === 'expired-token') return json(200, { errcode: 42001, errmsg: 'access_token expired' });
  if (!isValidToken(request.query.access_token ?? '', ctx)) {
    return json(200, { errcode: 40014, errmsg: '不合法的access_token' });
  }
  return undefined;
}

/**
 * `topapi/v2/user/get` `{userid}`: the member's `title` and `dept_id_list` from the emulated directory (any staff id
 * is a member; one without a department sits in the organisation, 1), or the entry's `errcode`. An opaque
 * `$:LWCP_v1:$…` sender id is not a userid: 33012, as DingTalk documents for an invalid userid.
 */
function directoryUser(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse {
  const refused = admitLegacyCall(request, ctx);
  if (refused) return refused;
  const userid = parseBody(request.body)?.userid;
  if (typeof userid !== 'string' || userid === '' || userid.startsWith('$:')) {
    return json(200, { errcode: 33012, errmsg: '无效的userId' });
  }
  const entry = directoryEntry('dingtalk', userid);
  if (entry.errcode !== undefined) return json(200, { errcode: entry.errcode, errmsg: directoryErrmsg(entry.errcode) });
  return json(200, {
    errcode: 0,
    errmsg: 'ok',
    request_id: randomUUID(),
    result: {
      userid,
      name: userid,
      title: entry.title ?? '',
      dept_id_list: [emulatedDepartmentId(entry.department)],
      active: true,
    },
  });
}

/** `topapi/v2/department/get` `{dept_id}`: the department's `name`, or 60003 for an unknown id. */
function directoryDepartment(request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse {
  const refused = admitLegacyCall(request, ctx);
  if (refused) return refused;
  const id = parseBody(request.body)?.dept_id;
  const name = typeof id === 'number' ? emulatedDepartmentName(id) : undefined;
  if (name === undefined) {
    return json(200, { errcode: DIRECTORY_ERRCODES.dingtalk.noSuchDepartment, errmsg: '部门不存在' });
  }
  return json(200, { errcode: 0, errmsg: 'ok', request_id: randomUUID(), result: { dept_id: id, name, parent_id: 1 } });
}

function directoryErrmsg(errcode: number): string {
  if (errcode === DIRECTORY_ERRCODES.dingtalk.noSuchMember) return '找不到该用户';
  if (errcode === DIRECTORY_ERRCODES.dingtalk.noPermission) return '应用尚未开通所需的权限';
  return 'emulated directory error';
}

function isValidToken(token: string, ctx: EmulatorContext): boolean {
  const [, issuedAt = '', mac] = token.split('-');
  const age = ctx.now() - Number(issuedAt);
  return mac === tokenMac(ctx.credentials.dingtalk.appSecret, issuedAt) && age >= 0 && age < TOKEN_TTL_SECONDS * 1000;
}

function parseBody(body: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
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
