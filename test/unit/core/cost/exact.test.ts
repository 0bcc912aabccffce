import { add, fromDecimal, mul, nanoToUsd, ratio, roundHalfUp, toCents, toNano } from '#core/cost/exact';

describe('exact money arithmetic', () => {
  it('parses decimals and numbers exactly', () => {
    expect(fromDecimal('0.0000166667')).toEqual({ n: 166667n, d: 10_000_000_000n });
    expect(fromDecimal('3.50')).toEqual({ n: 7n, d: 2n });
    expect(fromDecimal(0.1)).toEqual({ n: 1n, d: 10n });
    expect(fromDecimal(1e-7)).toEqual({ n: 1n, d: 10_000_000n });
    expect(fromDecimal('2e3')).toEqual({ n: 2000n, d: 1n });
  });

  it('rejects negative, non-finite and malformed input', () => {
    for (const bad of ['-1', 'abc', '', '1.', '.5', Number.NaN, Number.POSITIVE_INFINITY, -0.5]) {
      expect(() => fromDecimal(bad)).toThrow(RangeError);
    }
  });

  it('does not drift where binary floating point does', () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(toNano(add(fromDecimal('0.1'), fromDecimal('0.2')))).toBe(300_000_000n);
    expect(1.1 * 3).not.toBe(3.3);
    expect(toNano(mul(fromDecimal('1.1'), ratio(3n)))).toBe(3_300_000_000n);
    expect(toNano(mul(mul(ratio(3_000_000n), fromDecimal('0.18')), fromDecimal('0.0000166667')))).toBe(9_000_018_000n);
  });

  it('rounds halves away from zero, everything else to nearest', () => {
    expect(roundHalfUp(ratio(5n, 2n))).toBe(3n);
    expect(roundHalfUp(ratio(-5n, 2n))).toBe(-3n);
    expect(roundHalfUp(ratio(249n, 100n))).toBe(2n);
    expect(roundHalfUp(ratio(7n, 3n))).toBe(2n);
    expect(toCents(fromDecimal('18.337'))).toBe(1834n);
    expect(toCents(fromDecimal('0.405'))).toBe(41n);
    expect(toNano(fromDecimal('0.0000000005'))).toBe(1n);
    expect(toNano(fromDecimal('0.00000000049'))).toBe(0n);
  });

  it('prints nano-dollars as the matching decimal USD', () => {
    expect(nanoToUsd(3_200n)).toBe(0.0000032);
    expect(nanoToUsd(736_400_000n)).toBe(0.7364);
    expect(ratio(1n, -2n)).toEqual({ n: -1n, d: 2n });
    expect(ratio(-6n, -4n)).toEqual({ n: 3n, d: 2n });
    expect(ratio(0n, 7n)).toEqual({ n: 0n, d: 1n });
    expect(() => ratio(1n, 0n)).toThrow(RangeError);
  });
});
