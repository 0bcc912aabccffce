import { ReplayError } from '#core/errors';

/**
 * Rejects a request whose timestamp is further than `windowMs` from `nowMs`, in either direction: a stale request
 * may be a replay, and one from the future would stay "fresh" for longer than the window.
 * @throws ReplayError when outside the window or when the timestamp is not a finite number.
 */
export function assertWithinWindow(timestampMs: number, nowMs: number, windowMs: number): void {
  if (!Number.isFinite(timestampMs)) {
    throw new ReplayError('Request timestamp is missing or not a number');
  }
  const skew = nowMs - timestampMs;
  if (skew > windowMs) {
    throw new ReplayError(
      `Request timestamp is ${Math.round(skew / 1000)} s old, over the ${windowMs / 1000} s window`,
    );
  }
  if (skew < -windowMs) {
    throw new ReplayError(
      `Request timestamp is ${Math.round(-skew / 1000)} s in the future, over the ${windowMs / 1000} s window`,
    );
  }
}

/**
 * Parses a decimal epoch timestamp header strictly (digits only, no sign, no exponent, no whitespace).
 * @returns epoch ms, or NaN when the value is absent or not plain digits (which `assertWithinWindow` rejects).
 */
export function parseEpochHeader(value: string | undefined, unit: 'seconds' | 'milliseconds'): number {
  if (value === undefined || !/^\d{1,16}$/.test(value)) {
    return Number.NaN;
  }
  const parsed = Number(value);
  return unit === 'seconds' ? parsed * 1000 : parsed;
}
