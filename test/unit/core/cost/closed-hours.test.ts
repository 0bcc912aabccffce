import {
  AWAKE_RULE,
  closedHoursIn,
  closedIntervals,
  expandOpenDays,
  localToUtc,
  type ScaleToZeroSchedule,
  scaleToZeroSchema,
} from '#core/cost/closed-hours';

const at = (iso: string) => Date.parse(iso);
const period = (from: string, to: string) => ({ start: at(from), end: at(to) });
const iso = (ms: number) => new Date(ms).toISOString();
const NONE = { primary: [], fallback: [] };

function schedule(overrides: Partial<ScaleToZeroSchedule> = {}): ScaleToZeroSchedule {
  return scaleToZeroSchema.parse({
    timeZone: 'Europe/Berlin',
    openDays: 'MON-FRI',
    opensAt: '08:00',
    closesAt: '20:00',
    ...overrides,
  });
}

describe('scaleToZeroSchema', () => {
  it('defaults idleMinutes to 15', () => {
    expect(schedule().idleMinutes).toBe(15);
  });

  it.each([
    [{ timeZone: 'Mars/Olympus' }, 'timeZone', 'IANA time zone'],
    [{ timeZone: '' }, 'timeZone', 'IANA time zone'],
    [{ openDays: 'MON-FRIDAY' }, 'openDays', 'MON-FRI'],
    [{ openDays: 'mon' }, 'openDays', 'MON-FRI'],
    [{ openDays: 'MON,,TUE' }, 'openDays', 'MON-FRI'],
    [{ opensAt: '8:00' }, 'opensAt', 'HH:MM'],
    [{ closesAt: '24:00' }, 'closesAt', 'HH:MM'],
    [{ opensAt: '20:00', closesAt: '08:00' }, 'closesAt', 'overnight'],
    [{ opensAt: '09:00', closesAt: '09:00' }, 'closesAt', 'after opensAt'],
    [{ idleMinutes: 2 }, 'idleMinutes', ''],
    [{ idleMinutes: 7.5 }, 'idleMinutes', ''],
  ])('refuses %j at %s', (overrides, key, words) => {
    const result = scaleToZeroSchema.safeParse({
      timeZone: 'Europe/Berlin',
      openDays: 'MON-FRI',
      opensAt: '08:00',
      closesAt: '20:00',
      ...overrides,
    });
    expect(result.success).toBe(false);
    const issue = result.error?.issues.find((i) => i.path.join('.') === key);
    expect(issue?.message).toContain(words);
  });

  it('refuses unknown keys', () => {
    const result = scaleToZeroSchema.safeParse({ ...schedule(), idle: 3 });
    expect(result.success).toBe(false);
  });
});

describe('expandOpenDays', () => {
  it.each([
    ['MON-FRI', ['MON', 'TUE', 'WED', 'THU', 'FRI']],
    ['SUN-THU', ['MON', 'TUE', 'WED', 'THU', 'SUN']],
    ['FRI-MON', ['MON', 'FRI', 'SAT', 'SUN']],
    ['MON-WED,FRI,TUE', ['MON', 'TUE', 'WED', 'FRI']],
    ['SAT', ['SAT']],
  ])('%s', (days, expected) => {
    expect(expandOpenDays(days)).toEqual(expected);
  });
});

describe('localToUtc', () => {
  const local = (wall: string) => localToUtc(Date.parse(`${wall}Z`), 'Europe/Berlin');
  it('applies winter and summer offsets', () => {
    expect(iso(local('2026-01-15T08:00:00'))).toBe('2026-01-15T07:00:00.000Z');
    expect(iso(local('2026-07-15T08:00:00'))).toBe('2026-07-15T06:00:00.000Z');
  });
  it('maps a time skipped in spring to as long after the change', () => {
    // 2026-03-29: clocks jump from 02:00 CET to 03:00 CEST (01:00 UTC).
    expect(iso(local('2026-03-29T02:30:00'))).toBe('2026-03-29T01:30:00.000Z');
  });
  it('maps a time repeated in autumn to its first occurrence', () => {
    // 2026-10-25: clocks fall back from 03:00 CEST to 02:00 CET (01:00 UTC); 02:30 happens at 00:30 and 01:30 UTC.
    expect(iso(local('2026-10-25T02:30:00'))).toBe('2026-10-25T00:30:00.000Z');
  });
});

describe('closedIntervals', () => {
  it('is the nights of a working week and the whole weekend', () => {
    // Mon 2026-01-12 00:00 Berlin (= Sun 23:00 UTC) to the next Mon 00:00 Berlin.
    const week = period('2026-01-11T23:00:00Z', '2026-01-18T23:00:00Z');
    const closed = closedIntervals(schedule(), week);
    expect(closed.map((c) => [iso(c.start), iso(c.end)])).toEqual([
      ['2026-01-11T23:00:00.000Z', '2026-01-12T07:00:00.000Z'],
      ['2026-01-12T19:00:00.000Z', '2026-01-13T07:00:00.000Z'],
      ['2026-01-13T19:00:00.000Z', '2026-01-14T07:00:00.000Z'],
      ['2026-01-14T19:00:00.000Z', '2026-01-15T07:00:00.000Z'],
      ['2026-01-15T19:00:00.000Z', '2026-01-16T07:00:00.000Z'],
      ['2026-01-16T19:00:00.000Z', '2026-01-18T23:00:00.000Z'],
    ]);
    // 168 h a week, 5 × 12 h open.
    expect(closedHoursIn(schedule(), week, NONE).closedHours).toBe(108);
  });

  it('starts mid-closure and ends mid-day', () => {
    const p = period('2026-01-14T03:00:00Z', '2026-01-14T12:00:00Z');
    expect(closedIntervals(schedule(), p).map((c) => [iso(c.start), iso(c.end)])).toEqual([
      ['2026-01-14T03:00:00.000Z', '2026-01-14T07:00:00.000Z'],
    ]);
  });

  it('follows daylight saving: the spring-forward Sunday night is an hour shorter in UTC terms', () => {
    // Fri 2026-03-27 19:00 UTC (20:00 CET) to Mon 2026-03-30 06:00 UTC (08:00 CEST): 59 h, not 60.
    const weekend = period('2026-03-27T12:00:00Z', '2026-03-30T12:00:00Z');
    const closed = closedIntervals(schedule(), weekend);
    expect(closed.map((c) => [iso(c.start), iso(c.end)])).toEqual([
      ['2026-03-27T19:00:00.000Z', '2026-03-30T06:00:00.000Z'],
    ]);
    expect(closedHoursIn(schedule(), weekend, NONE).closedHours).toBe(59);
  });

  it('follows daylight saving in autumn: the weekend has an hour more', () => {
    const weekend = period('2026-10-23T12:00:00Z', '2026-10-26T12:00:00Z');
    expect(closedHoursIn(schedule(), weekend, NONE).closedHours).toBe(61);
  });

  it('works in a zone east of UTC whose local day starts on the previous UTC day', () => {
    const shanghai = schedule({ timeZone: 'Asia/Shanghai', openDays: 'MON-FRI', opensAt: '09:00', closesAt: '18:00' });
    // UTC Monday 2026-01-12: Shanghai Monday 08:00 to Tuesday 08:00; open 01:00–10:00 UTC.
    const day = period('2026-01-12T00:00:00Z', '2026-01-13T00:00:00Z');
    expect(closedIntervals(shanghai, day).map((c) => [iso(c.start), iso(c.end)])).toEqual([
      ['2026-01-12T00:00:00.000Z', '2026-01-12T01:00:00.000Z'],
      ['2026-01-12T10:00:00.000Z', '2026-01-13T00:00:00.000Z'],
    ]);
  });
});

describe('closedHoursIn', () => {
  const s = schedule({ idleMinutes: 15 });
  const night = period('2026-01-14T19:00:00Z', '2026-01-15T07:00:00Z'); // Wed 20:00 to Thu 08:00 Berlin
  const primary = (...times: string[]) => ({ primary: times.map(at), fallback: [] });
  const fallback = (...times: string[]) => ({ primary: [], fallback: times.map(at) });

  it('counts idleMinutes plus the low-traffic window after the closing as awake', () => {
    expect(closedHoursIn(s, night, NONE)).toEqual({ closedHours: 12, awakeHours: 0.5, asleepHours: 11.5 });
  });

  it('keeps the endpoint awake for the hour of each primary answer plus idleMinutes and the low-traffic window', () => {
    const answers = primary('2026-01-14T23:40:00Z', '2026-01-14T23:05:00Z', '2026-01-15T02:10:00Z');
    // 19:00–19:30 (closing), 23:00–00:30 (two answers, one hour), 02:00–03:30.
    expect(closedHoursIn(s, night, answers)).toEqual({ closedHours: 12, awakeHours: 3.5, asleepHours: 8.5 });
  });

  it('ignores answers outside closed hours and clips awake time at the opening', () => {
    const answers = primary('2026-01-14T12:00:00Z', '2026-01-15T06:50:00Z');
    // 06:00–07:00 awake (the 07:30 tail is business hours).
    expect(closedHoursIn(s, night, answers).awakeHours).toBe(1.5);
  });

  it('counts a closed-hours fallback answer as a wake: start-up, idleMinutes and the low-traffic window', () => {
    // 01:00–01:45 (15 min waking + 15 idle + 15 low-traffic window) and the closing's 30 min.
    expect(closedHoursIn(s, night, fallback('2026-01-15T01:00:00Z'))).toEqual({
      closedHours: 12,
      awakeHours: 1.25,
      asleepHours: 10.75,
    });
  });

  it('merges a wake with the primary answers that follow it', () => {
    const answers = { primary: [at('2026-01-15T00:10:00Z')], fallback: [at('2026-01-14T23:50:00Z')] };
    // 23:50–00:35 (wake) ∪ 00:00–01:30 (the primary's hour) = 1 h 40 min, and the closing's 30 min.
    expect(closedHoursIn(s, night, answers).awakeHours).toBeCloseTo(130 / 60, 10);
  });

  it('takes a fallback answer in business hours for an outage, not a wake', () => {
    // 18:50 UTC is 19:50 in Berlin, before closing: its 45 minutes would reach 19:35, past the closing's 19:30.
    const day = period('2026-01-14T12:00:00Z', '2026-01-15T07:00:00Z');
    expect(closedHoursIn(s, day, fallback('2026-01-14T18:50:00Z')).awakeHours).toBe(0.5);
    expect(closedHoursIn(s, day, fallback('2026-01-14T19:00:00Z')).awakeHours).toBe(0.75);
  });

  it('counts a closing just before the period starts', () => {
    const lateStart = period('2026-01-14T19:10:00Z', '2026-01-14T21:10:00Z');
    expect(closedHoursIn(s, lateStart, NONE).awakeHours).toBeCloseTo(20 / 60, 10);
  });

  it('is all zero for an empty period', () => {
    expect(
      closedHoursIn(s, period('2026-01-14T19:00:00Z', '2026-01-14T19:00:00Z'), primary('2026-01-14T19:00:00Z')),
    ).toEqual({
      closedHours: 0,
      awakeHours: 0,
      asleepHours: 0,
    });
  });

  it('states the rule it applies', () => {
    expect(AWAKE_RULE).toContain('primary model answered');
    expect(AWAKE_RULE).toContain('closed-hours answer by the fallback model (a wake) for 15 min of start-up');
    expect(AWAKE_RULE).toContain('idleMinutes + 15 min after each closing');
  });
});
