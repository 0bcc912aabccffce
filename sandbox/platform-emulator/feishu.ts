import { createCipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { createCardKitStore } from './feishu-cardkit';
import { feishuMentions } from './live-mentions';
import type {
  EmulatedApiRequest,
  EmulatedApiResponse,
  EmulatedRequest,
  EmulatorContext,
  InboundMessageInput,
  PlatformEmulator,
} from './types';

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
export function feishuMessageEvent(input: InboundMessageInput, ctx: Pick<EmulatorContext, 'credentials' | 'now'>) {
  const { botOpenId, verificationToken, appId } = ctx.credentials.feishu;
  const mention = input.mentionBot !== false && input.direct !== true;
  const messageId = `om_${randomUUID().replace(/-/g, '')}`;
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
          ...(input.threadId ? { root_id: input.threadId, parent_id: input.threadId, thread_id: input.threadId } : {}),
          create_time: String(ctx.now()),
          chat_id: input.chatId,
          chat_type: input.direct ? 'p2p' : 'group',
          message_type: 'text',
          content: JSON.stringify({ text: mention ? `@_user_1 ${input.text}` : input.text }),
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
 * as Feishu does), the CardKit card routes (`feishu-cardkit.ts`), and records what the bot replied.
 */
export function createFeishuEmulator(): PlatformEmulator {
  const validTokens = new Set<string>();
  const messages = new Map<string, { chatId: string; threadId?: string }>();
  const sentByUuid = new Map<string, { messageId: string; at: number }>();
  const cardkit = createCardKitStore();
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
    if (body.msg_type === 'interactive') {
      const card = cardkit.cardForMessage(typeof body.content === 'string' ? body.content : '', ctx);
      if (!card.ok) return card.response;
      text = card.text;
      stream = card.streaming ? 'streaming' : undefined;
      markSent = card.markSent;
      mentions = card.mentions;
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
    });
    return json(200, { code: 0, msg: 'success', data: { message_id: messageId, chat_id: target.chatId } });
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

  return {
    platform: 'feishu',
    buildMessageEvent(input, ctx) {
      const { messageId, event } = feishuMessageEvent(input, ctx);
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
      const replyMatch = /^\/open-apis\/im\/v1\/messages\/([^/]+)\/reply$/.exec(request.path);
      const isCreate = request.method === 'POST' && request.path === '/open-apis/im/v1/messages';
      const isCardKit = request.path.startsWith('/open-apis/cardkit/v1/cards');
      if (!(request.method === 'POST' && replyMatch?.[1]) && !isCreate && !isCardKit) {
        return json(404, { code: 404, msg: 'not found' });
      }
      const refused = admit(request, ctx);
      if (refused) return refused;
      if (replyMatch?.[1]) return reply(decodeURIComponent(replyMatch[1]), request, ctx);
      if (isCreate) return create(request, ctx);
      return cardkit.handle(request, ctx) ?? json(404, { code: 404, msg: 'not found' });
    },
  };
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
