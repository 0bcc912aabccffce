/**
 * Paced writing of the model routes' streamed chunks (`MODEL_STREAM_PACE_MS` in the sandbox, see
 * `sandbox/model/stream-pace.ts`): lets a person watch a reply grow. The fallback function does not pace (0).
 */
export interface PacedWriter {
  /** Queues one write; `paced` writes keep at least the pace from the previous paced write. Order is kept. */
  push(line: string, paced: boolean): void;
  /** Settles once every queued write was made (or dropped because the signal aborted). */
  drained(): Promise<void>;
}

export interface PacedWriterOptions {
  readonly paceMs: number;
  readonly write: (line: string) => void;
  /** Aborted when the caller hung up: queued writes are dropped and waits end at once. */
  readonly signal: AbortSignal;
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Writes lines in order, spacing paced ones by `paceMs`. A slow producer (a real model slower than the pace) is
 * never slowed further: the wait is only what is left of the pace since the previous paced write. With pace 0
 * every write happens synchronously inside `push`, exactly as without pacing.
 */
export function createPacedWriter(options: PacedWriterOptions): PacedWriter {
  const { paceMs, write, signal } = options;
  if (paceMs === 0) {
    return {
      push: (line) => {
        if (!signal.aborted) write(line);
      },
      drained: () => Promise.resolve(),
    };
  }
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  let lastPaced = Number.NEGATIVE_INFINITY;
  let tail = Promise.resolve();
  return {
    push(line, paced) {
      tail = tail.then(async () => {
        if (signal.aborted) return;
        if (paced) {
          const wait = lastPaced + paceMs - now();
          if (wait > 0) await sleep(wait, signal);
          if (signal.aborted) return;
          lastPaced = now();
        }
        write(line);
      });
    },
    drained: () => tail,
  };
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
