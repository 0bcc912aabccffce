import { randomUUID } from 'node:crypto';
import { systemTimers, type Timers } from '#connector/timers';
import {
  answerFrame,
  callbackFrame,
  decodeWecomFrame,
  encodeWecomFrame,
  sendMarkdownBodySchema,
  streamBodySchema,
  subscribeBodySchema,
  WECOM_AIBOT_CMDS,
  WECOM_AIBOT_CONTENT_LIMIT_BYTES,
  WECOM_AIBOT_ERRCODES,
  WECOM_DISCONNECTED_EVENT,
  type WecomFrame,
} from '#connector/wecom-aibot-frames';
import { decryptMessage, deriveAesKey } from '#platforms/wecom/biz-msg-crypt';
import { createSocketHub, type EmulatedSocket, sendText } from './emulated-sockets';
import { wecomMentions } from './live-mentions';
import {
  AckWaiters,
  type DeliverOptions,
  deliveryView,
  emulatorStats,
  type LongConnectionEmulator,
  type SocketPush,
} from './long-connection-emulator';
import type { EmulatedImage, EmulatorContext } from './types';
import { msgItemImages, WECOM_IMAGE_PREVIEW } from './wecom-stream';

export const WECOM_AIBOT_PATH = '/_emulator/wecom/aibot';
/** What the emulator answers a subscribe with the wrong bot id or secret (WeCom's real code was not found [U]). */
export const WECOM_EMULATED_AUTH_ERRCODE = 40_001;
/** What it answers a frame it cannot read or a body of the wrong shape (WeCom's real code [U]). */
export const WECOM_EMULATED_BAD_REQUEST_ERRCODE = 40_008;

export interface WecomAibotEmulatorOptions {
  readonly botId: string;
  readonly secret: string;
  /** The bot's EncodingAESKey: the page builds the webhook's encrypted body; the socket carries its plaintext. */
  readonly encodingAesKey: string;
  readonly timers?: Timers;
  /** How long a callback's `req_id` is accepted (one report says 5 min [U]). @default 300000 */
  readonly reqIdTtlMs?: number;
  /** A stream not updated this long is expired: 846608 (§1.4: 6 min). @default 360000 */
  readonly streamIdleMs?: number;
  /** Between `disconnected_event` and closing the superseded socket. @default 100 */
  readonly kickGraceMs?: number;
  /** Each reply as a member would see it: the sandbox puts them in its delivery log. */
  readonly onReply?: (reply: WecomSocketReply) => void;
  /**
   * Answers carry the command's `cmd` too. Whether WeCom's do is not documented [U]; the client must read them as
   * answers either way. @default false
   */
  readonly answersEchoCmd?: boolean;
}

/** One reply shown in a chat: a stream's current text, or a proactive message. */
export interface WecomSocketReply {
  /** `stream-<id>` for a stream (one bubble, updated in place), a fresh id for an `aibot_send_msg`. */
  readonly messageId: string;
  readonly chatId: string;
  /** The member's message the stream answers (`msgid`); absent for `aibot_send_msg`. */
  readonly replyTo?: string;
  readonly text: string;
  /** Streams only: still being written, or finished. */
  readonly stream?: 'streaming' | 'finished';
  /** True for a stream's first frame with text, and for every proactive message. */
  readonly first: boolean;
  /** A finishing frame's `msg_item` images (PNG ones: what the page can show). */
  readonly images?: readonly EmulatedImage[];
}

/** A command the emulator received, with what it answered (tests). */
export interface WecomCommandLog {
  readonly cmd: string;
  readonly reqId: string;
  readonly socketId: number;
  readonly errcode: number;
  readonly streamId?: string;
  readonly content?: string;
  readonly finish?: boolean;
  /** How many `msg_item` entries a `respond` carried. */
  readonly msgItems?: number;
  readonly chatId?: string;
}

export interface WecomAibotEmulator extends LongConnectionEmulator {
  /** Stop (true) or resume answering heartbeats: a silently dead connection. */
  mutePings(muted: boolean): void;
  /** Every `req_id` handed out so far stops being accepted (846605). */
  expireReqIds(): void;
  /** Every stream opened so far counts as not updated for too long (846608). */
  expireStreams(): void;
  commands(): readonly WecomCommandLog[];
  /** Sockets that completed `aibot_subscribe`, and how many were kicked by a newer one. */
  subscriptions(): { readonly accepted: number; readonly refused: number; readonly kicked: number };
}

interface Delivery {
  readonly deliveryId: string;
  readonly eventId: string;
  readonly body: Readonly<Record<string, unknown>>;
  readonly pushes: SocketPush[];
  ackedAt?: number;
  acks: number;
  queued: boolean;
  abandoned: boolean;
}

interface IssuedReqId {
  readonly chatId: string;
  readonly msgid: string;
  readonly issuedAt: number;
  expired: boolean;
}

interface StreamState {
  finished: boolean;
  lastUpdateAt: number;
  shown: string | undefined;
  expired: boolean;
}

/**
 * Plays WeCom's AI-bot long connection (frames in `#connector/wecom-aibot-frames`), at `ws://<sandbox>/_emulator/wecom/
 * aibot`: a socket must `aibot_subscribe` with the bot id and secret (else answered `WECOM_EMULATED_AUTH_ERRCODE` and
 * closed); one subscribed socket per bot, so a second subscribe pushes `disconnected_event` on the first and closes it.
 * `ping` is answered (unless muted). Members' messages go out as `aibot_msg_callback` with a fresh `req_id` on the
 * subscribed socket (queued while there is none). Replies: `aibot_respond_msg` with a `stream` body on a known, live
 * `req_id` (else 846605) and a stream updated within `streamIdleMs` and not finished (else 846608), shown as one
 * message updated in place; `aibot_send_msg` (markdown) as a new message. WeCom defines no ack of a callback: a
 * delivery counts as acknowledged once pushed on a subscribed socket.
 */
export function createWecomAibotEmulator(options: WecomAibotEmulatorOptions): WecomAibotEmulator {
  const timers = options.timers ?? systemTimers;
  const reqIdTtlMs = options.reqIdTtlMs ?? 300_000;
  const streamIdleMs = options.streamIdleMs ?? 360_000;
  const kickGraceMs = options.kickGraceMs ?? 100;
  const aesKey = deriveAesKey(options.encodingAesKey, 'emulator key');
  const deliveries = new Map<string, Delivery>();
  const issued = new Map<string, IssuedReqId>();
  const streams = new Map<string, StreamState>();
  const subscribed = new Set<number>();
  const commandLog: WecomCommandLog[] = [];
  const waiters = new AckWaiters();
  const counts = { accepted: 0, refused: 0, kicked: 0 };
  let unexpectedFrames = 0;
  let pingsMuted = false;
  let closed = false;

  const hub = createSocketHub({
    path: WECOM_AIBOT_PATH,
    now: timers.now,
    // Authentication is the subscribe frame's, after the upgrade.
    authorize: () => ({ ok: true }),
    onOpen: () => undefined,
    onText: (socket, text) => onClientFrame(socket, text),
    onClose: (socket) => {
      subscribed.delete(socket.id);
    },
  });

  const answer = (socket: EmulatedSocket, command: WecomFrame, errcode: number, errmsg: string) => {
    const frame = answerFrame(command.headers.req_id, errcode, errmsg);
    sendText(socket, encodeWecomFrame(options.answersEchoCmd && command.cmd ? { ...frame, cmd: command.cmd } : frame));
  };

  function serving(): EmulatedSocket[] {
    return hub.open().filter((s) => subscribed.has(s.id));
  }

  function push(delivery: Delivery, toAll = false): void {
    if (closed) return;
    const targets = serving();
    if (targets.length === 0) {
      delivery.queued = true;
      return;
    }
    delivery.queued = false;
    for (const target of toAll ? targets : targets.slice(-1)) {
      const frame = callbackFrame(WECOM_AIBOT_CMDS.msgCallback, delivery.deliveryId, delivery.body);
      if (!sendText(target, encodeWecomFrame(frame))) continue;
      delivery.pushes.push({ socketId: target.id, at: timers.now(), attempt: delivery.pushes.length });
      delivery.acks += 1;
      if (delivery.ackedAt === undefined) {
        delivery.ackedAt = timers.now();
        waiters.settle(delivery.deliveryId, true);
      }
    }
  }

  function onClientFrame(socket: EmulatedSocket, text: string): void {
    const decoded = decodeWecomFrame(text);
    if (!decoded.ok || decoded.value.cmd === undefined) {
      unexpectedFrames += 1;
      return;
    }
    const frame = decoded.value;
    if (frame.cmd === WECOM_AIBOT_CMDS.subscribe) {
      onSubscribe(socket, frame);
      return;
    }
    if (!subscribed.has(socket.id)) {
      answer(socket, frame, WECOM_EMULATED_AUTH_ERRCODE, 'not subscribed');
      return;
    }
    if (frame.cmd === WECOM_AIBOT_CMDS.ping) {
      if (!pingsMuted) answer(socket, frame, 0, 'ok');
      return;
    }
    const errcode =
      frame.cmd === WECOM_AIBOT_CMDS.respond
        ? onRespond(socket, frame)
        : frame.cmd === WECOM_AIBOT_CMDS.sendMsg
          ? onSendMsg(socket, frame)
          : WECOM_EMULATED_BAD_REQUEST_ERRCODE;
    answer(socket, frame, errcode, errcode === 0 ? 'ok' : `errcode ${errcode}`);
  }

  function onSubscribe(socket: EmulatedSocket, frame: WecomFrame): void {
    const body = subscribeBodySchema.safeParse(frame.body);
    if (!body.success || body.data.bot_id !== options.botId || body.data.secret !== options.secret) {
      counts.refused += 1;
      answer(socket, frame, WECOM_EMULATED_AUTH_ERRCODE, 'invalid bot_id or secret');
      timers.setTimeout(() => socket.ws.close(1008, 'subscribe refused'), kickGraceMs);
      return;
    }
    // One connection per bot: the newer subscription wins, the older socket is told and closed.
    for (const old of serving()) {
      if (old.id === socket.id) continue;
      subscribed.delete(old.id);
      counts.kicked += 1;
      const event = {
        msgid: randomUUID().replace(/-/g, ''),
        create_time: Math.floor(timers.now() / 1000),
        aibotid: options.botId,
        msgtype: 'event',
        event: { eventtype: WECOM_DISCONNECTED_EVENT },
      };
      sendText(old, encodeWecomFrame(callbackFrame(WECOM_AIBOT_CMDS.eventCallback, randomUUID(), event)));
      timers.setTimeout(() => old.ws.close(1000, 'superseded by a newer connection'), kickGraceMs);
    }
    subscribed.add(socket.id);
    counts.accepted += 1;
    answer(socket, frame, 0, 'ok');
    for (const delivery of deliveries.values()) if (delivery.queued) push(delivery);
  }

  function onRespond(socket: EmulatedSocket, frame: WecomFrame): number {
    const reqId = frame.headers.req_id;
    const body = streamBodySchema.safeParse(frame.body);
    const log = (errcode: number) => {
      commandLog.push({
        cmd: WECOM_AIBOT_CMDS.respond,
        reqId,
        socketId: socket.id,
        errcode,
        ...(body.success
          ? {
              streamId: body.data.stream.id,
              content: body.data.stream.content ?? '',
              finish: body.data.stream.finish === true,
              ...(Array.isArray(body.data.stream.msg_item) ? { msgItems: body.data.stream.msg_item.length } : {}),
            }
          : {}),
      });
      return errcode;
    };
    const origin = issued.get(reqId);
    if (!origin || origin.expired || timers.now() - origin.issuedAt > reqIdTtlMs) {
      return log(WECOM_AIBOT_ERRCODES.invalidReqId);
    }
    const content = body.success ? (body.data.stream.content ?? '') : '';
    if (!body.success || Buffer.byteLength(content, 'utf8') > WECOM_AIBOT_CONTENT_LIMIT_BYTES) {
      return log(WECOM_EMULATED_BAD_REQUEST_ERRCODE);
    }
    const streamId = body.data.stream.id;
    const finish = body.data.stream.finish === true;
    // Images only on the finishing frame, at most 10, md5 matching (aibot-node-sdk `StreamReplyBody.msg_item`).
    const images = msgItemImages(body.data.stream.msg_item, finish);
    if (!images.ok) return log(WECOM_EMULATED_BAD_REQUEST_ERRCODE);
    const state = streams.get(streamId);
    if (state && (state.finished || state.expired || timers.now() - state.lastUpdateAt > streamIdleMs)) {
      return log(WECOM_AIBOT_ERRCODES.streamExpired);
    }
    const current = state ?? { finished: false, lastUpdateAt: timers.now(), shown: undefined, expired: false };
    streams.set(streamId, current);
    current.lastUpdateAt = timers.now();
    current.finished = finish;
    if (content !== '' || finish) {
      options.onReply?.({
        messageId: `stream-${streamId}`,
        chatId: origin.chatId,
        replyTo: origin.msgid,
        text: content,
        stream: finish ? 'finished' : 'streaming',
        first: current.shown === undefined,
        ...(images.images.length > 0 ? { images: images.images } : {}),
      });
      current.shown = content;
    }
    return log(0);
  }

  function onSendMsg(socket: EmulatedSocket, frame: WecomFrame): number {
    const body = sendMarkdownBodySchema.safeParse(frame.body);
    const errcode = body.success ? 0 : WECOM_EMULATED_BAD_REQUEST_ERRCODE;
    commandLog.push({
      cmd: WECOM_AIBOT_CMDS.sendMsg,
      reqId: frame.headers.req_id,
      socketId: socket.id,
      errcode,
      ...(body.success ? { chatId: body.data.chatid, content: body.data.markdown.content } : {}),
    });
    if (body.success) {
      options.onReply?.({
        messageId: randomUUID(),
        chatId: body.data.chatid,
        text: body.data.markdown.content,
        first: true,
      });
    }
    return errcode;
  }

  /** The page's webhook body (`{"encrypt"}`) decrypted, or the plaintext callback body as given. */
  function callbackBody(payload: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
    if (typeof payload.encrypt !== 'string') return payload;
    const plain: unknown = JSON.parse(decryptMessage(aesKey, payload.encrypt, ''));
    return typeof plain === 'object' && plain !== null ? (plain as Record<string, unknown>) : {};
  }

  return {
    platform: 'wecom',
    handleApi: () => undefined,
    handleUpgrade: (req, socket, head) => hub.handleUpgrade(req, socket, head),
    deliver(payload, deliverOptions: DeliverOptions = {}) {
      const body = callbackBody(payload);
      const deliveryId = `${WECOM_AIBOT_CMDS.msgCallback}_${randomUUID().replace(/-/g, '')}`;
      const msgid = typeof body.msgid === 'string' ? body.msgid : '';
      const from = body.from as { userid?: unknown } | undefined;
      const chatId = typeof body.chatid === 'string' ? body.chatid : String(from?.userid ?? '');
      issued.set(deliveryId, { chatId, msgid, issuedAt: timers.now(), expired: false });
      const delivery: Delivery = {
        deliveryId,
        eventId: msgid,
        body,
        pushes: [],
        acks: 0,
        queued: false,
        abandoned: false,
      };
      deliveries.set(deliveryId, delivery);
      push(delivery, deliverOptions.toAll === true);
      return deliveryView(delivery);
    },
    waitForAck: (deliveryId, timeoutMs) => waiters.wait(deliveries.get(deliveryId), timeoutMs),
    deliveries: () => [...deliveries.values()].map(deliveryView),
    requestDisconnect(reason = 'server restart') {
      // WeCom announces nothing before closing a socket: a close frame, then the client reconnects.
      const open = hub.open();
      for (const socket of open) socket.ws.close(1001, reason);
      return open.length;
    },
    dropAll: () => hub.dropAll(),
    sendRaw: (text) => hub.sendRaw(text),
    mutePings(muted) {
      pingsMuted = muted;
    },
    expireReqIds() {
      for (const origin of issued.values()) origin.expired = true;
    },
    expireStreams() {
      for (const state of streams.values()) state.expired = true;
    },
    commands: () => [...commandLog],
    subscriptions: () => ({ ...counts }),
    stats: () => emulatorStats(hub, deliveries.values(), { discoveryCalls: 0, unexpectedFrames }),
    async close() {
      closed = true;
      waiters.settleAll(false);
      await hub.close();
    },
  };
}

/**
 * Shows the emulator's replies in the sandbox's delivery log as the WeCom client would: a stream is one message
 * updated in place (recorded at its first text, then patched), a proactive message a new one.
 */
export function wecomReplyLogger(ctx: () => Pick<EmulatorContext, 'record' | 'update'>) {
  return (reply: WecomSocketReply): void => {
    const log = ctx();
    if (!reply.first && log.update('wecom', reply.messageId, { text: reply.text, ...streamPatch(reply) })) {
      recordImages(log, reply);
      return;
    }
    log.record({
      platform: 'wecom',
      chatId: reply.chatId,
      text: reply.text,
      messageId: reply.messageId,
      mentions: wecomMentions(reply.text, undefined),
      ...(reply.replyTo === undefined ? {} : { replyTo: reply.replyTo }),
      ...streamPatch(reply),
    });
    recordImages(log, reply);
  };
}

/** A finished stream's images, each its own delivery under the text (the client shows them in the same bubble). */
function recordImages(log: Pick<EmulatorContext, 'record' | 'update'>, reply: WecomSocketReply): void {
  for (const [index, image] of (reply.images ?? []).entries()) {
    const messageId = `${reply.messageId}-image-${index}`;
    if (log.update('wecom', messageId, {})) continue;
    log.record({
      platform: 'wecom',
      chatId: reply.chatId,
      text: WECOM_IMAGE_PREVIEW,
      messageId,
      ...(reply.replyTo === undefined ? {} : { replyTo: reply.replyTo }),
      image,
    });
  }
}

function streamPatch(reply: WecomSocketReply): { stream?: 'streaming' | 'finished' } {
  return reply.stream === undefined ? {} : { stream: reply.stream };
}
