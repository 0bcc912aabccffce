import { createCircuitBreaker } from '../../../functions/model/circuit-breaker';

describe('createCircuitBreaker', () => {
  let t: number;
  const breaker = () =>
    createCircuitBreaker({ failureThreshold: 3, windowMs: 10_000, coolDownMs: 5_000, now: () => t });
  beforeEach(() => {
    t = 0;
  });

  it('opens only after N consecutive failures inside the window', () => {
    const b = breaker();
    b.onFailure();
    t = 6_000;
    b.onFailure();
    t = 12_000; // the first failure is now outside the 10 s window
    b.onFailure();
    expect(b.state()).toBe('closed');
    b.onFailure();
    expect(b.state()).toBe('open');
    expect(b.tryAcquire()).toBe(false);
  });

  it('a success resets the count of consecutive failures', () => {
    const b = breaker();
    b.onFailure();
    b.onFailure();
    b.onSuccess();
    b.onFailure();
    b.onFailure();
    expect(b.state()).toBe('closed');
  });

  it('half-opens after the cool-down and admits exactly one probe', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.onFailure();
    t = 4_999;
    expect(b.tryAcquire()).toBe(false);
    t = 5_000;
    expect(b.state()).toBe('half_open');
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    b.onSuccess();
    expect(b.state()).toBe('closed');
    expect(b.tryAcquire()).toBe(true);
  });

  it('a failed probe opens the circuit for another full cool-down', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.onFailure();
    t = 5_000;
    expect(b.tryAcquire()).toBe(true);
    b.onFailure();
    expect(b.state()).toBe('open');
    t = 9_999;
    expect(b.tryAcquire()).toBe(false);
    t = 10_000;
    expect(b.tryAcquire()).toBe(true);
  });
});
