import { DocumentRejected } from '#knowledge/extract/extract-document';

/** The DocumentRejected `promise` rejects with; fails the test on a resolution or any other error. */
export async function rejectionOf(promise: Promise<unknown>): Promise<DocumentRejected> {
  const outcome = await promise.then(
    (value: unknown) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error('expected a DocumentRejected, but it resolved');
  if (!(outcome.error instanceof DocumentRejected)) {
    throw new Error(`expected a DocumentRejected, got ${String(outcome.error)}`, { cause: outcome.error });
  }
  return outcome.error;
}

/** The DocumentRejected `run` throws synchronously. */
export function thrownRejection(run: () => unknown): DocumentRejected {
  try {
    run();
  } catch (error) {
    if (error instanceof DocumentRejected) return error;
    throw new Error(`expected a DocumentRejected, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a DocumentRejected, but nothing was thrown');
}
