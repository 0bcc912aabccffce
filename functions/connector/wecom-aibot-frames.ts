import { randomBytes } from 'node:crypto';
import { msgItem, type StreamImage } from '#platforms/wecom/stream-protocol';
import * as z from '#shared/zod';
import { type Decoded, decodeJsonWith } from './frame-decoding';

export type { Decoded } from './frame-decoding';

/**
 * The WeCom AI-bot (智能机器人) long connection's JSON frames, shared by the connector's client (`wecom-aibot.ts`) and
 * the sandbox's emulator (`sandbox/platform-emulator/wecom-aibot.ts`), so each is tested against the other's bytes.
 * Source: developer.work.weixin.qq.com/document/path/101463 as implemented by WecomTeam/aibot-node-sdk (`src/ws.ts`,
 * `src/types/api.ts`; STREAMING-AND-LONG-CONNECTION.md §1.4 and §3.1). Every frame is `{cmd?, headers:{req_id},
 * body?, errcode?, errmsg?}`: commands carry `cmd`; the server's answer to one carries the command's `req_id` and
 * `errcode`/`errmsg` but no `cmd`.
 */

/** The production endpoint (private deployments have their own: `WECOM_AIBOT_WS_URL`). */
export const WECOM_AIBOT_DEFAULT_URL = 'wss://openws.work.weixin.qq.com';

export const WECOM_AIBOT_CMDS = {
  /** client → server: authenticate with `{bot_id, secret}`; answered `errcode` 0 when accepted. */
  subscribe: 'aibot_subscribe',
  /** client → server: heartbeat, every 30 s; answered like any command. */
  ping: 'ping',
  /** server → client: a member's message (body: the decrypted webhook callback's JSON). */
  msgCallback: 'aibot_msg_callback',
  /** server → client: an event (`enter_chat`, `template_card_event`, `feedback_event`, `disconnected_event`). */
  eventCallback: 'aibot_event_callback',
  /** client → server: reply on a callback's `req_id` (a `stream` body; serially, each answered before the next). */
  respond: 'aibot_respond_msg',
  /** client → server: proactive message to a chat by `chatid` (markdown or template card), on a fresh `req_id`. */
  sendMsg: 'aibot_send_msg',
} as const;

/** The event WeCom pushes on a bot's old connection when a newer one subscribed; the server then closes it. */
export const WECOM_DISCONNECTED_EVENT = 'disconnected_event';

export const WECOM_AIBOT_ERRCODES = {
  ok: 0,
  /** `invalid req_id`: the callback's `req_id` is unknown or expired (one report: 5 min [U]). */
  invalidReqId: 846605,
  /** `stream message update expired`: a stream not updated for 6 min (§1.4). */
  streamExpired: 846608,
} as const;

/** `stream.content` limit: 20480 UTF-8 bytes (aibot-node-sdk `StreamReplyBody`). */
export const WECOM_AIBOT_CONTENT_LIMIT_BYTES = 20_480;

const headersSchema = z.looseObject({ req_id: z.string().check(z.minLength(1), z.maxLength(256)) });

const frameSchema = z.looseObject({
  cmd: z.optional(z.string().check(z.minLength(1))),
  headers: headersSchema,
  body: z.optional(z.unknown()),
  errcode: z.optional(z.number().check(z.int())),
  errmsg: z.optional(z.string()),
});
/** Any frame, either direction. */
export type WecomFrame = z.infer<typeof frameSchema>;

export const subscribeBodySchema = z.looseObject({
  bot_id: z.string().check(z.minLength(1)),
  secret: z.string().check(z.minLength(1)),
});

export const streamBodySchema = z.looseObject({
  msgtype: z.literal('stream'),
  stream: z.looseObject({
    id: z.string().check(z.minLength(1), z.maxLength(256)),
    finish: z.optional(z.boolean()),
    content: z.optional(z.string()),
    /** `[{msgtype: "image", image: {base64, md5}}]`, at most 10, with `finish: true` only (read by the emulator). */
    msg_item: z.optional(z.array(z.unknown())),
  }),
});
export type StreamBody = z.infer<typeof streamBodySchema>;

export const sendMarkdownBodySchema = z.looseObject({
  chatid: z.string().check(z.minLength(1)),
  msgtype: z.literal('markdown'),
  markdown: z.looseObject({ content: z.string() }),
});
export type SendMarkdownBody = z.infer<typeof sendMarkdownBodySchema>;

/** An event callback's body: only what the client reads (`event.eventtype`). */
const eventBodySchema = z.looseObject({
  event: z.looseObject({ eventtype: z.string() }),
});

export function decodeWecomFrame(text: string): Decoded<WecomFrame> {
  return decodeJsonWith(frameSchema, text);
}

export function encodeWecomFrame(frame: WecomFrame): string {
  return JSON.stringify(frame);
}

/**
 * A fresh `req_id` for a command the client starts: `<cmd>_<epoch ms>_<random hex>`, the SDK's shape, so the
 * command's answer is told apart by its prefix as well as by the pending id.
 */
export function newReqId(cmd: string, now: number = Date.now()): string {
  return `${cmd}_${now}_${randomBytes(4).toString('hex')}`;
}

export function subscribeFrame(botId: string, secret: string, reqId: string): WecomFrame {
  return { cmd: WECOM_AIBOT_CMDS.subscribe, headers: { req_id: reqId }, body: { bot_id: botId, secret } };
}

export function pingFrame(reqId: string): WecomFrame {
  return { cmd: WECOM_AIBOT_CMDS.ping, headers: { req_id: reqId } };
}

/**
 * The full text so far on stream `streamId` (a later frame with the same id replaces what it shows); `images` become
 * the body's `msg_item` when the frame finishes the stream and are left out otherwise (WeCom takes them only then).
 */
export function respondStreamFrame(
  reqId: string,
  streamId: string,
  content: string,
  finish: boolean,
  images: readonly StreamImage[] = [],
): WecomFrame {
  const items = finish && images.length > 0 ? { msg_item: images.map(msgItem) } : {};
  const body: StreamBody = { msgtype: 'stream', stream: { id: streamId, finish, content, ...items } };
  return { cmd: WECOM_AIBOT_CMDS.respond, headers: { req_id: reqId }, body };
}

export function sendMarkdownFrame(reqId: string, chatId: string, content: string): WecomFrame {
  const body: SendMarkdownBody = { chatid: chatId, msgtype: 'markdown', markdown: { content } };
  return { cmd: WECOM_AIBOT_CMDS.sendMsg, headers: { req_id: reqId }, body };
}

/** The server's answer to a command (the emulator's side). */
export function answerFrame(reqId: string, errcode: number, errmsg: string): WecomFrame {
  return { headers: { req_id: reqId }, errcode, errmsg };
}

export function callbackFrame(
  cmd: typeof WECOM_AIBOT_CMDS.msgCallback | typeof WECOM_AIBOT_CMDS.eventCallback,
  reqId: string,
  body: Readonly<Record<string, unknown>>,
): WecomFrame {
  return { cmd, headers: { req_id: reqId }, body };
}

/** An event callback's `event.eventtype`, or undefined when its body has none. */
export function eventTypeOf(frame: WecomFrame): string | undefined {
  const parsed = eventBodySchema.safeParse(frame.body);
  return parsed.success ? parsed.data.event.eventtype : undefined;
}
