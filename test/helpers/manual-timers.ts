import type { TimerHandle, Timers } from '#connector/timers';

interface Scheduled {
  readonly id: number;
  readonly at: number;
  readonly delay: number;
  readonly run: () => void;
}

/**
 * `Timers` whose clock moves only when a test says so: `advance(ms)` runs every timer that falls due, in order, so
 * backoff, keep-alive and retries are observed by their scheduled delays instead of by waiting.
 */
export class ManualTimers implements Timers {
  private clock: number;
  private nextId = 0;
  private readonly scheduled = new Map<number, Scheduled>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.clock = start;
  }

  now = (): number => this.clock;

  setTimeout = (run: () => void, ms: number): TimerHandle => {
    const id = ++this.nextId;
    this.scheduled.set(id, { id, at: this.clock + Math.max(0, ms), delay: ms, run });
    return { id } as TimerHandle;
  };

  clearTimeout = (handle: TimerHandle): void => {
    this.scheduled.delete((handle as { id: number }).id);
  };

  /** Delays of the timers still pending, in the order they were set. */
  pendingDelays(): number[] {
    return [...this.scheduled.values()].map((s) => s.delay);
  }

  /** Moves the clock forward, running due timers (and timers they set that fall due too) in time order. */
  advance(ms: number): void {
    const until = this.clock + ms;
    for (;;) {
      const due = [...this.scheduled.values()].filter((s) => s.at <= until).sort((a, b) => a.at - b.at || a.id - b.id);
      const next = due[0];
      if (!next) break;
      this.scheduled.delete(next.id);
      this.clock = next.at;
      next.run();
    }
    this.clock = until;
  }
}
