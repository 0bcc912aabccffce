import { createCircuitBreaker } from '#model/circuit-breaker';

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

describe('createCircuitBreaker with calls side by side', () => {
  let t: number;
  const breaker = () =>
    createCircuitBreaker({ failureThreshold: 3, windowMs: 10_000, coolDownMs: 5_000, now: () => t });
  beforeEach(() => {
    t = 0;
  });

  it('does not count failures of calls that started before the latest success', () => {
    const b = breaker();
    // Ten calls start at t = 0; seven answer at once, three hang until their deadline at t = 1 s.
    t = 10;
    b.onSuccess();
    t = 1_000;
    for (let i = 0; i < 3; i++) b.onFailure(0);
    expect(b.state()).toBe('closed');
  });

  it('still opens when the calls that fail started after the latest success', () => {
    const b = breaker();
    t = 10;
    b.onSuccess();
    t = 1_000;
    b.onFailure(20);
    b.onFailure(30);
    expect(b.state()).toBe('closed');
    b.onFailure(40);
    expect(b.state()).toBe('open');
  });

  it('opens on a dead endpoint whose concurrent calls all fail', () => {
    const b = breaker();
    t = 1_000;
    for (let i = 0; i < 3; i++) b.onFailure(0);
    expect(b.state()).toBe('open');
  });
});
