import type { RdsDataCommand, RdsDataSender } from './rds-data-sql';

/**
 * Aurora Serverless v2 with a minimum of 0 ACU pauses when idle. A Data API request to a paused instance fails with
 * `DatabaseResumingException` ("A request was cancelled because the … DB instance was paused. The Data API request
 * automatically resumes the DB instance. Wait a few seconds and try again."): the statement did not run, so sending
 * it again is safe, whatever it was.
 *
 * `waitingForResume` sends again, after a growing pause, until the instance answers or `maxWaitMs` has passed; then the
 * last error is thrown as it came. Ingestion, which nobody waits for, gives a resume its ~15 s; the knowledge skill
 * waits not at all (its answer is due in seconds: that one question goes to the model without passages, and the
 * request it made has started the resume for the next).
 */

export const DATABASE_RESUMING = 'DatabaseResumingException';

export interface ResumeWaitOptions {
  /** How long to keep trying, ms, from the first failure. */
  readonly maxWaitMs: number;
  /** First pause, ms; each next one doubles, up to `maxPauseMs`. @default 1000 */
  readonly firstPauseMs?: number;
  /** @default 5000 */
  readonly maxPauseMs?: number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
  /** Told before each wait (for logs). */
  readonly onResuming?: (waitedMs: number) => void;
}

export function isDatabaseResuming(error: unknown): boolean {
  return error instanceof Error && error.name === DATABASE_RESUMING;
}

export function waitingForResume(sender: RdsDataSender, options: ResumeWaitOptions): RdsDataSender {
  if (options.maxWaitMs <= 0) return sender;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const maxPause = options.maxPauseMs ?? 5000;
  return {
    async send(command: RdsDataCommand): Promise<unknown> {
      let started: number | undefined;
      let pause = options.firstPauseMs ?? 1000;
      for (;;) {
        try {
          return await sender.send(command);
        } catch (error) {
          if (!isDatabaseResuming(error)) throw error;
          started ??= now();
          const waited = now() - started;
          const left = options.maxWaitMs - waited;
          if (left <= 0) throw error;
          options.onResuming?.(waited);
          await sleep(Math.min(pause, left));
          pause = Math.min(pause * 2, maxPause);
        }
      }
    },
  };
}
