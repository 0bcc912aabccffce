/**
 * Exact rational arithmetic on BigInt for money. Prices such as $0.0000166667 per GB-second times
 * 1536/1024 GB times 120/1000 s are exact fractions; doing them in binary floating point drifts, so every cost
 * formula works on `Ratio`s and rounds exactly once, to whole nano-dollars (1e-9 USD), at the end.
 */
export interface Ratio {
  readonly n: bigint;
  /** Always > 0; n/d is always in lowest terms, so equal values are deep-equal. */
  readonly d: bigint;
}

export const ZERO: Ratio = { n: 0n, d: 1n };
export const NANO_PER_USD = 1_000_000_000n;

/** Greatest common divisor (non-negative). */
export function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

export function ratio(n: bigint, d: bigint = 1n): Ratio {
  if (d === 0n) throw new RangeError('ratio: zero denominator');
  const sign = d < 0n ? -1n : 1n;
  const g = gcd(n, d < 0n ? -d : d);
  return { n: (sign * n) / g, d: (sign * d) / g };
}

export function add(a: Ratio, b: Ratio): Ratio {
  return ratio(a.n * b.d + b.n * a.d, a.d * b.d);
}

export function sub(a: Ratio, b: Ratio): Ratio {
  return add(a, { n: -b.n, d: b.d });
}

export function mul(a: Ratio, b: Ratio): Ratio {
  return ratio(a.n * b.n, a.d * b.d);
}

export function sum(values: Iterable<Ratio>): Ratio {
  let total = ZERO;
  for (const v of values) total = add(total, v);
  return total;
}

const DECIMAL = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i;

/**
 * Parses a non-negative decimal (`"0.0000166667"`, `"3.5"`, `"1e-7"`) or a finite non-negative JS number exactly.
 * A number is read through its shortest round-trip decimal form (`String(n)`), so `0.1` is exactly 1/10.
 */
export function fromDecimal(value: string | number): Ratio {
  const text = typeof value === 'number' ? String(value) : value.trim();
  const match = DECIMAL.exec(text);
  if (!match) throw new RangeError(`not a non-negative decimal: ${JSON.stringify(value)}`);
  const [, whole = '0', fraction = '', exponent = '0'] = match;
  const digits = BigInt(whole + fraction);
  const scale = BigInt(exponent) - BigInt(fraction.length);
  return scale >= 0n ? ratio(digits * 10n ** scale) : ratio(digits, 10n ** -scale);
}

/** Rounds to the nearest integer; exact halves round away from zero ("half-up" for the non-negative costs here). */
export function roundHalfUp(r: Ratio): bigint {
  const negative = r.n < 0n;
  const abs = negative ? -r.n : r.n;
  const q = (2n * abs + r.d) / (2n * r.d);
  return negative ? -q : q;
}

/** USD → integer nano-dollars, rounded half-up. */
export function toNano(usd: Ratio): bigint {
  return roundHalfUp(mul(usd, ratio(NANO_PER_USD)));
}

/** USD → integer cents, rounded half-up (how AWS's pricing examples round each line). */
export function toCents(usd: Ratio): bigint {
  return roundHalfUp(mul(usd, ratio(100n)));
}

/** Integer nano-dollars → a JS number of USD for JSON. Exact to the printed digits while |nano| < 2^53. */
export function nanoToUsd(nano: bigint): number {
  return Number(nano) / 1e9;
}

/** For display only (quantities in JSON); never feed the result back into money arithmetic. */
export function toNumber(r: Ratio): number {
  return Number(r.n) / Number(r.d);
}
