/** Bounds on what one document may cost to extract. Each is checked as early as the format allows. */
export interface ExtractLimits {
  /** Size of the object's bytes, checked before any parsing. */
  readonly maxBytes: number;
  /** Characters of extracted text (UTF-16 code units); more is rejected 'too_large'. */
  readonly maxTextChars: number;
  /** DOCX: entries in the zip's central directory. */
  readonly maxZipEntries: number;
  /** DOCX: sum of the entries' declared uncompressed sizes; also bounds what is actually inflated. */
  readonly maxUncompressedBytes: number;
  /** DOCX: declared uncompressed / compressed size of one entry, checked for entries over 1 MiB. */
  readonly maxCompressionRatio: number;
  /** PDF: pages, checked before any text is extracted. */
  readonly maxPdfPages: number;
  /** PDF and DOCX: the whole extraction, in milliseconds. */
  readonly timeoutMs: number;
}

export const MIB = 1024 * 1024;

export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = Object.freeze({
  maxBytes: 20 * MIB,
  maxTextChars: 2_000_000,
  maxZipEntries: 2_000,
  maxUncompressedBytes: 64 * MIB,
  maxCompressionRatio: 100,
  maxPdfPages: 500,
  timeoutMs: 20_000,
});

/** setTimeout's longest delay; a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The defaults with `overrides` applied (an `undefined` override keeps the default). A limit that is not a positive
 * number is a caller's bug, not bad input: it throws a RangeError naming the limit.
 */
export function resolveExtractLimits(overrides: Partial<ExtractLimits> = {}): ExtractLimits {
  const limits: ExtractLimits = {
    maxBytes: overrides.maxBytes ?? DEFAULT_EXTRACT_LIMITS.maxBytes,
    maxTextChars: overrides.maxTextChars ?? DEFAULT_EXTRACT_LIMITS.maxTextChars,
    maxZipEntries: overrides.maxZipEntries ?? DEFAULT_EXTRACT_LIMITS.maxZipEntries,
    maxUncompressedBytes: overrides.maxUncompressedBytes ?? DEFAULT_EXTRACT_LIMITS.maxUncompressedBytes,
    maxCompressionRatio: overrides.maxCompressionRatio ?? DEFAULT_EXTRACT_LIMITS.maxCompressionRatio,
    maxPdfPages: overrides.maxPdfPages ?? DEFAULT_EXTRACT_LIMITS.maxPdfPages,
    timeoutMs: overrides.timeoutMs ?? DEFAULT_EXTRACT_LIMITS.timeoutMs,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
      throw new RangeError(`extract limit ${name} must be a positive number, got ${String(value)}`);
    }
  }
  if (limits.timeoutMs > MAX_TIMER_MS) {
    throw new RangeError(`extract limit timeoutMs must be at most ${MAX_TIMER_MS}, got ${limits.timeoutMs}`);
  }
  return limits;
}

/** A byte count for messages: exact below 1 KiB, else KiB or MiB with one decimal. */
export function describeBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < MIB) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / MIB).toFixed(1)} MiB`;
}
