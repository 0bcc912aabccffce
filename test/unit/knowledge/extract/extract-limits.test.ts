import { DEFAULT_EXTRACT_LIMITS, describeBytes, resolveExtractLimits } from '#knowledge/extract/extract-limits';

describe('extract limits', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_EXTRACT_LIMITS).toEqual({
      maxBytes: 20 * 1024 * 1024,
      maxTextChars: 2_000_000,
      maxZipEntries: 2_000,
      maxUncompressedBytes: 64 * 1024 * 1024,
      maxCompressionRatio: 100,
      maxPdfPages: 500,
      timeoutMs: 20_000,
    });
    expect(Object.isFrozen(DEFAULT_EXTRACT_LIMITS)).toBe(true);
  });

  it('applies overrides and keeps the default for an undefined one', () => {
    const limits = resolveExtractLimits({ maxPdfPages: 3, timeoutMs: undefined });
    expect(limits.maxPdfPages).toBe(3);
    expect(limits.timeoutMs).toBe(20_000);
  });

  it.each([
    [{ maxBytes: 0 }, 'maxBytes'],
    [{ maxTextChars: -1 }, 'maxTextChars'],
    [{ maxZipEntries: Number.NaN }, 'maxZipEntries'],
    [{ timeoutMs: 2 ** 31 }, 'timeoutMs'],
  ])('throws a RangeError naming a bad limit: %p', (overrides, name) => {
    expect(() => resolveExtractLimits(overrides)).toThrow(RangeError);
    expect(() => resolveExtractLimits(overrides)).toThrow(name);
  });

  it('describes sizes for messages', () => {
    expect(describeBytes(512)).toBe('512 bytes');
    expect(describeBytes(1536)).toBe('1.5 KiB');
    expect(describeBytes(20 * 1024 * 1024)).toBe('20.0 MiB');
  });
});
