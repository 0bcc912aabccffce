import type { SurfaceOps } from '#platforms/shared/streaming-session';
import type { OpenedSurface, SendResult } from '#platforms/types';
import type { SlackStreamText } from './stream-text';
import { isSlackRefusal, type SlackCall, SlackMethodError } from './web-api';

/**
 * Slack's streaming surface (`chat.startStream` → `chat.appendStream`* → `chat.stopStream`), with a plain message
 * edited by `chat.update` where streaming is refused. Protocol facts: STREAMING-AND-LONG-CONNECTION.md §1.3, §2.
 *
 * - `appendStream` only appends, so an interim push sends the new tail of what is shown. A snapshot that does not
 *   extend it (an earlier token changed) is not pushed; the settle stops the stream and rewrites the message whole.
 * - "Edit mode" is a message that is no longer streaming and is rewritten whole by `chat.update` (Tier 3, so at
 *   most one edit per `EDIT_INTERVAL_MS`): the fallback's `postMessage`, a resumed message, or a stream Slack ended
 *   (a stream lives about 5 minutes [issue reports, unverified], or the member stopped it).
 * - Slack assigns the message `ts`, so the surface is recorded just after `startStream`, with its first text already
 *   visible: a crash inside that window leaves one orphan stream (see `shared/reply-session.ts`).
 */

/** `appendStream` is Tier 4 (100+/min per workspace): one push a second per reply leaves room for a second reply. */
export const STREAM_INTERVAL_MS = 1_000;
/** `chat.update` is Tier 3 (~50/min per workspace): one edit every 2 s per reply. */
export const EDIT_INTERVAL_MS = 2_000;
/** What `setStatus` shows under the member's message until the first text arrives. */
export const THINKING_STATUS = 'is thinking…';

/** Slack's per-workspace rate limit answer. */
const THROTTLED = new Set(['ratelimited']);

/** Refusals that mean the stream has ended (expired, stopped by the member, or the message was never a stream). */
const STREAM_OVER = new Set(['message_not_in_streaming_state', 'stopped_by_user']);

/** Where the streamed reply goes, read off the reply handle. */
export interface SlackStreamPlace {
  readonly channel: string;
  /** The thread the answer goes in (a plain message's `thread_ts`; absent for an inline DM answer). */
  readonly threadTs?: string;
  /** What the stream replies to: the thread, else the member's message. Absent: no native stream is tried. */
  readonly streamThreadTs?: string;
  /** `recipient_user_id` + `recipient_team_id`, required outside DMs; absent in a DM (or unknown: no stream). */
  readonly recipient?: { readonly userId: string; readonly teamId: string };
  /** A DM, where a stream needs no recipient. */
  readonly direct: boolean;
}

export interface SlackSurfaceDeps {
  readonly call: SlackCall;
  readonly calls: () => number;
  readonly text: SlackStreamText;
  /** The one-shot send (split, escaped `text`, @-mention, then images) for replies that never opened a surface. */
  readonly sendWhole: SurfaceOps['sendWhole'];
  /** Images after a finished stream (`SurfaceOps.sendImages`). */
  readonly sendImages?: SurfaceOps['sendImages'];
  readonly now: () => number;
}

interface OpenMessage {
  readonly ts: string;
  mode: 'stream' | 'edit';
  /** The message's text as Slack holds it; undefined when unknown (an append whose answer was lost). */
  shown: string | undefined;
  /** The stream no longer extends to the answer: the settle stops it and rewrites the message whole. */
  rewrite: boolean;
}

export function slackSurfaceOps(place: SlackStreamPlace, deps: SlackSurfaceDeps): SurfaceOps {
  const { call, text } = deps;
  let message: OpenMessage | undefined;

  const canStream = place.streamThreadTs !== undefined && (place.direct || place.recipient !== undefined);

  const active = (surface: OpenedSurface): OpenMessage => {
    message ??= { ts: surface.id, mode: 'edit', shown: undefined, rewrite: false };
    return message;
  };

  /**
   * Rewrites the message whole. An interim edit is tried once: a throttled one is not waited out (Retry-After can be
   * a minute, past the worker's time budget), because the next push or the settle carries the whole text anyway.
   */
  const edit = async (m: OpenMessage, view: string, interim = false): Promise<void> => {
    if (m.mode === 'edit' && m.shown === view) return;
    await call(
      'chat.update',
      { channel: place.channel, ts: m.ts, markdown_text: view },
      { retryServerErrors: !interim, ...(interim ? { maxAttempts: 1 } : {}) },
    );
    m.mode = 'edit';
    m.shown = view;
  };

  /** Ends the stream; Slack refusing because it already ended (or never streamed) is what was wanted. */
  const stop = async (m: OpenMessage, tail?: string): Promise<boolean> => {
    try {
      await call(
        'chat.stopStream',
        { channel: place.channel, ts: m.ts, ...(tail ? { markdown_text: tail } : {}) },
        { retryServerErrors: true },
      );
      return true;
    } catch (err) {
      if (isSlackRefusal(err, STREAM_OVER)) return false;
      throw err;
    }
  };

  const settle = async (surface: OpenedSurface, finalText: string): Promise<SendResult> => {
    const m = active(surface);
    const view = text.whole(finalText);
    if (m.mode === 'stream') {
      const extendsShown = !m.rewrite && m.shown !== undefined && view.startsWith(m.shown);
      const tail = extendsShown && m.shown !== undefined ? view.slice(m.shown.length) : undefined;
      const stopped = await stop(m, tail);
      if (stopped && extendsShown) {
        m.shown = view;
        return { messageIds: [m.ts] };
      }
      // A refusal or a masked term replaced what was streamed, or the stream ended early: rewrite it whole.
      m.mode = 'edit';
      m.shown = stopped ? m.shown : undefined;
    }
    await edit(m, view);
    return { messageIds: [m.ts] };
  };

  const startStream = async (view: string): Promise<string> => {
    const answer = await call(
      'chat.startStream',
      {
        channel: place.channel,
        thread_ts: place.streamThreadTs,
        ...(place.recipient
          ? { recipient_user_id: place.recipient.userId, recipient_team_id: place.recipient.teamId }
          : {}),
        markdown_text: view,
      },
      // Tier 2 (20/min per workspace): a throttled start is not waited out (Retry-After can be a minute, with the
      // member seeing nothing); the reply falls back to one plain message when the answer is complete.
      { retryServerErrors: false, maxAttempts: 1 },
    );
    return requireTs(answer.ts, 'chat.startStream');
  };

  const postMessage = async (view: string): Promise<string> => {
    const answer = await call(
      'chat.postMessage',
      { channel: place.channel, ...(place.threadTs ? { thread_ts: place.threadTs } : {}), markdown_text: view },
      { retryServerErrors: true },
    );
    return requireTs(answer.ts, 'chat.postMessage');
  };

  return {
    get minIntervalMs() {
      return message?.mode === 'edit' ? EDIT_INTERVAL_MS : STREAM_INTERVAL_MS;
    },
    calls: deps.calls,

    announce: async () => {
      if (place.streamThreadTs === undefined) return;
      await call(
        'assistant.threads.setStatus',
        { channel_id: place.channel, thread_ts: place.streamThreadTs, status: THINKING_STATUS },
        { retryServerErrors: false, maxAttempts: 1 },
      );
    },

    open: async (firstText, record) => {
      const view = text.interim(firstText) ?? text.whole(firstText);
      let ts: string | undefined;
      let mode: OpenMessage['mode'] = 'stream';
      if (canStream) {
        try {
          ts = await startStream(view);
        } catch (err) {
          // Throttled: the workspace is starting more streams than Slack allows (Tier 2), and an edited message would
          // spend Tier 3 `chat.update`s the same busy workspace is short of; the settle sends one plain message.
          // A lost answer is not retried as a message either: a stream may exist, and the settle sends one message.
          if (!(err instanceof SlackMethodError && err.definite) || isSlackRefusal(err, THROTTLED)) throw err;
          // Refused here (scope, channel type, plan): an edited message instead.
        }
      }
      if (ts === undefined) {
        ts = await postMessage(view);
        mode = 'edit';
      }
      const opened: OpenedSurface = { id: ts, openedAt: deps.now() };
      try {
        await record(opened);
      } catch (err) {
        // Not recorded: a redelivery could not find it, so it must not stay "streaming"; the settle sends anew.
        if (mode === 'stream') await stop({ ts, mode, shown: view, rewrite: false }).catch(() => undefined);
        throw err;
      }
      message = { ts, mode, shown: view, rewrite: false };
      return opened;
    },

    resume: async (surface, resumedText) => {
      // The earlier attempt's message may still be streaming: end it, then rewrite it whole. Whether chat.update
      // may rewrite a stopped stream message is unverified (the doc's [U]); the emulator allows it.
      const m: OpenMessage = { ts: surface.id, mode: 'edit', shown: undefined, rewrite: false };
      message = m;
      await stop(m);
      await edit(m, text.whole(resumedText));
    },

    push: async (surface, snapshot) => {
      const m = active(surface);
      if (m.mode === 'edit') {
        await edit(m, text.whole(snapshot), true);
        return;
      }
      const view = text.interim(snapshot);
      if (m.rewrite || view === undefined || m.shown === undefined) return;
      if (!view.startsWith(m.shown)) {
        m.rewrite = true;
        return;
      }
      const tail = view.slice(m.shown.length);
      if (tail === '') return;
      try {
        // Tried once: a throttled append is not waited out; the next push appends the same tail (nothing was shown).
        await call(
          'chat.appendStream',
          { channel: place.channel, ts: m.ts, markdown_text: tail },
          { retryServerErrors: false, maxAttempts: 1 },
        );
        m.shown = view;
      } catch (err) {
        if (isSlackRefusal(err, STREAM_OVER)) {
          m.mode = 'edit';
          await edit(m, text.whole(snapshot), true);
          return;
        }
        // Applied or not is unknown: what the message shows is no longer known, so the settle rewrites it.
        if (!(err instanceof SlackMethodError && err.definite)) m.rewrite = true;
        throw err;
      }
    },

    finish: settle,
    fail: settle,
    sendWhole: deps.sendWhole,
    ...(deps.sendImages ? { sendImages: deps.sendImages } : {}),
  };
}

function requireTs(ts: string | undefined, method: string): string {
  if (ts === undefined) throw new SlackMethodError(method, 'no_ts_in_answer', false, 200, '');
  return ts;
}
