import { ConfigError } from '#core/errors';
import { parseAppConfig } from '../../../lib/config';

const MODEL = { modelS3Uri: 's3://example-model-bucket/models/qwen/' };
const HOURS = { timeZone: 'Europe/Berlin', openDays: 'MON-FRI', opensAt: '08:00', closesAt: '19:30' };

function problemsOf(scaleToZero: unknown): readonly string[] {
  try {
    parseAppConfig({ ...MODEL, scaleToZero });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('scaleToZero', () => {
  it('is absent by default and parsed with idleMinutes defaulted when given', () => {
    expect(parseAppConfig(MODEL).scaleToZero).toBeUndefined();
    expect(parseAppConfig({ ...MODEL, scaleToZero: HOURS }).scaleToZero).toEqual({ ...HOURS, idleMinutes: 15 });
  });

  it.each([
    [
      { ...HOURS, timeZone: 'CEST+2' },
      'scaleToZero.timeZone: must be an IANA time zone such as Asia/Shanghai or Europe/Berlin',
    ],
    [
      { ...HOURS, openDays: 'Mon-Fri' },
      'scaleToZero.openDays: must be days or ranges of MON|TUE|WED|THU|FRI|SAT|SUN separated by commas, such as MON-FRI',
    ],
    [{ ...HOURS, opensAt: '8am' }, 'scaleToZero.opensAt: must be a 24-hour time HH:MM'],
    [{ ...HOURS, closesAt: '19:60' }, 'scaleToZero.closesAt: must be a 24-hour time HH:MM'],
    [
      { ...HOURS, opensAt: '22:00', closesAt: '06:00' },
      'scaleToZero.closesAt: must be after opensAt on the same day (overnight business hours are not supported)',
    ],
    [{ ...HOURS, idleMinutes: 1 }, 'scaleToZero.idleMinutes: Too small: expected number to be >=5'],
  ])('names the bad key: %j', (value, problem) => {
    expect(problemsOf(value)).toEqual([problem]);
  });

  it('suggests the key a typo meant', () => {
    expect(problemsOf({ ...HOURS, idleMinute: 10 })).toEqual([
      'scaleToZero.idleMinute: unknown key; did you mean `scaleToZero.idleMinutes`?',
    ]);
  });

  it('lists every problem at once', () => {
    expect(problemsOf({ timeZone: 'Nowhere', openDays: 'MON-FRI', opensAt: '8', closesAt: '9' })).toHaveLength(3);
  });
});
