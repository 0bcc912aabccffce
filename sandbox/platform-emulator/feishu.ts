import { createCipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { directoryEntry } from './directory';
import { createCardKitStore } from './feishu-cardkit';
import { feishuMentions } from './live-mentions';
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
import { emulatedAudioDurationMs, emulatedAudioType } from './voice-file';

/** Tenant every emulated Feishu event comes from. */
export const FEISHU_EMULATED_TENANT = 'tenant-sandbox';
const TOKEN_TTL_SECONDS = 7200;

/** AES-256-CBC with key SHA-256(encryptKey), a random IV prepended, base64 — exactly as Feishu encrypts events. */
export function encryptFeishu(plaintext: string | Buffer, encryptKey: string, iv: Buffer = randomBytes(16)): string {
  const key = createHash('sha256').update(encryptKey, 'utf8').digest();
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final()]).toString('base64');
}

/** The headers Feishu adds to a signed callback: hex SHA-256(timestamp + nonce + encryptKey + raw body). */
export function signFeishu(
  rawBody: Buffer,
  encryptKey: string,
  timestampSeconds: number,
  nonce: string = randomBytes(8).toString('hex'),
): Record<string, string> {
  const timestamp = String(timestampSeconds);
  const signature = createHash('sha256')
    .update(Buffer.from(timestamp + nonce + encryptKey, 'utf8'))
    .update(rawBody)
    .digest('hex');
  return {
    'Content-Type': 'application/json; charset=utf-8',
    'X-Lark-Request-Timestamp': timestamp,
    'X-Lark-Request-Nonce': nonce,
    'X-Lark-Signature': signature,
  };
}

/**
 * Builds a signed (and, with `encrypt`, encrypted) webhook request from any event object, for tests that need
 * shapes the message builder does not make (captured fixtures, other event types, missing fields).
 */
export function buildSignedFeishuRequest(
  event: object,
  ctx: Pick<EmulatorContext, 'credentials' | 'now'>,
  options: { encrypt?: boolean; eventId?: string } = {},
): EmulatedRequest {
  const { encryptKey } = ctx.credentials.feishu;
  const plain = JSON.stringify(event);
  const body = Buffer.from(
    options.encrypt === false ? plain : JSON.stringify({ encrypt: encryptFeishu(plain, encryptKey) }),
    'utf8',
  );
  return {
    method: 'POST',
    path: '/webhook/feishu',
    query: {},
    headers: signFeishu(body, encryptKey, Math.floor(ctx.now() / 1000)),
    body,
    eventId: options.eventId ?? '',
  };
}

/** A schema 2.0 `im.message.receive_v1` text event as Feishu pushes it. */
export function feishuMessageEvent(
  input: InboundMessageInput,
  ctx: Pick<EmulatorContext, 'credentials' | 'now'>,
  shared: FeishuSharedFile | undefined = undefined,
) {
  const { botOpenId, verificationToken, appId } = ctx.credentials.feishu;
  // A file message has no text, so no @-mention: the bot sees it alone only in a 1:1 chat.
  const fileOnly = shared !== undefined && input.text === '';
  // An audio file shared alone is a voice message (`audio`, content `{file_key, duration}` in ms).
  const voice = fileOnly && emulatedAudioType(shared.file) !== undefined;
  const mention = input.mentionBot !== false && input.direct !== true && !fileOnly;
  const messageId = fileOnly ? shared.messageId : `om_${randomUUID().replace(/-/g, '')}`;
  // A question about a file is a reply to the file's message.
  const parentId = shared !== undefined && !fileOnly ? shared.messageId : input.threadId;
  return {
    messageId,
    event: {
      schema: '2.0',
      header: {
        event_id: input.eventId ?? randomUUID().replace(/-/g, ''),
        token: verificationToken,
        create_time: String(ctx.now()),
        event_type: 'im.message.receive_v1',
        tenant_key: FEISHU_EMULATED_TENANT,
        app_id: appId,
      },
      event: {
        sender: {
          sender_id: { open_id: input.userId, union_id: `on_${input.userId}`, user_id: input.userId },
          sender_type: 'user',
          tenant_key: FEISHU_EMULATED_TENANT,
        },
        message: {
          message_id: messageId,
          ...(input.threadId ? { root_id: input.threadId, thread_id: input.threadId } : {}),
          ...(parentId ? { parent_id: parentId } : {}),
          create_time: String(ctx.now()),
          chat_id: input.chatId,
          chat_type: input.direct ? 'p2p' : 'group',
          message_type: voice ? 'audio' : fileOnly ? 'file' : 'text',
          content: voice
            ? JSON.stringify({ file_key: shared.fileKey, duration: emulatedAudioDurationMs(shared.file) })
            : fileOnly
              ? JSON.stringify({ file_key: shared.fileKey, file_name: shared.file.name })
              : JSON.stringify({ text: mention ? `@_user_1 ${input.text}` : input.text }),
          ...(mention
            ? {
                mentions: [
                  {
                    key: '@_user_1',
                    id: { open_id: botOpenId, union_id: `on_${botOpenId}`, user_id: '' },
                    name: 'GroupGate',
                    tenant_key: FEISHU_EMULATED_TENANT,
                  },
                ],
              }
            : {}),
        },
      },
    },
  };
}

/** A file a member shared in an emulated Feishu chat: its own `file` message, and the key its resource has there. */
export interface FeishuSharedFile {
  readonly messageId: string;
  readonly chatId: string;
  readonly fileKey: string;
  readonly file: EmulatedFile;
}

/** Feishu drops a repeated `uuid` for this long (doc §1.1 step 2, im/v1/message/create); divided by `clockScale`. */
export const FEISHU_UUID_DEDUP_MS = 60 * 60_000;

/** Where a bot message goes: a reply to a member's message, or a new message in a chat. */
interface MessageTarget {
  readonly chatId: string;
  readonly threadId?: string;
  readonly replyTo?: string;
}

/**
 * Plays Feishu: pushes encrypted, signed `im.message.receive_v1` events, serves `tenant_access_token/internal`,
 * `im/v1/messages/{id}/reply` and `im/v1/messages` (text, post and CardKit card messages, deduplicating on `uuid`
 * as Feishu does; `image` messages of an uploaded `image_key` too), `im/v1/images` (multipart image upload), the
 * CardKit card routes (`feishu-cardkit.ts`), and records what the bot replied.
 */
export function createFeishuEmulator(): PlatformEmulator {
  const validTokens = new Set<string>();
  const messages = new Map<string, { chatId: string; threadId?: string }>();
  const sentByUuid = new Map<string, { messageId: string; at: number }>();
  const cardkit = createCardKitStore();
  /** Images the bot uploaded (`im/v1/images`), by `image_key`. */
  const images = new Map<string, EmulatedImage>();
  /** Opus files the bot uploaded (`im/v1/files`, `file_type=opus`), by `file_key`. */
  const audioFiles = new Map<string, EmulatedAudio>();
  /** Files members shared, by the id of their `file` message. */
  const sharedFiles = new Map<string, FeishuSharedFile>();
  let issued = 0;

  const json = (statusCode: number, body: object, headers: Record<string, string> = {}): EmulatedApiResponse => ({
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  });

  const issueToken = (request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse => {
    const body = parseBody(request.body);
    const { appId, appSecret } = ctx.credentials.feishu;
    if (body?.app_id !== appId || body.app_secret !== appSecret) {
      return json(400, { code: 10003, msg: 'invalid param' });
    }
    issued++;
    const token = `t-emu-${issued}-${randomBytes(6).toString('hex')}`;
    validTokens.add(token);
    return json(200, { code: 0, msg: 'ok', tenant_access_token: token, expire: TOKEN_TTL_SECONDS });
  };

  /** Fault injection and the tenant_access_token check every OpenAPI call passes; a response refuses the call. */
  const admit = (request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse | undefined => {
    const fault = ctx.fault?.() ?? 'none';
    if (fault === '429') {
      return json(429, { code: 99991400, msg: 'request trigger frequency limit' }, { 'retry-after': '1' });
    }
    if (fault === '5xx') {
      return json(500, { code: 1500, msg: 'internal error' });
    }
    const token = /^Bearer (.+)$/.exec(headerValue(request.headers, 'authorization') ?? '')?.[1];
    if (token === undefined) {
      return json(400, { code: 99991661, msg: 'Missing access token for authorization.' });
    }
    if (fault === 'expired-token') {
      validTokens.clear();
    }
    if (!validTokens.has(token)) {
      return json(400, { code: 99991663, msg: 'Invalid access token for authorization.' });
    }
    return undefined;
  };

  const sendMessage = (
    target: MessageTarget,
    body: Record<string, unknown>,
    ctx: EmulatorContext,
  ): EmulatedApiResponse => {
    const uuid = typeof body.uuid === 'string' ? body.uuid : undefined;
    const previous = uuid ? sentByUuid.get(uuid) : undefined;
    if (previous && ctx.now() - previous.at < FEISHU_UUID_DEDUP_MS / ctx.clockScale) {
      // At most one message per uuid within the window: the repeat answers the first message and records nothing.
      return json(200, { code: 0, msg: 'success', data: { message_id: previous.messageId, chat_id: target.chatId } });
    }
    let text: string | undefined;
    let stream: 'streaming' | undefined;
    let markSent: ((messageId: string) => void) | undefined;
    let mentions: readonly string[] = [];
    let image: EmulatedImage | undefined;
    let audio: EmulatedAudio | undefined;
    if (body.msg_type === 'interactive') {
      const card = cardkit.cardForMessage(typeof body.content === 'string' ? body.content : '', ctx);
      if (!card.ok) return card.response;
      text = card.text;
      stream = card.streaming ? 'streaming' : undefined;
      markSent = card.markSent;
      mentions = card.mentions;
    } else if (body.msg_type === 'image') {
      // `content` is `{"image_key"}` of an image this app uploaded; clients preview it as "[图片]".
      image = images.get(imageKeyOf(body.content) ?? '');
      text = image ? FEISHU_IMAGE_PREVIEW : undefined;
    } else if (body.msg_type === 'audio') {
      // `content` is `{"file_key"}` of an opus file this app uploaded; clients preview it as "[语音]".
      audio = audioFiles.get(fileKeyOf(body.content) ?? '');
      text = audio ? FEISHU_AUDIO_PREVIEW : undefined;
    } else {
      text = renderContent(body.msg_type, body.content);
      mentions = feishuMentions(String(body.content));
    }
    if (text === undefined) {
      return json(400, { code: 230001, msg: 'invalid content' });
    }
    const messageId = `om_${randomUUID().replace(/-/g, '')}`;
    if (uuid) sentByUuid.set(uuid, { messageId, at: ctx.now() });
    markSent?.(messageId);
    messages.set(messageId, { chatId: target.chatId, threadId: target.threadId });
    ctx.record({
      platform: 'feishu',
      chatId: target.chatId,
      text,
      ...(target.replyTo === undefined ? {} : { replyTo: target.replyTo }),
      threadId: target.threadId,
      messageId,
      mentions,
      ...(stream ? { stream } : {}),
      ...(image ? { image } : {}),
      ...(audio ? { audio } : {}),
    });
    return json(200, { code: 0, msg: 'success', data: { message_id: messageId, chat_id: target.chatId } });
  };

  /**
   * `im/v1/images` (multipart): `image_type` `message` or `avatar` and an `image` file, else 234001 "Invalid request
   * param."; an empty file 234010, one over 10 MB 234006 (the documented codes). Only PNG is understood here (Feishu
   * takes JPG, GIF, WEBP… too): another file is refused as 234001.
   */
  const uploadImage = async (request: EmulatedApiRequest): Promise<EmulatedApiResponse> => {
    const invalid = () => json(400, { code: 234001, msg: 'Invalid request param.' });
    const form = await multipartForm(request);
    const type = form?.get('image_type');
    const file = form?.get('image');
    if (!form || (type !== 'message' && type !== 'avatar') || !file || typeof file === 'string') return invalid();
    if (file.size === 0) return json(400, { code: 234010, msg: "File's size can't be 0." });
    if (file.size > FEISHU_IMAGE_LIMIT_BYTES) {
      return json(400, { code: 234006, msg: 'The file size exceed the max value.' });
    }
    const stored = storedImage(new Uint8Array(await file.arrayBuffer()), '');
    if (!stored) return invalid();
    const imageKey = `img_v3_${randomUUID().replace(/-/g, '')}`;
    images.set(imageKey, stored);
    return json(200, { code: 0, msg: 'success', data: { image_key: imageKey } });
  };

  /**
   * `im/v1/files` (multipart) for audio: `file_type` `opus` with a `file` that is Ogg (sniffed: `OggS`) and a
   * `duration` in ms; an empty file 234010. Other file types are not played here (234001).
   */
  const uploadFile = async (request: EmulatedApiRequest): Promise<EmulatedApiResponse> => {
    const invalid = () => json(400, { code: 234001, msg: 'Invalid request param.' });
    const form = await multipartForm(request);
    const file = form?.get('file');
    const duration = Number(form?.get('duration'));
    if (form?.get('file_type') !== 'opus' || !file || typeof file === 'string') return invalid();
    if (file.size === 0) return json(400, { code: 234010, msg: "File's size can't be 0." });
    const bytes = Buffer.from(await file.arrayBuffer());
    if (bytes.subarray(0, 4).toString('latin1') !== 'OggS' || !Number.isInteger(duration) || duration <= 0) {
      return invalid();
    }
    const fileKey = `file_v3_${randomUUID().replace(/-/g, '')}`;
    audioFiles.set(fileKey, { mediaType: 'audio/ogg', data: bytes.toString('base64'), durationMs: duration });
    return json(200, { code: 0, msg: 'success', data: { file_key: fileKey } });
  };

  const reply = (messageId: string, request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse => {
    const original = messages.get(messageId);
    const body = parseBody(request.body);
    if (!original || !body) {
      return json(400, { code: 230001, msg: 'invalid message_id or body' });
    }
    const threadId = body.reply_in_thread === true ? (original.threadId ?? messageId) : original.threadId;
    return sendMessage({ chatId: original.chatId, threadId, replyTo: messageId }, body, ctx);
  };

  const create = (request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse => {
    const body = parseBody(request.body);
    if (request.query.receive_id_type !== 'chat_id' || typeof body?.receive_id !== 'string' || !body.receive_id) {
      // The emulator only plays chat_id receivers; Feishu answers bad receiver fields with 99992402.
      return json(400, { code: 99992402, msg: 'field validation failed' });
    }
    return sendMessage({ chatId: body.receive_id }, body, ctx);
  };

  /**
   * `GET im/v1/messages/{id}`: the message as `items[0]` (`msg_type`, `body.content`); a message this emulator never
   * saw answers 230011 (recalled or deleted).
   */
  const getMessage = (messageId: string): EmulatedApiResponse => {
    const file = sharedFiles.get(messageId);
    const known = messages.get(messageId);
    if (!file && !known) return json(400, { code: 230011, msg: 'The message was recalled or deleted.' });
    const item = file
      ? {
          message_id: messageId,
          chat_id: file.chatId,
          ...(emulatedAudioType(file.file) === undefined
            ? {
                msg_type: 'file',
                body: { content: JSON.stringify({ file_key: file.fileKey, file_name: file.file.name }) },
              }
            : {
                msg_type: 'audio',
                body: {
                  content: JSON.stringify({ file_key: file.fileKey, duration: emulatedAudioDurationMs(file.file) }),
                },
              }),
        }
      : { message_id: messageId, chat_id: known?.chatId, msg_type: 'text', body: { content: '{"text":""}' } };
    return json(200, { code: 0, msg: 'success', data: { items: [item] } });
  };

  /**
   * `GET im/v1/messages/{id}/resources/{file_key}?type=file`: the file's bytes; a key that is not this message's is
   * 234003, an unknown message 230011, a `type` other than `file`/`image` 234001.
   */
  const getResource = (messageId: string, fileKey: string, request: EmulatedApiRequest): EmulatedApiResponse => {
    if (request.query.type !== 'file' && request.query.type !== 'image') {
      return json(400, { code: 234001, msg: 'Invalid request param.' });
    }
    const file = sharedFiles.get(messageId);
    if (!file) return json(400, { code: 230011, msg: 'The message was recalled or deleted.' });
    if (file.fileKey !== fileKey) return json(400, { code: 234003, msg: 'File not in msg.' });
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(file.file.bytes.byteLength) },
      body: '',
      bytes: file.file.bytes,
    };
  };

  return {
    platform: 'feishu',
    buildMessageEvent(input, ctx) {
      const [first] = input.files ?? [];
      const shared: FeishuSharedFile | undefined = first && {
        messageId: `om_${randomUUID().replace(/-/g, '')}`,
        chatId: input.chatId,
        fileKey: `file_v3_${randomUUID().replace(/-/g, '')}`,
        file: first,
      };
      if (shared) sharedFiles.set(shared.messageId, shared);
      const { messageId, event } = feishuMessageEvent(input, ctx, shared);
      messages.set(messageId, { chatId: input.chatId, threadId: input.threadId });
      return { ...buildSignedFeishuRequest(event, ctx, { eventId: event.header.event_id }), messageId };
    },
    buildHandshake(ctx) {
      // Feishu sends the URL check encrypted but without signature headers.
      const challenge = randomUUID();
      const plain = JSON.stringify({
        challenge,
        token: ctx.credentials.feishu.verificationToken,
        type: 'url_verification',
      });
      return {
        method: 'POST',
        path: '/webhook/feishu',
        query: {},
        headers: { 'Content-Type': 'application/json; charset=utf-8' },
        body: Buffer.from(JSON.stringify({ encrypt: encryptFeishu(plain, ctx.credentials.feishu.encryptKey) })),
        eventId: challenge,
      };
    },
    async handleApi(request, ctx) {
      if (request.method === 'POST' && request.path === '/open-apis/auth/v3/tenant_access_token/internal') {
        return issueToken(request, ctx);
      }
      const contactUser = /^\/open-apis\/contact\/v3\/users\/([^/]+)$/.exec(request.path);
      if (request.method === 'GET' && contactUser) {
        const refused = admit(request, ctx);
        if (refused) return refused;
        // The contact API's user, from the emulated directory; any open_id is a member (no department names).
        const openId = decodeURIComponent(contactUser[1] ?? '');
        const entry = directoryEntry('feishu', openId);
        return json(200, {
          code: 0,
          msg: 'success',
          data: { user: { open_id: openId, job_title: entry.title ?? '' } },
        });
      }
      const resource = /^\/open-apis\/im\/v1\/messages\/([^/]+)\/resources\/([^/]+)$/.exec(request.path);
      const messageGet = /^\/open-apis\/im\/v1\/messages\/([^/]+)$/.exec(request.path);
      if (request.method === 'GET' && (resource || messageGet)) {
        const refused = admit(request, ctx);
        if (refused) return refused;
        if (resource)
          return getResource(decodeURIComponent(resource[1] ?? ''), decodeURIComponent(resource[2] ?? ''), request);
        return getMessage(decodeURIComponent(messageGet?.[1] ?? ''));
      }
      const replyMatch = /^\/open-apis\/im\/v1\/messages\/([^/]+)\/reply$/.exec(request.path);
      const isCreate = request.method === 'POST' && request.path === '/open-apis/im/v1/messages';
      const isCardKit = request.path.startsWith('/open-apis/cardkit/v1/cards');
      const isImage = request.method === 'POST' && request.path === '/open-apis/im/v1/images';
      const isFile = request.method === 'POST' && request.path === '/open-apis/im/v1/files';
      if (!(request.method === 'POST' && replyMatch?.[1]) && !isCreate && !isCardKit && !isImage && !isFile) {
        return json(404, { code: 404, msg: 'not found' });
      }
      const refused = admit(request, ctx);
      if (refused) return refused;
      if (isImage) return uploadImage(request);
      if (isFile) return uploadFile(request);
      if (replyMatch?.[1]) return reply(decodeURIComponent(replyMatch[1]), request, ctx);
      if (isCreate) return create(request, ctx);
      return cardkit.handle(request, ctx) ?? json(404, { code: 404, msg: 'not found' });
    },
  };
}

/** What a Feishu client shows as an image message's text. */
export const FEISHU_IMAGE_PREVIEW = '[图片]';
/** What a Feishu client shows as an audio message's text. */
export const FEISHU_AUDIO_PREVIEW = '[语音]';
/** `im/v1/images` takes images up to 10 MB. */
const FEISHU_IMAGE_LIMIT_BYTES = 10 * 1024 * 1024;

function fileKeyOf(content: unknown): string | undefined {
  if (typeof content !== 'string') return undefined;
  try {
    const key = (JSON.parse(content) as { file_key?: unknown } | null)?.file_key;
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}

function imageKeyOf(content: unknown): string | undefined {
  if (typeof content !== 'string') return undefined;
  try {
    const key = (JSON.parse(content) as { image_key?: unknown } | null)?.image_key;
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}

function headerValue(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  return Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
}

function parseBody(body: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Text of a `text` or `post` (md elements) message, with `<at>` tags shown as `@open_id`. */
function renderContent(msgType: unknown, content: unknown): string | undefined {
  if (typeof content !== 'string') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch {
    return undefined;
  }
  let text: string | undefined;
  if (msgType === 'text') {
    const value = (parsed as { text?: unknown }).text;
    text = typeof value === 'string' ? value : undefined;
  } else if (msgType === 'post') {
    const rows = (parsed as { zh_cn?: { content?: { tag?: string; text?: string }[][] } }).zh_cn?.content;
    text = rows?.map((row) => row.map((el) => el.text ?? '').join('')).join('\n');
  }
  return text?.replace(/<at user_id="([^"]*)"><\/at>/g, '@$1');
}
