import type { TimerHandle, Timers } from './timers';

/**
 * Feishu splits a large event over several data frames that share its `message_id`, numbered by `seq` in [0, sum).
 * This puts the parts back together, in any arrival order, within bounds: a set that stays incomplete, too many parts,
 * too many bytes or too many sets at once are dropped (and reported), never buffered without limit. A dropped event
 * was not acknowledged, so Feishu pushes it again, whole.
 */
export interface ReassemblyLimits {
  /** Largest `sum` accepted. @default 64 */
  readonly maxParts: number;
  /** Largest event, all parts together, in bytes. @default 1 MiB */
  readonly maxEventBytes: number;
  /** Incomplete events held at once; a new one beyond this drops the oldest. @default 32 */
  readonly maxPendingEvents: number;
  /**
   * An event whose parts have not all arrived this long after its first is dropped (the Node SDK keeps parts 10 s,
   * the Go SDK 5 s). @default 10000
   */
  readonly partTimeoutMs: number;
}

export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = {
  maxParts: 64,
  maxEventBytes: 1024 * 1024,
  maxPendingEvents: 32,
  partTimeoutMs: 10_000,
};

export type PartOutcome =
  /** The event is whole: its parts concatenated in `seq` order. */
  | { readonly kind: 'complete'; readonly bytes: Uint8Array }
  /** Held until the other parts arrive. */
  | { readonly kind: 'pending' }
  /** This part cannot be used (bad `sum`/`seq`, over a limit); the reason names numbers only. */
  | { readonly kind: 'rejected'; readonly reason: string };

export interface Reassembler {
  /**
   * Adds one part. `sum` and `seq` are the raw header values: absent means a whole event (1 and 0), anything else
   * must be a decimal integer with 1 ≤ sum ≤ maxParts and 0 ≤ seq < sum, and `sum` must match the event's first part.
   */
  add(messageId: string, sum: string | undefined, seq: string | undefined, bytes: Uint8Array): PartOutcome;
  /** Incomplete events held. */
  pending(): number;
  /** Drops everything and cancels the timers (the socket closed). */
  clear(): void;
}

interface PartialEvent {
  readonly parts: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
  readonly timer: TimerHandle;
}

/** @param onDropped called for an incomplete event dropped on timeout or eviction, with a reason for the logs. */
export function createReassembler(
  limits: ReassemblyLimits,
  timers: Timers,
  onDropped: (messageId: string, reason: string) => void,
): Reassembler {
  // Insertion order is arrival order of each event's first part: the first key is the oldest.
  const events = new Map<string, PartialEvent>();

  const drop = (messageId: string, reason: string): void => {
    const event = events.get(messageId);
    if (!event) return;
    timers.clearTimeout(event.timer);
    events.delete(messageId);
    onDropped(messageId, reason);
  };

  return {
    add(messageId, rawSum, rawSeq, bytes) {
      const sum = rawSum === undefined ? 1 : decimal(rawSum);
      const seq = rawSeq === undefined ? 0 : decimal(rawSeq);
      if (sum === undefined || sum < 1 || sum > limits.maxParts) {
        return { kind: 'rejected', reason: `part count ${rawSum ?? ''} outside 1..${limits.maxParts}` };
      }
      if (seq === undefined || seq >= sum) {
        return { kind: 'rejected', reason: `part index ${rawSeq ?? ''} outside 0..${sum - 1}` };
      }
      if (sum === 1) {
        return bytes.length > limits.maxEventBytes
          ? { kind: 'rejected', reason: `event of ${bytes.length} bytes over ${limits.maxEventBytes}` }
          : { kind: 'complete', bytes };
      }
      let event = events.get(messageId);
      if (event && event.parts.length !== sum) {
        return { kind: 'rejected', reason: `part count ${sum} differs from the first part's ${event.parts.length}` };
      }
      if (!event) {
        const oldest = events.size >= limits.maxPendingEvents ? events.keys().next().value : undefined;
        if (oldest !== undefined) drop(oldest, `evicted: more than ${limits.maxPendingEvents} incomplete events`);
        event = {
          parts: new Array<Uint8Array | undefined>(sum).fill(undefined),
          received: 0,
          bytes: 0,
          timer: timers.setTimeout(() => {
            const late = events.get(messageId);
            drop(messageId, `incomplete after ${limits.partTimeoutMs} ms: ${late?.received ?? 0} of ${sum} parts`);
          }, limits.partTimeoutMs),
        };
        events.set(messageId, event);
      }
      // A part seen before (the platform re-pushed the event while its first push was incomplete) is the same bytes.
      if (event.parts[seq] !== undefined) return { kind: 'pending' };
      if (event.bytes + bytes.length > limits.maxEventBytes) {
        drop(messageId, `over ${limits.maxEventBytes} bytes at part ${seq} of ${sum}`);
        return { kind: 'rejected', reason: `event over ${limits.maxEventBytes} bytes` };
      }
      event.parts[seq] = bytes;
      event.received += 1;
      event.bytes += bytes.length;
      if (event.received < sum) return { kind: 'pending' };
      timers.clearTimeout(event.timer);
      events.delete(messageId);
      const whole = new Uint8Array(event.bytes);
      let at = 0;
      for (const part of event.parts) {
        if (!part) continue;
        whole.set(part, at);
        at += part.length;
      }
      return { kind: 'complete', bytes: whole };
    },
    pending: () => events.size,
    clear() {
      for (const event of events.values()) timers.clearTimeout(event.timer);
      events.clear();
    },
  };
}

/** A non-negative decimal integer of at most 6 digits, or undefined. */
function decimal(raw: string): number | undefined {
  return /^\d{1,6}$/.test(raw) ? Number(raw) : undefined;
}
