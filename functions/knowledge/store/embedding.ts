import { KnowledgeStoreError } from './knowledge-store-error';

/**
 * Embeddings as pgvector's text form (`[0.1,-2,3e-7]`), the form both SQL clients send (`$n::vector`).
 *
 * pgvector stores single-precision floats, so each value is first rounded to one (Math.fround) and written with 9
 * significant digits, which reads back as the same float: the text is a third the length of a double's digits, and
 * a 1024-dimension embedding stays about 12 KB on the wire. Subnormal values (|x| < 2^-126) become 0: they carry no
 * direction and some float parsers reject them as out of range.
 */

const MIN_NORMAL_FLOAT32 = 2 ** -126;
const MAX_FLOAT32 = 3.4028234663852886e38;

export function vectorLiteral(embedding: readonly number[] | Float32Array, dimensions: number, what: string): string {
  if (embedding.length !== dimensions) {
    throw new KnowledgeStoreError(
      'dimensions',
      `${what} has ${embedding.length} dimensions; this knowledge store holds ${dimensions}.`,
    );
  }
  const parts: string[] = new Array(embedding.length);
  let nonZero = false;
  for (let i = 0; i < embedding.length; i++) {
    const value = embedding[i]!;
    if (!Number.isFinite(value) || Math.abs(value) > MAX_FLOAT32) {
      throw new KnowledgeStoreError(
        'invalid_input',
        `${what} has ${value} at index ${i}; values must be finite floats.`,
      );
    }
    const single = Math.abs(value) < MIN_NORMAL_FLOAT32 ? 0 : Math.fround(value);
    if (single !== 0) nonZero = true;
    parts[i] = String(Number(single.toPrecision(9)));
  }
  if (!nonZero) {
    throw new KnowledgeStoreError('invalid_input', `${what} is all zeros: it has no direction for cosine similarity.`);
  }
  return `[${parts.join(',')}]`;
}
