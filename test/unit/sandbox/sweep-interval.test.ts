import { ConfigError } from '#core/errors';
import { sandboxTimingFromEnv, TIMING_ENV } from '../../../sandbox/faults';

/** `SANDBOX_SWEEP_INTERVAL_MS`: how often the sandbox plays the stream sweeper's one-minute schedule. */
describe('SANDBOX_SWEEP_INTERVAL_MS', () => {
  it('defaults to the schedule in AWS, one minute', () => {
    expect(sandboxTimingFromEnv({}).sweepIntervalMs).toBe(60_000);
  });

  it('takes a shorter interval for tests', () => {
    expect(sandboxTimingFromEnv({ [TIMING_ENV.sweepIntervalMs]: '250' }).sweepIntervalMs).toBe(250);
  });

  it.each(['0', '99', '1.5', 'soon', '3600001'])('refuses %s, naming the variable', (value) => {
    expect(() => sandboxTimingFromEnv({ [TIMING_ENV.sweepIntervalMs]: value })).toThrow(ConfigError);
    expect(() => sandboxTimingFromEnv({ [TIMING_ENV.sweepIntervalMs]: value })).toThrow(/SANDBOX_SWEEP_INTERVAL_MS/);
  });
});
