import { DocumentRejected } from './document-rejected';

/**
 * The time budget of one extraction. Parsers run on this thread, so a timer alone cannot stop synchronous work:
 * long loops call `check()` between steps, and resources that can be torn down (a PDF document) listen on `signal`.
 */
export interface Deadline {
  /** Aborted once the budget is spent. */
  readonly signal: AbortSignal;
  /** Throws the 'timeout' rejection when the budget is spent. */
  check(): void;
}

/**
 * Runs `work` and settles with its result, or rejects 'timeout' once `timeoutMs` have passed (by the timer, or at
 * the first `check()` after that), whichever comes first. Work still running after the timeout is abandoned: its
 * later result or failure is ignored, and `signal` tells it to release what it holds.
 */
export async function withDeadline<T>(
  key: string,
  timeoutMs: number,
  work: (deadline: Deadline) => Promise<T>,
  now: () => number = Date.now,
): Promise<T> {
  const controller = new AbortController();
  const started = now();
  const timedOut = () =>
    new DocumentRejected('timeout', key, `${key}: extraction took longer than the limit of ${timeoutMs} ms`);
  const deadline: Deadline = {
    signal: controller.signal,
    check() {
      if (controller.signal.aborted || now() - started > timeoutMs) {
        controller.abort();
        throw timedOut();
      }
    },
  };
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(timedOut());
    }, timeoutMs);
  });
  const running = Promise.resolve().then(() => work(deadline));
  running.catch(() => undefined); // a failure after the timeout has nobody to report to
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
  }
}
