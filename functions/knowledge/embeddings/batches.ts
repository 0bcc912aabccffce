/**
 * Request bodies stay well under the servers' caps (the sandbox's and many proxies' 1 MiB, TEI's 2 MB, SageMaker's
 * 6 MB) even for Chinese text at 3 bytes a character plus JSON escaping: a batch is also cut at this many UTF-8 bytes
 * of input. A single input is never split (it is bounded by `maxChars`).
 */
export const MAX_BATCH_INPUT_BYTES = 512 * 1024;

/**
 * `inputs` in consecutive batches of at most `maxCount` inputs and `maxBytes` UTF-8 bytes (an input larger than
 * `maxBytes` alone is a batch of one); none for no inputs. Consecutive, so the vectors concatenate back in order.
 */
export function batchesOf(
  inputs: readonly string[],
  maxCount: number,
  maxBytes: number = MAX_BATCH_INPUT_BYTES,
): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const input of inputs) {
    const size = Buffer.byteLength(input, 'utf8');
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(input);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
