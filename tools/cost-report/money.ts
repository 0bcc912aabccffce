/**
 * How the report prints money. Amounts are integer nano-dollars (1e-9 USD) end to end and are formatted with BigInt,
 * never through a float, so a printed figure is exact to the digits shown.
 */

/**
 * Integer nano-dollars as a decimal USD string with `digits` decimals (0–9), rounded half away from zero. At 9
 * digits it is exact, so CSV columns re-add to the nano-dollar.
 */
export function formatNano(nano: number, digits = 9): string {
  const negative = nano < 0;
  let abs = BigInt(Math.abs(nano));
  const drop = 10n ** BigInt(9 - digits);
  abs = (abs + drop / 2n) / drop;
  const scale = 10n ** BigInt(digits);
  const whole = abs / scale;
  const fraction = (abs % scale).toString().padStart(digits, '0');
  const text = digits > 0 ? `${whole}.${fraction}` : `${whole}`;
  return negative && abs !== 0n ? `-${text}` : text;
}

/** The unit of `formatMicroUsd`, for headers: a millionth of a US dollar. */
export const MICRO_USD = 'µUSD';

/**
 * Integer nano-dollars as micro-dollars with three decimals and thousands grouped (`44345493` → `44,345.493`):
 * exact, and readable across the nine orders of magnitude between one SQS request and a month of endpoint time.
 */
export function formatMicroUsd(nano: number): string {
  const negative = nano < 0;
  const abs = BigInt(Math.abs(nano));
  const whole = (abs / 1000n).toString().replace(/\B(?=(\d{3})+$)/g, ',');
  const text = `${whole}.${(abs % 1000n).toString().padStart(3, '0')}`;
  return negative && abs !== 0n ? `-${text}` : text;
}

/**
 * An average per invocation in whole nano-dollars (half away from zero, as everywhere else), or undefined when
 * there was no invocation: the one definition behind every "per call" figure so that they agree.
 */
export function perInvocationNano(totalNano: number, invocations: number): number | undefined {
  if (invocations <= 0) return undefined;
  const n = BigInt(invocations);
  const abs = BigInt(Math.abs(totalNano));
  const rounded = (2n * abs + n) / (2n * n);
  return Number(totalNano < 0 ? -rounded : rounded);
}
