import { type RelayFrame, relayFrameSchema } from '#platforms/wecom/relay';
import type { AwsJsonClient } from '#shared/aws-json-client';
import type { ConnectorLogger } from './connector-logger';
import { checkWith, parseJsonText } from './frame-decoding';
import { describeFailure } from './session';
import { pause, systemTimers, type Timers } from './timers';
import { CommandNotAnsweredError, type WecomAibotSocket } from './wecom-aibot';
import { WECOM_AIBOT_ERRCODES } from './wecom-aibot-frames';

/**
 * What became of one relay frame:
 * - `sent`: WeCom answered `aibot_respond_msg` with errcode 0;
 * - `fallback`: the `req_id` was no longer accepted (846605) or the stream had expired (846608), and the final text
 *   went out as `aibot_send_msg` to the chat instead;
 * - `dropped`: not sent and not to be retried (an interim frame a later one supersedes or that can no longer be
 *   shown, a stream this replica already finished, a refused command, an unreadable frame, an `aibot_send_msg`
 *   whose answer was lost: it is never sent twice);
 * - `retry`: the command got no answer (socket closed, 5 s passed): the frame goes back to the queue.
 */
export type RelayOutcome = 'sent' | 'fallback' | 'dropped' | 'retry';

/** Streams remembered as finished (or as no longer accepting `respond`), per replica; the oldest are forgotten. */
const REMEMBERED_STREAMS = 10_000;

/** Bounded insertion-ordered set. */
class RecentSet {
  private readonly items = new Set<string>();
  has(key: string): boolean {
    return this.items.has(key);
  }
  add(key: string): void {
    this.items.delete(key);
    this.items.add(key);
    if (this.items.size > REMEMBERED_STREAMS) {
      const oldest = this.items.values().next().value;
      if (oldest !== undefined) this.items.delete(oldest);
    }
  }
}

/**
 * Sends relay frames on the bot's socket by WeCom's rules: `aibot_respond_msg` with the frame's stream on its
 * callback's `req_id`; when WeCom refuses the `req_id` (846605) or the stream (846608), interim frames of that stream
 * are dropped from then on and its final text goes to the chat by `aibot_send_msg` (once). A stream finished here is
 * not written again (a late interim frame, or a final frame the queue's 5-minute deduplication no longer catches).
 */
export function createRelaySender(logger: ConnectorLogger) {
  const finished = new RecentSet();
  const refused = new RecentSet();
  return async function relay(frame: RelayFrame, socket: WecomAibotSocket): Promise<RelayOutcome> {
    const fields = { platform: 'wecom', streamId: frame.streamId, finish: frame.finish };
    if (finished.has(frame.streamId)) return 'dropped';
    try {
      if (!refused.has(frame.streamId)) {
        const answer = await socket.respond(frame.reqId, frame.streamId, frame.content, frame.finish, frame.images);
        if (answer.errcode === WECOM_AIBOT_ERRCODES.ok) {
          if (frame.finish) finished.add(frame.streamId);
          return 'sent';
        }
        if (
          answer.errcode !== WECOM_AIBOT_ERRCODES.invalidReqId &&
          answer.errcode !== WECOM_AIBOT_ERRCODES.streamExpired
        ) {
          (frame.finish ? logger.error : logger.warn)('wecom relay: aibot_respond_msg refused', {
            ...fields,
            errcode: answer.errcode,
          });
          if (frame.finish) finished.add(frame.streamId);
          return 'dropped';
        }
        refused.add(frame.streamId);
        logger.info('wecom relay: req_id or stream no longer accepted', { ...fields, errcode: answer.errcode });
      }
      if (!frame.finish) return 'dropped';
      // `aibot_send_msg` takes markdown or a template card, not `msg_item`: the fallback carries the text alone.
      if (frame.images) logger.warn('wecom relay: images left out of the aibot_send_msg fallback', fields);
      // `aibot_send_msg` posts a new message each time: it is tried once. The stream counts as finished before the
      // command goes out, so an answer lost on the way (socket closed, 5 s passed) never sends the text a second time;
      // that reply's delivery is then unknown, and logged as an ERROR (the connector's error alarm).
      finished.add(frame.streamId);
      let sent: Awaited<ReturnType<WecomAibotSocket['sendMarkdown']>>;
      try {
        sent = await socket.sendMarkdown(frame.chatId, frame.content);
      } catch (err) {
        if (!(err instanceof CommandNotAnsweredError)) throw err;
        logger.error(
          'wecom relay: aibot_send_msg not answered; the reply may not have been shown, and is not sent again',
          {
            ...fields,
            error: err.message,
          },
        );
        return 'dropped';
      }
      if (sent.errcode === WECOM_AIBOT_ERRCODES.ok) return 'fallback';
      logger.error('wecom relay: aibot_send_msg refused; the reply is lost', { ...fields, errcode: sent.errcode });
      return 'dropped';
    } catch (err) {
      if (err instanceof CommandNotAnsweredError) {
        logger.warn('wecom relay: command not answered; the frame goes back to the queue', {
          ...fields,
          error: err.message,
        });
        return 'retry';
      }
      throw err;
    }
  };
}

export interface RelayConsumerOptions {
  /** A client whose attempt timeout exceeds the long poll (`waitSeconds`). */
  readonly sqs: AwsJsonClient;
  readonly queueUrl: string;
  /** The live, subscribed socket, if any: nothing is received while there is none. */
  readonly socket: () => WecomAibotSocket | undefined;
  readonly logger: ConnectorLogger;
  readonly timers?: Timers;
  /** Long-poll wait of one ReceiveMessage. @default 20 */
  readonly waitSeconds?: number;
  /** How long a received frame stays invisible to another receive. @default 30 */
  readonly visibilityTimeoutSeconds?: number;
  /** Pause between checks while no socket is live, or after a failed receive, ms. @default 1000 */
  readonly idleMs?: number;
  /** Sees every frame's outcome (tests). */
  readonly onOutcome?: (frame: RelayFrame, outcome: RelayOutcome) => void;
}

export interface RelayConsumer {
  /**
   * Stops receiving: frames being sent finish, frames received but not yet sent are made visible again at once (also
   * those a long poll still in flight returns later). Resolves when idle, or after `STOP_GRACE_MS` with a poll still
   * waiting.
   */
  stop(): Promise<void>;
}

/** How long `stop` waits for the loop: a frame's command answer (5 s) plus its delete. */
const STOP_GRACE_MS = 6_000;

interface Received {
  readonly receiptHandle: string;
  readonly frame: RelayFrame | undefined;
}

/**
 * The connector's end of the relay: while this replica holds the bot's lease and its socket is live, receives frames
 * from the relay FIFO queue (long poll, 10 at a time), sends each group's (one reply's) frames in order — an interim
 * frame followed in the same batch by a later one of its stream is skipped, since that one carries the whole text —
 * and deletes each once handled. A frame whose command got no answer is made visible again with the rest of its group
 * (order kept), to be sent again, maybe by the next holder: a frame sent twice overwrites the same stream.
 */
export function startRelayConsumer(options: RelayConsumerOptions): RelayConsumer {
  const timers = options.timers ?? systemTimers;
  const { logger, sqs, queueUrl } = options;
  const relay = createRelaySender(logger);
  let running = true;

  const remove = (receiptHandle: string) =>
    sqs.call('DeleteMessage', { QueueUrl: queueUrl, ReceiptHandle: receiptHandle }).catch((err: unknown) => {
      logger.warn('wecom relay: DeleteMessage failed; the frame may be sent again', { error: describeFailure(err) });
    });
  const makeVisible = (receiptHandle: string) =>
    sqs
      .call('ChangeMessageVisibility', { QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: 0 })
      .catch(() => undefined);

  async function handleGroup(group: readonly Received[]): Promise<void> {
    for (const [index, item] of group.entries()) {
      const socket = options.socket();
      const frame = item.frame;
      if (!frame) continue;
      if (!running || !socket) {
        await Promise.all(group.slice(index).map((rest) => makeVisible(rest.receiptHandle)));
        return;
      }
      const superseded = !frame.finish && group.slice(index + 1).some((later) => later.frame !== undefined);
      const outcome = superseded ? 'dropped' : await relay(frame, socket);
      options.onOutcome?.(frame, outcome);
      if (outcome === 'retry') {
        await Promise.all(group.slice(index).map((rest) => makeVisible(rest.receiptHandle)));
        return;
      }
      await remove(item.receiptHandle);
    }
  }

  async function receiveOnce(): Promise<void> {
    const out = await sqs.call('ReceiveMessage', {
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: options.waitSeconds ?? 20,
      VisibilityTimeout: options.visibilityTimeoutSeconds ?? 30,
    });
    const messages = Array.isArray(out.Messages) ? (out.Messages as { ReceiptHandle?: string; Body?: string }[]) : [];
    const groups = new Map<string, Received[]>();
    for (const message of messages) {
      if (!message.ReceiptHandle) continue;
      const json = parseJsonText(message.Body ?? '');
      const decoded = json.ok ? checkWith(relayFrameSchema, json.value) : json;
      if (!decoded.ok) {
        logger.warn('wecom relay: bad frame skipped', { reason: decoded.reason, bytes: (message.Body ?? '').length });
        await remove(message.ReceiptHandle);
        continue;
      }
      const list = groups.get(decoded.value.streamId) ?? [];
      list.push({ receiptHandle: message.ReceiptHandle, frame: decoded.value });
      groups.set(decoded.value.streamId, list);
    }
    await Promise.all([...groups.values()].map(handleGroup));
  }

  const loop = (async () => {
    while (running) {
      if (!options.socket()) {
        await pause(timers, options.idleMs ?? 1_000);
        continue;
      }
      try {
        await receiveOnce();
      } catch (err) {
        logger.warn('wecom relay: receive failed', { error: describeFailure(err) });
        await pause(timers, options.idleMs ?? 1_000);
      }
    }
  })();

  return {
    async stop() {
      running = false;
      await Promise.race([loop, pause(timers, STOP_GRACE_MS)]);
    },
  };
}
