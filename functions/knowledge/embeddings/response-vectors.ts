import { EmbeddingError } from './embedder';
import { l2Normalize } from './vector';

/**
 * The checks every server answer passes before its vectors reach an index: one vector per input, each of the
 * configured length, all finite numbers (zod's `number` refuses `1e999`, which `JSON.parse` reads as Infinity), and
 * then unit length. A wrong length means another model than configured: `dimensions`, never silently stored.
 */
export function unitVectors(
  vectors: readonly (readonly number[])[],
  expectedCount: number,
  dimensions: number,
  source: string,
): Float32Array[] {
  if (vectors.length !== expectedCount) {
    throw new EmbeddingError(
      'bad_response',
      `${source} answered ${vectors.length} embeddings for ${expectedCount} inputs`,
    );
  }
  return vectors.map((vector, i) => {
    if (vector.length !== dimensions) {
      throw new EmbeddingError(
        'dimensions',
        `${source} answered a vector of ${vector.length} dimensions for input ${i}, but ${dimensions} are ` +
          'configured: is another model deployed?',
      );
    }
    return l2Normalize(vector);
  });
}

/** A JSON body as a value, or `bad_response` naming `source` when it is not JSON. */
export function parseJsonBody(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new EmbeddingError('bad_response', `${source} answered a body that is not JSON`, { cause });
  }
}

/** What `safeParse` reports on failure, as far as an error message needs it. */
interface ParseFailure {
  readonly issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[];
}

/** The zod issues of an off-contract body, shortened to the first few (a vector can fail in a thousand places). */
export function offContract(source: string, error: ParseFailure, expected: string): EmbeddingError {
  const issues = error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.map(String).join('.') || 'body'}: ${issue.message}`)
    .join('; ');
  const more = error.issues.length > 3 ? ` (and ${error.issues.length - 3} more)` : '';
  return new EmbeddingError('bad_response', `${source} answered off contract (${expected}): ${issues}${more}`, {
    cause: error,
  });
}
