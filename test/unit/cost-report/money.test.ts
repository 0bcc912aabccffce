import { formatMicroUsd, formatNano, perInvocationNano } from '../../../tools/cost-report/money';

test('formatNano: exact decimals, half away from zero, negatives', () => {
  expect(formatNano(316_055)).toBe('0.000316055');
  expect(formatNano(530_208_000_000, 2)).toBe('530.21');
  expect(formatNano(1_234_550_000, 4)).toBe('1.2346');
  expect(formatNano(49_999, 4)).toBe('0.0000');
  expect(formatNano(50_000, 4)).toBe('0.0001');
  expect(formatNano(-179_800_000, 4)).toBe('-0.1798');
  expect(formatNano(-40, 4)).toBe('0.0000');
  expect(formatNano(7_000_000_000, 0)).toBe('7');
});

test('formatMicroUsd: micro-dollars to the nano-dollar, thousands grouped, from one SQS request to a month', () => {
  // One SQS request: $0.0000005 = 0.5 µUSD; one API Gateway request $0.0000035.
  expect(formatMicroUsd(500)).toBe('0.500');
  expect(formatMicroUsd(3_500)).toBe('3.500');
  expect(formatMicroUsd(1)).toBe('0.001');
  expect(formatMicroUsd(0)).toBe('0.000');
  expect(formatMicroUsd(999_999)).toBe('999.999');
  expect(formatMicroUsd(1_000_000)).toBe('1,000.000');
  expect(formatMicroUsd(44_345_493)).toBe('44,345.493');
  // 720 h x $0.7364 = $530.208
  expect(formatMicroUsd(530_208_000_000)).toBe('530,208,000.000');
  expect(formatMicroUsd(-179_800_123)).toBe('-179,800.123');
  expect(formatMicroUsd(Number.MAX_SAFE_INTEGER)).toBe('9,007,199,254,740.991');
});

test('perInvocationNano: whole nano-dollars, halves away from zero, none without invocations', () => {
  expect(perInvocationNano(720_000_050, 2)).toBe(360_000_025);
  expect(perInvocationNano(10, 4)).toBe(3); // 2.5 → 3
  expect(perInvocationNano(10, 3)).toBe(3); // 3.33 → 3
  expect(perInvocationNano(-10, 4)).toBe(-3);
  expect(perInvocationNano(0, 5)).toBe(0);
  expect(perInvocationNano(123, 0)).toBeUndefined();
});
