import { type RawData, WebSocket } from 'ws';
import type { StreamImage } from '#platforms/wecom/stream-protocol';
import type { ConnectorLogger } from './connector-logger';
import { ConnectionOpenError, type OpenSession, type SessionCallbacks } from './session';
import { systemTimers, type TimerHandle, type Timers } from './timers';
import { closeOnce, rawBytes, upgraded } from './websocket-upgrade';
import {
  decodeWecomFrame,
  encodeWecomFrame,
  eventTypeOf,
  newReqId,
  pingFrame,
  respondStreamFrame,
  sendMarkdownFrame,
  subscribeFrame,
  WECOM_AIBOT_CMDS,
  WECOM_DISCONNECTED_EVENT,
  type WecomFrame,
} from './wecom-aibot-frames';

/** The server's answer to a command: `errcode` 0 is success. */
export interface CommandAnswer {
  readonly errcode: number;
  readonly errmsg: string;
}

/** What the reply relay sends on an open, subscribed socket (`wecom-relay.ts`). */
export interface WecomAibotSocket {
  /**
   * `aibot_respond_msg` with a `stream` body on a callback's `req_id`. Commands on one `req_id` go out one at a time,
   * each after the previous one's answer (or its timeout), as WeCom requires.
   * `images` go out as the finish's `msg_item` (only with `finish`).
   * @throws CommandNotAnsweredError when no answer came within the ack timeout or the socket closed first.
   */
  respond(
    reqId: string,
    streamId: string,
    content: string,
    finish: boolean,
    images?: readonly StreamImage[],
  ): Promise<CommandAnswer>;
  /** `aibot_send_msg` (markdown) to a chat by its id, on a fresh `req_id`. Same errors as `respond`. */
  sendMarkdown(chatId: string, content: string): Promise<CommandAnswer>;
}

/** A command got no answer: the socket closed, or `ackTimeoutMs` passed. Whether WeCom acted on it is unknown. */
export class CommandNotAnsweredError extends Error {
  constructor(cmd: string, why: string) {
    super(`${cmd}: no answer (${why})`);
    this.name = 'CommandNotAnsweredError';
  }
}

export interface WecomAibotOptions {
  /** `wss://openws.work.weixin.qq.com` (the sandbox: its emulator's `ws://` URL). */
  readonly url: string;
  readonly botId: string;
  /** The bot's long-connection secret. Sent only in the subscribe frame; never logged. */
  readonly secret: string;
  readonly logger: ConnectorLogger;
  readonly timers?: Timers;
  /** Heartbeat interval; two heartbeats in a row unanswered end the socket. 0 turns them off. @default 30000 */
  readonly pingIntervalMs?: number;
  /** How long a command waits for its answer (the SDK's 5 s). @default 5000 */
  readonly ackTimeoutMs?: number;
  /** Largest frame accepted; a larger one closes the socket (ws `maxPayload`). @default 1 MiB */
  readonly maxFrameBytes?: number;
  /**
   * WeCom pushed `disconnected_event`: a newer connection subscribed for this bot (one per bot), and the server closes
   * this one. The owner must not reconnect in answer (two holders would kick each other in turn).
   */
  readonly onSuperseded?: (reason: string) => void;
  /** The socket became usable for replies (`live` true, once subscribed) or stopped being so (closed). */
  readonly onLive?: (socket: WecomAibotSocket, live: boolean) => void;
}

export const DEFAULT_WECOM_PING_INTERVAL_MS = 30_000;
export const DEFAULT_WECOM_ACK_TIMEOUT_MS = 5_000;
/** Heartbeats in a row without an answer after which the socket counts as dead (the SDK's rule). */
const MAX_MISSED_PINGS = 2;

interface Pending {
  readonly cmd: string;
  readonly resolve: (answer: CommandAnswer) => void;
  readonly reject: (err: Error) => void;
  readonly timer: TimerHandle;
}

/**
 * Opens one WeCom AI-bot socket, hand-rolled over `ws` (the protocol is one JSON frame shape; the official SDK brings
 * axios and reconnects on its own): upgrade at `url`, `aibot_subscribe` with the bot id and secret, ready once the
 * server answers it with `errcode` 0 (anything else fails the open at the `handshake` stage, naming the errcode). On
 * it: a `ping` command every 30 s, and the socket is cut when two in a row went unanswered; `aibot_msg_callback` and
 * `aibot_event_callback` frames become deliveries whose payload is the whole frame (the adapter reads the body and the
 * `req_id` the reply must carry); WeCom defines no acknowledgement of a callback, so `ack` sends nothing. A
 * `disconnected_event` is not a delivery: it reports the socket superseded (`onSuperseded`) and nothing reconnects
 * here. Commands (`respond`, `sendMarkdown`) wait for their answer, serially per `req_id`.
 */
export function wecomAibotSession(options: WecomAibotOptions): OpenSession {
  const timers = options.timers ?? systemTimers;
  const pingIntervalMs = options.pingIntervalMs ?? DEFAULT_WECOM_PING_INTERVAL_MS;
  const ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_WECOM_ACK_TIMEOUT_MS;
  const { logger } = options;
  return async (callbacks, signal) => {
    const ws = new WebSocket(options.url, { maxPayload: options.maxFrameBytes ?? 1024 * 1024 });
    const pending = new Map<string, Pending>();
    const queues = new Map<string, Promise<unknown>>();
    let lastSocketError: string | undefined;
    let missedPings = 0;
    let heartbeat: TimerHandle | undefined;
    let closed = false;

    const write = (frame: WecomFrame): boolean => {
      if (ws.readyState !== WebSocket.OPEN) return false;
      ws.send(encodeWecomFrame(frame));
      return true;
    };

    /** Sends a command and resolves with its answer; one command per `req_id` may wait at a time. */
    const sendAndWait = (frame: WecomFrame): Promise<CommandAnswer> =>
      new Promise((resolve, reject) => {
        const reqId = frame.headers.req_id;
        const cmd = frame.cmd ?? 'command';
        if (closed || !write(frame)) return reject(new CommandNotAnsweredError(cmd, 'socket closed'));
        const timer = timers.setTimeout(() => {
          pending.delete(reqId);
          reject(new CommandNotAnsweredError(cmd, `${ackTimeoutMs} ms passed`));
        }, ackTimeoutMs);
        pending.set(reqId, { cmd, resolve, reject, timer });
      });

    const serially = (frame: WecomFrame): Promise<CommandAnswer> => {
      const reqId = frame.headers.req_id;
      const previous = queues.get(reqId) ?? Promise.resolve();
      const mine = previous.catch(() => undefined).then(() => sendAndWait(frame));
      const tail = mine.catch(() => undefined);
      queues.set(reqId, tail);
      void tail.then(() => {
        if (queues.get(reqId) === tail) queues.delete(reqId);
      });
      return mine;
    };

    const socket: WecomAibotSocket = {
      respond: (reqId, streamId, content, finish, images) =>
        serially(respondStreamFrame(reqId, streamId, content, finish, images)),
      sendMarkdown: (chatId, content) =>
        serially(sendMarkdownFrame(newReqId(WECOM_AIBOT_CMDS.sendMsg, timers.now()), chatId, content)),
    };

    // Listening before the upgrade completes: a frame in the same packet as the 101 answer is not missed.
    ws.on('message', (data, isBinary) => onFrame(data, isBinary));
    ws.on('error', (err) => {
      lastSocketError = err.message;
    });

    function onFrame(data: RawData, isBinary: boolean): void {
      const bytes = rawBytes(data);
      if (isBinary) {
        callbacks.badFrame('binary frame', bytes.length);
        return;
      }
      const decoded = decodeWecomFrame(bytes.toString('utf8'));
      if (!decoded.ok) {
        callbacks.badFrame(decoded.reason, bytes.length);
        return;
      }
      const frame = decoded.value;
      // An answer is known by its req_id and errcode, not by the absence of `cmd` alone: the official SDK matches
      // pending req_ids first, so an answer that echoes its command is still an answer (not an unknown cmd, which
      // would leave the command to time out and its frame to be sent again).
      const answersCommand =
        frame.errcode !== undefined &&
        (pending.has(frame.headers.req_id) || frame.headers.req_id.startsWith(`${WECOM_AIBOT_CMDS.ping}_`));
      if (frame.cmd === undefined || answersCommand) {
        onAnswer(frame);
        return;
      }
      if (frame.cmd === WECOM_AIBOT_CMDS.eventCallback && eventTypeOf(frame) === WECOM_DISCONNECTED_EVENT) {
        logger.warn('wecom: superseded by a newer connection (disconnected_event)', { platform: 'wecom' });
        options.onSuperseded?.('disconnected_event: a newer connection subscribed for this bot');
        return;
      }
      if (frame.cmd === WECOM_AIBOT_CMDS.msgCallback || frame.cmd === WECOM_AIBOT_CMDS.eventCallback) {
        deliver(frame, callbacks);
        return;
      }
      callbacks.badFrame(`unknown cmd ${frame.cmd.slice(0, 64)}`, bytes.length);
    }

    function onAnswer(frame: WecomFrame): void {
      const reqId = frame.headers.req_id;
      if (reqId.startsWith(`${WECOM_AIBOT_CMDS.ping}_`)) {
        if (frame.errcode === 0) missedPings = 0;
        return;
      }
      const waiting = pending.get(reqId);
      if (!waiting) {
        // An answer after its timeout, or to nothing this socket sent.
        logger.debug('wecom: answer to no pending command', { platform: 'wecom', errcode: frame.errcode });
        return;
      }
      pending.delete(reqId);
      timers.clearTimeout(waiting.timer);
      waiting.resolve({ errcode: frame.errcode ?? -1, errmsg: frame.errmsg ?? '' });
    }

    function deliver(frame: WecomFrame, cbs: SessionCallbacks): void {
      cbs.delivery({
        deliveryId: frame.headers.req_id,
        payload: frame,
        attempt: 0,
        receivedAt: timers.now(),
        // WeCom defines no acknowledgement of a callback; the reply on its req_id is the answer.
        ack: () => Promise.resolve(),
      });
    }

    await upgraded(ws, signal);
    let opened = false;
    ws.on('close', (code, reason) => {
      closed = true;
      if (heartbeat) timers.clearTimeout(heartbeat);
      for (const [reqId, waiting] of pending) {
        timers.clearTimeout(waiting.timer);
        waiting.reject(new CommandNotAnsweredError(waiting.cmd, 'socket closed'));
        pending.delete(reqId);
      }
      if (!opened) return;
      options.onLive?.(socket, false);
      const why = reason.toString('utf8') || lastSocketError;
      callbacks.closed(`closed ${code}${why ? `: ${why}` : ''}`);
    });
    const subscribed = await sendAndWait(
      subscribeFrame(options.botId, options.secret, newReqId(WECOM_AIBOT_CMDS.subscribe, timers.now())),
    ).catch((err: unknown) => {
      ws.terminate();
      throw new ConnectionOpenError('handshake', `aibot_subscribe: ${(err as Error).message}`);
    });
    if (signal.aborted || subscribed.errcode !== 0) {
      ws.terminate();
      throw new ConnectionOpenError(
        'handshake',
        signal.aborted ? 'aborted' : `aibot_subscribe refused: errcode ${subscribed.errcode}`,
      );
    }

    const tick = () => {
      if (missedPings >= MAX_MISSED_PINGS) {
        lastSocketError = `${missedPings} heartbeats unanswered`;
        ws.terminate();
        return;
      }
      missedPings += 1;
      write(pingFrame(newReqId(WECOM_AIBOT_CMDS.ping, timers.now())));
      heartbeat = timers.setTimeout(tick, pingIntervalMs);
    };
    if (pingIntervalMs > 0) heartbeat = timers.setTimeout(tick, pingIntervalMs);
    opened = true;
    options.onLive?.(socket, true);

    return { close: closeOnce(ws, timers) };
  };
}
