/**
 * `values` scaled to unit L2 length, as a `Float32Array`. A zero vector (an empty text under the hashing embedder, or
 * a server's answer for one) stays zero rather than becoming NaN: it is then similar to nothing, which is its meaning.
 * The norm is summed in double precision, so float32 inputs of any length normalise to within float32 rounding.
 */
export function l2Normalize(values: ArrayLike<number>): Float32Array {
  let sumOfSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    sumOfSquares += v * v;
  }
  const out = new Float32Array(values.length);
  if (sumOfSquares === 0) return out;
  const scale = 1 / Math.sqrt(sumOfSquares);
  for (let i = 0; i < values.length; i++) out[i] = values[i]! * scale;
  return out;
}

/** Dot product; of two `l2Normalize`d vectors, their cosine similarity. Lengths must match (not checked: hot path). */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}
