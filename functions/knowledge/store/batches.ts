/**
 * Splits `items` into consecutive batches of at most `maxItems` items and at most `maxBytes` by `sizeOf` (a batch
 * holds at least one item, however large): one INSERT per batch keeps each Data API request well inside its 4 MiB.
 */
export function batchesBySize<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  limits: { readonly maxItems: number; readonly maxBytes: number },
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= limits.maxItems || bytes + size > limits.maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
