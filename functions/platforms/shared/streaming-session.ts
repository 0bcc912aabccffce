import type { ReplyImage } from '#core/reply-image';
import type { OpenedSurface, OpenReplyOptions, ReplySession, SendResult } from '#platforms/types';
import { ReplySessionClosedError } from './reply-session';

/**
 * A streaming reply session built from one platform's surface operations. The session owns what every platform
 * shares; the platform module (`<platform>/stream.ts`) owns only its API calls.
 *
 * - **Lazy**: nothing visible before the first `update` (no empty card); a session settled before any update sends
 *   one plain message (`sendWhole`), exactly like a one-shot session.
 * - **Single-flight, latest-wins**: at most one platform call in flight; updates that arrive meanwhile collapse into
 *   the newest snapshot, which is pushed once the call returns and `minIntervalMs` has passed since the last push.
 *   `update` never waits for the platform and never throws for a platform error: a lost interim push is repaired
 *   by the next one, because every push carries the whole text so far.
 * - **Exactly-once**: `open` hands the surface to `options.onOpened` (the worker records it on the event) before its
 *   first visible text; a session given `options.resume` never opens a second surface but overwrites the recorded one.
 * - **Settles once**: `finish`/`fail` wait for the call in flight, then write the final text (the whole reply, so a
 *   refusal or a masked term replaces whatever was shown). A surface that could not be opened falls back to
 *   `sendWhole` at settle, so the member always gets the answer.
 */
export interface SurfaceOps {
  /** Minimum ms between two interim pushes on one surface (the platform's per-message limit, with margin). */
  readonly minIntervalMs: number;
  /** Platform API calls made so far by these ops (each HTTP attempt counts, retries included). */
  calls(): number;
  /**
   * The surface may be visible once recorded even if `open` then fails (Feishu: the card message send timed out
   * after Feishu delivered it). The session then resumes the recorded surface at settle instead of sending a plain
   * message beside it. Leave unset where a failed open leaves nothing visible and a plain message is the fallback.
   */
  readonly resumeAfterFailedOpen?: boolean;
  /** Cosmetic call made when the session opens (Slack's "is typing" status). Its failure is ignored. */
  announce?(): Promise<void>;
  /**
   * Creates the surface and shows `text` on it. Must call `record(surface)` (and await it) before the first visible
   * text where the platform allows (Feishu: after creating the card entity, before sending the message).
   */
  open(text: string, record: (surface: OpenedSurface) => Promise<void>): Promise<OpenedSurface>;
  /** Re-attaches to a surface an earlier attempt opened and shows `text` on it (overwriting what is there). */
  resume(surface: OpenedSurface, text: string): Promise<void>;
  /** Shows `text` (the whole answer so far) on the open surface. */
  push(surface: OpenedSurface, text: string): Promise<void>;
  /**
   * Writes the final text and ends streaming as finished. `images` are the reply's: a platform whose final write
   * carries them (WeCom's `msg_item`) posts them here and has no `sendImages`; others ignore them.
   */
  finish(surface: OpenedSurface, text: string, images?: readonly ReplyImage[]): Promise<SendResult>;
  /** Writes `text` (a note, possibly after a partial answer) and ends streaming as failed. */
  fail(surface: OpenedSurface, text: string): Promise<SendResult>;
  /**
   * One plain message: the reply when no surface was opened (settled before any update, or open failed), then its
   * images where the platform posts images (`OutgoingReply.images`).
   */
  sendWhole(text: string, images?: readonly ReplyImage[]): Promise<SendResult>;
  /**
   * Posts images after a finished surface (each its own message beside it); never throws, failures are in the
   * result's `imageFailures`. Absent where the platform posts no images: they are left out.
   */
  sendImages?(images: readonly ReplyImage[]): Promise<SendResult>;
}

export interface StreamingSessionDeps {
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** Reports a failed interim call (logged by the caller; the session carries on). */
  readonly onPushError?: (err: unknown) => void;
}

export function openStreamingSession(
  ops: SurfaceOps,
  options: OpenReplyOptions,
  deps: StreamingSessionDeps,
): ReplySession {
  let surface: OpenedSurface | undefined;
  let resumeFrom = options.resume;
  let openFailed = false;
  let latest: string | undefined;
  let shown: string | undefined;
  let lastPushAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;
  let settledBy: 'finish' | 'fail' | 'abandon' | undefined;
  let firstVisibleReported = false;

  if (ops.announce) ops.announce().catch((err: unknown) => deps.onPushError?.(err));

  const visible = (): void => {
    if (firstVisibleReported) return;
    firstVisibleReported = true;
    options.onFirstVisible?.(deps.now());
  };

  let recorded: OpenedSurface | undefined;
  const record = async (opened: OpenedSurface): Promise<void> => {
    await options.onOpened?.(opened);
    recorded = opened;
  };

  /** Shows `text` on the surface, opening or resuming it first. Throws the platform's error. */
  async function show(text: string): Promise<void> {
    if (surface) {
      await ops.push(surface, text);
    } else if (resumeFrom) {
      const resumed = resumeFrom;
      await ops.resume(resumed, text);
      surface = resumed;
      resumeFrom = undefined;
    } else {
      surface = await ops.open(text, record);
    }
    shown = text;
    visible();
  }

  /** The pump: pushes the newest snapshot, one call at a time, spaced by `minIntervalMs`, until none is new. */
  async function drain(): Promise<void> {
    while (!settledBy && !openFailed && latest !== undefined && latest !== shown) {
      const wait = lastPushAt + ops.minIntervalMs - deps.now();
      if (wait > 0) await deps.sleep(wait);
      if (settledBy) return;
      const text = latest;
      lastPushAt = deps.now();
      try {
        await show(text);
      } catch (err) {
        deps.onPushError?.(err);
        if (!surface && !resumeFrom) {
          // A recorded surface that may be visible is resumed at settle; one that never opened is not retried
          // mid-stream, and the settle sends the answer as one message.
          if (ops.resumeAfterFailedOpen && recorded) resumeFrom = recorded;
          else openFailed = true;
        }
        return;
      }
    }
  }

  function kick(): void {
    if (inFlight) return;
    inFlight = drain().finally(() => {
      inFlight = undefined;
      // A snapshot that arrived while the last call was returning is pushed by a new pump.
      if (!settledBy && !openFailed && latest !== shown) kick();
    });
  }

  async function settle(
    call: 'finish' | 'fail',
    text: string,
    images: readonly ReplyImage[] = [],
  ): Promise<SendResult> {
    if (settledBy) throw new ReplySessionClosedError(call, settledBy);
    settledBy = call;
    await inFlight;
    const target = surface ?? resumeFrom;
    if (!target || openFailed) {
      const sent = await (images.length > 0 ? ops.sendWhole(text, images) : ops.sendWhole(text));
      visible();
      return sent;
    }
    if (!surface) {
      // Resumed but nothing pushed yet by this attempt: re-attach (re-sends by idempotency key where needed) first.
      await ops.resume(target, text);
      surface = target;
    }
    const sent = call === 'finish' ? await ops.finish(target, text, images) : await ops.fail(target, text);
    visible();
    if (images.length === 0 || !ops.sendImages) return sent;
    // After the final text, inside this settle: the reply counts as delivered whatever happens to the images.
    const posted = await ops.sendImages(images);
    return {
      messageIds: [...sent.messageIds, ...posted.messageIds],
      ...(posted.imageFailures ? { imageFailures: posted.imageFailures } : {}),
    };
  }

  return {
    get platformCalls() {
      return ops.calls();
    },
    update: async (fullTextSoFar) => {
      if (settledBy) throw new ReplySessionClosedError('update', settledBy);
      if (fullTextSoFar.length === 0) return;
      latest = fullTextSoFar;
      kick();
    },
    finish: (fullText, finishOptions) => settle('finish', fullText, finishOptions?.images),
    fail: (note) => settle('fail', note),
    abandon: async () => {
      settledBy ??= 'abandon';
      // The pump stops at its next check; an open in flight finishes and records its surface first.
      await inFlight?.catch(() => undefined);
    },
  };
}

/** Counts platform calls for `SurfaceOps.calls`: wrap the adapter's `fetch` with it. */
export function countingFetch(fetchImpl: typeof fetch): { fetch: typeof fetch; calls: () => number } {
  let count = 0;
  return {
    fetch: (input, init) => {
      count += 1;
      return fetchImpl(input, init);
    },
    calls: () => count,
  };
}
