import { backoffDelay, DEFAULT_BACKOFF } from '#connector/backoff';

describe('reconnect backoff: exponential windows with full jitter', () => {
  const top = () => 0.999_999;

  it('doubles the window from 1 s up to the 60 s cap', () => {
    const windows = Array.from({ length: 9 }, (_, retry) => backoffDelay(retry, DEFAULT_BACKOFF, top));
    expect(windows).toEqual([999, 1_999, 3_999, 7_999, 15_999, 31_999, 59_999, 59_999, 59_999]);
  });

  it('draws uniformly from the whole window (full jitter), down to no wait at all', () => {
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0)).toBe(0);
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0.5)).toBe(4_000);
  });

  it('stays finite and capped however long the outage', () => {
    expect(backoffDelay(5_000, DEFAULT_BACKOFF, top)).toBe(59_999);
  });
});
